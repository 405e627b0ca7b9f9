"""Working *with* the latent space, offline: encode files, generate, combine, interpolate, find
similar grooves. The Python API behind ``jamd encode|generate|interpolate|similar``.

A file's code is the mean of the posterior means of its 2-bar windows (for a 2-bar loop, simply
its encoding), so a whole song can be added, subtracted and blended like a loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jamd.base.errors import reason
from jamd.base.paths import cache_dir
from jamd.data.corpus import MIDI_SUFFIXES, WindowSettings, cut_windows, file_grid
from jamd.model.drums import DecodeControls, DrumModel
from jamd.music.grid import DrumPattern

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileCode:
    bar: int  # the bar at which the window starts
    z: np.ndarray  # (d,) posterior mean


def encode_file(model: DrumModel, path: Path, table: str = "gm") -> list[FileCode]:
    """The latent code of every 2-bar window of a MIDI file (hop one bar). One hit is enough to
    be worth a code: unlike training, a user asking "where is my file" wants every bar answered."""
    settings = WindowSettings(steps=model.steps, hop=16, min_hits=1, table=table)
    windows = list(cut_windows(file_grid(Path(path), settings), settings))
    if not windows:
        raise ValueError(f"{path}: no 2-bar window with a drum hit in it")
    bars = [b for b, _ in windows]
    stack = lambda attr: np.stack([getattr(w, attr) for _, w in windows])  # (n, T, V)
    mu, _ = model.encode_batch(stack("hit"), stack("velocity"), stack("offset"))
    return [FileCode(b, z) for b, z in zip(bars, mu)]


def file_code(model: DrumModel, path: Path, table: str = "gm") -> np.ndarray:
    return np.mean([c.z for c in encode_file(model, path, table)], axis=0)


def combine(codes: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """Latent arithmetic: ``sum(w_i * z_i)``. Weights default to an even blend; they may be
    negative (``A - B + C``) and need not sum to 1."""
    if weights is None:
        weights = [1.0 / len(codes)] * len(codes)
    if len(weights) != len(codes):
        raise ValueError(f"{len(codes)} files but {len(weights)} weights")
    return np.sum([w * np.asarray(z, np.float32) for w, z in zip(weights, codes)], axis=0)


def vary(z: np.ndarray, variance: float, seed: int | None, scale: np.ndarray | None = None) -> np.ndarray:
    """``z`` plus Gaussian noise of the given variance, in the prior's units: N(0, I), or shaped
    by ``scale``, the Cholesky factor of the model's prior covariance (`DrumModel.prior`)."""
    if variance <= 0:
        return np.asarray(z, np.float32)
    noise = np.random.default_rng(seed).normal(size=np.shape(z)) * np.sqrt(variance)
    if scale is not None:
        noise = noise @ scale.T
    return (z + noise).astype(np.float32)


def interpolate(
    model: DrumModel, za: np.ndarray, zb: np.ndarray, bars: int, controls: DecodeControls = DecodeControls()
) -> DrumPattern:
    """A straight walk from ``za`` to ``zb``, one latent point per bar. Bar ``k`` plays the
    half of the 2-bar decode that falls on it, so the phrase keeps its A/B shape."""
    half = model.steps // 2
    parts = []
    for k in range(bars):
        t = k / max(bars - 1, 1)
        p = model.decode((1 - t) * za + t * zb, controls)
        sl = slice((k % 2) * half, (k % 2 + 1) * half)
        parts.append((p.hit[sl], p.velocity[sl], p.offset[sl]))
    return DrumPattern(*(np.concatenate([p[i] for p in parts]) for i in range(3)))


# ------------------------------------------------------------------------------- similar


@dataclass(frozen=True)
class Match:
    file: str  # relative to the library folder
    bar: int
    distance: float


class LibraryIndex:
    """Latent codes of every window of every MIDI file in a folder, cached on disk per model.
    A file is re-encoded only when its size or modification time changed."""

    def __init__(self, model: DrumModel, library: Path, table: str = "gm"):
        self.model, self.library, self.table = model, Path(library), table
        key = hashlib.sha256(f"{model.card['weights_sha256']}|{self.library.resolve()}|{table}".encode())
        self.path = cache_dir() / f"similar-{key.hexdigest()[:20]}.json"
        self.entries: dict[str, dict] = {}
        self.rebuilt: list[str] = []  # files (re-)encoded by the last refresh

    def refresh(self) -> LibraryIndex:
        old = json.loads(self.path.read_text()) if self.path.is_file() else {}
        files = sorted(p for p in self.library.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
        self.entries, self.rebuilt = {}, []
        for p in files:
            rel, st = p.relative_to(self.library).as_posix(), p.stat()
            stamp = [st.st_size, st.st_mtime_ns]
            if rel in old and old[rel]["stamp"] == stamp:
                self.entries[rel] = old[rel]
                continue
            try:
                codes = encode_file(self.model, p, self.table)
            except (ValueError, OSError, EOFError) as e:  # a broken file is skipped, not fatal
                log.warning("similar: skipping %s: %s", rel, reason(e))
                continue
            self.entries[rel] = {
                "stamp": stamp,
                "bars": [c.bar for c in codes],
                "z": [c.z.tolist() for c in codes],
            }
            self.rebuilt.append(rel)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.entries))
        return self

    def nearest(self, z: np.ndarray, k: int = 5) -> list[Match]:
        rows = [
            (f, b, np.asarray(zz, np.float32))
            for f, e in self.entries.items()
            for b, zz in zip(e["bars"], e["z"])
        ]
        if not rows:
            return []
        dist = np.linalg.norm(np.stack([r[2] for r in rows]) - np.asarray(z, np.float32), axis=1)
        order = np.argsort(dist, kind="stable")[:k]
        return [Match(rows[i][0], rows[i][1], float(dist[i])) for i in order]

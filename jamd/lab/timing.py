"""How long one decode (and, for the drum model, one encode) takes: p50 and p99 of calls on one
window at random latent points, in a fresh process pinned to one BLAS thread (the thread count
must be set before numpy loads, hence the process; one thread is what the live engine runs with).
``jamd eval`` and ``jamd bench`` report it.

``python -m jamd.lab.timing drums|bass MODEL N [--encode]`` prints the figures as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from jamd.model.bass import BassModel
from jamd.model.drums import DecodeControls, DrumModel
from jamd.model.pacing import PadMemory
from jamd.music.drumkit import VOICES
from jamd.music.grid import DrumPattern
from jamd.music.harmony import Chords

N_TIMING = 1000
WARMUP = 50  # the first calls warm caches and the allocator: not timed
SEED = 0


@dataclass
class Timed:
    """What is timed of one model: ``decode`` of a latent point of ``dim`` dimensions, and
    ``encode`` of what a decode returns (None: the model's encoder needs more than that)."""

    dim: int
    decode: Callable[[np.ndarray], object]
    encode: Callable[[Any], object] | None = None


def decode_timing(kind: str, path: str, n: int = N_TIMING, encode: bool = False) -> dict[str, float]:
    """``decode_ms_p50`` and ``decode_ms_p99`` of the ``kind`` ("drums" or "bass") model at
    ``path`` over ``n`` decodes, and with ``encode`` ``encode_ms_p50`` over ``n`` encodes."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "jamd.lab.timing", kind, str(path), str(n)] + ["--encode"] * encode,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def _drums(path: str) -> Timed:
    """As the daemon decodes: with the model's memory along pad moves, if it has one (each
    random point a move to a new position, so the memory has cells to choose among)."""
    model = DrumModel.load(path)
    memory = PadMemory(model.pad.pacing) if model.pad.pacing.on else None

    def decode(z: np.ndarray) -> DrumPattern:
        return model.decode(z, DecodeControls(), memory, (float(z[0]), float(z[1])))

    return Timed(model.latent_dim, decode, model.encode)


def _bass(path: str) -> Timed:
    """The bass model over a fixed random groove and four chords."""
    model = BassModel.load(path)
    rng = np.random.default_rng(SEED)
    shape = (model.steps, len(VOICES))
    hit = (rng.random(shape) < 0.2).astype(np.float32)
    drums = DrumPattern(hit, rng.random(shape).astype(np.float32), np.zeros(shape, np.float32))
    chords = Chords.from_symbols(["Am7", "D7", "Gmaj7", "Em"], model.steps)
    return Timed(model.latent, lambda z: model.decode(z, drums, chords))


MODELS: dict[str, Callable[[str], Timed]] = {"drums": _drums, "bass": _bass}


def _ms(call: Callable[[], object], n: int) -> np.ndarray:
    """Milliseconds of each of ``n`` calls, after the warm-up calls."""
    ns = []
    for _ in range(WARMUP + n):
        t = time.perf_counter_ns()
        call()
        ns.append(time.perf_counter_ns() - t)
    return np.array(ns[WARMUP:]) / 1e6


def time_here(kind: str, path: str, n: int, encode: bool = False) -> dict[str, float]:
    timed = MODELS[kind](path)
    rng = np.random.default_rng(SEED)
    points = rng.standard_normal((WARMUP + n, timed.dim)).astype(np.float32)
    it = iter(points)
    ms = _ms(lambda: timed.decode(next(it)), n)
    out = {
        "decode_ms_p50": round(float(np.percentile(ms, 50)), 4),
        "decode_ms_p99": round(float(np.percentile(ms, 99)), 4),
    }
    if encode:
        enc = timed.encode
        if enc is None:
            raise ValueError(f"no encode timing for the {kind} model")
        windows = iter([timed.decode(z) for z in points])
        out["encode_ms_p50"] = round(float(np.percentile(_ms(lambda: enc(next(windows)), n), 50)), 4)
    return out


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in MODELS or sys.argv[4:] not in ([], ["--encode"]):
        sys.exit(f"usage: python -m jamd.lab.timing {'|'.join(MODELS)} MODEL N [--encode]")
    print(json.dumps(time_here(sys.argv[1], sys.argv[2], int(sys.argv[3]), encode=len(sys.argv) == 5)))

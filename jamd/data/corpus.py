"""Training windows: the Groove MIDI Dataset through its ``info.csv`` (with its own split), or
any folder of the user's MIDI files, cut into 2-bar windows and cached as ``.npz``.

A window is kept when it holds at least ``min_hits`` hits (default 8, one every 4 steps on
average): GMD performances start and end with silence and count-ins, which teach a model
nothing but "play nothing". Windows are cut inside one file, and a file belongs to one split,
so no window ever crosses a split.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mido
import numpy as np

from jamd.base.paths import cache_dir
from jamd.music.drumkit import INPUT_TABLES, VOICES
from jamd.music.grid import STEPS_PER_BEAT, DrumPattern, drums_from_notes, read_midi

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
#: Bump when the windowing code changes meaning, so old caches are not reused.
CORPUS_VERSION = 1
MIDI_SUFFIXES = (".mid", ".midi")


@dataclass(frozen=True)
class WindowSettings:
    steps: int = 32  # 2 bars of 4/4 at 16ths
    hop: int = 16  # one bar: every bar line starts a window
    min_hits: int = 8  # drop near-empty windows (see module doc)
    table: str = "td11"  # how input notes fold into voices (see jamd.music.drumkit)


@dataclass
class FileInfo:
    path: str  # relative to the corpus root
    split: str
    style: str = ""  # GMD top-level style ("rock", "funk", ...); "" for user files
    bpm: float = 120.0


@dataclass
class Windows:
    """``n`` windows of ``steps x voices``; ``file``/``bar`` say where each was cut from."""

    hit: np.ndarray  # (n, steps, voices) uint8
    velocity: np.ndarray  # (n, steps, voices) float32 in [0, 1]
    offset: np.ndarray  # (n, steps, voices) float32 in [-0.5, 0.5)
    file: np.ndarray  # (n,) int32 index into Corpus.files
    bar: np.ndarray  # (n,) int32 bar at which the window starts

    def __len__(self) -> int:
        return len(self.hit)

    def pattern(self, i: int) -> DrumPattern:
        return DrumPattern(self.hit[i].astype(np.float32), self.velocity[i].copy(), self.offset[i].copy())


@dataclass
class Corpus:
    root: str
    settings: WindowSettings
    files: list[FileInfo]
    splits: dict[str, Windows] = field(default_factory=dict)

    def summary(self) -> dict:
        """Per split: files, windows and per-voice hit rate (share of steps with a hit)."""
        out = {}
        for name, w in self.splits.items():
            n_files = sum(1 for f in self.files if f.split == name)
            rate = w.hit.mean(axis=(0, 1)) if len(w) else np.zeros(len(VOICES))
            out[name] = {
                "files": n_files,
                "windows": len(w),
                "hits_per_window": round(float(w.hit.sum() / max(len(w), 1)), 2),
                "hit_rate": {v: round(float(r), 4) for v, r in zip(VOICES, rate)},
            }
        return out


def cut_windows(pattern: DrumPattern, settings: WindowSettings) -> Iterable[tuple[int, DrumPattern]]:
    """Every ``hop``-step window of a whole-file grid that is full length and not near-empty."""
    for start in range(0, pattern.steps - settings.steps + 1, settings.hop):
        sl = slice(start, start + settings.steps)
        w = DrumPattern(pattern.hit[sl], pattern.velocity[sl], pattern.offset[sl])
        if w.n_hits >= settings.min_hits:
            yield start // settings.hop, w


def file_grid(path: Path, settings: WindowSettings) -> DrumPattern:
    """A whole MIDI file's drums as one long grid (all of it, rounded up to a whole step)."""
    notes = read_midi(mido.MidiFile(path))
    steps = int(np.ceil(notes.length_beats * STEPS_PER_BEAT)) + 1
    return drums_from_notes(notes.drums, INPUT_TABLES[settings.table], steps)


def gmd_files(root: Path) -> list[FileInfo]:
    """The 4/4 files of the Groove MIDI Dataset, with their own split and style."""
    with open(root / "info.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [
        FileInfo(r["midi_filename"], r["split"], r["style"].split("/")[0], float(r["bpm"]))
        for r in rows
        if r["time_signature"] == "4-4"
    ]


def folder_files(root: Path, validation_share: float = 0.1) -> list[FileInfo]:
    """Every MIDI file below ``root``. A file is validation when a hash of its path falls below
    ``validation_share``, so its split depends on nothing else and never changes when files are
    added. With 2+ files at least one is validation: in a folder so small that no path hashes
    below the share, the lowest-hashing file is. Only that fallback file can leave validation
    when a file is added; a training file never moves into validation."""
    paths = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.suffix.lower() in MIDI_SUFFIXES and p.is_file()
    )
    if not paths:
        raise FileNotFoundError(f"no MIDI files (*.mid, *.midi) below {root}")
    score = {p: int(hashlib.sha1(p.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF for p in paths}
    val = {p for p in paths if score[p] < validation_share}
    if not val and len(paths) > 1:
        val = {min(paths, key=score.__getitem__)}
    return [FileInfo(p, "validation" if p in val else "train") for p in paths]


def _cache_key(root: Path, files: list[FileInfo], settings: WindowSettings) -> str:
    h = hashlib.sha256(json.dumps([CORPUS_VERSION, asdict(settings)]).encode())
    for f in files:
        h.update(json.dumps(asdict(f)).encode())
        h.update((root / f.path).read_bytes())
    return h.hexdigest()[:20]


def _build(
    root: Path, files: list[FileInfo], settings: WindowSettings, progress=None
) -> tuple[dict[str, Windows], bool]:
    """The windows of each split, and whether every file could be read."""
    parts: dict[str, list] = {s: [] for s in SPLITS}
    complete = True
    for i, f in enumerate(files):
        try:
            grid = file_grid(root / f.path, settings)
        except (OSError, EOFError, ValueError, KeyError, IndexError) as e:
            # one damaged file in a musician's folder should not stop the rest from training
            log.warning("%s: skipped, not a readable MIDI file (%s)", root / f.path, e)
            complete = False
            continue
        for bar, w in cut_windows(grid, settings):
            parts[f.split].append((w, i, bar))
        if progress:
            progress(i + 1, len(files))
    splits = {}
    for name, items in parts.items():
        if not items and name == "test":
            continue
        shape = (len(items), settings.steps, len(VOICES))
        splits[name] = Windows(
            np.array([w.hit for w, _, _ in items], np.uint8).reshape(shape),
            np.array([w.velocity for w, _, _ in items], np.float32).reshape(shape),
            np.array([w.offset for w, _, _ in items], np.float32).reshape(shape),
            np.array([i for _, i, _ in items], np.int32),
            np.array([b for _, _, b in items], np.int32),
        )
    return splits, complete


def _save(path: Path, splits: Mapping[str, Windows]) -> None:
    arrays = {f"{s}/{k}": v for s, w in splits.items() for k, v in asdict(w).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)  # never leave a half-written cache behind


def _load(path: Path) -> dict[str, Windows]:
    with np.load(path) as z:
        names = {k.split("/")[0] for k in z.files}
        return {s: Windows(**{k: z[f"{s}/{k}"] for k in Windows.__dataclass_fields__}) for s in names}


def load_corpus(
    root: Path,
    settings: WindowSettings = WindowSettings(),
    *,
    midi_dir: bool | None = None,
    use_cache: bool = True,
    progress=None,
) -> Corpus:
    """Load windows from a GMD folder (has ``info.csv``) or any folder of MIDI files."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    if midi_dir is None:
        midi_dir = not (root / "info.csv").is_file()
    files = folder_files(root) if midi_dir else gmd_files(root)
    cache = cache_dir() / f"windows-{_cache_key(root, files, settings)}.npz"
    if use_cache and cache.is_file():
        log.debug("corpus cache hit %s", cache)
        splits = _load(cache)
    else:
        log.info("cutting windows from %d files in %s", len(files), root)
        splits, complete = _build(root, files, settings, progress)
        if use_cache and complete:  # not cached: the skipped files are named again next time
            _save(cache, splits)
    return Corpus(str(root), settings, files, splits)

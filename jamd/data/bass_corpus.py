"""A procedural bass corpus on top of the Groove MIDI Dataset's drums.

No openly licensed corpus of paired drums and bass is available to this project, so the bass
lines are *written by rules*: for every 2-bar GMD window, a line in an idiom that fits the file's
style label (the idioms are tables in :mod:`jamd.data.bass_idioms`, the writer of one bar is
:mod:`jamd.data.bass_lines`), over a chord progression in a random key, locked to that window's
real kick drum where the idiom locks to the kick, with humanised velocity and timing. See
docs/bass.md.

Consistency over time is what the latent-stability penalty needs, so everything is decided at
the level it lives at in a real song: the key and progression per *piece* (GMD file), the
two section knobs (``busy`` and ``melodic``, which the model's pad learns) per 8-bar *section*, and the notes
per *bar*, each from its own seeded generator. Consecutive windows overlap by one bar (hop 16),
and that bar gets exactly the same notes in both windows.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jamd.base.paths import cache_dir
from jamd.data.bass_idioms import BAR, IDIOMS, IDIOMS_TABLE, PROGRESSIONS, idiom_of
from jamd.data.bass_lines import BarContext, bar_line, section_params
from jamd.data.corpus import Corpus, Windows
from jamd.music.drumkit import VOICE_INDEX

SECTION_BARS = 8
#: Bump when the generator changes what it writes, so stale caches are not reused.
BASS_CORPUS_VERSION = 3
KICK = VOICE_INDEX["kick"]
#: the training windows over a drum model's playing (``procedural_splits``' ``replay``)
PLAYED_SPLIT = "train_played"


@dataclass
class BassWindows:
    """Paired windows: drums (``steps x 9``), chords and a bass line per step. ``piece``/``bar``
    say where each window sits, so consecutive windows of one piece are ``bar`` and ``bar + 1``."""

    drum_hit: np.ndarray  # (n, steps, 9) uint8
    drum_velocity: np.ndarray  # (n, steps, 9) float32
    root: np.ndarray  # (n, steps) int8 pitch class
    quality: np.ndarray  # (n, steps) int8
    onset: np.ndarray  # (n, steps) uint8
    pitch: np.ndarray  # (n, steps) int8, semitones from the root, where onset
    velocity: np.ndarray  # (n, steps) float32
    length: np.ndarray  # (n, steps) int8 steps, where onset
    offset: np.ndarray  # (n, steps) float32 micro-timing (not modelled; kept for renders)
    piece: np.ndarray  # (n,) int32
    bar: np.ndarray  # (n,) int32
    idiom: np.ndarray  # (n,) int8 index into IDIOMS (-1: user data)

    def __len__(self) -> int:
        return len(self.onset)

    def subset(self, idx: np.ndarray) -> BassWindows:
        return BassWindows(**{k: v[idx] for k, v in vars(self).items()})

    def join(self, other: BassWindows) -> BassWindows:
        """These windows, then ``other``'s (their piece ids as they are)."""
        return BassWindows(**{k: np.concatenate([v, getattr(other, k)]) for k, v in vars(self).items()})

    def next_pairs(self) -> np.ndarray:
        """``(m, 2)`` indices of window pairs (t, t+1) that follow each other in one piece."""
        where = {(int(p), int(b)): i for i, (p, b) in enumerate(zip(self.piece, self.bar))}
        pairs = [(i, where[(p, b + 1)]) for (p, b), i in where.items() if (p, b + 1) in where]
        return np.array(sorted(pairs), np.int64).reshape(-1, 2)


# ---------------------------------------------------------------------- pieces and sections


@dataclass
class Piece:
    idiom: str
    key: int
    progression: list

    def bar_chords(self, bar: int) -> tuple[np.ndarray, np.ndarray]:
        chords = self.progression[bar % len(self.progression)]
        each = BAR // len(chords)
        root = np.repeat([(self.key + iv) % 12 for iv, _ in chords], each)
        return root, np.repeat([q for _, q in chords], each)


def make_piece(style: str, seed: int, piece: int) -> Piece:
    idiom = idiom_of(style)
    rng = np.random.default_rng([seed, piece, 0])
    progs = PROGRESSIONS[idiom]
    return Piece(idiom, int(rng.integers(0, 12)), progs[int(rng.integers(0, len(progs)))])


def piece_bar(piece: Piece, seed: int, index: int, bar: int, kick: np.ndarray) -> tuple[np.ndarray, ...]:
    """Chords and bass of one bar of a piece: (root, quality, onset, pitch, velocity, length,
    offset). Depends only on (seed, piece, bar) and that bar's kick, so it repeats exactly."""
    section = section_params(np.random.default_rng([seed, index, bar // SECTION_BARS, 1]))
    root, quality = piece.bar_chords(bar)
    ctx = BarContext(
        kick.astype(bool),
        root,
        quality,
        int(piece.bar_chords(bar + 1)[0][0]),
        section,
        np.random.default_rng([seed, index, bar, 2]),
    )
    return (root, quality) + bar_line(piece.idiom, ctx)


def bass_windows(windows: Windows, styles: list[str], seed: int = 0) -> BassWindows:
    """Bass for every drum window; ``styles[i]`` is the style of the corpus's file ``i``."""
    n, steps, _ = windows.hit.shape
    if steps % BAR:
        raise ValueError(f"windows of {steps} steps are not whole bars")
    pieces: dict[int, Piece] = {}
    cols = [
        np.zeros((n, steps), t)
        for t in (np.int8, np.int8, np.uint8, np.int8, np.float32, np.int8, np.float32)
    ]
    for i in range(n):
        f = int(windows.file[i])
        piece = pieces.setdefault(f, make_piece(styles[f], seed, f))
        for b in range(steps // BAR):
            sl = slice(b * BAR, (b + 1) * BAR)
            for col, values in zip(
                cols, piece_bar(piece, seed, f, int(windows.bar[i]) + b, windows.hit[i, sl, KICK])
            ):
                col[i, sl] = values
    idiom = np.array([IDIOMS.index(pieces[int(f)].idiom) for f in windows.file], np.int8)
    root, quality, onset, pitch, velocity, length, offset = cols
    return BassWindows(
        windows.hit.copy(),
        windows.velocity.copy(),
        root,
        quality,
        onset,
        pitch,
        velocity,
        length,
        offset,
        windows.file.astype(np.int32),
        windows.bar.astype(np.int32),
        idiom,
    )


def _key(windows: Windows, seed: int) -> str:
    # the idiom tables are in the key: editing one never reuses a cache written by the old one
    h = hashlib.sha256(f"{BASS_CORPUS_VERSION}/{seed}/{IDIOMS_TABLE!r}/{PROGRESSIONS!r}".encode())
    for a in (windows.hit, windows.file, windows.bar):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:20]


def save_bass(path, bw: BassWindows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # a per-process temporary name: two trainings started together must not share one
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **vars(bw))
    tmp.replace(path)  # never leave a half-written cache behind


def load_bass(path) -> BassWindows:
    with np.load(path) as z:
        return BassWindows(**{k: z[k] for k in BassWindows.__dataclass_fields__})


def procedural_splits(
    corpus: Corpus, seed: int = 0, use_cache: bool = True, replay: Callable[[Windows], Windows] | None = None
) -> dict[str, BassWindows]:
    """The procedural bass corpus for every split of a GMD corpus (cached as ``.npz``). With
    ``replay`` (the training windows' drums as a drum model plays them,
    `jamd.training.bass_played`), also :data:`PLAYED_SPLIT`: a line over each replayed training
    window, its piece ids after the real ones (so consecutive replayed windows pair with each
    other for the stability term, never with a real one); it is not cached."""
    styles = [f.style for f in corpus.files]
    out = {}
    for name, w in corpus.splits.items():
        cache = cache_dir() / f"bass-{name}-{_key(w, seed)}.npz"
        if use_cache and cache.is_file():
            out[name] = load_bass(cache)
            continue
        out[name] = bass_windows(w, styles, seed)
        if use_cache:
            save_bass(cache, out[name])
    if replay is not None and "train" in out:
        out[PLAYED_SPLIT] = bass_windows(replay(corpus.splits["train"]), styles, seed)
        out[PLAYED_SPLIT].piece += int(out["train"].piece.max()) + 1
    return out

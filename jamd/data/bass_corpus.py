"""A procedural bass corpus on top of the Groove MIDI Dataset's drums.

No openly licensed corpus of paired drums and bass is available to this project, so the bass
lines are *written by rules*: for every 2-bar GMD window, a line in an idiom that fits the file's
style label, over a chord progression in a random key, locked to that window's real kick drum
where the idiom locks to the kick, with humanised velocity, length and timing. See docs/bass.md.

Consistency over time is what the latent-stability penalty needs, so everything is decided at
the level it lives at in a real song: the key and progression per *piece* (GMD file), the
idiom's parameters (density, octave jumps, register, variant) per 8-bar *section*, and the notes
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
from jamd.data.corpus import Corpus, Windows
from jamd.music.drumkit import VOICE_INDEX
from jamd.music.harmony import CHORD_TONES, DOM7, MAJ, MIN, MIN7, SCALES

BAR = 16
SECTION_BARS = 8
#: Bump when the generator changes what it writes, so stale caches are not reused.
BASS_CORPUS_VERSION = 2
KICK = VOICE_INDEX["kick"]

IDIOMS = ("rock", "funk", "jazz", "reggae", "hiphop", "latin", "default")
#: GMD top-level style -> idiom. Unlisted styles (country, gospel, middleeastern, ...) get
#: "default": roots and fifths on the kick and on beats 1 and 3.
STYLE_IDIOM = {
    "rock": "rock",
    "punk": "rock",
    "pop": "rock",
    "funk": "funk",
    "soul": "funk",
    "neworleans": "funk",
    "afrobeat": "funk",
    "dance": "funk",
    "jazz": "jazz",
    "blues": "jazz",
    "reggae": "reggae",
    "hiphop": "hiphop",
    "latin": "latin",
    "afrocuban": "latin",
}

#: Progressions per idiom: a list of bars, each bar a list of (interval from the key, quality)
#: that split the bar evenly. They loop for the whole piece.
PROGRESSIONS = {
    "rock": [
        [[(0, MAJ)], [(5, MAJ)], [(7, MAJ)], [(5, MAJ)]],
        [[(0, MAJ)], [(10, MAJ)], [(5, MAJ)], [(0, MAJ)]],
        [[(0, MAJ)], [(7, MAJ)], [(9, MIN)], [(5, MAJ)]],
        [[(0, MIN)], [(8, MAJ)], [(10, MAJ)], [(0, MIN)]],
    ],
    "funk": [[[(0, MIN7)], [(0, MIN7)]], [[(0, DOM7)], [(5, DOM7)]], [[(0, MIN7)], [(5, DOM7)]]],
    "jazz": [
        [[(2, MIN7)], [(7, DOM7)], [(0, MAJ)], [(9, DOM7)]],
        [[(0, MAJ)], [(9, MIN7)], [(2, MIN7), (7, DOM7)], [(0, MAJ)]],
        [[(0, MIN7)], [(5, DOM7)], [(10, MAJ)], [(10, MAJ)]],
    ],
    "reggae": [
        [[(0, MAJ)], [(5, MAJ)]],
        [[(0, MIN)], [(5, MIN)]],
        [[(0, MAJ)], [(7, MAJ)], [(5, MAJ)], [(7, MAJ)]],
    ],
    "hiphop": [
        [[(0, MIN)], [(8, MAJ)]],
        [[(0, MIN7)], [(5, MIN7)]],
        [[(0, MIN)], [(0, MIN)], [(8, MAJ)], [(7, MIN)]],
    ],
    "latin": [
        [[(0, MIN)], [(5, MIN)], [(7, DOM7)], [(0, MIN)]],
        [[(0, MAJ)], [(7, DOM7)]],
        [[(0, MIN7)], [(5, DOM7)]],
    ],
    "default": [
        [[(0, MAJ)], [(9, MIN)], [(5, MAJ)], [(7, MAJ)]],
        [[(0, MAJ)], [(5, MAJ)]],
        [[(0, MAJ)], [(7, MAJ)], [(5, MAJ)], [(0, MAJ)]],
    ],
}


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

    def next_pairs(self) -> np.ndarray:
        """``(m, 2)`` indices of window pairs (t, t+1) that follow each other in one piece."""
        where = {(int(p), int(b)): i for i, (p, b) in enumerate(zip(self.piece, self.bar))}
        pairs = [(i, where[(p, b + 1)]) for (p, b), i in where.items() if (p, b + 1) in where]
        return np.array(sorted(pairs), np.int64).reshape(-1, 2)


# ------------------------------------------------------------------------------ one bar


@dataclass
class BarContext:
    """What the line of one bar may look at."""

    kick: np.ndarray  # (16,) bool: the real kick drum of this bar
    root: np.ndarray  # (16,) pitch class per step
    quality: np.ndarray  # (16,) quality per step
    next_root: int  # the first chord of the next bar
    section: dict  # the idiom's parameters for this 8-bar section
    rng: np.random.Generator


def _scale_pitches(quality: int, lo: int = -12, hi: int = 12) -> np.ndarray:
    return np.array([p for p in range(lo, hi + 1) if p % 12 in SCALES[quality]])


def _tone(ctx: BarContext, choices) -> int:
    """A random pitch from ``choices`` (semitones from the chord root)."""
    return int(ctx.rng.choice(choices))


def _fifth(ctx: BarContext) -> int:
    return 7 if ctx.rng.random() < 0.6 else -5


def _anticipation(ctx: BarContext, s: int) -> int:
    """The next bar's root, played early, as a pitch over the current chord; the fifth when it
    is not in the current chord's scale (so every note stays in its chord's scale)."""
    rel = (ctx.next_root - int(ctx.root[s])) % 12
    if rel not in SCALES[int(ctx.quality[s])]:
        return 7
    return rel if rel <= 7 else rel - 12


def _chord_starts(ctx: BarContext) -> set[int]:
    return {0} | {
        s for s in range(1, BAR) if ctx.root[s] != ctx.root[s - 1] or ctx.quality[s] != ctx.quality[s - 1]
    }


def _rock(ctx: BarContext):
    sec, kick = ctx.section, ctx.kick
    grid = set(range(0, BAR, 2)) if sec["variant"] == 0 else {0}
    onsets = sorted(grid | set(np.nonzero(kick)[0]) | _chord_starts(ctx))
    base = sec["register"]
    pitch = {s: base + (12 if s % 4 == 2 and ctx.rng.random() < sec["octave"] else 0) for s in onsets}
    if onsets[-1] == 14 and ctx.rng.random() < 0.3:
        pitch[14] = 7
    return onsets, pitch, lambda s: 0.72 + 0.12 * kick[s], None


def _funk(ctx: BarContext):
    sec, kick, rng = ctx.section, ctx.kick, ctx.rng
    main = {0} | set(np.nonzero(kick)[0]) | {s for s in range(1, BAR, 2) if rng.random() < sec["density"]}
    ghosts = {s for s in range(BAR) if s not in main and rng.random() < sec["ghost"]}
    pitch = {}
    for s in main | ghosts:
        tones = [p for p in CHORD_TONES[int(ctx.quality[s])] if p] + [12]
        jump = s % 4 and rng.random() < sec["octave"]
        pitch[s] = 12 if jump else (0 if s % 4 == 0 or kick[s] or s in ghosts else _tone(ctx, tones))
    vel = lambda s: 0.25 if s in ghosts else 0.7 + 0.15 * kick[s]
    length = lambda s, gap: 1 if s in ghosts else min(gap, int(rng.integers(1, 3)))
    return sorted(main | ghosts), pitch, vel, length


def _jazz(ctx: BarContext):
    """Walking quarters: the root on a chord's first beat, scale steps between, and on the beat
    before a chord change a scale tone a step or two from the coming root."""
    rng, prev, pitch = ctx.rng, None, {}
    starts = _chord_starts(ctx)
    for s in range(0, BAR, 4):
        scale = _scale_pitches(int(ctx.quality[s]), -7, 12)
        if s in starts:
            pitch[s] = 0 if prev is None or rng.random() < 0.7 else 12 if prev > 6 else 0
        else:
            nxt = s + 4
            target_root = ctx.next_root if nxt >= BAR else int(ctx.root[nxt])
            changing = nxt >= BAR or nxt in starts
            if changing:
                t = (target_root - int(ctx.root[s])) % 12
                near = [p for p in scale if 1 <= min(abs(p - t), abs(p - t + 12), abs(p - t - 12)) <= 2]
            else:
                near = [p for p in scale if 0 < abs(p - prev) <= 5]
            pitch[s] = int(min(near, key=lambda p: abs(p - prev) + rng.random() * 4)) if near else 7
        prev = pitch[s]
    return sorted(pitch), pitch, lambda s: 0.62 + 0.1 * (s % 8 == 0), lambda s, gap: gap


REGGAE_TEMPLATES = ((2, 4, 6, 8, 11), (3, 6, 8, 10, 14), (4, 8, 10, 12), (2, 6, 8, 12, 14))


def _reggae(ctx: BarContext):
    """One-drop: the bass leaves the one empty and lands on beat 3 with the kick."""
    onsets = REGGAE_TEMPLATES[ctx.section["variant"] % len(REGGAE_TEMPLATES)]
    pitch = {
        s: 0 if s == 8 else _tone(ctx, [p for p in CHORD_TONES[int(ctx.quality[s])]] + [-5, -12])
        for s in onsets
    }
    return list(onsets), pitch, lambda s: 0.78, lambda s, gap: min(gap, 4)


def _hiphop(ctx: BarContext):
    """Sparse sub notes on the kick, held until the next one."""
    all_kicks = [int(s) for s in np.nonzero(ctx.kick)[0]]
    kicks = [s for s in all_kicks if s == all_kicks[0] or ctx.rng.random() < ctx.section["density"]]
    onsets = kicks or [0]  # no kick in the bar: a held note from the one
    sub = ctx.section["register"]
    pitch = {s: 7 + sub if ctx.rng.random() < 0.1 else sub for s in onsets}
    return onsets, pitch, lambda s: 0.85, lambda s, gap: min(gap, 8)


def _latin(ctx: BarContext):
    """Tumbao: the fifth on the and of 2, the next bar's root anticipated on 4 and tied over."""
    onsets = [6, 12] if ctx.section["variant"] == 0 else [3, 6, 12]
    pitch = {3: 0, 6: _fifth(ctx), 12: _anticipation(ctx, 12)}
    return onsets, {s: pitch[s] for s in onsets}, lambda s: 0.8, lambda s, gap: gap if s < 12 else 10


def _default(ctx: BarContext):
    starts = _chord_starts(ctx)
    kicks = {s for s in np.nonzero(ctx.kick)[0] if ctx.rng.random() < ctx.section["density"]}
    onsets = sorted({0, 8} | kicks | starts)
    pitch = {
        s: ctx.section["register"]
        if s in starts
        else _fifth(ctx)
        if s == 8
        else _tone(ctx, CHORD_TONES[int(ctx.quality[s])])
        for s in onsets
    }
    return onsets, pitch, lambda s: 0.7 + 0.1 * ctx.kick[s], None


IDIOM_BAR: dict[str, Callable] = {
    "rock": _rock,
    "funk": _funk,
    "jazz": _jazz,
    "reggae": _reggae,
    "hiphop": _hiphop,
    "latin": _latin,
    "default": _default,
}
#: How each idiom sits against the beat: a mean micro-timing offset in steps (reggae and
#: hip-hop lay back, rock pushes a little) and the spread of human timing around it.
FEEL = {
    "rock": (-0.02, 0.05),
    "funk": (0.0, 0.04),
    "jazz": (0.03, 0.06),
    "reggae": (0.08, 0.05),
    "hiphop": (0.06, 0.05),
    "latin": (0.0, 0.05),
    "default": (0.0, 0.05),
}


def bar_line(idiom: str, ctx: BarContext) -> tuple[np.ndarray, ...]:
    """One bar of bass: (onset, pitch, velocity, length, offset), each ``(16,)``."""
    onsets, pitch, vel, length = IDIOM_BAR[idiom](ctx)
    out_on, out_p = np.zeros(BAR, np.uint8), np.zeros(BAR, np.int8)
    out_v, out_len, out_off = np.zeros(BAR, np.float32), np.zeros(BAR, np.int8), np.zeros(BAR, np.float32)
    mean, spread = FEEL[idiom]
    for i, s in enumerate(onsets):
        gap = (onsets[i + 1] if i + 1 < len(onsets) else BAR) - s
        out_on[s] = 1
        out_p[s] = int(np.clip(pitch[s], -12, 12))
        out_v[s] = float(np.clip(vel(s) + ctx.rng.normal(0, 0.05), 0.1, 1.0))
        out_len[s] = max(1, length(s, gap) if length else gap)
        out_off[s] = float(np.clip(ctx.rng.normal(mean, spread), -0.45, 0.45))
    return out_on, out_p, out_v, out_len, out_off


# ---------------------------------------------------------------------- pieces and sections


def idiom_of(style: str) -> str:
    return STYLE_IDIOM.get(style, "default")


def section_params(idiom: str, rng: np.random.Generator) -> dict:
    """The knobs a bass player would keep for a section: what the latent should learn."""
    return {
        "variant": int(rng.integers(0, 4)),
        "octave": float(rng.uniform(0.0, 0.5)),
        "density": float(rng.uniform(0.2, 0.9 if idiom in ("hiphop", "default") else 0.5)),
        "ghost": float(rng.uniform(0.05, 0.3)),
        "register": int(rng.choice([0, -12])),
    }


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
    section = section_params(piece.idiom, np.random.default_rng([seed, index, bar // SECTION_BARS, 1]))
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
    h = hashlib.sha256(f"{BASS_CORPUS_VERSION}/{seed}".encode())
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


def procedural_splits(corpus: Corpus, seed: int = 0, use_cache: bool = True) -> dict[str, BassWindows]:
    """The procedural bass corpus for every split of a GMD corpus (cached as ``.npz``)."""
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
    return out

"""Chords for the bass: a root pitch class and a quality per step, and the scale each quality
implies. Pure numpy, shared by the procedural corpus, the bass runtime and its evaluation.

Four qualities are enough for the idioms the bass plays (triads and the two common sevenths);
each has one scale, the mode a bass player would reach for over it: major -> ionian,
minor -> aeolian, dominant 7 -> mixolydian, minor 7 -> dorian. ``in_scale_rate`` in the bass
evaluation is measured against these scales.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from jamd.midi import spec as ms

QUALITIES: tuple[str, ...] = ("maj", "min", "dom7", "min7")
QUALITY_INDEX = {q: i for i, q in enumerate(QUALITIES)}
MAJ, MIN, DOM7, MIN7 = range(4)

SCALES: tuple[tuple[int, ...], ...] = (
    (0, 2, 4, 5, 7, 9, 11),  # maj: ionian
    (0, 2, 3, 5, 7, 8, 10),  # min: aeolian
    (0, 2, 4, 5, 7, 9, 10),  # dom7: mixolydian
    (0, 2, 3, 5, 7, 9, 10),  # min7: dorian
)
CHORD_TONES: tuple[tuple[int, ...], ...] = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 10), (0, 3, 7, 10))

#: (quality, pitch class relative to the root) -> in the quality's scale
SCALE_MASK = np.zeros((len(QUALITIES), 12), bool)
for _q, _scale in enumerate(SCALES):
    SCALE_MASK[_q, list(_scale)] = True

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": 1, "Eb": 3, "Gb": 6, "Ab": 8, "Bb": 10}
#: chord-symbol suffix -> quality; "m7" must be tried before "m"
_SUFFIXES = (
    ("m7", MIN7),
    ("min7", MIN7),
    ("-7", MIN7),
    ("7", DOM7),
    ("maj7", MAJ),
    ("maj", MAJ),
    ("min", MIN),
    ("m", MIN),
    ("-", MIN),
    ("", MAJ),
)


@dataclass
class Chords:
    """Per step: ``root`` pitch class 0-11 and ``quality`` index into QUALITIES."""

    root: np.ndarray
    quality: np.ndarray

    def __post_init__(self) -> None:
        self.root = np.asarray(self.root, np.int64) % 12
        self.quality = np.asarray(self.quality, np.int64)
        if self.root.shape != self.quality.shape or self.root.ndim != 1:
            raise ValueError("root and quality must be equal 1-D arrays (steps,)")
        if self.quality.min(initial=0) < 0 or self.quality.max(initial=0) >= len(QUALITIES):
            raise ValueError(f"quality must be 0..{len(QUALITIES) - 1}")

    @classmethod
    def constant(cls, root: int, quality: int, steps: int) -> Chords:
        return cls(np.full(steps, root), np.full(steps, quality))

    @classmethod
    def from_symbols(cls, symbols: Sequence[str], steps: int) -> Chords:
        """Chord symbols spread evenly over ``steps`` ("Am7 D7" over 32 steps: a bar each)."""
        if not symbols or steps % len(symbols):
            raise ValueError(f"{len(symbols)} chords do not divide {steps} steps evenly")
        parsed = [parse_chord(s) for s in symbols]
        each = steps // len(parsed)
        return cls(np.repeat([r for r, _ in parsed], each), np.repeat([q for _, q in parsed], each))

    @property
    def steps(self) -> int:
        return len(self.root)


#: quality -> the suffix :func:`chord_symbol` writes (the shortest :func:`parse_chord` reads back)
_SYMBOL_SUFFIX = {MAJ: "", MIN: "m", DOM7: "7", MIN7: "m7"}


def chord_symbol(root: int, quality: int) -> str:
    """``(9, MIN7)`` -> ``"Am7"``: what a musician reads (and :func:`parse_chord` takes back)."""
    return NOTE_NAMES[root % 12] + _SYMBOL_SUFFIX[quality]


def parse_chord(symbol: str) -> tuple[int, int]:
    """ "C", "F#m", "Bb7", "Dm7", "Ebmaj7" -> (root pitch class, quality index)."""
    m = re.fullmatch(r"([A-G])([#b]?)(.*)", symbol.strip())
    if not m:
        raise ValueError(f"not a chord symbol: {symbol!r}")
    name = m.group(1) + m.group(2)
    root = _FLATS[name] if name in _FLATS else (NOTE_NAMES.index(m.group(1)) + (m.group(2) == "#")) % 12
    for suffix, quality in _SUFFIXES:
        if m.group(3) == suffix:
            return root, quality
    raise ValueError(f"unknown chord quality in {symbol!r} (use maj, m, 7, m7)")


def in_scale(pitch_rel: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Whether pitches (semitones from the chord root) are in the scale of the chord quality."""
    return SCALE_MASK[np.asarray(quality), np.asarray(pitch_rel) % 12]


def chord_features(chords: Chords) -> np.ndarray:
    """``(steps, 18)`` float32 the bass model reads per step: quality one-hot (4); the interval
    from this root to the next different chord's root in the window, one-hot over 12, or a 13th
    "no change ahead" slot; and the steps left until that change (or the window end) / steps.
    Relative intervals keep the model key-free: it plays the same line in any key."""
    steps = chords.steps
    out = np.zeros((steps, len(QUALITIES) + 14), np.float32)
    out[np.arange(steps), chords.quality] = 1.0
    nxt_root, nxt_at = None, steps
    for s in range(steps - 1, -1, -1):
        if s + 1 < steps and (
            chords.root[s + 1] != chords.root[s] or chords.quality[s + 1] != chords.quality[s]
        ):
            nxt_root, nxt_at = int(chords.root[s + 1]), s + 1
        slot = 12 if nxt_root is None else (nxt_root - int(chords.root[s])) % 12
        out[s, len(QUALITIES) + slot] = 1.0
        out[s, -1] = (nxt_at - s) / steps
    return out


# --------------------------------------------------------------------- chords from a keyboard


def chord_from_notes(notes: Iterable[int], prefer_quality: int = MAJ) -> tuple[int, int] | None:
    """The chord a keyboard player holds: ``(root pitch class, quality)``, or None for no notes.

    Every root the player holds is tried with every quality: two points per chord tone held,
    minus two per held note outside the chord, minus one per chord tone missing. Ties go to the
    lowest note as root (the player's bass note), then to ``prefer_quality``. Without a third
    held (a bare root, a power chord) the quality is ``prefer_quality``: what was playing."""
    held = sorted(set(int(n) for n in notes))
    if not held:
        return None
    pcs, bass = {n % 12 for n in held}, held[0] % 12

    def score(root: int, quality: int) -> tuple[int, bool, bool, int]:
        tones = {(root + i) % 12 for i in CHORD_TONES[quality]}
        fit = 2 * len(tones & pcs) - 2 * len(pcs - tones) - len(tones - pcs)
        return fit, root == bass, quality == prefer_quality, -quality

    root, quality = max(((r, q) for r in pcs for q in range(len(QUALITIES))), key=lambda rq: score(*rq))
    if not {(root + 3) % 12, (root + 4) % 12} & pcs:  # no third held: major/minor unsaid
        return root, prefer_quality
    return root, quality


@dataclass
class HeldChord:
    """Follows a keyboard's note-ons and note-offs; ``feed`` returns the new chord when what is
    held names a different one. Letting go of every key keeps the last chord (chord memory),
    as a band keeps playing the last change until the next."""

    held: set[int] = field(default_factory=set)
    chord: tuple[int, int] | None = None

    def feed(self, msg: Sequence[int]) -> tuple[int, int] | None:
        if ms.is_note_off(msg):
            self.held.discard(msg[1])
            return None  # releasing never changes the chord
        if not ms.is_note_on(msg):
            return None
        self.held.add(msg[1])
        prefer = self.chord[1] if self.chord else MAJ
        chord = chord_from_notes(self.held, prefer)
        if chord is None or chord == self.chord:
            return None
        self.chord = chord
        return chord

"""What a bass line does, measured the way a bass player would describe it (numpy only).

Every function takes windows as arrays ``(n, steps)``: ``onset`` (> 0.5 = a note starts),
``pitch`` (semitones from the step's chord root), ``root`` (pitch class) and ``quality``.
A note's *sounding* pitch is ``root + pitch``, so a chord change with the same relative pitch
is a new pitch, and an octave is a different pitch from its root.

* note roles: root, third, fifth, seventh, another scale tone, or chromatic (outside the
  chord's scale: approach and passing notes);
* distinct sounding pitches per bar (bars with a note);
* pitch repeat: consecutive notes of a window on the same sounding pitch;
* octave jumps: consecutive notes exactly 12 semitones apart;
* in-scale rate of the notes that are neither root nor fifth (the only ones a scale tests);
* exact kick lock: onsets on a step where the kick plays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum

import numpy as np

from jamd.music.drumkit import VOICE_INDEX
from jamd.music.harmony import DOM7, MAJ, SCALE_MASK

KICK = VOICE_INDEX["kick"]
BAR = 16


class NoteRole(Enum):
    ROOT = "root"
    THIRD = "third"
    FIFTH = "fifth"
    SEVENTH = "seventh"
    SCALE = "other_scale_tone"
    CHROMATIC = "chromatic"


def roles(pitch: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Role index (into ``list(NoteRole)``) of each note, from its pitch over its chord."""
    pc, q = np.asarray(pitch) % 12, np.asarray(quality)
    in_scale = SCALE_MASK[q, pc]
    third = np.where((q == MAJ) | (q == DOM7), 4, 3)
    seventh = np.where(q == MAJ, 11, 10)
    out = np.full(pc.shape, list(NoteRole).index(NoteRole.SCALE))
    for role, hit in (
        (NoteRole.SEVENTH, pc == seventh),
        (NoteRole.THIRD, pc == third),
        (NoteRole.FIFTH, pc == 7),
        (NoteRole.ROOT, pc == 0),
        (NoteRole.CHROMATIC, ~in_scale),
    ):
        out[hit] = list(NoteRole).index(role)
    return out


def note_roles(onset: np.ndarray, pitch: np.ndarray, quality: np.ndarray) -> dict[str, float]:
    on = onset > 0.5
    r = roles(pitch[on], quality[on])
    n = max(len(r), 1)
    return {role.value: float((r == i).sum() / n) for i, role in enumerate(NoteRole)}


def _note_pairs(onset: np.ndarray, sounding: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sounding pitches of each note and of the note after it, within a window."""
    a, b = [], []
    for on, p in zip(onset > 0.5, sounding):
        notes = p[on]
        a.append(notes[:-1])
        b.append(notes[1:])
    return np.concatenate(a) if a else np.zeros(0), np.concatenate(b) if b else np.zeros(0)


@dataclass
class LineFigures:
    """The line figures of issue 19 for a set of windows (see the module doc)."""

    note_roles: dict[str, float]
    root_share: float
    distinct_pitches_per_bar: float
    pitch_repeat: float
    octave_jump_rate: float
    in_scale_nonroot: float
    in_scale_nonroot_n: int
    kick_lock_exact: float
    notes_per_window: float

    def to_dict(self) -> dict:
        return asdict(self)


def line_figures(
    onset: np.ndarray, pitch: np.ndarray, root: np.ndarray, quality: np.ndarray, drum_hit: np.ndarray
) -> LineFigures:
    on = onset > 0.5
    sounding = np.asarray(root, np.int64) + np.asarray(pitch, np.int64)
    shares = note_roles(onset, pitch, quality)
    n, steps = on.shape
    bars = on.reshape(n, steps // BAR, BAR)
    sbars = sounding.reshape(n, steps // BAR, BAR)
    distinct = [len(set(p[o])) for ow, pw in zip(bars, sbars) for o, p in zip(ow, pw) if o.any()]
    a, b = _note_pairs(onset, sounding)
    r = roles(pitch[on], quality[on])
    tested = (r != list(NoteRole).index(NoteRole.ROOT)) & (r != list(NoteRole).index(NoteRole.FIFTH))
    chromatic = r == list(NoteRole).index(NoteRole.CHROMATIC)
    return LineFigures(
        note_roles=shares,
        root_share=shares[NoteRole.ROOT.value],
        distinct_pitches_per_bar=float(np.mean(distinct)) if distinct else 0.0,
        pitch_repeat=float((a == b).mean()) if len(a) else 0.0,
        octave_jump_rate=float((np.abs(a - b) == 12).mean()) if len(a) else 0.0,
        in_scale_nonroot=float(1 - chromatic[tested].mean()) if tested.any() else 0.0,
        in_scale_nonroot_n=int(tested.sum()),
        kick_lock_exact=kick_lock_exact(onset, drum_hit),
        notes_per_window=float(on.sum(1).mean()),
    )


def kick_lock_exact(onset: np.ndarray, drum_hit: np.ndarray) -> float:
    """Share of onsets on a step where the kick plays."""
    on = onset > 0.5
    return float((drum_hit[..., KICK] > 0.5)[on].mean()) if on.any() else 0.0


def random_onsets(onset: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per window, as many onsets as ``onset`` has, on uniformly drawn distinct steps."""
    out = np.zeros(onset.shape, np.float32)
    for i, c in enumerate((onset > 0.5).sum(1)):
        out[i, rng.choice(onset.shape[1], size=int(c), replace=False)] = 1.0
    return out


def kick_lock_random(
    onset: np.ndarray, drum_hit: np.ndarray, rng: np.random.Generator, draws: int = 5
) -> float:
    """Exact kick lock of random onsets at the same count per window (mean of ``draws``)."""
    return float(np.mean([kick_lock_exact(random_onsets(onset, rng), drum_hit) for _ in range(draws)]))


def role_gap(figures: dict[str, float], corpus: dict[str, float]) -> float:
    """Largest absolute difference between two role distributions."""
    return max(abs(figures[k] - corpus[k]) for k in corpus)

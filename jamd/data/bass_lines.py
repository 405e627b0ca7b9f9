"""One bar of procedural bass, written from an idiom's tables (:mod:`jamd.data.bass_idioms`).

The bar's onsets are the idiom's base steps, the kicks its kick rule takes, and as many of its
optional steps as the section's ``busy`` knob asks for. Each onset's degree comes from the
ladder of its beat strength at the section's melodic level, cycling through the ladder as the
bar goes on; a chord's first step is its root, and from the idiom's approach level the last
note before a chord change leads into the new root. Pitches are a function of the section, the
position, the chords and the kicks only (no dice), so a model can learn them; velocity and
micro-timing carry the human noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jamd.data.bass_idioms import BAR, IDIOM, LEVELS, Idiom, KickRule, Strength, strength
from jamd.music.harmony import DOM7, MAJ, MIN, SCALES

GHOST_VELOCITY = 0.25
#: the melodic levels below this play an octave lower (rooted and low <-> melodic and higher)
HIGH_REGISTER_LEVEL = 2


@dataclass(frozen=True)
class Section:
    """The knobs a bass player keeps for an 8-bar section: what the latent should learn."""

    busy: float  # 0..1: share of the idiom's optional steps played
    melodic: float  # 0..1: degree ladders and register

    @property
    def level(self) -> int:
        return min(LEVELS - 1, int(self.melodic * LEVELS))

    @property
    def register(self) -> int:
        return 0 if self.level >= HIGH_REGISTER_LEVEL else -12


def section_params(rng: np.random.Generator) -> Section:
    return Section(float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.0, 1.0)))


@dataclass
class BarContext:
    """What the line of one bar may look at."""

    kick: np.ndarray  # (16,) bool: the real kick drum of this bar
    root: np.ndarray  # (16,) pitch class per step
    quality: np.ndarray  # (16,) quality per step
    next_root: int  # the first chord of the next bar
    section: Section
    rng: np.random.Generator  # velocity and timing only

    def chord_starts(self) -> list[int]:
        return [0] + [
            s
            for s in range(1, BAR)
            if self.root[s] != self.root[s - 1] or self.quality[s] != self.quality[s - 1]
        ]

    def next_change(self, s: int) -> tuple[int, int]:
        """(step of the next chord change after ``s``, or BAR; its root pitch class)."""
        for c in self.chord_starts():
            if c > s:
                return c, int(self.root[c])
        return BAR, self.next_root


def _fold(p: int) -> int:
    """Into the model's range, an octave at a time."""
    while p > 12:
        p -= 12
    while p < -12:
        p += 12
    return p


def degree(token: str, quality: int) -> int:
    """Semitones above the root of a fixed degree token (see :mod:`jamd.data.bass_idioms`)."""
    minor_third = quality not in (MAJ, DOM7)
    return {
        "R": 0,
        "O": 12,
        "5": 7,
        "5v": -5,
        "3": 3 if minor_third else 4,
        "7": 11 if quality == MAJ else 10,
        "6": 8 if quality == MIN else 9,
        "2": 2,
        "4": 5,
    }[token]


def approach(target: int, prev: int, quality: int, chromatic: bool) -> int:
    """A note leading into ``target`` (semitones from the current root): a half step below or
    above it when ``chromatic``, else the scale tone next to it, on the side nearer ``prev``."""
    if chromatic:
        cands = [target - 1, target + 1]
    else:
        scale = [p for p in range(-14, 27) if p % 12 in SCALES[quality]]
        cands = [p for p in scale if 1 <= abs(p - target) <= 2]
    return min(cands, key=lambda p: (abs(p - prev), p))


def anticipation(next_root: int, root: int, quality: int) -> int:
    """The next chord's root played early over the current chord; the fifth when that root is
    not in the current chord's scale (so the anticipation never clashes)."""
    rel = (next_root - root) % 12
    if rel not in SCALES[quality]:
        return 7
    return rel if rel <= 7 else rel - 12


def onsets(idiom: Idiom, ctx: BarContext) -> list[int]:
    kicks = [int(s) for s in np.nonzero(ctx.kick)[0]]
    steps = set(idiom.base)
    optional = list(idiom.optional)
    if idiom.kicks is KickRule.ALL:
        steps |= set(kicks)
    elif idiom.kicks is KickRule.BEATS:
        steps |= {s for s in kicks if s % 4 == 0}
    elif idiom.kicks is KickRule.LEAD:
        steps.add(kicks[0] if kicks else 0)
        optional = kicks[1:] + optional
    elif idiom.kicks is KickRule.FIRST:  # the one stays a rest (one-drop, tumbao)
        optional = [s for s in kicks if s and s not in steps] + [s for s in optional if s not in kicks]
    if 0 in idiom.base:  # an idiom that plays the one plays every chord's first step
        steps |= set(ctx.chord_starts())
    steps |= set(optional[: round(ctx.section.busy * len(optional))])
    return sorted(steps)


def _pitches(idiom: Idiom, ctx: BarContext, steps: list[int]) -> dict[int, int]:
    level, starts = ctx.section.level, set(ctx.chord_starts())
    count = {k: 0 for k in Strength}
    pitch: dict[int, int] = {}
    prev = ctx.section.register
    for i, s in enumerate(steps):
        q, root = int(ctx.quality[s]), int(ctx.root[s])
        change, target_root = ctx.next_change(s)
        last_before = i + 1 == len(steps) or steps[i + 1] >= change
        kind = Strength.ONE if s in starts else strength(s)
        token = idiom.ladders[kind][level][count[kind] % len(idiom.ladders[kind][level])]
        count[kind] += 1
        if s == idiom.anticipate:
            p = ctx.section.register + anticipation(target_root, root, q)
        elif (
            kind is not Strength.ONE
            and last_before
            and change - s <= idiom.approach_from
            and level >= idiom.approach
        ):
            target = ctx.section.register + (target_root - root) % 12
            p = approach(target, prev, q, level >= idiom.chromatic)
        elif token == "=":
            p = prev
        else:
            p = ctx.section.register + degree(token, q)
        pitch[s] = prev = _fold(p)
    return pitch


def _ghosts(idiom: Idiom, ctx: BarContext, steps: list[int]) -> list[int]:
    free = [s for s in idiom.ghosts if s not in steps and not ctx.kick[s] and s > steps[0]]
    return free[: round(ctx.section.busy * len(free) * 0.5)]


def bar_line(name: str, ctx: BarContext) -> tuple[np.ndarray, ...]:
    """One bar of bass in idiom ``name``: (onset, pitch, velocity, length, offset), each ``(16,)``."""
    idiom = IDIOM[name]
    steps = onsets(idiom, ctx)
    pitch = _pitches(idiom, ctx, steps)
    ghosts = _ghosts(idiom, ctx, steps) if steps else []
    for g in ghosts:  # a muted note at the pitch the hand is on
        pitch[g] = pitch[max(s for s in steps if s < g)]
    starts = set(ctx.chord_starts())
    every = sorted(steps + ghosts)
    out_on, out_p = np.zeros(BAR, np.uint8), np.zeros(BAR, np.int8)
    out_v, out_len, out_off = np.zeros(BAR, np.float32), np.zeros(BAR, np.int8), np.zeros(BAR, np.float32)
    mean, spread = idiom.feel
    for i, s in enumerate(every):
        gap = (every[i + 1] if i + 1 < len(every) else BAR) - s
        ghost = s in ghosts
        vel = GHOST_VELOCITY if ghost else idiom.velocity + 0.12 * ctx.kick[s] + 0.06 * (s in starts)
        held = gap + 4 if s == idiom.anticipate else gap  # the anticipation ties over the bar line
        out_on[s] = 1
        out_p[s] = pitch[s]
        out_v[s] = float(np.clip(vel + ctx.rng.normal(0, 0.04), 0.1, 1.0))
        out_len[s] = 1 if ghost else max(1, min(held, idiom.max_length, 16))
        out_off[s] = float(np.clip(ctx.rng.normal(mean, spread), -0.45, 0.45))
    return out_on, out_p, out_v, out_len, out_off

"""Training-set augmentation of drum windows: new grooves a drummer would play, drawn afresh for
every batch of the training split (never for validation or test, whose figures must stay those
of real performances).

* ``swap``: closed hat <-> ride, the whole window: drummers move a groove's time-keeping from
  one to the other between sections, so either is the same groove.
* ``velocity``: every velocity of a window scaled by one factor (the same groove played
  louder or softer), clipped to [0, 1].
* ``timing``: every offset of a window shifted by one amount (the drummer ahead of or behind
  the click), clipped to the offset range. Hits stay in their cells.
* ``repair``: the second bar replaced by a bar from elsewhere in the same performance: bar i
  and bar j of one file make a 2-bar window of that groove the drummer never played in a row.

The draws come from the caller's generator (the training run's own, saved in its resume state),
so a resumed run draws what the unbroken run would have.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum

import numpy as np

from jamd.music.drumkit import VOICE_INDEX
from jamd.music.grid import OFFSET_MAX

HAT, RIDE = VOICE_INDEX["closed_hat"], VOICE_INDEX["ride"]


class Augment(str, Enum):
    SWAP = "swap"
    VELOCITY = "velocity"
    TIMING = "timing"
    REPAIR = "repair"


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations, and how much of each (per window)."""

    kinds: tuple[Augment, ...] = ()
    swap_p: float = 0.25  # share of windows with hat and ride swapped (ride is rare in GMD)
    velocity_scale: float = 0.15  # factor drawn from 1 +- this
    timing_shift: float = 0.05  # steps, drawn from +- this
    repair_p: float = 0.3  # share of windows whose second bar comes from elsewhere in the file

    @classmethod
    def parse(cls, text: str) -> AugmentConfig:
        """``"swap,velocity"``, or ``"all"``."""
        names = [a.value for a in Augment] if text.strip() == "all" else text.split(",")
        try:
            kinds = tuple(Augment(n.strip()) for n in names if n.strip())
        except ValueError:
            known = ", ".join(a.value for a in Augment)
            raise ValueError(f"unknown augmentation in {text!r} (known: {known}, or all)") from None
        return cls(tuple(sorted(set(kinds), key=list(Augment).index)))

    def __bool__(self) -> bool:
        return bool(self.kinds)

    def to_dict(self) -> dict:
        return {**asdict(self), "kinds": [k.value for k in self.kinds]}


#: no augmentation (the default: the runs and cards of before reproduce)
NO_AUGMENT = AugmentConfig()


@dataclass
class Batch:
    """Windows of one batch, ``(n, steps, voices)`` each; ``index``: their rows in the split."""

    hit: np.ndarray
    velocity: np.ndarray
    offset: np.ndarray
    index: np.ndarray


class SameFile:
    """For each window of a split, the windows cut from the same file (their bars are the
    performance's other bars)."""

    def __init__(self, file: np.ndarray):
        self.order = np.argsort(file, kind="stable")
        _, first, count = np.unique(file[self.order], return_index=True, return_counts=True)
        group = np.repeat(np.arange(len(first)), count)  # group of each position in `order`
        self.first = np.empty(len(file), np.int64)
        self.count = np.empty(len(file), np.int64)
        self.first[self.order] = first[group]
        self.count[self.order] = count[group]

    def draw(self, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random window of the same file for each of ``index`` (itself included)."""
        return self.order[self.first[index] + rng.integers(0, self.count[index])]


def augment(
    batch: Batch,
    cfg: AugmentConfig,
    rng: np.random.Generator,
    split: Batch,
    same_file: SameFile,
) -> Batch:
    """``batch`` with ``cfg``'s augmentations drawn from ``rng``; ``split`` (with ``same_file``)
    is the whole training split, where the re-paired bars come from. Returns new arrays."""
    hit, vel, off = batch.hit.copy(), batch.velocity.copy(), batch.offset.copy()
    n, steps = hit.shape[:2]
    if Augment.REPAIR in cfg.kinds:
        pick = rng.random(n) < cfg.repair_p
        partner = same_file.draw(batch.index[pick], rng)
        half = steps // 2
        src = rng.integers(0, 2, len(partner)) * half  # either bar of the partner window
        bars = src[:, None] + np.arange(half)  # (m, half) step indices into the partner
        rows = partner[:, None]
        for mine, theirs in ((hit, split.hit), (vel, split.velocity), (off, split.offset)):
            mine[pick, half:] = theirs[rows, bars]
    if Augment.SWAP in cfg.kinds:
        pick = rng.random(n) < cfg.swap_p
        for a in (hit, vel, off):
            a[pick, :, HAT], a[pick, :, RIDE] = a[pick, :, RIDE], a[pick, :, HAT]
    played = hit > 0.5
    if Augment.VELOCITY in cfg.kinds:
        scale = np.float32(1) + np.asarray(
            rng.uniform(-cfg.velocity_scale, cfg.velocity_scale, n), np.float32
        )
        vel = np.where(played, np.clip(vel * scale[:, None, None], 0, 1), vel)
    if Augment.TIMING in cfg.kinds:
        shift = np.asarray(rng.uniform(-cfg.timing_shift, cfg.timing_shift, n), np.float32)
        off = np.where(played, np.clip(off + shift[:, None, None], -0.5, OFFSET_MAX), off)
    return Batch(hit, vel.astype(np.float32), off.astype(np.float32), batch.index)

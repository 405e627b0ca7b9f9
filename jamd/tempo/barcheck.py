"""The bar check: does the drummer's groove still sit where the tracker's grid puts it?

Matching hits to the nearest 8th (:mod:`jamd.tempo.tracker`) cannot tell a grid that is right
from one that slid by an 8th or a beat: every 8th looks alike. The bar does not: the kick, the
snare and the hats fall on their own places in it. So the first bars after the count-in, when the
grid is surely right (the count-in set it), teach a template: where in the bar each voice hits,
per 16th. Then, every beat, the last two bars of hits are laid on a few alternative grids (the
phase moved by an 8th or up to a beat and a half either way, the tempo a few per cent faster or
slower) and scored against the template, each hit counting by how near it falls to a 16th. When
another grid fits clearly better than the tracker's, twice in a row, the tracker moves to it.
Causal (only past hits) and cheap (a few dozen hits times a few dozen grids, once a beat).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from jamd.music.drumkit import VOICES
from jamd.music.grid import BEATS_PER_BAR, STEPS_PER_BEAT

_BINS = BEATS_PER_BAR * STEPS_PER_BEAT


@dataclass(frozen=True)
class BarCheckConfig:
    learn_bars: int = 4  # the template is learnt over the first bars after the count-in
    window_beats: float = 8.0  # the hits a check lays on the alternative grids
    #: the alternatives: the phase moved by these beats, the period scaled by these factors
    shifts: tuple[float, ...] = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5)
    periods: tuple[float, ...] = tuple(np.round(np.arange(0.94, 1.0601, 0.01), 3))
    fit_beats: float = 0.06  # how near a 16th a hit must fall to count fully (a Gaussian's sd)
    margin: float = 0.3  # another grid must score this share better than the tracker's ...
    confirm: int = 2  # ... this many checks in a row
    learn_rate: float = 0.05  # the template follows the groove this much a bar while it fits


@dataclass(frozen=True)
class Move:
    """Where the check puts the grid: beat ``beat`` is at ``t_s``, a beat lasts ``period_s``."""

    t_s: float
    beat: float
    period_s: float


class BarCheck:
    """Feed it every hit with the beat the tracker puts it on (:meth:`hit`), and ask once a beat
    (:meth:`check`) whether another grid fits the groove clearly better."""

    def __init__(self, cfg: BarCheckConfig | None = None) -> None:
        self.cfg = cfg or BarCheckConfig()
        self.template = np.zeros((len(VOICES), _BINS))
        self._hits: deque[tuple[float, int, float]] = deque()  # (s, voice, weight)
        self._last_check = 0.0
        self._pending: tuple[float, float] | None = None
        self._streak = 0
        shifts, periods = np.meshgrid(self.cfg.shifts, self.cfg.periods, indexing="ij")
        self._shifts, self._periods = shifts.ravel(), periods.ravel()

    @property
    def learnt(self) -> bool:
        return self._last_check >= self.cfg.learn_bars * BEATS_PER_BAR

    def hit(self, t_s: float, beat: float, voice: int, weight: float) -> None:
        """A hit the tracker placed on ``beat``; while learning it goes into the template."""
        self._hits.append((t_s, voice, weight))
        if beat < self.cfg.learn_bars * BEATS_PER_BAR:
            self.template[voice] += weight * self._kernel(np.array([beat]))[0]

    def check(self, t_s: float, beat: float, period_s: float) -> Move | None:
        """At ``t_s`` the tracker is at ``beat`` with ``period_s``: a move, when another grid
        has fitted clearly better for ``confirm`` beats."""
        if beat - self._last_check < 1.0:
            return None
        self._last_check = beat
        window_s = self.cfg.window_beats * period_s
        while self._hits and self._hits[0][0] < t_s - window_s:
            self._hits.popleft()
        if not self.learnt or len(self._hits) < 4:
            return None
        hits = np.array(self._hits)
        times, voices, weights = hits[:, 0], hits[:, 1].astype(int), hits[:, 2]
        # every alternative grid's beat for every hit, pivoting at now
        beats = beat + self._shifts[:, None] + (times[None, :] - t_s) / (period_s * self._periods[:, None])
        fit = self._kernel(beats)  # (grids, hits, bins)
        scores = np.einsum("ghb,hb,h->g", fit, self.template[voices], weights)
        current = int(np.flatnonzero((self._shifts == 0) & (self._periods == 1.0))[0])
        best = int(np.argmax(scores))
        if best == current or scores[best] <= scores[current] * (1.0 + self.cfg.margin):
            self._pending, self._streak = None, 0
            self._learn(fit[current], voices, weights)
            return None
        alt = (float(self._shifts[best]), float(self._periods[best]))
        self._streak = self._streak + 1 if alt == self._pending else 1
        self._pending = alt
        if self._streak < self.cfg.confirm:
            return None
        self._pending, self._streak = None, 0
        self._hits.clear()
        return Move(t_s, beat + alt[0], period_s * alt[1])

    def _learn(self, fit: np.ndarray, voices: np.ndarray, weights: np.ndarray) -> None:
        """The groove changes over a song: while the grid fits, the template follows slowly."""
        now = np.zeros_like(self.template)
        np.add.at(now, voices, fit * weights[:, None])
        total = now.sum()
        if total > 0:
            rate = self.cfg.learn_rate * BEATS_PER_BAR / self.cfg.window_beats
            scale = self.template.sum() / total
            self.template += rate * (now * scale - self.template)

    def _kernel(self, beats: np.ndarray) -> np.ndarray:
        """How much a hit at ``beats`` counts in each 16th of the bar (nearest 16th only)."""
        steps = beats * STEPS_PER_BEAT
        nearest = np.round(steps)
        near = np.exp(-0.5 * ((steps - nearest) / (self.cfg.fit_beats * STEPS_PER_BEAT)) ** 2)
        onehot = np.eye(_BINS)[nearest.astype(int) % _BINS]
        return onehot * near[..., None]


__all__ = ["BarCheck", "BarCheckConfig", "Move"]

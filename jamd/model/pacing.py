"""Decoding with memory: a pad move changes the played drum pattern a few cells at a time, evenly.

Without memory every pad position is decoded afresh, and the cells a straight move changes come
as independent threshold crossings do: in clumps, a count per move whose spread is about that
of a Poisson count (CV ≈ 1/√mean: drums-v2 at radius 3 has CV 0.65, and 41 % of sweeps hold a
move that changes 8 cells or more). A plain hysteresis margin makes this worse, not better (it
drops the flickers but keeps the clumps; docs/models.md). With memory the played pattern
*follows* the fresh decode (the target) at a pace set by the pad's travel:

- each decode may flip, of the cells where the played pattern and the target differ, as many
  as the pad travelled since the last decode allows: ``pace`` cells per unit of x, y travel,
  with at most ``CARRY`` cells saved up (a pad resting where nothing changes does not save up
  a burst);
- the cells most clearly decided go first (the largest distance of their logit from the
  target's boundary between hit and no hit), so what lags behind is what the model is least
  sure of;
- the played pattern is never more than ``lag`` cells away from the target: beyond that the
  excess flips at once (a large move of the controls is followed, only its spread is limited).

A cell that crosses and crosses back before its turn is never played. The memory starts afresh
(the target itself) when its context changes: a new seed, other decoding controls, a reload.
Numpy only: the daemon's render runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: cells of pace a decode may save up while nothing is left to change
CARRY = 4.0


@dataclass(frozen=True)
class Pacing:
    """How fast the played pattern may follow the pad. ``pace`` 0: no memory (every decode fresh)."""

    pace: float = 0.0  # cells per unit of pad travel (x, y: a full throw from the centre is 1)
    lag: int = 0  # at most this many cells of the played pattern may differ from the fresh decode

    def __post_init__(self) -> None:
        if not (np.isfinite(self.pace) and self.pace >= 0 and self.lag >= 0):
            raise ValueError(f"pacing needs pace >= 0 and lag >= 0, not {self.pace}, {self.lag}")

    @property
    def on(self) -> bool:
        return self.pace > 0


class PadMemory:
    """The played pattern of the last decode, which the next one moves on from (see the module)."""

    def __init__(self, pacing: Pacing):
        self.pacing = pacing
        self.reset()

    def reset(self) -> None:
        """Forget: the next decode plays its target."""
        self._hit: np.ndarray | None = None
        self._xy = np.zeros(2)
        self._budget = 0.0
        self._context: object = None

    def step(
        self, target: np.ndarray, logits: np.ndarray, xy: tuple[float, float], context: object
    ) -> np.ndarray:
        """The hits to play (0/1 float32, as ``target``): ``target`` is the fresh decode's hits,
        ``logits`` its hit logits, ``xy`` the pad position decoded; ``context`` anything that,
        when it differs from the last call's (``!=``), makes the memory start afresh."""
        xy_now = np.asarray(xy, np.float64)
        fresh = self._hit is None or self._hit.shape != target.shape or _differs(context, self._context)
        if not self.pacing.on or fresh:
            self._hit, self._budget = target.copy(), 0.0
        else:
            assert self._hit is not None
            travel = float(np.hypot(*(xy_now - self._xy)))
            self._budget = min(self._budget + self.pacing.pace * travel, CARRY)
            differ = np.flatnonzero(self._hit.ravel() != target.ravel())
            # (the epsilon: travel summed in floats that should make a whole cell does)
            n = min(len(differ), max(int(self._budget + 1e-9), len(differ) - self.pacing.lag))
            self._budget = max(self._budget - n, 0.0)
            if n == len(differ):
                self._hit = target.copy()
            elif n:
                order = np.argsort(-np.abs(logits.ravel()[differ] - _boundary(target, logits)), kind="stable")
                flip = differ[order[:n]]
                self._hit = self._hit.copy()
                self._hit.flat[flip] = target.flat[flip]
        self._xy, self._context = xy_now, context
        return self._hit.copy()


def _boundary(target: np.ndarray, logits: np.ndarray) -> float:
    """The logit between the target's weakest hit and its strongest silent cell."""
    on = target > 0
    if on.all() or not on.any():
        return 0.0
    return 0.5 * float(logits[on].min() + logits[~on].max())


def _differs(a: object, b: object) -> bool:
    """``a != b`` for contexts that may hold numpy arrays (compared element-wise, whole)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) != len(b) or any(_differs(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return not np.array_equal(a, b)  # type: ignore[arg-type]
    return bool(a != b)

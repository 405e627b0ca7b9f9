"""The count-in: ``hits`` evenly spaced hits on the count-in notes (default four quarter notes on
the hi-hat pedal or sticks) set the tempo and where the bar's one falls: one spacing after the
last hit, like a drummer counting "one, two, three, four" into the song."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

#: GM hi-hat pedal, sticks and side stick: what a drummer counts in with on an e-kit
DEFAULT_COUNT_IN_NOTES = (44, 31, 37)


@dataclass(frozen=True)
class CountInConfig:
    hits: int = 4  # how many hits count in
    notes: tuple[int, ...] = DEFAULT_COUNT_IN_NOTES  # which notes count (any channel)
    beats: float = 1.0  # beats between two hits (1: quarter notes, 2: half notes)
    #: how far one gap may differ from their mean: a count-in is steady, noodling is not
    tolerance: float = 0.1


@dataclass(frozen=True)
class CountInResult:
    """What a count-in says: the period (s per beat) and the time of the bar's one."""

    period_s: float
    one_s: float
    times: tuple[float, ...]  # the count-in hits, oldest first


class CountIn:
    """Watches hits on the count-in notes for ``hits`` in a row, evenly spaced, at a tempo in
    ``min_bpm..max_bpm``."""

    def __init__(self, cfg: CountInConfig, min_bpm: float, max_bpm: float) -> None:
        if cfg.hits < 2:
            raise ValueError("a count-in needs at least 2 hits")
        self.cfg = cfg
        self.min_bpm, self.max_bpm = min_bpm, max_bpm
        self._times: deque[float] = deque(maxlen=cfg.hits)

    def reset(self) -> None:
        self._times.clear()

    def feed(self, t_s: float, note: int) -> CountInResult | None:
        """One note-on; the count-in when it completes one."""
        if note not in self.cfg.notes:
            return None
        self._times.append(t_s)
        if len(self._times) < self.cfg.hits:
            return None
        times = tuple(self._times)
        gaps = [b - a for a, b in zip(times, times[1:])]
        mean = sum(gaps) / len(gaps)
        if mean <= 0 or any(abs(g - mean) > self.cfg.tolerance * mean for g in gaps):
            return None
        period = self._fit_period(times) / self.cfg.beats
        if not self.min_bpm <= 60.0 / period <= self.max_bpm:
            return None
        self._times.clear()
        # the one follows the last hit by one spacing, on the least-squares line through all
        n = len(times)
        mid = sum(times) / n
        one = mid + (n - (n - 1) / 2) * period * self.cfg.beats
        return CountInResult(period, one, times)

    @staticmethod
    def _fit_period(times: tuple[float, ...]) -> float:
        """The least-squares spacing of evenly numbered hits (steadier than any one gap)."""
        n = len(times)
        mean_i, mean_t = (n - 1) / 2, sum(times) / n
        num = sum((i - mean_i) * (t - mean_t) for i, t in enumerate(times))
        return num / sum((i - mean_i) ** 2 for i in range(n))

"""The causal beat tracker: where the drummer's beats are, from the drummer's onsets alone.

After the count-in (:mod:`jamd.tempo.countin`) or the auto start (:mod:`jamd.tempo.autostart`)
every hit goes to a particle filter (:mod:`jamd.tempo.particles`) that keeps many guesses of
where the beat is and how long it lasts, weighs them by how well each hit fits the drummer's
bar, and gives their mean. This module owns the states around it: searching for a start,
locked, holding through the drummer's silence, and letting go. Weights: kick and snare carry
the groove's time and weigh most, hats, toms and ride less, crashes least (they ring over the
time); harder hits weigh more than ghost notes.

Nothing here reads the clock: times (seconds, monotonic) come with each call.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from jamd.music.drumkit import VOICES
from jamd.music.grid import BEATS_PER_BAR
from jamd.tempo.autostart import AutoStart, AutoStartConfig, Start
from jamd.tempo.countin import CountIn, CountInConfig, CountInResult
from jamd.tempo.particles import GridFilter, GridFilterConfig

log = logging.getLogger(__name__)


class TrackState(Enum):
    """What the tracker knows; the values are what the status, OSC and the journal say."""

    SEARCHING = "searching"  # no tempo: waiting for the count-in (or, auto: listening)
    LOCKED = "locked"  # following the drummer
    HOLDING = "holding"  # the drummer stopped: tempo and bar are held

    def __str__(self) -> str:
        return self.value


#: How much a hit of each voice says about the time (kick and snare most, crashes least).
VOICE_WEIGHTS: Mapping[str, float] = {
    "kick": 1.0,
    "snare": 1.0,
    "closed_hat": 0.6,
    "open_hat": 0.4,
    "low_tom": 0.6,
    "mid_tom": 0.6,
    "high_tom": 0.6,
    "crash": 0.2,
    "ride": 0.6,
}
_WEIGHTS = np.array([VOICE_WEIGHTS[v] for v in VOICES])


def hit_weight(voice: int, velocity: int) -> float:
    """How much a hit says about the time: its voice's weight, more for harder hits."""
    return float(_WEIGHTS[voice]) * (0.25 + velocity / 127)


@dataclass(frozen=True)
class TrackerConfig:
    count_in: CountInConfig = field(default_factory=CountInConfig)
    start: Start = Start.COUNT_IN  # how the tempo and the one are found
    auto: AutoStartConfig = field(default_factory=AutoStartConfig)  # start: auto
    min_bpm: float = 50.0  # tempo limits: a count-in outside is not taken, the fit is clamped
    max_bpm: float = 220.0
    silence_beats: float = 2.0  # no hit for this long: holding
    hold_bars: float = 4.0  # holding this long: the tempo is let go (searching again)
    grid: GridFilterConfig = field(default_factory=GridFilterConfig)


@dataclass(frozen=True)
class Estimate:
    """The tracker's belief: beat ``anchor_beat`` (0 = the first bar's one) is at ``anchor_s``,
    and a beat lasts ``period_s``; ``confidence`` in [0, 1] is the share of the tracker's guesses
    that agree on the beat within a 16th (:meth:`jamd.tempo.particles.GridFilter.confidence`)."""

    state: TrackState
    anchor_s: float
    anchor_beat: float
    period_s: float
    confidence: float

    @property
    def bpm(self) -> float:
        return 60.0 / self.period_s

    def beat_at(self, t_s: float) -> float:
        return self.anchor_beat + (t_s - self.anchor_s) / self.period_s

    def time_at(self, beat: float) -> float:
        return self.anchor_s + (beat - self.anchor_beat) * self.period_s


class BeatTracker:
    """Feed it the drummer's note-ons (:meth:`onset`) and the time now and then
    (:meth:`update`); :attr:`estimate` is its belief (None while searching)."""

    def __init__(
        self, cfg: TrackerConfig, table: Mapping[int, int], grid_filter: type[GridFilter] = GridFilter
    ) -> None:
        """``grid_filter``: the filter it starts on each count-in (a trial may give a variant:
        :mod:`jamd.lab.tempo_modes`)."""
        self.cfg = cfg
        self.table = table
        self._grid_filter = grid_filter
        self.count_in = CountIn(cfg.count_in, cfg.min_bpm, cfg.max_bpm)
        self.auto = AutoStart(cfg.auto, cfg.min_bpm, cfg.max_bpm) if cfg.start is Start.AUTO else None
        self.estimate: Estimate | None = None
        self.tempo_locked = False  # tempo.lock: the period is frozen, the phase still follows
        self._grid: GridFilter | None = None
        self._last_hit_s = -math.inf

    @property
    def state(self) -> TrackState:
        return self.estimate.state if self.estimate is not None else TrackState.SEARCHING

    def lock_tempo(self, on: bool) -> None:
        """``tempo.lock``: freeze the tempo where it is (the drummer's "hold it here")."""
        if on != self.tempo_locked:
            self.tempo_locked = on
            if self._grid is not None:
                self._grid.lock_tempo(on)
            log.info("tempo %s", "locked" if on else "free")

    def onset(self, t_s: float, note: int, velocity: int) -> Estimate | None:
        """One note-on of the drummer's at ``t_s``; the new estimate when it changed."""
        if velocity <= 0:
            return None
        if self._grid is None:
            found = self._search(t_s, note, velocity)
            return self._start(found) if found is not None else None
        voice = self.table.get(note)
        if voice is None:
            return None
        self._last_hit_s = t_s
        if self._grid.hit(t_s, voice, hit_weight(voice, velocity)):
            log.info("the drummer's playing no longer fits the grid: finding tempo and bar again")
        return self._publish(TrackState.LOCKED)

    def update(self, now_s: float) -> Estimate | None:
        """The drummer's silence: holding after ``silence_beats``, searching again after
        ``hold_bars`` more; the new estimate when the state changed (None also when it let go:
        see :attr:`state`)."""
        est = self.estimate
        if est is None:
            return None
        quiet = (now_s - self._last_hit_s) / est.period_s
        if est.state is TrackState.LOCKED and quiet > self.cfg.silence_beats:
            log.info("drummer stopped: holding %.1f BPM", est.bpm)
            return self._publish(TrackState.HOLDING)
        if (
            est.state is TrackState.HOLDING
            and quiet > self.cfg.silence_beats + self.cfg.hold_bars * BEATS_PER_BAR
        ):
            log.info("drummer gone: tempo let go, waiting for a count-in")
            self.reset()
        return None

    def reset(self) -> None:
        self.estimate = None
        self._grid = None
        self.count_in.reset()
        if self.auto is not None:
            self.auto.reset()
        self._last_hit_s = -math.inf

    # ------------------------------------------------------------------------------ inside

    def _search(self, t_s: float, note: int, velocity: int) -> CountInResult | None:
        """Searching: the count-in, or (``start: auto``) the first bars of the groove."""
        if self.auto is None:
            return self.count_in.feed(t_s, note)
        voice = self.table.get(note)
        return None if voice is None else self.auto.feed(t_s, voice, hit_weight(voice, velocity))

    def _start(self, found: CountInResult) -> Estimate:
        limits = 60.0 / self.cfg.max_bpm, 60.0 / self.cfg.min_bpm
        self._grid = self._grid_filter(self.cfg.grid, found.one_s, found.period_s, limits)
        if self.tempo_locked:
            self._grid.lock_tempo(True)
        self._last_hit_s = found.times[-1]
        how = "count-in" if self.auto is None else "auto start"
        log.info("%s: %.1f BPM, the one at %.3f s", how, 60.0 / found.period_s, found.one_s)
        return self._publish(TrackState.LOCKED)

    def _publish(self, state: TrackState) -> Estimate:
        grid = self._grid
        assert grid is not None
        t_s, beat, period = grid.estimate()
        self.estimate = Estimate(state, t_s, beat, period, grid.confidence())
        return self.estimate


__all__ = ["BeatTracker", "Estimate", "TrackState", "TrackerConfig", "VOICE_WEIGHTS", "hit_weight"]

"""The causal beat tracker: where the drummer's beats are, from the drummer's onsets alone.

After the count-in (:mod:`jamd.tempo.countin`) every hit is matched to the nearest 8th of the
grid the tracker predicts, and a Kalman filter over two numbers, the time of the grid point and
the beat's period, takes it in. Why this shape:

* Matching to 8ths keeps syncopation, fills and ghost notes on the grid: a hit off the beat
  still says where the beat is; a hit far from any 8th (a swung 8th, a 16th, a triplet) says
  nothing and is left out, so a shuffle does not drag the beat late.
* Weights: kick and snare carry the groove's time and weigh most, hats and ride less, crashes
  least (they ring over the time); harder hits weigh more than ghost notes. A hit's weight is
  how much less scatter the filter expects of it.
* The period is allowed to wander a little every beat, so gradual drift is followed; how far a
  hit may be from the prediction before it counts as "off the grid" grows with what the filter
  is unsure of.
* A tempo change shows first as hits that fall off the grid the same way, one after the other:
  a cumulative sum of that makes the filter unsure of phase and tempo, so the next hits re-set
  them before the grid slides off the drummer (which would lose an 8th, or a bar). When no hit
  has fitted for a beat, every hit left out makes it less sure still, widening the gate until
  hits are taken in again; but never so wide that a 16th is taken for an 8th.

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
from jamd.tempo.barcheck import BarCheck, BarCheckConfig, Move
from jamd.tempo.countin import CountIn, CountInConfig, CountInResult

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


def _weight(voice: int, velocity: int) -> float:
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
    grid_beats: float = 0.5  # hits are matched to the nearest 8th
    scatter_s: float = 0.03  # how far a (weight 1) hit is from the beat, typically
    phase_wander: float = 0.004  # how far the beat's phase may wander in a beat (beats)
    tempo_wander: float = 0.006  # how far the period may wander in a beat (share of it)
    gate_beats: float = 0.12  # a hit further than this off its 8th (beats) is left out ...
    gate_sigmas: float = 3.0  # ... unless the filter is unsure by a third of that
    #: ... but never one this far: a 16th (0.25) must not be taken for an 8th
    gate_max: float = 0.2
    drift_allow: float = 0.02  # a hit this far off (beats) is the drummer's feel, not a change
    drift_beats: float = 0.15  # hits off the same way by this much more, summed: a change
    drift_tempo: float = 0.04  # ... after which the tempo is this unsure (share)
    lost_beats: float = 1.0  # no hit taken in for this long: the grid may have slid off
    lost_phase: float = 0.04  # how much less sure of the phase (beats) a hit left out makes it
    lost_tempo: float = 0.015  # ... and of the period (share)
    count_in_tempo: float = 0.025  # how unsure of the tempo a count-in leaves the filter
    bar_check: BarCheckConfig = field(default_factory=BarCheckConfig)


@dataclass(frozen=True)
class Estimate:
    """The tracker's belief: beat ``anchor_beat`` (0 = the first bar's one) is at ``anchor_s``,
    and a beat lasts ``period_s``; ``confidence`` in [0, 1] says how well the recent hits fit."""

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


@dataclass
class _Kalman:
    """Grid point ``grid`` (beats) is at ``t`` (s), a beat lasts ``period`` (s); ``cov`` is
    the 2x2 covariance of (t, period)."""

    grid: float
    t: float
    period: float
    cov: np.ndarray
    rejected_from: float | None = None  # the grid point since which every hit was left out
    early: float = 0.0  # cumulative sums of hits early / late beyond the allowance (beats)
    late: float = 0.0


class BeatTracker:
    """Feed it the drummer's note-ons (:meth:`onset`) and the time now and then
    (:meth:`update`); :attr:`estimate` is its belief (None while searching)."""

    def __init__(self, cfg: TrackerConfig, table: Mapping[int, int]) -> None:
        self.cfg = cfg
        self.table = table
        self.count_in = CountIn(cfg.count_in, cfg.min_bpm, cfg.max_bpm)
        self.auto = AutoStart(cfg.auto, cfg.min_bpm, cfg.max_bpm) if cfg.start is Start.AUTO else None
        self.estimate: Estimate | None = None
        self.tempo_locked = False  # tempo.lock: the period is frozen, the phase still follows
        self._kf: _Kalman | None = None
        self._bar = BarCheck(cfg.bar_check)
        self._scatter2 = 0.0  # a running mean of squared innovations (s^2): the confidence
        self._last_hit_s = -math.inf

    @property
    def state(self) -> TrackState:
        return self.estimate.state if self.estimate is not None else TrackState.SEARCHING

    def lock_tempo(self, on: bool) -> None:
        """``tempo.lock``: freeze the tempo where it is (the drummer's "hold it here")."""
        if on != self.tempo_locked:
            self.tempo_locked = on
            log.info("tempo %s", "locked" if on else "free")

    def onset(self, t_s: float, note: int, velocity: int) -> Estimate | None:
        """One note-on of the drummer's at ``t_s``; the new estimate when it changed."""
        if velocity <= 0:
            return None
        if self._kf is None:
            found = self._search(t_s, note, velocity)
            return self._start(found) if found is not None else None
        voice = self.table.get(note)
        if voice is None:
            return None
        self._last_hit_s = t_s
        weight = _weight(voice, velocity)
        kf = self._kf
        self._hit(kf, t_s, weight)
        self._bar.hit(t_s, kf.grid + (t_s - kf.t) / kf.period, voice, weight)
        move = self._bar.check(t_s, kf.grid + (t_s - kf.t) / kf.period, kf.period)
        if move is not None:
            self._move(move)
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
        self._kf = None
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
        return None if voice is None else self.auto.feed(t_s, voice, _weight(voice, velocity))

    def _start(self, found: CountInResult) -> Estimate:
        self._kf = self._new_filter(0.0, found.one_s, found.period_s)
        self._bar = BarCheck(self.cfg.bar_check)
        self._last_hit_s = found.times[-1]
        self._scatter2 = 0.0
        how = "count-in" if self.auto is None else "auto start"
        log.info("%s: %.1f BPM, the one at %.3f s", how, 60.0 / found.period_s, found.one_s)
        return self._publish(TrackState.LOCKED)

    def _move(self, move: Move) -> None:
        """The bar check found the groove on another grid: start the filter again on it."""
        kf = self._kf
        assert kf is not None
        limits = 60.0 / self.cfg.max_bpm, 60.0 / self.cfg.min_bpm
        period = kf.period if self.tempo_locked else min(max(move.period_s, limits[0]), limits[1])
        grid = math.ceil(move.beat / self.cfg.grid_beats) * self.cfg.grid_beats
        log.info("the groove fits another grid: beat %.2f, %.1f BPM", move.beat, 60.0 / period)
        self._kf = self._new_filter(grid, move.t_s + (grid - move.beat) * period, period)

    def _new_filter(self, grid: float, t_s: float, period: float) -> _Kalman:
        """A count-in is a few hits: the filter starts unsure of the tempo, and the first bars
        settle it."""
        cov = np.diag([self.cfg.scatter_s**2, (self.cfg.count_in_tempo * period) ** 2])
        return _Kalman(grid, t_s, period, cov)

    def _hit(self, kf: _Kalman, t_s: float, weight: float) -> None:
        cfg = self.cfg
        pos = kf.grid + (t_s - kf.t) / kf.period
        grid = round(pos / cfg.grid_beats) * cfg.grid_beats
        delta = grid - kf.grid
        if delta > 0:  # move the state on to the hit's grid point
            move = np.array([[1.0, delta], [0.0, 1.0]])
            wander = np.diag([cfg.phase_wander**2, cfg.tempo_wander**2]) * kf.period**2 * delta
            if self.tempo_locked:
                wander[1, 1] = 0.0
            kf.t += delta * kf.period
            kf.grid = grid
            kf.cov = move @ kf.cov @ move.T + wander
            delta = 0.0
        h = np.array([1.0, delta])  # a hit behind the state (a flam): seen from where it is
        innovation = t_s - (kf.t + delta * kf.period)
        off = innovation / kf.period
        unsure = float(h @ kf.cov @ h)
        width = min(max(cfg.gate_beats, cfg.gate_sigmas * math.sqrt(unsure) / kf.period), cfg.gate_max)
        if abs(off) >= width:
            # off the grid: a swung 8th, a 16th, a triplet; or, when no hit has been taken in
            # for ``lost_beats``, the grid has slid off the drummer (a tempo change): then each
            # hit left out makes the filter less sure, widening the gate until hits come in
            if kf.rejected_from is None:
                kf.rejected_from = kf.grid
            elif kf.grid - kf.rejected_from >= cfg.lost_beats:
                kf.cov += np.diag([cfg.lost_phase**2, cfg.lost_tempo**2]) * kf.period**2
            return
        kf.rejected_from = None
        self._drifting(kf, off)
        u = off / width
        noise = cfg.scatter_s**2 / (weight * (1.0 - u * u) ** 2)
        gain = kf.cov @ h / (unsure + noise)
        if self.tempo_locked:
            gain[1] = 0.0
        kf.t += gain[0] * innovation
        kf.period = min(max(kf.period + gain[1] * innovation, 60.0 / cfg.max_bpm), 60.0 / cfg.min_bpm)
        # (the Joseph form: the covariance stays symmetric and positive however small it gets)
        keep = np.eye(2) - np.outer(gain, h)
        kf.cov = keep @ kf.cov @ keep.T + np.outer(gain, gain) * noise
        self._scatter2 += 0.1 * (innovation**2 - self._scatter2)

    def _drifting(self, kf: _Kalman, off: float) -> None:
        """A tempo change shows as hits taken in that fall off the grid the same way, one after
        the other (a cumulative sum, allowing ``drift_allow`` beats a hit): past
        ``drift_beats`` the filter is made unsure of phase and tempo, so the next hits re-set
        them, before the grid slides off the drummer."""
        cfg = self.cfg
        kf.early = max(0.0, kf.early - off - cfg.drift_allow)
        kf.late = max(0.0, kf.late + off - cfg.drift_allow)
        if max(kf.early, kf.late) > cfg.drift_beats:
            log.debug("the drummer's tempo moves at beat %.1f", kf.grid)
            kf.early = kf.late = 0.0
            kf.cov[0, 0] = max(kf.cov[0, 0], (off * kf.period) ** 2)
            kf.cov[1, 1] = max(kf.cov[1, 1], (cfg.drift_tempo * kf.period) ** 2)

    def _publish(self, state: TrackState) -> Estimate:
        kf = self._kf
        assert kf is not None
        confidence = math.exp(-0.5 * self._scatter2 / (2 * self.cfg.scatter_s) ** 2)
        self.estimate = Estimate(state, kf.t, kf.grid, kf.period, confidence)
        return self.estimate


__all__ = ["BeatTracker", "Estimate", "TrackState", "TrackerConfig", "VOICE_WEIGHTS"]

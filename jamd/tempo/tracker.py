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
* A run of hits all early (or all late) is a tempo step: the filter then forgets how sure it
  was of the period, and the next hits set the new tempo within a bar while the phase carries
  on unbroken, so the grid never slips (which would lose a bar).

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
from jamd.tempo.countin import CountIn, CountInConfig, CountInResult

log = logging.getLogger(__name__)


class TrackState(Enum):
    """What the tracker knows; the values are what the status, OSC and the journal say."""

    SEARCHING = "searching"  # no tempo: waiting for the count-in
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


@dataclass(frozen=True)
class TrackerConfig:
    count_in: CountInConfig = field(default_factory=CountInConfig)
    min_bpm: float = 50.0  # tempo limits: a count-in outside is not taken, the fit is clamped
    max_bpm: float = 220.0
    silence_beats: float = 2.0  # no hit for this long: holding
    hold_bars: float = 4.0  # holding this long: the tempo is let go (searching again)
    grid_beats: float = 0.5  # hits are matched to the nearest 8th
    scatter_s: float = 0.02  # how far a (weight 1) hit is from the beat, typically
    phase_wander: float = 0.004  # how far the beat's phase may wander in a beat (beats)
    tempo_wander: float = 0.004  # how far the period may wander in a beat (share of it)
    gate_beats: float = 0.12  # a hit further than this off its 8th (beats) is left out ...
    gate_sigmas: float = 3.0  # ... unless the filter is unsure by a third of that
    count_in_tempo: float = 0.025  # how unsure of the tempo a count-in leaves the filter
    #: a second filter that lets the tempo wander this much faster follows a tempo step; when
    #: the hits have fitted it better than the main one for a while, the main one takes its
    #: state (an EMA of how far off the grid each finds the hits, over ``fit_hits`` hits)
    fast_wander: float = 3.0
    fit_hits: float = 8.0
    switch_ratio: float = 0.5  # the fast filter's misfit below this share of the main one's ...
    switch_beats: float = 0.04  # ... when the main one's is above this: switch


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
    the 2x2 covariance of (t, period); ``misfit`` a running mean of hits' squared distance
    (beats) from their 8th; ``wander`` scales how fast phase and tempo may move."""

    grid: float
    t: float
    period: float
    cov: np.ndarray
    wander: float = 1.0
    misfit: float = 0.0

    def copy(self, wander: float) -> _Kalman:
        return _Kalman(self.grid, self.t, self.period, self.cov.copy(), wander, self.misfit)


class BeatTracker:
    """Feed it the drummer's note-ons (:meth:`onset`) and the time now and then
    (:meth:`update`); :attr:`estimate` is its belief (None while searching)."""

    def __init__(self, cfg: TrackerConfig, table: Mapping[int, int]) -> None:
        self.cfg = cfg
        self.table = table
        self.count_in = CountIn(cfg.count_in, cfg.min_bpm, cfg.max_bpm)
        self.estimate: Estimate | None = None
        self.tempo_locked = False  # tempo.lock: the period is frozen, the phase still follows
        self._kf: _Kalman | None = None
        self._fast: _Kalman | None = None  # follows tempo steps (see ``fast_wander``)
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
            found = self.count_in.feed(t_s, note)
            return self._start(found) if found is not None else None
        voice = self.table.get(note)
        if voice is None:
            return None
        self._last_hit_s = t_s
        weight = float(_WEIGHTS[voice]) * (0.25 + velocity / 127)
        self._hit(self._kf, t_s, weight)
        if self._fast is not None:
            self._hit(self._fast, t_s, weight)
            self._switch()
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
        self._kf = self._fast = None
        self.count_in.reset()
        self._last_hit_s = -math.inf

    # ------------------------------------------------------------------------------ inside

    def _start(self, found: CountInResult) -> Estimate:
        # a count-in is a few hits: the filter starts unsure, and the first bars settle it
        cov = np.diag([self.cfg.scatter_s**2, (self.cfg.count_in_tempo * found.period_s) ** 2])
        self._kf = _Kalman(0.0, found.one_s, found.period_s, cov)
        self._fast = self._kf.copy(self.cfg.fast_wander)
        self._last_hit_s = found.times[-1]
        self._scatter2 = 0.0
        log.info("count-in: %.1f BPM, the one at %.3f s", 60.0 / found.period_s, found.one_s)
        return self._publish(TrackState.LOCKED)

    def _hit(self, kf: _Kalman, t_s: float, weight: float) -> None:
        cfg = self.cfg
        pos = kf.grid + (t_s - kf.t) / kf.period
        grid = round(pos / cfg.grid_beats) * cfg.grid_beats
        delta = grid - kf.grid
        if delta > 0:  # move the state on to the hit's grid point
            move = np.array([[1.0, delta], [0.0, 1.0]])
            wander = (
                np.diag([cfg.phase_wander**2, cfg.tempo_wander**2]) * (kf.period * kf.wander) ** 2 * delta
            )
            if self.tempo_locked:
                wander[1, 1] = 0.0
            kf.t += delta * kf.period
            kf.grid = grid
            kf.cov = move @ kf.cov @ move.T + wander
            delta = 0.0
        h = np.array([1.0, delta])  # a hit behind the state (a flam): seen from where it is
        innovation = t_s - (kf.t + delta * kf.period)
        off = innovation / kf.period
        kf.misfit += (min(off * off, 0.0625) - kf.misfit) / cfg.fit_hits
        unsure = float(h @ kf.cov @ h)
        width = max(cfg.gate_beats, cfg.gate_sigmas * math.sqrt(unsure) / kf.period)
        if abs(off) >= width:
            return  # off the grid: a swung 8th, a 16th, a triplet
        u = off / width
        noise = cfg.scatter_s**2 / (weight * (1.0 - u * u) ** 2)
        gain = kf.cov @ h / (unsure + noise)
        if self.tempo_locked:
            gain[1] = 0.0
        kf.t += gain[0] * innovation
        kf.period = min(max(kf.period + gain[1] * innovation, 60.0 / cfg.max_bpm), 60.0 / cfg.min_bpm)
        kf.cov = kf.cov - np.outer(gain, h @ kf.cov)
        self._scatter2 += 0.1 * (innovation**2 - self._scatter2)

    def _switch(self) -> None:
        """A tempo step: the fast filter has fitted the hits much better for a while."""
        main, fast = self._kf, self._fast
        assert main is not None and fast is not None
        cfg = self.cfg
        if main.misfit > cfg.switch_beats**2 and fast.misfit < cfg.switch_ratio**2 * main.misfit:
            log.debug("tempo step at beat %.2f: %.1f BPM", fast.grid, 60.0 / fast.period)
            self._kf = fast.copy(1.0)
            self._fast = fast

    def _publish(self, state: TrackState) -> Estimate:
        kf = self._kf
        assert kf is not None
        confidence = math.exp(-0.5 * self._scatter2 / (2 * self.cfg.scatter_s) ** 2)
        self.estimate = Estimate(state, kf.t, kf.grid, kf.period, confidence)
        return self.estimate


__all__ = ["BeatTracker", "Estimate", "TrackState", "TrackerConfig", "VOICE_WEIGHTS"]

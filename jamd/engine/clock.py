"""Where the music is: three interchangeable position sources behind one interface.

* :class:`MasterClock` - jamd keeps time itself and sends MIDI clock (24 PPQN) with
  Start/Stop/Continue and Song Position Pointer.
* :class:`ClockFollower` - jamd follows MIDI clock from another device.
* :class:`LinkClock` - jamd joins an Ableton Link session (aalink).

Every source exposes a :class:`Timeline`: an affine map between the monotonic clock (ns, from
``time.perf_counter_ns``) and the song position in beats. The scheduler only ever asks "what
beat is it at t" and "when is beat b", so it does not care which source is in charge. The math
is in pure functions and small classes that take ``now_ns`` as an argument, so tests drive them
with a fake clock; nothing here reads the time itself except :func:`wait_until`.

Deadlines are absolute monotonic times: each tick's time is computed from an anchor and a tick
count, never by adding up sleeps, so errors never accumulate; wall-clock time is never used.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jamd.midi import spec as ms

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
INF_BEAT = math.inf
#: The tempi a followed MIDI clock is believed in (Ableton Live's range). A tick storm, or two
#: ticks with one timestamp, must not make the timeline run at a million BPM (or divide by 0).
FOLLOW_MIN_BPM, FOLLOW_MAX_BPM = 20.0, 999.0


# ------------------------------------------------------------------------------ pure math


def ns_per_beat(bpm: float) -> float:
    return 60.0 * NS_PER_S / bpm


def tick_ns(bpm: float) -> float:
    """Length of one MIDI clock tick in ns."""
    return ns_per_beat(bpm) / ms.PPQN


def bpm_from_tick_ns(ns: float) -> float:
    return 60.0 * NS_PER_S / (ns * ms.PPQN)


def ticks_to_beats(ticks: float) -> float:
    return ticks / ms.PPQN


def beats_to_ticks(beats: float) -> float:
    return beats * ms.PPQN


def tick_deadline(anchor_ns: int, tick_len_ns: float, k: int) -> int:
    """Time of the k-th tick after an anchor: computed, never accumulated."""
    return anchor_ns + round(k * tick_len_ns)


@dataclass(frozen=True)
class Timeline:
    """Song position as an affine function of monotonic time.

    ``horizon_beat`` bounds extrapolation: a clock follower knows where the last tick was and
    may guess up to the next one, not further (if the clock stops, jamd must not play on).
    """

    anchor_ns: int = 0
    anchor_beat: float = 0.0
    ns_per_beat: float = ns_per_beat(120.0)
    running: bool = False
    horizon_beat: float = INF_BEAT

    @property
    def bpm(self) -> float:
        return 60.0 * NS_PER_S / self.ns_per_beat

    def beat_at(self, t_ns: int) -> float:
        return self.anchor_beat + (t_ns - self.anchor_ns) / self.ns_per_beat

    def time_at(self, beat: float) -> int:
        return self.anchor_ns + round((beat - self.anchor_beat) * self.ns_per_beat)


class TempoEstimator:
    """Tick period from a window of tick timestamps, robust to a jittery source.

    A least-squares line through the last ``window`` (index, time) pairs: with +-1 ms of jitter
    on 24 ticks its slope is within about 0.1 % (0.1 BPM at 100 BPM), far better than any one
    interval. A tempo change shows up as ticks off the line; after ``change_ticks`` ticks in a
    row further than ``tolerance`` from where the line puts them, the window restarts from the
    recent ticks, so a new tempo is followed within a few ticks instead of a beat.
    """

    def __init__(
        self,
        window: int = 24,
        tolerance: float = 0.2,
        change_ticks: int = 3,
        min_tolerance_ns: int = 2_000_000,
    ) -> None:
        self.window = window
        self.tolerance = tolerance
        self.change_ticks = change_ticks
        self.min_tolerance_ns = min_tolerance_ns
        self._times: deque[int] = deque(maxlen=window)
        self._off_line = 0
        self._period: float | None = None

    def reset(self) -> None:
        self._times.clear()
        self._off_line = 0
        self._period = None

    @property
    def period_ns(self) -> float | None:
        return self._period

    @property
    def bpm(self) -> float | None:
        return None if self._period is None or self._period <= 0 else bpm_from_tick_ns(self._period)

    def predict(self) -> float | None:
        """Where the line puts the next tick."""
        if self._period is None or not self._times:
            return None
        return self._fit_end() + self._period

    def _fit_end(self) -> float:
        """Fitted time of the newest tick (smoother than the raw timestamp)."""
        n = len(self._times)
        t0 = self._times[0]
        mean_i = (n - 1) / 2
        mean_t = sum(t - t0 for t in self._times) / n
        return t0 + mean_t + (n - 1 - mean_i) * self._period  # type: ignore[operator]

    def add(self, t_ns: int) -> float | None:
        """Add a tick timestamp; returns the period estimate (ns) once there are two ticks."""
        predicted = self.predict()
        if predicted is not None and self._period is not None:
            err = abs(t_ns - predicted)
            if err > max(self.tolerance * self._period, self.min_tolerance_ns):
                self._off_line += 1
            else:
                self._off_line = 0
            if self._off_line >= self.change_ticks:
                # the source changed tempo: keep only the ticks since the change
                recent = list(self._times)[-(self.change_ticks - 1) :] if self.change_ticks > 1 else []
                self._times.clear()
                self._times.extend(recent)
                self._off_line = 0
        self._times.append(t_ns)
        n = len(self._times)
        if n >= 2:
            t0 = self._times[0]
            mean_i = (n - 1) / 2
            mean_t = sum(t - t0 for t in self._times) / n
            num = sum((i - mean_i) * (t - t0 - mean_t) for i, t in enumerate(self._times))
            den = n * (n * n - 1) / 12
            self._period = num / den
        return self._period


def wait_until(
    deadline_ns: int, spin_ns: int = 1_000_000, clock: Callable[[], int] = time.perf_counter_ns
) -> int:
    """Sleep until ``spin_ns`` before the deadline, then spin; returns the time reached.

    ``time.sleep`` alone wakes about 0.1-0.2 ms late (more under load); spinning the last
    stretch on the monotonic clock brings that to a few µs, at the cost of one busy core for
    at most ``spin_ns`` per deadline.
    """
    now = clock()
    rest = deadline_ns - now - spin_ns
    if rest > 0:
        time.sleep(rest / NS_PER_S)
    now = clock()
    while now < deadline_ns:
        now = clock()
    return now


# -------------------------------------------------------------------------- the interface


@dataclass(frozen=True)
class ClockEvent:
    """A transport change the engine must act on."""

    kind: str  # "start", "continue", "stop", "locate", "lost", "found", "tempo"
    beat: float = 0.0
    bpm: float = 0.0


Send = Callable[[list[int], int], None]
"""``send(message, target_ns)``: hand a message to the clock outputs (target is for timing stats)."""


class PositionSource:
    """One place the song position comes from. Subclasses keep ``timeline`` current."""

    name = "source"

    def __init__(self) -> None:
        self.timeline = Timeline()
        self._events: list[ClockEvent] = []

    def update(self, now_ns: int) -> list[ClockEvent]:
        """Bring the state up to ``now_ns``; return transport events since the last call."""
        ev, self._events = self._events, []
        return ev

    def next_deadline(self) -> int | None:
        """When :meth:`fire` must run next (a clock tick to send), or None."""
        return None

    def fire(self, now_ns: int, send: Send) -> None:
        """Do what was due at :meth:`next_deadline` (send the tick)."""

    def on_midi(self, msg: Sequence[int], t_ns: int) -> None:
        """A MIDI message from the clock input, time-stamped on arrival."""

    # transport requests from the control side (a follower ignores them: the master decides)
    def start(self, now_ns: int) -> None: ...
    def stop(self, now_ns: int) -> None: ...
    def cont(self, now_ns: int) -> None: ...
    def locate(self, beat: float, now_ns: int) -> None: ...
    def set_tempo(self, bpm: float, now_ns: int) -> None: ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------------- master


class MasterClock(PositionSource):
    """jamd is the master: a free-running tick grid, and the song position on top of it.

    Ticks keep going while stopped (followers use them to lock their tempo before Start, as
    drum machines do). The tick grid is ``anchor_ns + k * tick_len``; a tempo change re-anchors
    at the last tick, so the new tempo takes effect on the next tick and nothing jumps. The first
    tick after Start is beat 0; the first after Continue is the stored position (MIDI 1.0).
    """

    name = "master"

    def __init__(self, bpm: float = 120.0, now_ns: int = 0, clock_when_stopped: bool = True) -> None:
        super().__init__()
        self.bpm = float(bpm)
        self.clock_when_stopped = clock_when_stopped
        self._tick_len = tick_ns(self.bpm)
        self._anchor_ns = now_ns
        self._k = 1  # next tick index after the anchor
        self._running = False
        self._pending: list[list[int]] | None = None  # transport messages to send before the next tick
        self._urgent: list[list[int]] | None = None  # to send at once (Stop: followers silence now)
        self._urgent_ns = 0
        self._pos_ticks = 0  # song position (ticks) of the next tick to send
        self._starting = False
        self.ticks_sent = 0
        self._update_timeline()

    def _next_tick_ns(self) -> int:
        return tick_deadline(self._anchor_ns, self._tick_len, self._k)

    def _update_timeline(self) -> None:
        t_next = self._next_tick_ns()
        self.timeline = Timeline(
            t_next, ticks_to_beats(self._pos_ticks), self._tick_len * ms.PPQN, self._running or self._starting
        )

    def next_deadline(self) -> int | None:
        if self._urgent:
            return self._urgent_ns
        if self.clock_when_stopped or self._running or self._starting or self._pending:
            return self._next_tick_ns()
        return None

    def fire(self, now_ns: int, send: Send) -> None:
        if self._urgent:
            for msg in self._urgent:
                send(msg, self._urgent_ns)
            self._urgent = None
        target = self._next_tick_ns()
        if now_ns < target:
            return
        if self._pending:
            for msg in self._pending:
                send(msg, target)
            self._pending = None
        if self._starting:
            self._starting = False
            self._running = True
        if self.clock_when_stopped or self._running:
            send([ms.CLOCK], target)
            self.ticks_sent += 1
        if self._running:
            self._pos_ticks += 1
        self._k += 1
        if self._k > 1_000_000:  # keep the float product small: re-anchor now and then
            self._anchor_ns = target
            self._k = 1
        self._update_timeline()

    def set_tempo(self, bpm: float, now_ns: int) -> None:
        if bpm <= 0 or bpm == self.bpm:
            return
        last = tick_deadline(self._anchor_ns, self._tick_len, self._k - 1)
        self.bpm = float(bpm)
        self._tick_len = tick_ns(self.bpm)
        self._anchor_ns, self._k = last, 1
        self._update_timeline()
        self._events.append(ClockEvent("tempo", bpm=self.bpm))
        log.info("master tempo %.2f BPM", self.bpm)

    def _rearm(self, now_ns: int) -> None:
        """Without clock while stopped the grid is idle: start it afresh, one tick from now."""
        if not self.clock_when_stopped and not self._running:
            self._anchor_ns, self._k = now_ns, 1

    def start(self, now_ns: int) -> None:
        self._rearm(now_ns)
        self._pos_ticks = 0
        self._pending = [[ms.START]]
        self._starting = True
        self._running = False
        self._update_timeline()
        self._events.append(ClockEvent("start", 0.0))
        log.info("master start")

    def cont(self, now_ns: int) -> None:
        if self._running:
            return
        self._rearm(now_ns)
        self._pending = (self._pending or []) + [[ms.CONTINUE]]
        self._starting = True
        self._update_timeline()
        self._events.append(ClockEvent("continue", ticks_to_beats(self._pos_ticks)))
        log.info("master continue at beat %.2f", ticks_to_beats(self._pos_ticks))

    def stop(self, now_ns: int) -> None:
        self._running = self._starting = False
        self._pending = None
        self._urgent, self._urgent_ns = [[ms.STOP]], now_ns
        self._update_timeline()
        self._events.append(ClockEvent("stop", ticks_to_beats(self._pos_ticks)))
        log.info("master stop at beat %.2f", ticks_to_beats(self._pos_ticks))

    def locate(self, beat: float, now_ns: int) -> None:
        """Move the song position (while stopped: SPP can only say 16ths, so it is floored)."""
        ticks = int(beats_to_ticks(max(beat, 0.0)))
        ticks -= ticks % ms.CLOCKS_PER_SPP_UNIT
        self._pos_ticks = ticks
        spp = ms.song_position(ticks)
        self._pending = [spp]
        if self._running:
            # MIDI allows SPP only while stopped; a running master locates as stop/SPP/continue
            self._pending = [[ms.STOP], spp, [ms.CONTINUE]]
        self._update_timeline()
        self._events.append(ClockEvent("locate", ticks_to_beats(ticks)))

    @property
    def position_ticks(self) -> int:
        return self._pos_ticks


# --------------------------------------------------------------------------- follower


@dataclass
class FollowerConfig:
    window: int = 24  # ticks in the tempo estimate (one beat)
    lost_after_ticks: float = 6.0  # a clock silent for this many tick periods is gone ...
    lost_min_ns: int = 150_000_000  # ... but never sooner than this (slow tempos, JACK bursts)
    default_bpm: float = 120.0


class ClockFollower(PositionSource):
    """Follows MIDI clock. Tempo from a window of tick times; position moves only after
    Start/Continue (the first tick after them is beat 0 / the stored position); SPP sets the
    position while stopped; Stop stops; a clock that goes silent while running is reported as
    ``lost`` (and stops, so the scheduler silences), and ``found`` when ticks come back."""

    name = "follow"

    def __init__(self, config: FollowerConfig = FollowerConfig()) -> None:
        super().__init__()
        self.cfg = config
        self.estimator = TempoEstimator(config.window)
        self._last_tick_ns: int | None = None
        self._running = False
        self._armed = False  # Start/Continue seen, waiting for the first tick
        self._pos_ticks = 0  # position of the next tick
        self._lost = True
        self._reported_bpm = 0.0
        self.ticks_seen = 0
        self.received = 0  # messages from the clock input ...
        self.ignored = 0  # ... of those not acted on: not transport, or malformed
        self.timeline = Timeline(0, 0.0, ns_per_beat(config.default_bpm), False, 0.0)

    @property
    def bpm(self) -> float:
        return bpm_from_tick_ns(self._period())

    @property
    def running(self) -> bool:
        return self._running

    @property
    def position_ticks(self) -> int:
        return self._pos_ticks

    def _period(self) -> float:
        """The tick period in use: the estimate, kept within the believable tempi."""
        p = self.estimator.period_ns
        if p is None:
            return tick_ns(self.cfg.default_bpm)
        return min(max(p, tick_ns(FOLLOW_MAX_BPM)), tick_ns(FOLLOW_MIN_BPM))

    def on_midi(self, msg: Sequence[int], t_ns: int) -> None:
        self.received += 1
        if not msg:
            self.ignored += 1
            return
        status = msg[0]
        if status == ms.CLOCK:
            self._tick(t_ns)
        elif status == ms.START:
            self._pos_ticks = 0
            self._armed = True
            self._running = False
            self._events.append(ClockEvent("start", 0.0))
            log.info("clock in: start")
        elif status == ms.CONTINUE:
            self._armed = True
            self._running = False
            self._events.append(ClockEvent("continue", ticks_to_beats(self._pos_ticks)))
            log.info("clock in: continue at beat %.2f", ticks_to_beats(self._pos_ticks))
        elif status == ms.STOP:
            was = self._running or self._armed
            self._running = self._armed = False
            self._set_timeline(t_ns)
            if was:
                self._events.append(ClockEvent("stop", ticks_to_beats(self._pos_ticks)))
                log.info("clock in: stop at beat %.2f", ticks_to_beats(self._pos_ticks))
        elif status == ms.SONG_POSITION and len(msg) >= 3 and 0 <= msg[1] <= 127 and 0 <= msg[2] <= 127:
            self._pos_ticks = ms.parse_song_position(msg[1], msg[2])
            self._events.append(ClockEvent("locate", ticks_to_beats(self._pos_ticks)))
            log.info("clock in: song position %.2f beats", ticks_to_beats(self._pos_ticks))
        else:
            self.ignored += 1  # notes, CCs, a truncated SPP, data bytes > 127 ...

    def _tick(self, t_ns: int) -> None:
        self.ticks_seen += 1
        if self._lost:
            self._lost = False
            self.estimator.reset()
            self._events.append(ClockEvent("found"))
            log.info("clock in: ticks arriving")
        self.estimator.add(t_ns)
        self._last_tick_ns = t_ns
        if self._armed:
            self._armed = False
            self._running = True
        elif self._running:
            self._pos_ticks += 1
        bpm = self.bpm if self.estimator.period_ns is not None else None
        if bpm and len(self.estimator._times) >= 6 and abs(bpm - self._reported_bpm) > 0.5:
            # report settled changes only, not every wobble of a jittery source
            self._reported_bpm = bpm
            self._events.append(ClockEvent("tempo", bpm=bpm))
            log.info("clock in: %.1f BPM", bpm)
        self._set_timeline(t_ns)

    def _set_timeline(self, t_ns: int) -> None:
        """Anchor at the last tick (where it sits on the fitted line would be smoother, but
        the raw tick keeps the position exact); extrapolate at most one tick ahead."""
        period = self._period()
        anchor_ns = self._last_tick_ns if self._last_tick_ns is not None else t_ns
        beat = ticks_to_beats(self._pos_ticks)
        self.timeline = Timeline(anchor_ns, beat, period * ms.PPQN, self._running, beat + 1.0 / ms.PPQN)

    def update(self, now_ns: int) -> list[ClockEvent]:
        if not self._lost and self._last_tick_ns is not None:
            timeout = max(self.cfg.lost_after_ticks * self._period(), self.cfg.lost_min_ns)
            if now_ns - self._last_tick_ns > timeout:
                self._lost = True
                log.warning("clock in: no tick for %.0f ms: clock lost", (now_ns - self._last_tick_ns) / 1e6)
                self._events.append(ClockEvent("lost", ticks_to_beats(self._pos_ticks)))
                if self._running or self._armed:
                    self._running = self._armed = False
                    self._set_timeline(now_ns)
        return super().update(now_ns)

    def next_deadline(self) -> int | None:
        # wake up to notice a vanished clock even when nothing else is due
        if self._lost or self._last_tick_ns is None:
            return None
        return (
            self._last_tick_ns
            + int(max(self.cfg.lost_after_ticks * self._period(), self.cfg.lost_min_ns))
            + 1
        )


# ------------------------------------------------------------------------------- Link


class LinkClock(PositionSource):
    """Ableton Link through aalink. Link owns tempo and the beat grid (quantum 4 = one bar);
    jamd's transport (start/stop from the control side) decides whether it plays, and a start
    waits for the next bar line so jamd enters in phase with the other peers.

    Link's clock is CLOCK_MONOTONIC_RAW (µs); jamd deadlines use ``perf_counter_ns``
    (CLOCK_MONOTONIC). :meth:`update` samples (link beat, tempo) against perf_counter_ns and
    refreshes the affine timeline every ``resample_ns``, so the two clocks never drift apart.
    ``set_tempo`` proposes a tempo to the session; the session's tempo wins.
    """

    name = "link"

    def __init__(
        self,
        bpm: float = 120.0,
        quantum: float = 4.0,
        resample_ns: int = 20_000_000,
        link: object | None = None,
    ) -> None:
        super().__init__()
        if link is None:
            import aalink  # deferred: only the Link source needs it

            # aalink wants an event loop for its futures/callbacks; jamd only reads the state,
            # so a loop that never runs is enough (and no thread of aalink takes the GIL).
            self._loop = asyncio.new_event_loop()
            link = aalink.Link(bpm, self._loop)
            link.quantum = quantum
            link.enabled = True
        self.link = link
        self.quantum = quantum
        self.resample_ns = resample_ns
        self._sample_ns = -resample_ns
        self._running = False
        self._start_pending = False
        self._song_offset = 0.0  # link beat at song beat 0
        self._stopped_beat = 0.0
        self._bpm = bpm
        self._peers = 0

    @property
    def bpm(self) -> float:
        return self._bpm

    @property
    def peers(self) -> int:
        return self._peers

    def _sample(self, now_ns: int) -> tuple[float, float, int]:
        t0 = time.perf_counter_ns()
        beat = float(self.link.beat)
        t1 = time.perf_counter_ns()
        return beat, float(self.link.tempo), (t0 + t1) // 2

    def update(self, now_ns: int) -> list[ClockEvent]:
        if now_ns - self._sample_ns >= self.resample_ns:
            beat, bpm, t = self._sample(now_ns)
            self._sample_ns = now_ns
            if abs(bpm - self._bpm) > 1e-6:
                self._events.append(ClockEvent("tempo", bpm=bpm))
                log.info("link tempo %.2f BPM", bpm)
            self._bpm = bpm
            peers = int(self.link.num_peers)
            if peers != self._peers:
                log.info("link peers: %d", peers)
                self._peers = peers
            if self._start_pending:
                # enter on the next bar line of the session
                nxt = math.ceil(beat / self.quantum) * self.quantum
                self._song_offset = nxt - self._stopped_beat
                self._start_pending = False
                self._running = True
            self.timeline = Timeline(t, beat - self._song_offset, ns_per_beat(bpm), self._running)
        return super().update(now_ns)

    def next_deadline(self) -> int | None:
        return self._sample_ns + self.resample_ns

    def start(self, now_ns: int) -> None:
        self._stopped_beat = 0.0
        self._start_pending = True
        self._sample_ns = -self.resample_ns  # resample at once
        self._events.append(ClockEvent("start", 0.0))

    def cont(self, now_ns: int) -> None:
        if not self._running:
            self._start_pending = True
            self._sample_ns = -self.resample_ns
            self._events.append(ClockEvent("continue", self._stopped_beat))

    def stop(self, now_ns: int) -> None:
        if self._running:
            self._stopped_beat = self.timeline.beat_at(now_ns)
        self._running = self._start_pending = False
        self.timeline = Timeline(
            self.timeline.anchor_ns, self.timeline.anchor_beat, self.timeline.ns_per_beat, False
        )
        self._events.append(ClockEvent("stop", self._stopped_beat))

    def set_tempo(self, bpm: float, now_ns: int) -> None:
        self.link.tempo = float(bpm)
        self._sample_ns = -self.resample_ns

    def close(self) -> None:
        try:
            self.link.enabled = False
        except Exception:  # pragma: no cover - best effort on the way out
            pass


SOURCES = ("master", "follow", "link")


def make_source(kind: str, bpm: float = 120.0, now_ns: int | None = None) -> PositionSource:
    now = time.perf_counter_ns() if now_ns is None else now_ns
    if kind == "master":
        return MasterClock(bpm, now)
    if kind == "follow":
        return ClockFollower(FollowerConfig(default_bpm=bpm))
    if kind == "link":
        return LinkClock(bpm)
    raise ValueError(f"unknown clock source {kind!r} (choose from {', '.join(SOURCES)})")


__all__ = [
    "ClockEvent",
    "ClockFollower",
    "FollowerConfig",
    "LinkClock",
    "MasterClock",
    "PositionSource",
    "SOURCES",
    "TempoEstimator",
    "Timeline",
    "beats_to_ticks",
    "bpm_from_tick_ns",
    "make_source",
    "ns_per_beat",
    "tick_deadline",
    "tick_ns",
    "ticks_to_beats",
    "wait_until",
]

"""Where the music is: three interchangeable position sources behind one interface
(:class:`PositionSource`), one per :class:`ClockMode` (the config file's ``clock.mode``).

* :class:`MasterClock` (``internal``, here) - jamd keeps time itself and sends MIDI clock
  (24 PPQN) with Start/Stop/Continue and Song Position Pointer.
* :class:`jamd.engine.follow.ClockFollower` (``midi``) - jamd follows MIDI clock from another
  device.
* :class:`jamd.engine.link.LinkClock` (``link``) - jamd joins an Ableton Link session (aalink,
  an optional dependency).

Every source exposes a :class:`Timeline`: an affine map between the monotonic clock (ns, from
``time.perf_counter_ns``) and the song position in beats. The scheduler only ever asks "what
beat is it at t" and "when is beat b", so it does not care which source is in charge. The math
is in pure functions and small classes that take ``now_ns`` as an argument, so tests drive them
with a fake clock; nothing here reads the time itself except :func:`wait_until`.

Deadlines are absolute monotonic times: each tick's time is computed from an anchor and a tick
count, never by adding up sleeps, so errors never accumulate; wall-clock time is never used.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from jamd.midi import spec as ms

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
INF_BEAT = math.inf

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

    @classmethod
    def of_seconds(cls, anchor_s: float, anchor_beat: float, period_s: float) -> Timeline:
        """A running timeline from a beat's time and the beat period in seconds (the drummer's
        grid as the tracker, which counts in seconds, hears it)."""
        return cls(round(anchor_s * NS_PER_S), anchor_beat, period_s * NS_PER_S, True)


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


class ClockMode(Enum):
    """Where the song position comes from; the values are the config file's ``clock.mode``."""

    INTERNAL = "internal"  # jamd is the master and sends MIDI clock
    MIDI = "midi"  # jamd follows MIDI clock
    LINK = "link"  # jamd joins an Ableton Link session
    DRUMMER = "drummer"  # jamd follows a human drummer's playing and sends MIDI clock

    def __str__(self) -> str:
        return self.value


class ClockEventKind(Enum):
    """What changed. The transport changes carry the song position (beat) they happened at."""

    START = "start"
    CONTINUE = "continue"
    STOP = "stop"
    LOCATE = "locate"
    LOST = "lost"  # a followed clock went silent
    FOUND = "found"  # ... and ticks arrive (again)
    TEMPO = "tempo"  # a settled tempo change (bpm)


#: Events after which play goes on from the event's beat, and events that silence it.
LOCATING_EVENTS = frozenset((ClockEventKind.START, ClockEventKind.CONTINUE, ClockEventKind.LOCATE))
STOPPING_EVENTS = frozenset((ClockEventKind.STOP, ClockEventKind.LOST))


@dataclass(frozen=True)
class ClockEvent:
    """A transport change the engine must act on."""

    kind: ClockEventKind
    beat: float = 0.0
    bpm: float = 0.0


Send = Callable[[list[int], int], None]
"""``send(message, target_ns)``: hand a message to the clock outputs (target is for timing stats)."""


class PositionSource:
    """One place the song position comes from. Subclasses keep ``timeline`` current."""

    def __init__(self) -> None:
        self.timeline = Timeline()
        self._events: list[ClockEvent] = []
        #: MIDI clock ticks sent (master) or received (follower), for the status block
        self.ticks = 0
        #: clock-input messages not acted on (follower: not transport, or malformed)
        self.ignored = 0
        #: other peers in the session (Link)
        self.peers = 0

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
            self.ticks += 1
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
        self._events.append(ClockEvent(ClockEventKind.TEMPO, bpm=self.bpm))
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
        self._events.append(ClockEvent(ClockEventKind.START, 0.0))
        log.info("master start")

    def cont(self, now_ns: int) -> None:
        if self._running:
            return
        self._rearm(now_ns)
        self._pending = (self._pending or []) + [[ms.CONTINUE]]
        self._starting = True
        self._update_timeline()
        self._events.append(ClockEvent(ClockEventKind.CONTINUE, ticks_to_beats(self._pos_ticks)))
        log.info("master continue at beat %.2f", ticks_to_beats(self._pos_ticks))

    def stop(self, now_ns: int) -> None:
        self._running = self._starting = False
        self._pending = None
        self._urgent, self._urgent_ns = [[ms.STOP]], now_ns
        self._update_timeline()
        self._events.append(ClockEvent(ClockEventKind.STOP, ticks_to_beats(self._pos_ticks)))
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
        self._events.append(ClockEvent(ClockEventKind.LOCATE, ticks_to_beats(ticks)))

    @property
    def position_ticks(self) -> int:
        return self._pos_ticks


__all__ = [
    "ClockEvent",
    "ClockEventKind",
    "ClockMode",
    "LOCATING_EVENTS",
    "MasterClock",
    "PositionSource",
    "STOPPING_EVENTS",
    "Send",
    "Timeline",
    "beats_to_ticks",
    "bpm_from_tick_ns",
    "ns_per_beat",
    "tick_deadline",
    "tick_ns",
    "ticks_to_beats",
    "wait_until",
]

"""Following a human drummer (``clock.mode: drummer``): :class:`DrummerClock`.

The control side tracks the drummer (``jamd.tempo``) and sends the grid it hears as a target
:class:`jamd.engine.clock.Timeline` (beat 0 = the first bar's one, after the count-in) with
every hit. jamd is still the clock master: it sends MIDI clock and Start/Stop, on a tick grid
that steers towards the drummer's (:class:`jamd.engine.steer.TickSteer`), never jumping.

The first grid starts the transport: with Start on the one when it is still ahead (a count-in),
else with Song Position Pointer + Continue at the next bar line. Stop (the drummer gone) stops
the ticks; the next grid starts them again. Like every position source it takes the time as an
argument, so tests drive it with a fake clock.
"""

from __future__ import annotations

import logging
import math

from jamd.engine.clock import ClockEvent, ClockEventKind, PositionSource, Send, Timeline, beats_to_ticks
from jamd.engine.steer import SteerConfig, TickSteer
from jamd.midi import spec as ms
from jamd.music.grid import BEATS_PER_BAR

log = logging.getLogger(__name__)


class DrummerClock(PositionSource):
    """Ticks steered towards the drummer's grid; stopped until the first grid arrives."""

    def __init__(self, steer: SteerConfig | None = None) -> None:
        super().__init__()
        self.steer = TickSteer(steer or SteerConfig())
        self.target: Timeline | None = None
        self._running = False
        self._pending: list[list[int]] = []  # transport messages to send with the next tick
        self._urgent: list[int] | None = None  # Stop: sent at once
        self._urgent_ns = 0

    def follow(self, target: Timeline, now_ns: int) -> None:
        """The drummer's grid as the tracker hears it now."""
        self.target = target
        if not self._running:
            self._begin(target, now_ns)
        self._update_timeline()

    def _begin(self, target: Timeline, now_ns: int) -> None:
        # the first tick: the one, when it is still ahead; else the next bar line
        beat = target.beat_at(now_ns + 1)
        start = 0.0 if beat <= 0 else BEATS_PER_BAR * math.ceil(beat / BEATS_PER_BAR)
        self.steer.begin(target, start)
        if start == 0:
            self._pending = [[ms.START]]
            self._events.append(ClockEvent(ClockEventKind.START, 0.0))
        else:
            ticks = int(beats_to_ticks(start))
            self._pending = [ms.song_position(ticks), [ms.CONTINUE]]
            self._events.append(ClockEvent(ClockEventKind.CONTINUE, start))
        self._running = True
        log.info("drummer's grid: %.1f BPM, starting at beat %.0f", target.bpm, start)

    def _update_timeline(self) -> None:
        if self.target is None:
            return
        due = self.steer.plan(self.target)
        interval = self.steer.interval_ns
        self.timeline = Timeline(due, self.steer.beat, interval * ms.PPQN, self._running)

    def next_deadline(self) -> int | None:
        if self._urgent is not None:
            return self._urgent_ns
        if not self._running or self.target is None:
            return None
        return self.steer.plan(self.target)

    def fire(self, now_ns: int, send: Send) -> None:
        if self._urgent is not None:
            send(self._urgent, self._urgent_ns)
            self._urgent = None
        if not self._running or self.target is None:
            return
        due = self.steer.plan(self.target)
        if now_ns < due:
            return
        for msg in self._pending:
            send(msg, due)
        self._pending = []
        self.steer.advance(self.target)
        send([ms.CLOCK], due)
        self.ticks += 1
        self._update_timeline()

    def stop(self, now_ns: int) -> None:
        """The drummer is gone (or the transport was stopped): Stop now, ticks end."""
        if not self._running:
            return
        self._running = False
        self._pending = []
        self._urgent, self._urgent_ns = [ms.STOP], now_ns
        beat = self.steer.beat
        self._events.append(ClockEvent(ClockEventKind.STOP, beat))
        self.timeline = Timeline(now_ns, beat, self.timeline.ns_per_beat, False)
        log.info("drummer's grid let go: stop at beat %.2f", beat)

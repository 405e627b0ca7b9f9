"""Ableton Link as a position source (``clock.mode: link``): :class:`LinkClock`.

aalink is an optional dependency: it is imported only when a :class:`LinkClock` joins a real
session, so the other clock modes run without it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from typing import Protocol

from jamd.engine.clock import ClockEvent, ClockEventKind, PositionSource, Timeline, ns_per_beat

log = logging.getLogger(__name__)


class LinkSession(Protocol):
    """What jamd uses of an ``aalink.Link`` (a test passes a fake)."""

    beat: float
    tempo: float
    num_peers: int
    enabled: bool


class LinkClock(PositionSource):
    """Ableton Link through aalink. Link owns tempo and the beat grid (quantum 4 = one bar);
    jamd's transport (start/stop from the control side) decides whether it plays, and a start
    waits for the next bar line so jamd enters in phase with the other peers.

    Link's clock is CLOCK_MONOTONIC_RAW (µs); jamd deadlines use ``perf_counter_ns``
    (CLOCK_MONOTONIC). :meth:`update` samples (link beat, tempo) against perf_counter_ns and
    refreshes the affine timeline every ``resample_ns``, so the two clocks never drift apart.
    ``set_tempo`` proposes a tempo to the session; the session's tempo wins.
    """

    def __init__(
        self,
        bpm: float = 120.0,
        quantum: float = 4.0,
        resample_ns: int = 20_000_000,
        link: LinkSession | None = None,
    ) -> None:
        super().__init__()
        if link is None:
            import aalink  # deferred: optional, and only a real session needs it

            # aalink wants an event loop for its futures/callbacks; jamd only reads the state,
            # so a loop that never runs is enough (and no thread of aalink takes the GIL).
            self._loop = asyncio.new_event_loop()
            session = aalink.Link(bpm, self._loop)
            session.quantum = quantum
            session.enabled = True
            link = session
        self.link: LinkSession = link
        self.quantum = quantum
        self.resample_ns = resample_ns
        self._sample_ns = -resample_ns
        self._running = False
        self._start_pending = False
        self._song_offset = 0.0  # link beat at song beat 0
        self._stopped_beat = 0.0
        self._bpm = bpm

    @property
    def bpm(self) -> float:
        return self._bpm

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
                self._events.append(ClockEvent(ClockEventKind.TEMPO, bpm=bpm))
                log.info("link tempo %.2f BPM", bpm)
            self._bpm = bpm
            peers = int(self.link.num_peers)
            if peers != self.peers:
                log.info("link peers: %d", peers)
                self.peers = peers
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
        self._events.append(ClockEvent(ClockEventKind.START, 0.0))

    def cont(self, now_ns: int) -> None:
        if not self._running:
            self._start_pending = True
            self._sample_ns = -self.resample_ns
            self._events.append(ClockEvent(ClockEventKind.CONTINUE, self._stopped_beat))

    def stop(self, now_ns: int) -> None:
        if self._running:
            self._stopped_beat = self.timeline.beat_at(now_ns)
        self._running = self._start_pending = False
        self.timeline = dataclasses.replace(self.timeline, running=False)
        self._events.append(ClockEvent(ClockEventKind.STOP, self._stopped_beat))

    def set_tempo(self, bpm: float, now_ns: int) -> None:
        self.link.tempo = float(bpm)
        self._sample_ns = -self.resample_ns

    def close(self) -> None:
        try:
            self.link.enabled = False
        except Exception:  # pragma: no cover - best effort on the way out
            pass

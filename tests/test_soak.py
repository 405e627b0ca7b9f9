"""Soak, accelerated: hours of music on simulated time, through the real clock sources, the
real window double buffer (shared memory) and the real scheduler.

What must hold after hours, as after seconds:
* no drift: the master sent exactly the ticks tempo x time says, each on its computed deadline
  (never an accumulated one); a follower's position equals the external master's, tick for tick,
  under +-0.5 ms of jitter;
* nothing grows: traced memory (tracemalloc) and every queue (scheduler heap, ledger, follower
  tick window, transport events) stay bounded once warmed up;
* every note ended: the far end saw as many note-offs as note-ons, never a second note-on for
  a sounding note, and holds nothing once the transport stops; no note was dropped as late.

The default suite runs 20 minutes at 180 BPM as master, 10 minutes following, 2 minutes under
tracemalloc and 3 hours of master ticks (about 15 s in all); ``--run-slow`` runs three hours
as master and following, with tempo changes, mutes and density moves, and ten minutes
of following under tracemalloc.
"""

from __future__ import annotations

import gc
import math
import sys
import tracemalloc
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pytest

from jamd.engine.clock import LOCATING_EVENTS, STOPPING_EVENTS, MasterClock, tick_deadline, tick_ns
from jamd.engine.follow import ClockFollower, FollowerConfig
from jamd.engine.ipc import WindowBuffer
from jamd.engine.scheduler import SchedulerConfig, StepScheduler
from jamd.midi import spec as ms
from jamd.music.grid import BassLine, DrumPattern
from jamd.music.window import Part, Window

T0 = 10**9
LEAD_NS = 2_000_000
NS_PER_MIN = 60 * 10**9


class Gear:
    """The far end of the outputs: counts, and checks the protocol as it goes."""

    def __init__(self) -> None:
        self.sounding: set[tuple[int, int, int]] = set()
        self.ons = self.offs = self.errors = 0
        self.max_sounding = 0

    def take(self, msgs) -> None:
        for port, m in msgs:
            key = (port, ms.channel_of(m[0]), m[1])
            if ms.is_note_on(m):
                self.ons += 1
                self.errors += key in self.sounding
                self.sounding.add(key)
                if len(self.sounding) > self.max_sounding:
                    self.max_sounding = len(self.sounding)
            else:
                self.offs += 1
                self.errors += key not in self.sounding
                self.sounding.discard(key)


def window_pool(n: int, seed: int = 0) -> list[Window]:
    """What a model would publish bar after bar: varied, some dense, some sparse, legato bass."""
    rng = np.random.default_rng(seed)
    pool = []
    for i in range(n):
        steps = 32
        density = (0.1, 0.3, 0.6)[i % 3]
        hit = (rng.random((steps, 9)) < density).astype(np.float32)
        d = DrumPattern(
            hit,
            rng.random((steps, 9)).astype(np.float32),
            ((rng.random((steps, 9)) - 0.5) * 0.99).astype(np.float32),
        )
        b = BassLine.empty(steps)
        on = rng.random(steps) < 0.4
        b.onset[on] = 1
        b.pitch[on] = rng.integers(-12, 13, int(on.sum()))
        b.velocity[on] = 0.8
        b.length[on] = rng.integers(1, 40, int(on.sum()))
        pool.append(Window(d, b, rng.integers(0, 12, steps)))
    return pool


@dataclass
class Plan:
    minutes: float
    bpm: float = 180.0
    tempo_changes: list[tuple[float, float]] = field(default_factory=list)  # (minute, bpm)
    moves: bool = False  # density and mute moves every few bars
    follow: bool = False  # follow an external master instead of being it
    jitter_ns: int = 500_000
    trace_memory: bool = False  # tracemalloc (about 8x slower); else allocated block counts


@dataclass
class Report:
    ticks: int = 0
    expected_ticks: int = 0
    bars: int = 0
    gear: Gear = field(default_factory=Gear)
    max_queue: int = 0
    max_ledger: int = 0
    max_events: int = 0
    mem_warm: int = 0  # traced bytes (trace_memory) or allocated blocks
    mem_end: int = 0
    dropped_late: int = 0
    follower_off_by: int = 0
    max_beat_gap: float = 0.0  # follower vs master: song position apart, in beats (each bar)
    worst_deadline_error: int = 0


def soak(plan: Plan) -> Report:
    """Run ``plan`` on simulated time. One loop turn per deadline, as ``jamd.engine.process.Engine`` does:
    the next tick, the next note, the next step commit - whichever is first."""
    rep = Report()
    rng = np.random.default_rng(1)
    pool = window_pool(12)
    buf = WindowBuffer.create()
    try:
        sched = StepScheduler(SchedulerConfig())
        master = MasterClock(plan.bpm, T0)
        follower = ClockFollower(FollowerConfig()) if plan.follow else None
        src = follower if follower is not None else master
        end = T0 + int(plan.minutes * NS_PER_MIN)
        changes = sorted(plan.tempo_changes)
        warm_at = T0 + int(min(plan.minutes * 0.1, 5.0) * NS_PER_MIN)
        if plan.trace_memory:
            tracemalloc.start()

        def memory() -> int:
            gc.collect()
            return tracemalloc.get_traced_memory()[0] if plan.trace_memory else sys.getallocatedblocks()

        warm_done = False
        in_flight: deque[tuple[int, list[int]]] = deque()  # follower: messages on the cable
        jitter = rng.integers(0, plan.jitter_ns + 1, 4096).tolist()
        next_bar = 0.0
        gear = rep.gear

        def send_clock(msg: list[int], target: int) -> None:
            if msg[0] == ms.CLOCK:
                rep.ticks += 1
            if follower is not None:
                # jittered arrival, in order (a cable does not overtake itself)
                arrive = target + jitter[rep.ticks % len(jitter)]
                if in_flight and arrive <= in_flight[-1][0]:
                    arrive = in_flight[-1][0] + 1
                in_flight.append((arrive, msg))

        master.start(T0)
        t = T0
        while t < end:
            # --- what the control side does: tempo changes, a new window every bar, moves
            while changes and t >= T0 + changes[0][0] * NS_PER_MIN:
                _, bpm = changes.pop(0)
                master.set_tempo(bpm, t)
            tl = src.timeline
            if tl.running and tl.beat_at(t) >= next_bar:
                buf.publish(pool[int(rng.integers(len(pool)))])
                rep.bars += 1
                next_bar = math.floor(tl.beat_at(t) / 4) * 4 + 4
                if follower is not None and master.timeline.running:
                    gap = abs(min(tl.beat_at(t), tl.horizon_beat) - master.timeline.beat_at(t))
                    rep.max_beat_gap = max(rep.max_beat_gap, gap)
                if plan.moves and rep.bars % 8 == 0:
                    sched.set_density(float(rng.choice([0.3, 0.7, 1.0])))
                    part = Part.DRUMS if rep.bars % 16 else Part.BASS
                    gear.take(sched.set_mute(part, bool(rep.bars % 24 == 0)))
            # --- the engine's turn
            if master.next_deadline() is not None and master.next_deadline() <= t:
                master.fire(t, send_clock)
            while in_flight and in_flight[0][0] <= t:
                arrive, msg = in_flight.popleft()
                follower.on_midi(msg, arrive)  # type: ignore[union-attr]
            for ev in src.update(t):
                if ev.kind in LOCATING_EVENTS:
                    gear.take(sched.locate(ev.beat))
                elif ev.kind in STOPPING_EVENTS:
                    gear.take(sched.stop())
            tl = src.timeline
            if tl.running:
                commit_to = min(tl.beat_at(t + LEAD_NS), tl.horizon_beat)
                if sched.next_commit_beat() <= commit_to:
                    w = buf.read()
                    if w is not None:
                        sched.set_window(w)
                for _, msgs in sched.advance(commit_to, min(tl.beat_at(t), tl.horizon_beat)):
                    gear.take(msgs)
            rep.max_queue = max(rep.max_queue, sched.queued)
            rep.max_ledger = max(rep.max_ledger, len(sched.ledger))
            rep.max_events = max(rep.max_events, len(src._events))
            if not warm_done and t >= warm_at:
                rep.mem_warm = memory()
                warm_done = True
            # --- the next deadline
            cands = [end]
            d = master.next_deadline()
            if d is not None:
                cands.append(d)
            if in_flight:
                cands.append(in_flight[0][0])
            if tl.running:
                nb = sched.next_event_beat()
                if nb is not None and nb <= tl.horizon_beat:
                    cands.append(tl.time_at(nb))
                cb = sched.next_commit_beat()
                if cb <= tl.horizon_beat:
                    cands.append(tl.time_at(cb) - LEAD_NS)
            nxt = min(cands)
            t = nxt if nxt > t else t + 1
        # stop at the end of the show: everything ends
        master.stop(t)
        master.fire(t, send_clock)
        while in_flight:  # what is on the cable still arrives
            arrive, msg = in_flight.popleft()
            follower.on_midi(msg, arrive)  # type: ignore[union-attr]
            t = max(t, arrive)
        for ev in src.update(t):
            if ev.kind in STOPPING_EVENTS:
                gear.take(sched.stop())
        rep.mem_end = memory()
        tracemalloc.stop()
        rep.dropped_late = sched.dropped_late
        if follower is not None:
            # the follower counts the position of the last tick it heard, the master that of
            # the next tick it will send: in step, they are one apart
            rep.follower_off_by = follower.position_ticks + 1 - master.position_ticks
        # the master's ticks: exactly tempo x time, each on its computed deadline
        if not plan.tempo_changes:
            tl_len = tick_ns(plan.bpm)
            k = int((end - T0) / tl_len) + 2
            while k > 0 and tick_deadline(T0, tl_len, k) > end:
                k -= 1
            rep.expected_ticks = k
    finally:
        tracemalloc.stop()
        buf.close()
    return rep


def check(rep: Report, plan: Plan) -> None:
    g = rep.gear
    assert g.errors == 0, "the far end saw a second note-on or a stray note-off"
    assert g.ons == g.offs and not g.sounding, (g.ons, g.offs, len(g.sounding))
    assert g.ons > plan.minutes * plan.bpm, "the soak played too little to mean anything"
    assert rep.dropped_late == 0
    # bounded: a window's worth of queued notes, a handful sounding, events drained every turn
    assert rep.max_queue <= 2 * 32 * 10 + 64, rep.max_queue
    assert rep.max_ledger <= 10 + 1 and g.max_sounding <= 11, (rep.max_ledger, g.max_sounding)
    assert rep.max_events <= 4, rep.max_events
    growth = rep.mem_end - rep.mem_warm
    if plan.trace_memory:
        assert growth < 64 * 1024, f"traced memory grew by {growth / 1024:.0f} KiB after warm-up"
    else:
        assert growth < 1000, f"{growth} more allocated blocks than after warm-up"
    if rep.expected_ticks:
        assert rep.ticks == rep.expected_ticks, (rep.ticks, rep.expected_ticks)
    assert rep.follower_off_by == 0, f"follower drifted by {rep.follower_off_by} ticks"
    # following: never more than a tick plus the jitter behind (or ahead of) the master
    assert rep.max_beat_gap <= (1 + 0.1) / ms.PPQN + plan.jitter_ns / 60e9 * 300, rep.max_beat_gap


def test_soak_twenty_minutes_as_master_at_180_bpm() -> None:
    plan = Plan(minutes=20, bpm=180.0, moves=True)
    rep = soak(plan)
    check(rep, plan)
    assert rep.ticks == rep.expected_ticks == 20 * 180 * ms.PPQN  # 86,400 ticks, not one more or less
    assert rep.bars >= 20 * 180 / 4 - 1


def test_soak_ten_minutes_following_a_jittery_clock() -> None:
    plan = Plan(minutes=10, bpm=180.0, follow=True, moves=True)
    rep = soak(plan)
    check(rep, plan)
    assert rep.ticks == 10 * 180 * ms.PPQN


def test_soak_memory_traced() -> None:
    """tracemalloc over two minutes after a 12 s warm-up (~5,000 notes): a leak of even
    16 bytes a note would show."""
    plan = Plan(minutes=2, bpm=180.0, moves=True, trace_memory=True)
    check(soak(plan), plan)


def test_master_deadlines_are_computed_not_accumulated() -> None:
    """Three hours of ticks at 180 BPM (583,200): the last one lands where k x period says,
    to the nanosecond, not where 583,200 added-up periods would drift to."""
    m = MasterClock(180.0, T0)
    sent: list[int] = []
    n = 3 * 60 * 180 * ms.PPQN
    for _ in range(n):
        m.fire(m.next_deadline(), lambda msg, target: sent.append(target))  # type: ignore[arg-type]
    assert len(sent) == n
    assert sent[-1] == T0 + round(n * tick_ns(180.0)) == T0 + 3 * 3600 * 10**9


@pytest.mark.slow
def test_soak_three_hours_as_master_at_180_bpm() -> None:
    plan = Plan(minutes=180, bpm=180.0, moves=True)
    rep = soak(plan)
    check(rep, plan)
    assert rep.ticks == rep.expected_ticks == 180 * 180 * ms.PPQN


@pytest.mark.slow
def test_soak_three_hours_as_master_with_tempo_changes() -> None:
    plan = Plan(
        minutes=180,
        bpm=180.0,
        moves=True,
        tempo_changes=[(30, 120.0), (60, 174.0), (90, 90.5), (120, 200.0), (150, 180.0)],
    )
    check(soak(plan), plan)


@pytest.mark.slow
def test_soak_three_hours_following_with_tempo_changes() -> None:
    plan = Plan(
        minutes=180, bpm=180.0, follow=True, moves=True, tempo_changes=[(45, 128.0), (90, 172.0), (135, 96.0)]
    )
    check(soak(plan), plan)


@pytest.mark.slow
def test_soak_memory_traced_following_for_ten_minutes() -> None:
    plan = Plan(minutes=10, bpm=180.0, moves=True, follow=True, trace_memory=True)
    check(soak(plan), plan)

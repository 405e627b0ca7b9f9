"""Clock math and the three position sources, driven by a fake clock (no ports, no sleeping)."""

from __future__ import annotations

import random

import pytest

from jamd.engine.clock import ClockEventKind as Ev
from jamd.engine.clock import (
    ClockMode,
    MasterClock,
    Timeline,
    ns_per_beat,
    tick_deadline,
    tick_ns,
    wait_until,
)
from jamd.engine.follow import ClockFollower, FollowerConfig, TempoEstimator
from jamd.engine.link import LinkClock
from jamd.engine.process import make_source
from jamd.midi import spec as ms


def test_tick_math() -> None:
    assert tick_ns(120.0) == pytest.approx(500e6 / 24)
    assert ns_per_beat(60.0) == 1e9
    # computed deadlines: no accumulation error after a million ticks
    assert tick_deadline(0, tick_ns(97.3), 1_000_000) == round(1_000_000 * 60e9 / 97.3 / 24)
    tl = Timeline(1000, 4.0, 1e9, True)
    assert tl.beat_at(1000 + 500_000_000) == pytest.approx(4.5)
    assert tl.time_at(5.0) == 1000 + 1_000_000_000
    assert tl.bpm == pytest.approx(60.0)


def test_spp_round_trip() -> None:
    msg = ms.song_position(6 * 1000 + 5)  # floored to a 16th
    assert msg[0] == ms.SONG_POSITION
    assert ms.parse_song_position(msg[1], msg[2]) == 6000


def _jittery_ticks(bpm: float, n: int, jitter_ns: int, seed: int = 1, start: int = 10**9):
    rng = random.Random(seed)
    period = tick_ns(bpm)
    return [start + round(k * period) + rng.randint(-jitter_ns, jitter_ns) for k in range(n)]


def test_tempo_estimate_robust_to_jitter() -> None:
    est = TempoEstimator()
    for t in _jittery_ticks(97.3, 200, 1_000_000):
        est.add(t)
    assert est.bpm == pytest.approx(97.3, abs=0.3)


def test_tempo_estimate_follows_a_change_within_a_beat() -> None:
    est = TempoEstimator()
    ticks = _jittery_ticks(97.3, 96, 1_000_000)
    for t in ticks:
        est.add(t)
    last = ticks[-1]
    for t in _jittery_ticks(131.0, 24, 1_000_000, seed=2, start=last + round(tick_ns(131.0))):
        est.add(t)
    assert est.bpm == pytest.approx(131.0, abs=1.0)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[list[int], int]] = []

    def __call__(self, msg: list[int], target: int) -> None:
        self.sent.append((msg, target))

    def bytes(self) -> list[int]:
        return [m[0] for m, _ in self.sent]


def run_master(m: MasterClock, until_ns: int, rec: Recorder) -> None:
    """Fire every deadline up to ``until_ns`` exactly on time (a perfect fake clock)."""
    while True:
        d = m.next_deadline()
        if d is None or d > until_ns:
            return
        m.fire(d, rec)


def test_master_sends_ticks_for_tempo_and_duration() -> None:
    m, rec = MasterClock(180.0, now_ns=0), Recorder()
    m.start(0)
    run_master(m, 10 * 10**9, rec)
    b = rec.bytes()
    assert b[0] == ms.START
    assert b.count(ms.CLOCK) == pytest.approx(180 / 60 * 24 * 10, abs=1)
    # evenly spaced on the computed grid
    times = [t for msg, t in rec.sent if msg[0] == ms.CLOCK]
    gaps = {round((b - a) / 1000) for a, b in zip(times, times[1:])}
    assert gaps <= {
        round(tick_ns(180) / 1000) - 1,
        round(tick_ns(180) / 1000),
        round(tick_ns(180) / 1000) + 1,
    }


def test_master_tempo_change_on_next_tick_without_jump() -> None:
    m, rec = MasterClock(120.0, now_ns=0), Recorder()
    m.start(0)
    run_master(m, 10**9, rec)
    last = rec.sent[-1][1]
    m.set_tempo(150.0, last + 1000)
    run_master(m, 2 * 10**9, rec)
    times = [t for msg, t in rec.sent if msg[0] == ms.CLOCK]
    i = times.index(last)
    assert times[i + 1] - last == round(tick_ns(150.0))  # the very next tick, new spacing
    assert times[i] - times[i - 1] == pytest.approx(tick_ns(120.0), abs=1)


def test_master_stop_continue_and_song_position() -> None:
    m, rec = MasterClock(120.0, now_ns=0), Recorder()
    m.start(0)
    run_master(m, 10**9, rec)  # 48 ticks = 2 beats
    assert m.position_ticks == 48
    m.stop(10**9 + 1)
    run_master(m, 10**9 + 2, rec)
    assert rec.bytes()[-1] == ms.STOP and not m.timeline.running
    m.locate(8.0, 10**9 + 3)
    m.cont(10**9 + 4)
    run_master(m, 2 * 10**9, rec)
    b = rec.bytes()
    assert b.count(ms.STOP) == 1
    i = b.index(ms.SONG_POSITION)
    assert rec.sent[i][0] == ms.song_position(8 * 24)
    assert b[i + 1] == ms.CONTINUE and b[i + 2] == ms.CLOCK
    assert m.timeline.running and m.position_ticks > 8 * 24
    events = [e.kind for e in m.update(0)]
    assert events == [Ev.START, Ev.STOP, Ev.LOCATE, Ev.CONTINUE]


def test_master_timeline_beat_zero_is_first_tick_after_start() -> None:
    m = MasterClock(120.0, now_ns=0)
    m.start(0)
    first_tick = m.next_deadline()
    assert m.timeline.running and m.timeline.time_at(0.0) == first_tick


def feed(f: ClockFollower, ticks: list[int]) -> None:
    for t in ticks:
        f.on_midi([ms.CLOCK], t)


def test_follower_locks_and_positions() -> None:
    f = ClockFollower()
    ticks = _jittery_ticks(97.3, 48, 1_000_000)
    feed(f, ticks[:24])  # clock before Start: tempo, no position
    assert not f.timeline.running and f.bpm == pytest.approx(97.3, abs=1.0)
    f.on_midi([ms.START], ticks[23] + 1000)
    feed(f, ticks[24:])
    assert f.timeline.running
    assert f.position_ticks == 23  # the first tick after Start is beat 0
    assert f.timeline.beat_at(ticks[-1]) == pytest.approx(23 / 24)
    assert f.timeline.horizon_beat == pytest.approx(1.0)
    kinds = [e.kind for e in f.update(ticks[-1]) if e.kind is not Ev.TEMPO]
    assert kinds == [Ev.FOUND, Ev.START]


def test_follower_stop_spp_continue() -> None:
    f = ClockFollower()
    ticks = _jittery_ticks(120.0, 200, 500_000)
    f.on_midi([ms.START], ticks[0] - 1000)
    feed(f, ticks[:100])
    f.on_midi([ms.STOP], ticks[99] + 1000)
    assert not f.timeline.running
    feed(f, ticks[100:110])  # ticks while stopped do not move it
    assert f.position_ticks == 99
    f.on_midi([ms.SONG_POSITION] + ms.song_position(16 * 24)[1:], ticks[109] + 1000)
    f.on_midi([ms.CONTINUE], ticks[109] + 2000)
    feed(f, ticks[110:120])
    assert f.position_ticks == 16 * 24 + 9
    kinds = [e.kind for e in f.update(ticks[119]) if e.kind is not Ev.TEMPO]
    assert kinds == [Ev.START, Ev.FOUND, Ev.STOP, Ev.LOCATE, Ev.CONTINUE]


def test_follower_notices_a_vanished_clock() -> None:
    f = ClockFollower(FollowerConfig(lost_min_ns=100_000_000))
    ticks = _jittery_ticks(120.0, 30, 0)
    f.on_midi([ms.START], ticks[0] - 1)
    feed(f, ticks)
    f.update(ticks[-1])
    assert f.update(ticks[-1] + 50_000_000) == []
    deadline = f.next_deadline()
    assert deadline is not None and deadline <= ticks[-1] + 6 * tick_ns(120.0) + 1_000_000
    ev = f.update(ticks[-1] + 200_000_000)
    assert [e.kind for e in ev if e.kind is not Ev.TEMPO] == [Ev.LOST] and not f.timeline.running
    feed(f, [ticks[-1] + 300_000_000])
    assert [e.kind for e in f.update(ticks[-1] + 300_000_000)] == [Ev.FOUND]


class FakeLink:
    def __init__(self) -> None:
        self.beat, self.tempo, self.num_peers, self.enabled = 5.3, 100.0, 1, True


def test_link_source_enters_on_the_next_bar_and_follows_tempo() -> None:
    link = FakeLink()
    src = LinkClock(120.0, link=link)
    src.update(0)
    assert src.bpm == 100.0
    src.start(1)
    src.update(2)
    # Link beat 5.3 -> song beat 0 is Link beat 8 (next bar line)
    assert src.timeline.running
    assert src.timeline.anchor_beat == pytest.approx(5.3 - 8.0)
    link.tempo, link.beat = 140.0, 7.0
    ev = src.update(10**9)
    assert [e.kind for e in ev] in ([Ev.START, Ev.TEMPO], [Ev.TEMPO])
    assert src.timeline.bpm == pytest.approx(140.0)


def test_make_source_per_clock_mode() -> None:
    assert isinstance(make_source(ClockMode.INTERNAL, 97.0, 0), MasterClock)
    follower = make_source(ClockMode.MIDI, 97.0, 0)
    assert isinstance(follower, ClockFollower) and follower.bpm == pytest.approx(97.0)
    with pytest.raises(ValueError, match="internal, midi, link"):
        make_source("midi", 97.0, 0)  # a config word, not a ClockMode


def test_wait_until_reaches_the_deadline() -> None:
    import time

    d = time.perf_counter_ns() + 3_000_000
    assert wait_until(d) >= d

"""The note ledger and the step scheduler: pure logic, fake time (beats), fake ports."""

from __future__ import annotations

import numpy as np
import pytest
from _midi_checks import pairs_ok
from hypothesis import given, settings
from hypothesis import strategies as st

from jamd.engine.scheduler import NoteLedger, SchedulerConfig, StepScheduler, window_notes
from jamd.midi import spec as ms
from jamd.music.drumkit import GM_OUTPUT, VoiceOut
from jamd.music.grid import BassLine, BassRange, DrumPattern
from jamd.music.window import Part, Window


def drums(hits: dict[tuple[int, int], tuple[float, float]], steps: int = 32) -> DrumPattern:
    p = DrumPattern.empty(steps)
    for (s, v), (vel, off) in hits.items():
        p.place(s, v, vel, off)
    return p


def window(hits=None, bass=None, wid: int = 1, steps: int = 32) -> Window:
    b = BassLine.empty(steps)
    for s, (pitch, length) in (bass or {}).items():
        b.onset[s], b.pitch[s], b.velocity[s], b.length[s] = 1, pitch, 0.8, length
    return Window(drums(hits or {}, steps), b, np.zeros(steps, np.int64), wid)


class Player:
    """Drives a scheduler beat by beat like the engine does and keeps every message."""

    def __init__(self, sched: StepScheduler) -> None:
        self.s = sched
        self.sent: list[tuple[float, int, list[int]]] = []

    def to(self, beat: float, step: float = 1 / 48) -> None:
        b = self.beat if hasattr(self, "beat") else -0.2
        while b < beat:
            b = min(b + step, beat)
            for p, msgs in self.s.advance(b + 0.01, b):
                self.sent += [(p.beat, port, m) for port, m in msgs]
        self.beat = b

    def take(self, msgs) -> None:
        self.sent += [(getattr(self, "beat", 0.0), port, m) for port, m in msgs]

    def messages(self):
        return [(port, m) for _, port, m in self.sent]

    def ons(self):
        return [(b, port, m) for b, port, m in self.sent if ms.is_note_on(m)]


def test_ledger_matches_every_on_with_one_off() -> None:
    led = NoteLedger()
    out = led.on((0, 10, 36), 100, 1)
    out += led.on((0, 10, 36), 90, 2)  # retrigger: ends note 1 first
    out += led.off((0, 10, 36), 1)  # note 1's own off comes late: ignored
    assert len(led) == 1
    out += led.off((0, 10, 36), 2)
    assert pairs_ok(out) and len(led) == 0
    assert [ms.kind_of(m[1][0]) for m in out] == [ms.NOTE_ON, ms.NOTE_OFF, ms.NOTE_ON, ms.NOTE_OFF]


def test_ledger_panic_ends_only_what_sounds() -> None:
    led = NoteLedger()
    msgs = led.on((0, 10, 36), 100, 1) + led.on((1, 1, 40), 100, 2)
    panic = led.release()
    assert len(panic) == 2 and pairs_ok(msgs + panic)
    assert led.release() == []


def test_ledger_port_lost_then_back() -> None:
    led = NoteLedger()
    msgs = led.on((1, 1, 40), 100, 1)
    led.port_lost(1)
    assert len(led) == 0
    back = led.port_back(1)
    assert back == [(1, ms.note_off(1, 40))] and pairs_ok(msgs + back)


def test_pattern_plays_on_configured_notes_and_channels() -> None:
    outputs = tuple(VoiceOut(60 + i, channel=3) for i in range(9))
    cfg = SchedulerConfig(drum_outputs=outputs, bass_range=BassRange(channel=5))
    s = StepScheduler(cfg)
    s.set_window(window({(0, 0): (1.0, 0.0), (4, 1): (0.5, -0.25)}, {0: (0, 4), 8: (7, 2)}))
    s.locate(0.0)
    pl = Player(s)
    pl.to(7.99)
    ons = pl.ons()
    assert [(port, m) for _, port, m in ons] == [
        (0, ms.note_on(3, 60, 127)),
        (1, ms.note_on(5, 48, 102)),  # C root -> 48 (BassRange)
        (0, ms.note_on(3, 61, 64)),
        (1, ms.note_on(5, 55, 102)),
    ]
    assert ons[2][0] == (4 - 0.25) / 4  # micro-timing: a quarter step early
    assert pairs_ok(pl.messages())


def test_window_swaps_only_at_a_step_boundary() -> None:
    s = StepScheduler()
    every_step = {(i, 0): (1.0, 0.0) for i in range(32)}
    s.set_window(window(every_step, wid=1))
    s.locate(0.0)
    pl = Player(s)
    pl.to(1.3)  # in the middle of step 5
    s.set_window(window({(i, 1): (1.0, 0.0) for i in range(32)}, wid=2))
    pl.to(3.0)
    notes = [(b, m[1]) for b, _, m in pl.ons()]
    switch = next(b for b, n in notes if n == GM_OUTPUT[1].note)
    # step 5 (beat 1.25) was committed before the swap: the new window starts on step 6
    assert switch == 1.5 and all(n == GM_OUTPUT[0].note for b, n in notes if b < switch)
    assert s.swaps == 2


def test_a_window_published_just_before_a_step_plays_on_that_step() -> None:
    """Commit at the step's earliest note, not half a step early: a control that lands 1/100
    of a beat before an on-grid step is heard on it (the target: the next step)."""
    s = StepScheduler()
    s.set_window(window({(i, 0): (1.0, 0.0) for i in range(32)}, wid=1))
    s.locate(0.0)
    s.commit_until(0.0)  # the first window: no early hits known
    assert s.commit_beat(6) == 1.5  # every hit on the grid: commit at it
    s.commit_until(1.49)
    s.set_window(window({(i, 1): (1.0, 0.0) for i in range(32)}, wid=2))
    pl = Player(s)
    pl.beat = 1.49
    pl.to(2.0)
    first = min(b for b, _, m in pl.ons() if m[1] == GM_OUTPUT[1].note)
    assert first == 1.5 and s.swap_step == 6


def test_an_earlier_hit_in_a_new_window_is_played_at_the_commit_not_dropped() -> None:
    s = StepScheduler()
    s.set_window(window({(8, 0): (1.0, 0.0)}, wid=1))
    s.locate(0.0)
    pl = Player(s)
    pl.to(1.9)  # step 8 (beat 2.0) commits at 2.0
    s.set_window(window({(8, 1): (1.0, -0.4)}, wid=2))  # a snare 0.4 step early: beat 1.9
    pl.to(2.5)
    ons = [(b, m[1]) for b, _, m in pl.ons()]
    assert (2.0, GM_OUTPUT[1].note) in ons and s.dropped_late == 0
    assert pairs_ok(pl.messages() + [(p, m) for p, m in s.stop()])
    assert s.commit_beat(8 + 32) == pytest.approx(2.0 + 8 - 0.1)  # the window knows that hit now


def test_stop_silences_and_locate_restarts() -> None:
    s = StepScheduler()
    s.set_window(window(bass={0: (0, 16)}))  # a long bass note
    s.locate(0.0)
    pl = Player(s)
    pl.to(1.0)
    assert len(s.ledger) == 1
    pl.take(s.stop())
    assert len(s.ledger) == 0 and s.queued == 0
    pl.take(s.locate(4.0))
    pl.to(9.0)  # the next window's step 0 plays again
    assert pairs_ok(pl.messages() + [(p, m) for p, m in s.panic()])


def test_density_drops_the_quietest_hits_first() -> None:
    hits = {(i * 4, 2): (0.2 + 0.1 * i, 0.0) for i in range(8)}
    s = StepScheduler()
    s.set_window(window(hits))
    s.set_density(0.5)
    s.locate(0.0)
    pl = Player(s)
    pl.to(7.99)
    vels = sorted(m[2] for _, _, m in pl.ons())
    assert len(vels) == 4 and min(vels) >= round(0.6 * 127)


def test_bass_is_monophonic_across_windows() -> None:
    s = StepScheduler()
    s.set_window(window(bass={28: (0, 12)}))  # runs past the window end
    s.locate(0.0)
    pl = Player(s)
    pl.to(7.5)
    s.set_window(window(bass={0: (5, 2)}, wid=2))
    pl.to(8.6)
    sounding = [k for k in s.ledger.sounding if k[0] == 1]
    assert len(sounding) <= 1
    assert pairs_ok(pl.messages() + [(p, m) for p, m in s.panic()])


def test_mute_ends_what_the_part_has_sounding() -> None:
    s = StepScheduler()
    s.set_window(window({(0, 0): (1.0, 0.0)}, bass={0: (0, 16)}))
    s.locate(0.0)
    pl = Player(s)
    pl.to(0.5)
    pl.take(s.set_mute(Part.BASS, True))
    assert not [k for k in s.ledger.sounding if k[0] == 1]
    pl.to(9.0)
    assert all(port == 0 for b, port, _ in pl.ons() if b > 1)


def test_late_notes_are_dropped_not_flammed() -> None:
    s = StepScheduler(SchedulerConfig(late_drop_beats=0.05))
    s.set_window(window({(0, 0): (1.0, 0.0), (1, 0): (1.0, 0.0)}))
    s.locate(0.0)
    out = []
    for _p, msgs in s.advance(1.0, 0.4):  # a stall: both due, the first 0.4 beats late
        out += msgs
    assert s.dropped_late == 2 and out == []


def test_window_notes_group_by_step() -> None:
    w = window({(0, 0): (1.0, -0.5), (31, 1): (1.0, 0.49)})
    per = window_notes(w, SchedulerConfig())
    assert len(per[0]) == 1 and per[0][0].start == -0.125
    assert len(per[31]) == 1


# ---------------------------------------------------------------------- property test

ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["advance", "window", "stop", "locate", "panic", "lost", "back", "mute", "density"]),
        st.floats(0, 1),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(ACTIONS, st.integers(0, 2**31 - 1))
def test_every_note_on_gets_exactly_one_note_off(actions, seed) -> None:
    """Whatever happens in whatever order, the receiving side never sees a note twice or an
    unmatched off, and once everything is ended nothing hangs (a lost port's notes are ended
    when it comes back)."""
    rng = np.random.default_rng(seed)
    s = StepScheduler()
    wire: list[tuple[int, list[int]]] = []
    beat = 0.0
    s.locate(0.0)
    lost: set[int] = set()
    for kind, x in actions:
        if kind == "advance":
            beat += x * 3
            for _, msgs in s.advance(beat + 0.01, beat):
                wire += msgs
        elif kind == "window":
            steps = int(rng.choice([16, 32]))
            hit = (rng.random((steps, 9)) < 0.3).astype(np.float32)
            d = DrumPattern(
                hit,
                rng.random((steps, 9)).astype(np.float32),
                (rng.random((steps, 9)) - 0.5).astype(np.float32) * 0.99,
            )
            b = BassLine.empty(steps)
            on = rng.random(steps) < 0.4
            b.onset[on] = 1
            b.pitch[on] = rng.integers(-12, 13, on.sum())
            b.velocity[on] = 0.7
            b.length[on] = rng.integers(1, 20, on.sum())
            s.set_window(Window(d, b, rng.integers(0, 12, steps), 1))
        elif kind == "stop":
            wire += s.stop()
        elif kind == "locate":
            beat = x * 16
            wire += s.locate(beat)
        elif kind == "panic":
            wire += s.panic()
        elif kind == "lost":
            port = int(x > 0.5)
            s.port_lost(port)
            lost.add(port)
        elif kind == "back":
            for port in sorted(lost):
                wire += s.port_back(port)
            lost.clear()
        elif kind == "mute":
            wire += s.set_mute(Part.DRUMS if x < 0.5 else Part.BASS, x < 0.25 or x > 0.75)
        elif kind == "density":
            s.set_density(x)
    for port in sorted(lost):
        wire += s.port_back(port)
    wire += s.panic()
    assert pairs_ok(wire)

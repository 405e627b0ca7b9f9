"""clock.mode drummer: the engine's DrummerClock (fake time) and the control side's lead."""

from __future__ import annotations

import numpy as np
import pytest

from jamd.engine.clock import ClockEventKind, Timeline
from jamd.engine.drummer import DrummerClock
from jamd.engine.ipc import Control, ControlKind
from jamd.live.config import DrummerConfig
from jamd.live.lead import DrummerLead
from jamd.midi import spec as ms
from jamd.music.drumkit import GM
from jamd.tempo.tracker import TrackState

S = 1_000_000_000


def grid(bpm: float, one_ns: int) -> Timeline:
    return Timeline(one_ns, 0.0, 60 * S / bpm, True)


def run(clock: DrummerClock, until_ns: int, sent: list, targets: dict[int, Timeline] | None = None) -> None:
    """Fire the clock at each deadline until ``until_ns``; ``targets``: time -> a new grid."""
    pending = sorted((targets or {}).items())
    while (due := clock.next_deadline()) is not None and due < until_ns:
        while pending and pending[0][0] <= due:
            clock.follow(pending.pop(0)[1], pending and pending[0][0] or due)
            due = clock.next_deadline()
            assert due is not None
        clock.fire(due, lambda msg, t: sent.append((t, msg)))


def test_starts_on_the_one_with_start_then_ticks_at_the_drummers_tempo():
    clock = DrummerClock()
    assert clock.next_deadline() is None  # nothing before the count-in
    clock.follow(grid(120.0, 3 * S), 2 * S)  # the count-in ended: the one is 1 s ahead
    assert [e.kind for e in clock.update(2 * S)] == [ClockEventKind.START]
    sent: list = []
    run(clock, 5 * S, sent)
    assert sent[0] == (3 * S, [ms.START]) and sent[1] == (3 * S, [ms.CLOCK])
    ticks = np.array([t for t, m in sent if m == [ms.CLOCK]])
    assert np.allclose(np.diff(ticks), 0.5 * S / ms.PPQN, atol=1)
    assert clock.timeline.running and abs(clock.timeline.beat_at(5 * S) - 4.0) < 0.05


def test_follows_a_tempo_step_without_a_tick_interval_jump():
    clock = DrummerClock()
    clock.follow(grid(100.0, S), 0)
    sent: list = []
    faster = Timeline(S + 8 * 600_000_000, 8.0, 60 * S / 108, True)  # +8 % from beat 8
    run(clock, 12 * S, sent, {S + 8 * 600_000_000: faster})
    ticks = np.array([t for t, m in sent if m == [ms.CLOCK]], float)
    iv = np.diff(ticks)
    assert np.max(np.abs(iv[1:] / iv[:-1] - 1)) <= 0.02
    assert abs(iv[-1] - 60 * S / 108 / ms.PPQN) < 1000  # on the new tempo by the end


def test_joining_late_starts_at_the_next_bar_with_song_position():
    clock = DrummerClock()
    clock.follow(grid(120.0, 0), 5 * S)  # beat 10: the next bar line is beat 12, at 6 s
    sent: list = []
    run(clock, 7 * S, sent)
    assert sent[0] == (6 * S, ms.song_position(12 * ms.PPQN)) and sent[1] == (6 * S, [ms.CONTINUE])


def test_stop_is_sent_at_once_and_the_ticks_end():
    clock = DrummerClock()
    clock.follow(grid(120.0, 0), 0)
    sent: list = []
    run(clock, S, sent)
    clock.stop(S)
    clock.fire(S, lambda msg, t: sent.append((t, msg)))
    assert sent[-1] == (S, [ms.STOP]) and clock.next_deadline() is None
    assert ClockEventKind.STOP in [e.kind for e in clock.update(S)]


def test_a_grid_control_needs_a_grid():
    Control(ControlKind.GRID, timeline=grid(120.0, 0))
    with pytest.raises(ValueError):
        Control(ControlKind.GRID)
    with pytest.raises(ValueError):
        Control(ControlKind.TEMPO, 120.0, timeline=grid(120.0, 0))
    with pytest.raises(ValueError):
        Control(ControlKind.GRID, timeline=Timeline(0, 0.0, 0.0, True))


def test_the_lead_sends_the_grid_after_the_count_in_and_stop_when_the_drummer_is_gone():
    grids: list[Timeline] = []
    stops: list[bool] = []
    cfg = DrummerConfig(hold_bars=1)
    lead = DrummerLead(cfg.tracker(), GM, grids.append, lambda: stops.append(True))
    for i in range(4):
        lead.note(44, 90, S + i * S // 2)  # four quarter notes at 120 BPM
    assert lead.state is TrackState.LOCKED and len(grids) == 1
    assert abs(grids[0].time_at(0.0) - 3 * S) < 1_000_000 and abs(grids[0].bpm - 120) < 0.5
    lead.note(36, 100, 3 * S)
    assert len(grids) == 2
    lead.tick(4 * S + S // 10)  # 2+ beats of silence: holding
    assert lead.state is TrackState.HOLDING and not stops
    lead.tick(6 * S + S // 10)  # and a bar more: gone
    assert lead.state is TrackState.SEARCHING and stops == [True]
    assert "searching" in lead.status()


def test_tempo_lock_from_the_store_of_control_values():
    values = {"tempo.lock": 0.0}
    lead = DrummerLead(DrummerConfig().tracker(), GM, lambda tl: None, lambda: None, values)
    lead.tick(0)
    assert not lead.tracker.tempo_locked
    values["tempo.lock"] = 1.0
    lead.tick(1)
    assert lead.tracker.tempo_locked

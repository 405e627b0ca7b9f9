"""The drummer-mode beat tracker and the tick steering: pure logic, driven with synthetic
drummers (times as arguments, no ports)."""

from __future__ import annotations

import numpy as np
import pytest

from jamd.engine.clock import Timeline
from jamd.engine.steer import SteerConfig, TickSteer
from jamd.midi import spec as ms
from jamd.music.drumkit import GM
from jamd.tempo.countin import CountIn, CountInConfig
from jamd.tempo.particles import GridFilter, GridFilterConfig
from jamd.tempo.tracker import BeatTracker, TrackerConfig, TrackState

KICK, SNARE, HAT, PEDAL = 36, 38, 42, 44


def count_in(period: float, start: float = 1.0, hits: int = 4) -> list[tuple[float, int, int]]:
    return [(start + i * period, PEDAL, 90) for i in range(hits)]


def groove(one: float, beat_times, rng: np.random.Generator, scatter: float = 0.008):
    """A rock beat: hats on 8ths, kick on 1 and 3, snare on 2 and 4, with human scatter.
    ``beat_times(b)`` says when beat b (float) falls."""
    out = []
    for bar in range(len(beat_times.bars)):
        for eighth in range(8):
            b = bar * 4 + eighth / 2
            t = beat_times(b) + rng.normal(0, scatter)
            out.append((t, HAT, 80))
            if eighth in (0, 4):
                out.append((t + rng.normal(0, 0.003), KICK, 110))
            if eighth in (2, 6):
                out.append((t + rng.normal(0, 0.003), SNARE, 110))
    return sorted(out)


class Curve:
    """Beat -> time at ``bpm`` changing by ``factor(beat)``, for ``n_bars`` bars."""

    def __init__(self, one: float, bpm: float, n_bars: int, factor=lambda b: 1.0) -> None:
        self.bars = range(n_bars)
        grid = np.arange(0, n_bars * 4 + 1, 1 / 48)
        dt = 60.0 / (bpm * np.array([factor(b) for b in grid[:-1]])) / 48
        self.grid, self.times = grid, one + np.concatenate([[0.0], np.cumsum(dt)])

    def __call__(self, b: float) -> float:
        return float(np.interp(b, self.grid, self.times))


def run(tracker: BeatTracker, onsets) -> None:
    for t, note, vel in onsets:
        tracker.update(t)
        tracker.onset(t, note, vel)


def test_count_in_sets_tempo_and_the_one():
    found = None
    ci = CountIn(CountInConfig(), 50, 220)
    for t, note, _ in count_in(0.5):
        found = ci.feed(t, note) or found
    assert found is not None
    assert found.period_s == pytest.approx(0.5)
    assert found.one_s == pytest.approx(1.0 + 4 * 0.5)


def test_count_in_refuses_uneven_hits_other_notes_and_tempi_out_of_limits():
    ci = CountIn(CountInConfig(), 50, 220)
    assert all(ci.feed(t, n) is None for t, n in [(0, PEDAL), (0.5, PEDAL), (1.2, PEDAL), (1.5, PEDAL)])
    ci = CountIn(CountInConfig(), 50, 220)
    assert all(ci.feed(t, KICK) is None for t, _, _ in count_in(0.5))
    ci = CountIn(CountInConfig(), 50, 220)
    assert all(ci.feed(t, n) is None for t, n, _ in count_in(0.2))  # 300 BPM


def test_half_note_count_in_two_hits():
    ci = CountIn(CountInConfig(hits=2, beats=2.0), 50, 220)
    assert ci.feed(1.0, PEDAL) is None
    found = ci.feed(2.0, PEDAL)
    assert found is not None and found.period_s == pytest.approx(0.5) and found.one_s == pytest.approx(3.0)


def test_tracker_searches_until_the_count_in():
    tr = BeatTracker(TrackerConfig(), GM)
    assert tr.onset(0.3, KICK, 100) is None and tr.state is TrackState.SEARCHING
    run(tr, count_in(0.5))
    assert tr.state is TrackState.LOCKED and tr.estimate is not None
    assert tr.estimate.time_at(0.0) == pytest.approx(3.0)


STEP_BEAT = 32


@pytest.mark.parametrize(
    "factor",
    [lambda b: 1.0, lambda b: 1.0 + 0.1 * min(b / 128, 1.0), lambda b: 1.08 if b >= STEP_BEAT else 1.0],
    ids=["constant", "drift", "step"],
)
def test_tracker_follows_a_steady_drummer(factor):
    rng = np.random.default_rng(1)
    one = 1.0 + 4 * 0.5
    curve = Curve(one, 120.0, 24, factor)
    tr = BeatTracker(TrackerConfig(), GM)
    run(tr, count_in(0.5))
    errors, settled = [], []
    for t, note, vel in groove(one, curve, rng):
        tr.update(t)
        tr.onset(t, note, vel)
        est = tr.estimate
        assert est is not None
        b = round(est.beat_at(t) * 2) / 2  # the 8th it puts the hit on
        errors.append(abs(est.time_at(b) - curve(b)) * 1000)
        # after the first bar, and away from where the step is taken in (two bars)
        settled.append(b >= 4 and not STEP_BEAT <= b < STEP_BEAT + 8)
        if b == STEP_BEAT + 8 and factor(b) != 1.0:
            assert est.bpm == pytest.approx(120.0 * factor(b), rel=0.01)
    err = np.array(errors)
    assert np.percentile(err, 50) < 8
    assert err[np.array(settled)].max() < 40
    assert err.max() < 120  # never near an 8th off (250 ms): no bar is lost
    assert tr.estimate.bpm == pytest.approx(120.0 * factor(96), rel=0.01)


def test_silence_holds_then_lets_go():
    tr = BeatTracker(TrackerConfig(silence_beats=2, hold_bars=2), GM)
    run(tr, count_in(0.5))
    tr.onset(3.0, KICK, 100)
    assert tr.update(3.9) is None and tr.state is TrackState.LOCKED
    est = tr.update(4.1)  # 2.2 beats without a hit
    assert est is not None and est.state is TrackState.HOLDING and est.bpm == pytest.approx(120, rel=0.01)
    tr.update(3.0 + 0.5 * 10.5)  # 2 beats + 2 bars
    assert tr.state is TrackState.SEARCHING and tr.estimate is None


def test_tempo_lock_freezes_the_tempo_but_not_the_phase():
    tr = BeatTracker(TrackerConfig(), GM)
    run(tr, count_in(0.5))
    tr.lock_tempo(True)
    # the drummer plays 10 % faster: the tempo stays, the grid still moves towards the hits
    for i in range(8):
        tr.onset(3.0 + i * 0.45, KICK, 100)
    assert tr.estimate is not None and tr.estimate.period_s == pytest.approx(0.5)


def target(bpm: float, anchor_ns: int = 0) -> Timeline:
    return Timeline(anchor_ns, 0.0, 60e9 / bpm, True)


def test_steer_follows_a_jump_with_no_tick_interval_change_above_the_limit():
    cfg = SteerConfig()
    steer = TickSteer(cfg)
    tl = target(120.0)
    steer.begin(tl)
    ticks = [steer.advance(tl) for _ in range(ms.PPQN * 4)]
    # the drummer's grid jumps 30 ms later and 8 % faster at once
    tl = Timeline(ticks[-1] + 30_000_000, 4.0, 60e9 / 129.6, True)
    ticks += [steer.advance(tl) for _ in range(ms.PPQN * 8)]
    iv = np.diff(ticks)
    assert np.max(np.abs(iv[1:] / iv[:-1] - 1)) <= cfg.max_change + 1e-6
    # within 8 beats it is on the new grid
    assert abs(ticks[-1] - tl.time_at(steer.beat - 1 / ms.PPQN)) < 1_000_000
    assert iv[-1] == pytest.approx(tl.ns_per_beat / ms.PPQN, rel=1e-3)


def test_steer_begins_on_the_target_at_its_tempo():
    steer = TickSteer()
    tl = target(100.0, 5_000_000_000)
    assert steer.begin(tl) == 5_000_000_000
    assert steer.advance(tl) == 5_000_000_000
    assert steer.advance(tl) - 5_000_000_000 == round(tl.ns_per_beat / ms.PPQN)


def test_steer_never_races_after_a_target_far_away():
    steer = TickSteer()
    tl = target(120.0)
    steer.begin(tl)
    far = Timeline(0, 0.0 - 100.0, tl.ns_per_beat, True)  # 100 beats "late": a lost target
    ticks = [steer.advance(far) for _ in range(ms.PPQN * 8)]
    iv = np.diff(ticks)
    assert iv.min() >= tl.ns_per_beat / ms.PPQN * 0.9 - 1


def test_a_loose_hit_favours_no_tempo():
    """The rate term: a faster grid has more places a second for a loose hit to fall near.
    Averaged over where such a hit falls, guesses at a tempo and at its double must be equally
    likely, or every roll of ghost notes pulls the grid to double time."""
    grid = GridFilter(GridFilterConfig(particles=2), 0.0, 0.5, (0.2, 1.2))
    grid._log_p = np.log(np.array([0.5, 0.25]))
    phases = np.linspace(0.0, 4.0, 4001)[:-1]
    mean = np.zeros(2)
    for beat in phases:
        grid._beat = np.array([beat, 2 * beat])  # the same moment, seen at either tempo
        mean += grid._likelihood(1) / len(phases)
    assert mean[1] == pytest.approx(mean[0], rel=0.05)


def test_the_same_hits_give_the_same_beats():
    onsets = count_in(0.5) + groove(3.0, Curve(3.0, 120.0, 4), np.random.default_rng(3))
    beats = []
    for _ in range(2):
        tr = BeatTracker(TrackerConfig(), GM)
        run(tr, onsets)
        assert tr.estimate is not None
        beats.append((tr.estimate.anchor_beat, tr.estimate.period_s))
    assert beats[0] == beats[1]


@pytest.mark.parametrize("jump", [1.25, 0.85])
def test_a_tempo_jump_too_big_to_follow_is_found_again(jump):
    """A jump beyond what the guesses try (about -12 %..+15 %) leaves the hits fitting badly:
    the cloud is spread again, and 8 bars later the tempo and the beat are the drummer's."""
    rng = np.random.default_rng(0)
    curve = Curve(3.0, 120.0, 32, lambda b: jump if b >= 32 else 1.0)
    tr = BeatTracker(TrackerConfig(), GM)
    run(tr, count_in(0.5))
    errors = []
    for t, note, vel in groove(3.0, curve, rng):
        tr.update(t)
        tr.onset(t, note, vel)
        est = tr.estimate
        assert est is not None
        if t > curve(96):
            b = round(est.beat_at(t) * 2) / 2
            errors.append(abs(est.time_at(b) - curve(b)) * 1000)
    assert tr.estimate is not None and tr.estimate.bpm == pytest.approx(120.0 * jump, rel=0.01)
    assert max(errors) < 20


@pytest.mark.parametrize("gap_bars", [1, 3])
def test_the_drummer_stops_and_comes_back_on_the_one(gap_bars):
    """Held through the silence, the bar is found again where it was: after a bar back, every
    beat within 20 ms of the drummer's."""
    rng = np.random.default_rng(gap_bars)
    curve = Curve(3.0, 120.0, 20)
    gap = curve(32), curve(32 + 4 * gap_bars)
    tr = BeatTracker(TrackerConfig(), GM)
    run(tr, count_in(0.5))
    errors = []
    for t, note, vel in groove(3.0, curve, rng):
        if gap[0] <= t < gap[1]:
            continue
        tr.update(t)
        tr.onset(t, note, vel)
        est = tr.estimate
        assert est is not None
        if t > gap[1] + 2.0:
            b = round(est.beat_at(t))
            errors.append(abs(est.time_at(b) - curve(b)) * 1000)
    assert tr.state is TrackState.LOCKED and max(errors) < 20

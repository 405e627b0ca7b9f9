"""The auto start (``drummer.start: auto``): locking onto a drummer who just plays, no
count-in, from where kick and snare fall. Pure logic, synthetic grooves (times as arguments)."""

from __future__ import annotations

import numpy as np
import pytest

from jamd.music.drumkit import GM
from jamd.tempo.autostart import AutoStart, AutoStartConfig, Start
from jamd.tempo.countin import CountInResult
from jamd.tempo.tracker import BeatTracker, TrackerConfig, TrackState

KICK, SNARE, HAT, PEDAL, CRASH = 36, 38, 42, 44, 49
ONE = 1.0  # the groove's first bar line (s)

#: (16th of the bar, note): a rock beat, and a funk beat whose half bars differ
ROCK = [(s, HAT) for s in range(0, 16, 2)] + [(0, KICK), (8, KICK), (4, SNARE), (12, SNARE)]
FUNK = [(s, HAT) for s in range(16)] + [(0, KICK), (3, KICK), (10, KICK), (4, SNARE), (12, SNARE), (7, SNARE)]


def play(pattern, bpm: float, bars: int, seed: int = 0, from_step: int = 0, scatter: float = 0.008):
    """``pattern`` for ``bars`` bars from :data:`ONE`, starting at 16th ``from_step`` of the
    first bar, with human scatter: (s, note, velocity) in time order."""
    rng = np.random.default_rng(seed)
    step = 60.0 / bpm / 4
    out = []
    for bar in range(bars):
        for s, note in pattern:
            n = bar * 16 + s
            if n >= from_step:
                vel = 70 if note == HAT and s % 4 else 100
                out.append((ONE + n * step + rng.normal(0, scatter), note, vel))
    return sorted(out)


def lock(onsets, cfg: AutoStartConfig | None = None) -> tuple[CountInResult, float] | None:
    """Feeds the hits until the auto start locks: what it found and when."""
    auto = AutoStart(cfg or AutoStartConfig(), 50, 220)
    for t, note, vel in onsets:
        found = auto.feed(t, GM[note], vel / 127)
        if found is not None:
            return found, t
    return None


def bar_of(found: CountInResult, bpm: float) -> float:
    """Where jamd's one falls in the groove's bars (a whole number: on a one)."""
    return (found.one_s - ONE) / (4 * 60.0 / bpm)


@pytest.mark.parametrize("bpm", [72.0, 96.0, 128.0, 175.0])
@pytest.mark.parametrize("pattern", [ROCK, FUNK], ids=["rock", "funk"])
def test_locks_on_tempo_and_the_one_after_two_bars(pattern, bpm):
    got = lock(play(pattern, bpm, 8, seed=int(bpm)))
    assert got is not None
    found, at = got
    assert found.period_s == pytest.approx(60.0 / bpm, rel=0.01)
    assert bar_of(found, bpm) == pytest.approx(round(bar_of(found, bpm)), abs=0.03)
    assert found.one_s > at  # the one is ahead: jamd starts on it
    # by the end of bar 2; at slow tempos, whose double time fits nearly as well, by bar 4
    assert at - ONE < (2.1 if bpm > 80 else 4.1) * 4 * 60.0 / bpm


def test_finds_the_one_from_kick_and_snare_when_the_playing_starts_on_the_four():
    # the first hits (snare and hats on the 4) are not the one: the groove says where it is
    got = lock(play(FUNK, 100.0, 8, from_step=12))
    assert got is not None
    assert bar_of(got[0], 100.0) == pytest.approx(round(bar_of(got[0], 100.0)), abs=0.03)


def test_without_the_first_kick_a_rock_beat_says_not_which_half_bar_is_the_one():
    # kick on 1 and 3, snare on 2 and 4: the half bars are alike; played from the 3 with the
    # opening's weight off, it may not lock (nothing tells the 1 from the 3)
    onsets = play(ROCK, 110.0, 6, from_step=8)
    assert lock(onsets, AutoStartConfig(opening=0.0)) is None
    got = lock(onsets)  # with it, the first kick (on the 3) is taken for the one: a wrong one
    assert got is not None and bar_of(got[0], 110.0) % 1 == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize(
    "pattern",
    [
        [(s, HAT) for s in range(0, 16, 2)],  # hats alone: every beat alike
        [(s, KICK) for s in range(0, 16, 4)] + [(s, HAT) for s in range(2, 16, 4)],  # no backbeat
    ],
    ids=["hats", "four-on-the-floor"],
)
def test_does_not_lock_a_groove_without_a_backbeat(pattern):
    assert lock(play(pattern, 120.0, 8), AutoStartConfig(opening=0.0)) is None


def test_does_not_lock_hits_on_no_grid():
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.uniform(0.05, 0.6, 80))
    notes = rng.choice([KICK, SNARE, HAT], 80)
    assert lock([(float(t), int(n), 100) for t, n in zip(times, notes)]) is None


def test_the_template_tells_a_groove_from_its_double_time():
    # 16th hats at 70 BPM are 8ths at 140: the hats alike fit both; the snare on 2 and 4 says 70
    got = lock(play(FUNK, 70.0, 6))
    assert got is not None and got[0].period_s == pytest.approx(60.0 / 70.0, rel=0.01)


def test_the_tracker_starts_from_the_auto_start_and_follows_on():
    bpm = 104.0
    tracker = BeatTracker(TrackerConfig(start=Start.AUTO), GM)
    # a count-in is not a start in auto mode: hits on the hi-hat pedal alone lock nothing
    for i in range(8):
        assert tracker.onset(ONE - 10.0 + i * 0.5, PEDAL, 90) is None
    tracker.reset()
    first = None
    for t, note, vel in play(FUNK, bpm, 12, seed=5):
        tracker.update(t)
        est = tracker.onset(t, note, vel)
        first = first or est
    assert first is not None and tracker.state is TrackState.LOCKED
    # beat 0 is a bar line of the groove, and the grid is still on it ten bars later
    bars = bar_of(CountInResult(first.period_s, first.time_at(0.0), ()), bpm)
    assert bars == pytest.approx(round(bars), abs=0.03)
    est = tracker.estimate
    assert est is not None and est.bpm == pytest.approx(bpm, rel=0.01)
    last_one = ONE + 11 * 4 * 60.0 / bpm
    beat = est.beat_at(last_one)
    assert beat == pytest.approx(4 * round(beat / 4), abs=0.05)


def test_count_in_stays_the_default():
    assert TrackerConfig().start is Start.COUNT_IN and BeatTracker(TrackerConfig(), GM).auto is None

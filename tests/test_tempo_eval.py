"""``jamd eval tempo``'s harness on a synthetic performance (the real one reads GMD)."""

from __future__ import annotations

import numpy as np
import pytest

from jamd.commands.eval_tempo import FIGURES
from jamd.lab.tempo_eval import Curve, evaluate, feel_wander_ms, performance, trailing_fit_ms
from jamd.music.grid import NoteIn
from jamd.tempo.autostart import Start

KEYS = set(FIGURES)


def rock(bars: int, seed: int = 0) -> list[NoteIn]:
    """Hats on 8ths, kick on 1 and 3, snare on 2 and 4 (TD-11 notes), a little early and loose."""
    rng = np.random.default_rng(seed)
    notes = []
    for e in range(bars * 8):
        b = e / 2 - 0.02 + rng.normal(0, 0.015)
        notes.append(NoteIn(b, 42, 80))
        if e % 4 == 0:
            notes.append(NoteIn(b, 36, 110))
        if e % 4 == 2:
            notes.append(NoteIn(b, 38, 110))
    return sorted(notes, key=lambda n: n.beat)


def test_figures_per_curve_and_baseline():
    perfs = [performance(f"rock{i}", bpm, rock(24, i)) for i, bpm in enumerate((96.0, 128.0))]
    assert all(p is not None for p in perfs)
    result = evaluate([p for p in perfs if p is not None], per_run=True)
    assert result["files"] == 2
    assert KEYS <= set(result["overall"]) and KEYS <= set(result["baseline"]["overall"])
    assert set(result["curves"]) == {c.value for c in Curve}
    ours, base = result["overall"], result["baseline"]["overall"]
    assert ours["locked_by_bar2_share"] == 1.0
    assert ours["bars_lost_or_gained"] == 0
    assert ours["max_tick_interval_change"] <= 0.02
    assert ours["beat_error_ms_p50"] < 8
    # the fixed count-in tempo cannot follow a drift; the tracker does
    assert (
        result["curves"]["drift"]["beat_error_ms_p95"]
        < result["baseline"]["curves"]["drift"]["beat_error_ms_p95"] / 4
    )
    assert base["max_tick_interval_change"] == 0.0
    assert ours["tempo_error_pct"] <= ours["tempo_error_pct_p95"]
    assert 0.0 <= ours["bars_over_1pct_share"] <= 1.0
    # the count-in's tempo, held, is a constant curve's true tempo to its estimate's error
    assert result["baseline"]["curves"]["constant"]["tempo_error_pct_p95"] < 1.0
    assert 0 < result["drummers"]["feel_wander_ms_p50"] <= result["drummers"]["feel_wander_ms_p95"]
    assert 0 < result["drummers"]["trailing_fit_ms_p50"] <= result["drummers"]["trailing_fit_ms_p95"]
    # each run's own figures: every file through every curve, pooling to the overall ones
    runs = result["runs"]
    assert sorted((r["file"], r["curve"]) for r in runs) == sorted(
        (f"rock{i}", c.value) for i in range(2) for c in Curve
    )
    assert sum(r["bars_lost_or_gained"] for r in runs) == ours["bars_lost_or_gained"]
    assert all(abs(r["beat_error_ms_mean"]) <= r["beat_error_ms_p95"] for r in runs)
    assert [r["step_tempo_error_pct"] is not None for r in runs] == [r["curve"] == "step" for r in runs]


def test_feel_is_the_mean_offset_and_playing_starts_at_the_first_bar():
    perf = performance("late", 120.0, [NoteIn(8.05, 36, 100), NoteIn(9.05, 38, 100), NoteIn(70.05, 36, 100)])
    assert perf is not None
    assert abs(perf.notes[0].beat - 0.05) < 1e-9
    assert abs(perf.feel_beats - 0.05) < 1e-9


def test_feel_wander_is_zero_for_a_steady_feel_and_grows_with_a_wandering_one():
    steady = performance("steady", 120.0, [NoteIn(b / 2 - 0.02, 42, 80) for b in range(64)])
    wander = performance(
        "wander", 120.0, [NoteIn(b / 2 + (0.05 if b % 16 < 8 else -0.05), 42, 80) for b in range(64)]
    )
    assert steady is not None and wander is not None
    assert np.abs(feel_wander_ms(steady)).max() < 1e-6
    # 0.05 beats at 120 BPM is 25 ms; a 4-beat window straddling the change averages it down
    assert np.abs(feel_wander_ms(wander)).max() > 20


def test_trailing_fit_is_zero_for_a_steady_feel_and_overshoots_a_moving_one():
    steady = performance("steady", 120.0, [NoteIn(b / 4 - 0.02, 42, 80) for b in range(512)])
    # half the piece 0.05 beats (25 ms) behind the file's mean feel, half as far ahead
    moving = performance(
        "moving", 120.0, [NoteIn(b / 4 + (0.05 if b < 256 else -0.05), 42, 80) for b in range(512)]
    )
    assert steady is not None and moving is not None
    assert np.abs(trailing_fit_ms(steady)).max() < 1e-6
    fit = trailing_fit_ms(moving)
    assert len(fit) == moving.beats + 1 - 16
    assert fit[0] == pytest.approx(25.0) and fit[-1] == pytest.approx(-25.0)
    # a line through the last 16 beats, straddling the move, overshoots it (it takes it for a
    # tempo change): the floor is above the drummer's feel wander where the feel moves
    assert fit.min() < -30


def test_auto_start_reports_the_same_figures_and_where_its_one_fell():
    perfs = [performance(f"rock{i}", bpm, rock(24, i)) for i, bpm in enumerate((96.0, 128.0))]
    result = evaluate(
        [p for p in perfs if p is not None], curves=(Curve.CONSTANT, Curve.DRIFT), start=Start.AUTO
    )
    ours = result["overall"]
    assert KEYS <= set(ours) and KEYS <= set(result["baseline"]["overall"])
    # no count-in played: locked from the first bars (about two: when the answer has stood for
    # three hits), on the drummer's one, no bar lost
    assert ours["locked_by_bar2_share"] >= 0.5 and ours["one_right_share"] == 1.0
    assert ours["bars_lost_or_gained"] == 0 and ours["beat_error_ms_p50"] < 10
    assert "one_right_share" not in result["baseline"]["overall"]

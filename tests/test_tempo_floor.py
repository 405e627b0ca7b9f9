"""The floor trial (``python -m jamd.lab.tempo_floor``): its oracles through the eval."""

from __future__ import annotations

import numpy as np
import pytest

from jamd.lab.tempo_eval import Curve, evaluate, performance, play
from jamd.lab.tempo_floor import MIXED, KalmanConfig, kalman, known_tempo, mixed, placed_hits
from jamd.music.grid import NoteIn


def steady(bars: int, offset: float = -0.02) -> list[NoteIn]:
    """A drummer on the click but for one constant offset: hats on 8ths, kick and snare."""
    notes = [NoteIn(e / 2 + offset, 42, 80) for e in range(bars * 8)]
    notes += [NoteIn(b + offset, 36 if b % 2 == 0 else 38, 110) for b in range(bars * 4)]
    return sorted(notes, key=lambda n: n.beat)


def test_the_hits_come_with_their_places() -> None:
    perf = performance("steady", 120.0, steady(16))
    assert perf is not None
    places = [place for _, place in placed_hits(play(perf, Curve.DRIFT, 0), perf)]
    assert places[:4] == [-4.0, -3.0, -2.0, -1.0]  # the count-in
    assert places[4:] == sorted(round(n.beat * 4) / 4 for n in perf.notes)


def test_the_known_tempo_oracle_follows_every_curve_of_a_steady_drummer() -> None:
    perf = performance("steady", 120.0, steady(20))
    assert perf is not None
    got = evaluate([perf], tracker=known_tempo(8.0))
    ours = got["overall"]
    # its only error is the clock's own (5 ms late estimates, 1.9 % a tick); the baseline's is
    # the curves'
    assert ours["beat_error_ms_p95"] < 3 and ours["bars_lost_or_gained"] == 0
    assert ours["step_tempo_error_pct_max"] < 1
    assert got["baseline"]["overall"]["beat_error_ms_p95"] > 100


def test_the_places_oracle_holds_a_steady_drummer_and_lags_a_bend() -> None:
    perf = performance("steady", 120.0, steady(20))
    assert perf is not None
    got = evaluate([perf], tracker=kalman(KalmanConfig(0.003, 0.001, 25.0)))
    curves = got["curves"]
    assert curves["constant"]["beat_error_ms_p95"] < 3
    assert 0 == got["overall"]["bars_lost_or_gained"]
    # a 4 % sinusoid: a filter of constant tempo lags where it bends, a little
    assert np.isfinite(curves["sine"]["beat_error_ms_p95"])
    assert curves["sine"]["beat_error_ms_p95"] > curves["constant"]["beat_error_ms_p95"]


def test_a_tempo_rate_follows_a_drift_and_a_bend_that_a_stiff_tempo_lags() -> None:
    perf = performance("steady", 120.0, steady(40))
    assert perf is not None
    stiff = evaluate([perf], tracker=kalman(KalmanConfig(0.003, 0.0003, 40.0)))["curves"]
    smooth = evaluate([perf], tracker=kalman(KalmanConfig(0.003, 0.0, 40.0, 0.0003)))["curves"]
    for curve in ("drift", "sine"):
        assert smooth[curve]["beat_error_ms_p95"] < 15 < stiff[curve]["beat_error_ms_p95"]
    assert smooth["constant"]["beat_error_ms_p95"] < 3


def test_the_mixed_oracle_holds_like_a_stiff_filter_and_follows_like_an_agile_one() -> None:
    perf = performance("steady", 120.0, steady(40))
    assert perf is not None
    stiff = evaluate([perf], tracker=kalman(KalmanConfig(0.001, 0.0003, 40.0)))["curves"]
    both = evaluate([perf], tracker=mixed(*MIXED))["curves"]
    assert both["constant"]["beat_error_ms_p95"] < 3
    for curve in ("drift", "sine"):
        assert both[curve]["beat_error_ms_p95"] < 25 < stiff[curve]["beat_error_ms_p95"]


def swaying(bars: int, size: float = 0.03, period_beats: float = 8.0) -> list[NoteIn]:
    """A drummer who pushes and pulls around the click (``size`` beats, over ``period_beats``)."""
    notes = []
    for e in range(bars * 8):
        beat = e / 2 + size * np.sin(2 * np.pi * (e / 2) / period_beats)
        notes.append(NoteIn(beat, 42, 80))
        if e % 2 == 0:
            notes.append(NoteIn(beat, 36 if e % 4 == 0 else 38, 110))
    return notes


def test_a_push_state_holds_a_swaying_drummers_click_closer_as_a_wider_scatter_does() -> None:
    perf = performance("swaying", 120.0, swaying(30))
    assert perf is not None

    def constant(cfg: KalmanConfig) -> dict:
        return evaluate([perf], tracker=kalman(cfg))["curves"]["constant"]

    plain = constant(KalmanConfig(0.0003, 0.003, 25.0))
    pushed = constant(KalmanConfig(0.0003, 0.003, 25.0, push_ms=15.0, pull_beats=2.0))
    wide = constant(KalmanConfig(0.0003, 0.003, 60.0))
    # the plain filter's beat sways with the drummer (±15 ms); the push state keeps part of
    # the sway off the beat — and a plain filter that trusts each hit less keeps more off: the
    # push state is worth no more than a wider scatter (docs/tempo.md, session 13)
    for key in ("beat_error_ms_p50", "beat_error_ms_p95"):
        assert wide[key] < pushed[key] < 0.9 * plain[key]


def test_a_push_needs_beats_to_come_back_over() -> None:
    with pytest.raises(ValueError, match="pull_beats"):
        KalmanConfig(0.001, 0.001, 25.0, push_ms=10.0, pull_beats=0.0)

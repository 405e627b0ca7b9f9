"""The smoother trial (``python -m jamd.lab.tempo_smooth``): the fit itself, and through the eval."""

from __future__ import annotations

import numpy as np

from jamd.lab.tempo_eval import evaluate, performance
from jamd.lab.tempo_smooth import FitSmoother, SmoothConfig, nearest_16th, smoothed
from tests.test_tempo_eval import rock


def feed(fit: FitSmoother, period: float, places: np.ndarray):
    """A metronomic drummer: each place's hit exactly on time."""
    got = None
    for g in places:
        got = fit.add(g * period, float(g), 1.0, float(g))
    return got


def test_a_steady_drummer_is_fitted_exactly():
    fit = FitSmoother(SmoothConfig())
    places = np.arange(0, 24, 0.5)
    got = feed(fit, 0.5, places)
    assert got is not None
    anchor_s, beat, period = got
    assert abs(period - 0.5) < 1e-9 and abs(anchor_s - beat * 0.5) < 1e-9
    assert fit.restarts == 0


def test_scatter_is_averaged_out_and_the_tempo_bend_followed():
    # a tempo that slows by 4 % over 24 beats: time = g * p + c * g^2
    places = np.arange(0, 24, 0.25)
    p, c = 0.5, 0.5 * 0.04 / 24
    fit = FitSmoother(SmoothConfig())
    rng = np.random.default_rng(1)
    errors = []
    for g in places:
        got = fit.add(g * p + c * g * g + rng.normal(0.0, 0.01), float(g), 1.0, float(g))
        if got is not None and g > 8:
            anchor_s, beat, _ = got
            errors.append(abs(anchor_s - (beat * p + c * beat * beat)))
    # each hit scatters by 10 ms; the fit's beat is a few ms off
    assert np.median(errors) < 0.004


def test_a_tempo_jump_restarts_the_fit():
    fit = FitSmoother(SmoothConfig())
    feed(fit, 0.5, np.arange(0, 16, 0.5))
    # 8 % faster from beat 16 on
    got = None
    for g in np.arange(16, 24, 0.5):
        got = fit.add(8.0 + (g - 16) * 0.5 / 1.08, float(g), 1.0, float(g))
    assert fit.restarts >= 1
    assert got is not None and abs(got[2] - 0.5 / 1.08) < 0.005


def test_through_the_eval_the_oracle_fit_keeps_every_bar():
    perf = performance("rock", 110.0, rock(20))
    assert perf is not None
    result = evaluate([perf], tracker=smoothed(SmoothConfig(oracle=True)))
    assert result["overall"]["bars_lost_or_gained"] == 0
    assert result["overall"]["max_tick_interval_change"] <= 0.02
    assert result["overall"]["beat_error_ms_p50"] < 8


def test_a_hit_halfway_between_16ths_goes_to_the_later_one_as_in_the_eval() -> None:
    """The eval's reference rounds a tie up (``quantize``); Python's round() would send 0.625
    beats (2.5 16ths) down to 0.5 and 0.125 down to 0."""
    assert nearest_16th(0.625) == 0.75 and nearest_16th(0.125) == 0.25
    assert nearest_16th(0.6) == 0.5 and nearest_16th(-0.2) == -0.25

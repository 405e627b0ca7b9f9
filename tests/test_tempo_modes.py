"""The stiff-and-agile trial (``python -m jamd.lab.tempo_modes``): its filter's guesses."""

from __future__ import annotations

import numpy as np
from test_tempo_floor import steady

from jamd.lab.tempo_eval import Curve, evaluate, performance
from jamd.lab.tempo_modes import Modes, moding, on
from jamd.tempo.particles import GridFilter, GridFilterConfig
from jamd.tempo.tracker import TrackerConfig

# no sudden tempo tries: only the wander moves the guesses
CFG = GridFilterConfig(jump_rate=0.0, jump_tries=0.0)
LIMITS = (0.2, 1.2)


def test_stiff_guesses_hold_their_tempo_and_agile_ones_wander() -> None:
    grid = moding(Modes((0.0, 0.0), (0.01, 0.01), switch=0.0))(CFG, 0.0, 0.5, LIMITS)
    agile = grid._agile.copy()
    assert 0 < agile.sum() < CFG.particles  # both kinds, about half each
    start = grid._log_p.copy()
    grid._advance(2.0)  # four beats on
    moved = np.abs(grid._log_p - start) > 1e-12
    assert not moved[~agile].any() and moved[agile].all()


def test_a_guess_keeps_its_way_of_moving_when_the_cloud_is_resampled() -> None:
    grid = moding(Modes((0.0, 0.0), (0.01, 0.01), switch=0.0))(CFG, 0.0, 0.5, LIMITS)
    w = np.zeros(CFG.particles)
    w[np.flatnonzero(grid._agile)[0]] = 1.0  # all the weight on one agile guess
    grid._resample(w)
    assert grid._agile.all()


def test_guesses_switch_at_about_the_rate_asked() -> None:
    grid = moding(Modes((0.001, 0.001), (0.01, 0.01), switch=0.1))(CFG, 0.0, 0.5, LIMITS)
    before = grid._agile.copy()
    grid._wander(np.full(CFG.particles, 1.0))  # one beat: a switch for about a tenth
    assert 0.05 < np.mean(before != grid._agile) < 0.15


def test_with_both_ways_the_shipped_wander_it_is_the_shipped_filter() -> None:
    cfg = GridFilterConfig()
    same = (cfg.phase_wander, cfg.tempo_wander)
    ours, shipped = moding(Modes(same, same, 0.1))(cfg, 0.0, 0.5, LIMITS), GridFilter(cfg, 0.0, 0.5, LIMITS)
    rng = np.random.default_rng(5)
    for k in range(200):  # 8ths with a little scatter, kick and hat
        t = 0.25 * k + rng.normal(0.0, 0.01)
        for grid in (ours, shipped):
            grid.hit(t, 0 if k % 4 == 0 else 2, 1.0)
        assert ours.estimate() == shipped.estimate()


def test_the_trial_runs_the_eval_on_its_filter() -> None:
    # the same drummer through the eval's tracker on the shipped filter and on a trial's: its
    # guesses are the trial's (a stiff tempo that never moves follows a drift worse)
    perf = performance("steady", 120.0, steady(12))
    assert perf is not None
    stiff = moding(Modes((0.0, 0.0), (0.0, 0.0), 0.0))
    cfg = TrackerConfig(grid=GridFilterConfig(jump_rate=0.0, jump_tries=0.0))
    shipped = evaluate([perf], cfg, curves=[Curve.DRIFT], tracker=on(GridFilter))["overall"]
    frozen = evaluate([perf], cfg, curves=[Curve.DRIFT], tracker=on(stiff))["overall"]
    assert frozen["beat_error_ms_p95"] > shipped["beat_error_ms_p95"] + 5

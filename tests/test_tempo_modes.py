"""The stiff-and-agile trial (``python -m jamd.lab.tempo_modes``): its filter's guesses."""

from __future__ import annotations

import numpy as np
import pytest

from jamd.lab.tempo_modes import Modes, filtering, moding
from jamd.tempo import tracker
from jamd.tempo.particles import GridFilter, GridFilterConfig

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


def test_the_trial_puts_the_shipped_filter_back() -> None:
    cls = moding(Modes((0.001, 0.001), (0.01, 0.01), 0.01))
    with pytest.raises(RuntimeError), filtering(cls):
        assert tracker.GridFilter is cls
        raise RuntimeError("a run that fails")
    assert tracker.GridFilter is GridFilter

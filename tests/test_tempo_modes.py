"""The stiff-and-agile trial (``python -m jamd.lab.tempo_modes``): its filter's guesses."""

from __future__ import annotations

import numpy as np

from jamd.lab.tempo_modes import Modes, filtering, moding
from jamd.tempo import tracker
from jamd.tempo.particles import GridFilter, GridFilterConfig

# no sudden tempo tries: only the wander moves the guesses
CFG = GridFilterConfig(jump_rate=0.0, jump_tries=0.0)


def test_stiff_guesses_hold_their_tempo_and_agile_ones_wander() -> None:
    grid = moding(Modes((0.0, 0.0), (0.01, 0.01), switch=0.0))(CFG, 0.0, 0.5, (0.2, 1.2))
    agile = grid._agile.copy()
    assert 0 < agile.sum() < CFG.particles  # both kinds, about half each
    start = grid._log_p.copy()
    grid.hit(2.0, 0, 1.0)  # four beats on
    moved = np.abs(grid._log_p - start) > 1e-12
    assert not moved[~agile].any() and moved[agile].all()


def test_a_guess_keeps_its_way_of_moving_when_copied() -> None:
    grid = moding(Modes((0.0, 0.0), (0.01, 0.01), switch=0.0))(CFG, 0.0, 0.5, (0.2, 1.2))
    picks = np.flatnonzero(grid._agile)[:1].repeat(CFG.particles)  # every copy from one agile guess
    grid._keep(picks)
    assert grid._agile.all()


def test_guesses_switch_at_about_the_rate_asked() -> None:
    grid = moding(Modes((0.001, 0.001), (0.01, 0.01), switch=0.1))(CFG, 0.0, 0.5, (0.2, 1.2))
    before = grid._agile.copy()
    grid._wander(np.full(CFG.particles, 1.0))  # one beat: a switch for about a tenth
    assert 0.05 < np.mean(before != grid._agile) < 0.15


def test_the_trial_puts_the_shipped_filter_back() -> None:
    cls = moding(Modes((0.001, 0.001), (0.01, 0.01), 0.01))
    try:
        with filtering(cls):
            assert tracker.GridFilter is cls
            raise RuntimeError("a run that fails")
    except RuntimeError:
        pass
    assert tracker.GridFilter is GridFilter

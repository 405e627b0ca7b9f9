"""The bar check: a groove learnt after the count-in finds the grid again when the tracker's
grid slid by an 8th or a beat, and leaves a grid that fits alone (pure logic, synthetic hits)."""

from __future__ import annotations

import numpy as np
import pytest

from jamd.music.drumkit import VOICE_INDEX
from jamd.tempo.barcheck import BarCheck

PERIOD = 0.5
KICK, SNARE, HAT = VOICE_INDEX["kick"], VOICE_INDEX["snare"], VOICE_INDEX["closed_hat"]


def rock(bars: int, seed: int = 0) -> list[tuple[float, int]]:
    """(true beat, voice): hats on 8ths, kick on 1 and 3 (and the and of 3), snare on 2 and 4."""
    rng = np.random.default_rng(seed)
    out = []
    for e in range(bars * 8):
        b = e / 2 + rng.normal(0, 0.01)
        out.append((b, HAT))
        if e % 8 in (0, 4, 5):
            out.append((b, KICK))
        if e % 8 in (2, 6):
            out.append((b, SNARE))
    return out


def play(check: BarCheck, hits: list[tuple[float, int]], slide: float):
    """Every hit at its true time; the tracker puts it ``slide`` beats off from bar 4 on, until
    the check moves it."""
    moves = []
    for b, voice in hits:
        off = slide if b >= 16 and not moves else 0.0
        check.hit(b * PERIOD, b + off, voice, 1.0)
        move = check.check(b * PERIOD, b + off, PERIOD)
        if move is not None:
            moves.append((b, move))
    return moves


@pytest.mark.parametrize("slide", [0.5, -0.5, 1.0])
def test_a_grid_that_slid_is_moved_back_onto_the_groove(slide):
    check = BarCheck()
    moves = play(check, rock(10), slide)
    assert len(moves) == 1
    b, move = moves[0]
    assert 16 < b < 20  # within a bar of the slide
    assert move.beat == pytest.approx(move.t_s / PERIOD, abs=0.05)  # back on the true beat
    assert move.period_s == pytest.approx(PERIOD, rel=0.011)


def test_a_grid_that_fits_is_left_alone_and_the_template_is_learnt_first():
    check = BarCheck()
    assert play(check, rock(12, seed=1), 0.0) == []
    assert check.learnt
    # the kick on the one and the snare on 2 (16th 4) are in the template, not on the and of 2
    assert check.template[KICK, 0] > 0 and check.template[SNARE, 4] > 0
    assert check.template[SNARE, 6] == 0

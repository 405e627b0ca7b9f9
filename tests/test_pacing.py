"""Decoding with memory (`jamd.model.pacing`): a pad move flips what its travel allows, the most
decided cells first, never trails the fresh decode by more than the lag, never plays a flicker,
and starts afresh in a new context."""

from __future__ import annotations

import numpy as np
import pytest

from jamd.model.pacing import CARRY, Pacing, PadMemory

SHAPE = (32, 9)


def _walk(memory: PadMemory, logits: list[np.ndarray], xs: np.ndarray) -> list[np.ndarray]:
    """The memory along a walk in x: hits where the logit is >= 0 are each point's target."""
    return [
        memory.step((lg >= 0).astype(np.float32), lg, (float(x), 0.0), "seed") for lg, x in zip(logits, xs)
    ]


def _crossing_field(points: int = 33) -> tuple[list[np.ndarray], np.ndarray]:
    """Logits linear in x, every cell crossing 0 somewhere in [-1, 1]: 288 crossings per walk."""
    rng = np.random.default_rng(0)
    at = rng.uniform(-1, 1, SHAPE)  # where each cell crosses
    sign = rng.choice([-1.0, 1.0], SHAPE)
    xs = np.linspace(-1, 1, points)
    return [(sign * 4 * (x - at)).astype(np.float32) for x in xs], xs


def _changes(played: list[np.ndarray]) -> np.ndarray:
    return np.array([int((a != b).sum()) for a, b in zip(played[:-1], played[1:])])


def test_without_pace_every_decode_is_its_target():
    logits, xs = _crossing_field()
    played = _walk(PadMemory(Pacing()), logits, xs)
    for p, lg in zip(played, logits):
        np.testing.assert_array_equal(p, lg >= 0)


def test_each_move_flips_what_its_travel_allows():
    logits, xs = _crossing_field()
    played = _walk(PadMemory(Pacing(pace=48.0, lag=288)), logits, xs)  # 3 cells per 1/16 of travel
    changes = _changes(played)
    fresh = _changes([(lg >= 0) for lg in logits])
    assert fresh.std() > 0.5  # without memory the crossings come unevenly ...
    assert (changes == 3).all()  # ... with it, evenly (the walk always has cells left to flip)


def test_the_played_pattern_never_trails_by_more_than_the_lag():
    logits, xs = _crossing_field()
    memory = PadMemory(Pacing(pace=16.0, lag=5))
    for p, lg in zip(_walk(memory, logits, xs), logits):
        assert int((p != (lg >= 0)).sum()) <= 5
    jump = -logits[-1]  # the target jumps far while the pad barely moves
    p = memory.step((jump >= 0).astype(np.float32), jump, (1.0 + 1e-3, 0.0), "seed")
    assert int((p != (jump >= 0)).sum()) == 5


def test_the_most_decided_cells_flip_first_and_a_flicker_is_never_played():
    memory = PadMemory(Pacing(pace=16.0, lag=288))  # one cell per 1/16 of travel
    lg = np.full(SHAPE, -5.0, np.float32)
    memory.step(np.zeros(SHAPE, np.float32), lg, (0.0, 0.0), "seed")
    lg[0, 0], lg[1, 1], lg[2, 2] = 0.5, 6.0, 2.0  # three cells cross, one far past the boundary
    p = memory.step((lg >= 0).astype(np.float32), lg, (1 / 16, 0.0), "seed")
    assert p[1, 1] == 1 and p.sum() == 1
    lg[0, 0] = -5.0  # the least decided one falls back before its turn: it never sounds
    p = memory.step((lg >= 0).astype(np.float32), lg, (2 / 16, 0.0), "seed")
    assert p[2, 2] == 1 and p[0, 0] == 0 and p.sum() == 2


def test_resting_saves_up_no_more_than_the_carry():
    memory = PadMemory(Pacing(pace=1000.0, lag=288))
    lg = np.full(SHAPE, -5.0, np.float32)
    memory.step(np.zeros(SHAPE, np.float32), lg, (0.0, 0.0), "seed")
    memory.step(np.zeros(SHAPE, np.float32), lg, (1.0, 0.0), "seed")  # a long move, nothing to change
    lg[:4, :] = 5.0  # 36 cells to flip, after no further travel
    p = memory.step((lg >= 0).astype(np.float32), lg, (1.0, 0.0), "seed")
    assert p.sum() == CARRY


def test_a_new_context_starts_afresh():
    memory = PadMemory(Pacing(pace=1.0, lag=32))
    lg = np.full(SHAPE, -5.0, np.float32)
    memory.step(np.zeros(SHAPE, np.float32), lg, (0.0, 0.0), ("seed", np.zeros(3)))
    lg[:, 0] = 5.0
    target = (lg >= 0).astype(np.float32)
    assert memory.step(target, lg, (0.0, 0.0), ("seed", np.zeros(3))).sum() == 0  # same seed: it trails
    np.testing.assert_array_equal(memory.step(target, lg, (0.0, 0.0), ("seed", np.ones(3))), target)


def test_pacing_refuses_negative_settings():
    with pytest.raises(ValueError):
        Pacing(pace=-1.0, lag=0)
    with pytest.raises(ValueError):
        Pacing(pace=1.0, lag=-2)

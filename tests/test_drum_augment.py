"""Augmentation of training windows (jamd.data.augment): each kind keeps the grid a grid (hits
0/1 in their cells, velocities in [0, 1], offsets in range) and does exactly what it says."""

from __future__ import annotations

import numpy as np
import pytest

from jamd.data.augment import HAT, RIDE, Augment, AugmentConfig, Batch, SameFile, augment
from jamd.music.grid import OFFSET_MAX

N, STEPS, VOICES = 40, 32, 9


def _split(seed: int = 0) -> tuple[Batch, np.ndarray]:
    """Random windows of 5 files, the files interleaved (the split's order is not by file)."""
    rng = np.random.default_rng(seed)
    hit = (rng.random((N, STEPS, VOICES)) < 0.3).astype(np.float32)
    vel = np.where(hit > 0, rng.uniform(0.05, 1.0, hit.shape), 0).astype(np.float32)
    off = np.where(hit > 0, rng.uniform(-0.5, 0.49, hit.shape), 0).astype(np.float32)
    off[0, hit[0] > 0] = OFFSET_MAX  # the range's edges, where a shift must clip
    off[1, hit[1] > 0] = -0.5
    vel[2, hit[2] > 0] = 1.0
    return Batch(hit, vel, off, np.arange(N)), np.arange(N) % 5


def _run(kinds: str, seed: int = 1, **probs) -> tuple[Batch, Batch, np.ndarray]:
    split, file = _split()
    cfg = AugmentConfig(**{**AugmentConfig.parse(kinds).__dict__, **probs})
    return split, augment(split, cfg, np.random.default_rng(seed), split, SameFile(file)), file


@pytest.mark.parametrize("kinds", ["swap", "velocity", "timing", "repair", "all"])
def test_every_augmentation_keeps_a_valid_grid(kinds):
    split, out, _ = _run(kinds)
    for a, b in ((out.hit, split.hit), (out.velocity, split.velocity), (out.offset, split.offset)):
        assert a.shape == b.shape and a.dtype == np.float32
    assert set(np.unique(out.hit)) <= {0.0, 1.0}
    played = out.hit > 0
    assert out.velocity.min() >= 0 and out.velocity.max() <= 1
    assert out.offset.min() >= -0.5 and out.offset.max() <= OFFSET_MAX
    # a silent cell has neither velocity nor offset, as in a window cut from a file
    assert not out.velocity[~played].any() and not out.offset[~played].any()
    np.testing.assert_array_equal(out.index, split.index)


@pytest.mark.parametrize("kinds", ["velocity", "timing", "velocity,timing"])
def test_velocity_and_timing_leave_every_hit_in_its_cell(kinds):
    split, out, _ = _run(kinds)
    np.testing.assert_array_equal(out.hit, split.hit)


def test_velocity_scales_each_window_by_one_factor_within_15_percent():
    split, out, _ = _run("velocity")
    for i in range(3, N):  # windows 0-2 hold edge values; 2 is all at 1.0 (clipped if scaled up)
        played = split.hit[i] > 0
        ratio = out.velocity[i][played] / split.velocity[i][played]
        unclipped = out.velocity[i][played] < 1
        assert np.ptp(ratio[unclipped]) < 1e-5
        assert 0.85 - 1e-6 <= ratio[unclipped][0] <= 1.15 + 1e-6
    factors = [
        out.velocity[i][split.hit[i] > 0][0] / split.velocity[i][split.hit[i] > 0][0] for i in range(3, N)
    ]
    assert np.ptp(factors) > 0.05  # drawn per window, not once per batch


def test_timing_shifts_each_window_by_one_amount_within_005_step_and_clips():
    split, out, _ = _run("timing")
    shifts = []
    for i in range(2, N):
        played = split.hit[i] > 0
        d = (out.offset[i] - split.offset[i])[played]
        inside = (out.offset[i][played] > -0.5) & (out.offset[i][played] < OFFSET_MAX)
        assert np.ptp(d[inside]) < 1e-5 and abs(d[inside][0]) <= 0.05 + 1e-6
        shifts.append(d[inside][0])
    assert np.ptp(shifts) > 0.01
    # windows whose hits sit on the range's edges stay inside it
    assert out.offset[0].max() <= OFFSET_MAX and out.offset[1].min() >= -0.5


def test_hat_ride_swap_is_exact_and_its_own_inverse():
    split, file = _split()
    cfg = AugmentConfig((Augment.SWAP,), swap_p=1.0)
    out = augment(split, cfg, np.random.default_rng(0), split, SameFile(file))
    others = [v for v in range(VOICES) if v not in (HAT, RIDE)]
    for a, b in ((out.hit, split.hit), (out.velocity, split.velocity), (out.offset, split.offset)):
        np.testing.assert_array_equal(a[:, :, HAT], b[:, :, RIDE])
        np.testing.assert_array_equal(a[:, :, RIDE], b[:, :, HAT])
        np.testing.assert_array_equal(a[:, :, others], b[:, :, others])
    back = augment(out, cfg, np.random.default_rng(0), split, SameFile(file))
    np.testing.assert_array_equal(back.hit, split.hit)
    np.testing.assert_array_equal(back.velocity, split.velocity)


def test_swap_applies_to_about_its_share_of_windows():
    split, out, _ = _run("swap", swap_p=0.25)
    changed = [i for i in range(N) if not np.array_equal(out.hit[i, :, HAT], split.hit[i, :, HAT])]
    assert 2 <= len(changed) <= 20


def test_repair_keeps_the_first_bar_and_takes_the_second_from_the_same_file():
    split, out, file = _run("repair", repair_p=1.0)
    half = STEPS // 2
    np.testing.assert_array_equal(out.hit[:, :half], split.hit[:, :half])
    bars = {  # every bar of the split: (file, cell contents) -> where it came from
        (int(file[j]), split.hit[j, h : h + half].tobytes(), split.offset[j, h : h + half].tobytes())
        for j in range(N)
        for h in (0, half)
    }
    moved = 0
    for i in range(N):
        key = (int(file[i]), out.hit[i, half:].tobytes(), out.offset[i, half:].tobytes())
        assert key in bars, f"window {i}: its second bar is no bar of its own file"
        moved += not np.array_equal(out.hit[i, half:], split.hit[i, half:])
    assert moved > N // 2


def test_same_file_draws_only_windows_of_the_same_file():
    file = np.array([3, 1, 3, 2, 1, 3, 7])
    same = SameFile(file)
    rng = np.random.default_rng(0)
    for _ in range(50):
        idx = rng.integers(0, len(file), 5)
        np.testing.assert_array_equal(file[same.draw(idx, rng)], file[idx])
    assert set(same.draw(np.full(200, 0), rng)) == {0, 2, 5}
    np.testing.assert_array_equal(same.draw(np.array([6]), rng), [6])  # a file of one window


def test_the_draws_depend_only_on_the_generator():
    _, a, _ = _run("all", seed=4)
    _, b, _ = _run("all", seed=4)
    _, c, _ = _run("all", seed=5)
    np.testing.assert_array_equal(a.offset, b.offset)
    assert not np.array_equal(a.offset, c.offset)


def test_parse():
    assert AugmentConfig.parse("all").kinds == tuple(Augment)
    assert AugmentConfig.parse("timing, swap,timing").kinds == (Augment.SWAP, Augment.TIMING)
    assert not AugmentConfig.parse("")
    with pytest.raises(ValueError, match="unknown augmentation.*known: swap"):
        AugmentConfig.parse("swap,pitch")

import numpy as np
import pytest

from jamd.model.plane import CONTOUR_SHARES, CodeDensity, LatentPlane, Slew, home_xy


def plane(d=4, radius=1.5):
    rng = np.random.default_rng(0)
    return LatentPlane(rng.normal(size=d), rng.normal(size=d), rng.normal(size=d), radius)


def test_point_is_center_plus_scaled_axes():
    p = plane()
    z = p.point(0.25, -0.5)
    np.testing.assert_allclose(z, p.center + 1.5 * (0.25 * p.axis_a - 0.5 * p.axis_b), rtol=1e-6)
    np.testing.assert_allclose(p.point(0, 0), p.center)


def test_linear_controller_moves_are_linear_in_z():
    p = plane()
    zs = np.array([p.point(x, 0.3) for x in np.linspace(-1, 1, 9)])
    steps = np.diff(zs, axis=0)
    np.testing.assert_allclose(steps, np.repeat(steps[:1], len(steps), axis=0), atol=1e-5)


def test_project_inverts_point_and_uses_given_center():
    p = plane()
    seed = p.center + 0.7
    assert p.project(p.point(0.3, -0.8, seed), seed) == pytest.approx((0.3, -0.8), abs=1e-5)


def test_mismatched_shapes_rejected():
    with pytest.raises(ValueError):
        LatentPlane(np.zeros(4), np.zeros(3), np.zeros(4))


def test_slew_limits_speed_and_arrives():
    s = Slew(rate=2.0, value=np.zeros(2, np.float32))
    v = s.step(np.array([1.0, 0.0]), dt=0.1)
    assert np.linalg.norm(v) == pytest.approx(0.2, rel=1e-5)
    for _ in range(10):
        v = s.step(np.array([1.0, 0.0]), dt=0.1)
    np.testing.assert_allclose(v, [1.0, 0.0])


def test_slew_without_limit_jumps():
    s = Slew(rate=0.0)
    np.testing.assert_allclose(s.step(np.array([3.0, -4.0]), dt=0.001), [3.0, -4.0])


def test_code_density_counts_codes_where_they_are_and_round_trips_the_card():
    rng = np.random.default_rng(1)
    xy = np.concatenate([rng.normal(-1.5, 0.3, (800, 2)), rng.normal(1.0, 0.3, (200, 2))])
    d = CodeDensity.of_codes(xy)
    assert d.counts.sum() == len(xy)
    centers = d.centers()
    row, col = np.unravel_index(d.counts.argmax(), d.counts.shape)
    assert centers[row] == pytest.approx(-1.5, abs=0.4) and centers[col] == pytest.approx(-1.5, abs=0.4)
    back = CodeDensity.from_card(d.to_card())
    np.testing.assert_array_equal(back.counts, d.counts)
    assert back.extent == d.extent


def test_density_levels_enclose_their_shares_of_the_codes():
    xy = np.random.default_rng(2).normal(0, 1, (5000, 2))
    d = CodeDensity.of_codes(xy)
    grid = d.smoothed()
    levels = d.levels()
    assert levels == sorted(levels, reverse=True)  # the smallest region first
    for share, level in zip(CONTOUR_SHARES, levels):
        assert grid[grid >= level].sum() == pytest.approx(share, abs=0.03)


def test_home_xy_is_in_spreads_on_the_home_plane():
    p = plane(radius=3.0)
    codes = np.array([p.center + 0.5 * p.axis_a - 2 * p.axis_b, p.center])
    np.testing.assert_allclose(home_xy(p, codes), [[0.5, -2.0], [0.0, 0.0]], atol=1e-5)


def test_a_damaged_density_is_refused():
    with pytest.raises(ValueError):
        CodeDensity.from_card({"extent": 4.0, "counts": ["1 2", "3"]})

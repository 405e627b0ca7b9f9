import numpy as np
import pytest

from jamd.model.plane import LatentPlane, Slew


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

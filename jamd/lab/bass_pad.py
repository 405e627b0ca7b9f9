"""The bass pad as a player meets it: how much a move changes, whether the corners differ, and
whether the two named axes move their feature one way only (numpy only).

A pad position (x, y) in [-1, 1]^2 maps to the latent through ``BassModel.pad_point``, as the
daemon maps ``bass.x`` / ``bass.y``. "Notes changed" between two lines over the same drums and
chords: the steps where either line starts a note, counted as changed when only one of them
starts a note there or both do at different pitches, over the number of such steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from jamd.model.bass import ATTRIBUTES, BassModel, attributes, to_lines

SWEEP_POINTS = 9  # x (or y) = -1, -0.75, ..., 1
CORNERS = ((-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0))


@dataclass
class PadFigures:
    pad_change_05: float  # share of notes a pad move of 0.5 changes
    pad_corners: float  # mean share of notes changed between two of the four corners
    pad_corners_min: float  # the least different pair of corners
    axis_monotonic: dict[str, float]  # per named axis: share of sweeps its feature never falls
    axis_feature_range: dict[str, list[float]]  # mean feature at the sweep's ends (-1, +1)

    def to_dict(self) -> dict:
        return asdict(self)


def lines_at(model: BassModel, xy: np.ndarray, cond: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, ...]:
    """(onset, pitch) ``(n, T)`` of the lines at pad positions ``xy`` (n, 2) over ``cond``."""
    z = np.stack([model.pad_point(float(x), float(y)) for x, y in xy]).astype(np.float32)
    lines = []
    for s in range(0, len(cond), chunk):
        lines += to_lines(model.decode_batch(z[s : s + chunk], cond[s : s + chunk]))
    return np.stack([ln.onset for ln in lines]), np.stack([ln.pitch for ln in lines])


def notes_changed(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> float:
    """Pooled share of note steps that differ between lines ``a`` and ``b`` (onset, pitch)."""
    on_a, on_b = a[0] > 0.5, b[0] > 0.5
    either = on_a | on_b
    changed = (on_a != on_b) | (on_a & on_b & (a[1] != b[1]))
    return float(changed.sum() / max(either.sum(), 1))


def _move_05(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pad moves of length 0.5 in random directions that start and end on the pad."""
    angle = rng.uniform(0, 2 * np.pi, n)
    step = 0.5 * np.stack([np.cos(angle), np.sin(angle)], 1)
    lo, hi = np.maximum(-1, -1 - step), np.minimum(1, 1 - step)
    start = lo + rng.random((n, 2)) * (hi - lo)
    return start, start + step


def pad_figures(model: BassModel, cond: np.ndarray, rng: np.random.Generator, limit: int = 300) -> PadFigures:
    cond = cond[rng.choice(len(cond), min(limit, len(cond)), replace=False)]
    n = len(cond)
    start, end = _move_05(n, rng)
    change = notes_changed(lines_at(model, start, cond), lines_at(model, end, cond))
    corner = [lines_at(model, np.tile(c, (n, 1)), cond) for c in CORNERS]
    pairs = [notes_changed(corner[i], corner[j]) for i in range(4) for j in range(i + 1, 4)]
    monotonic, ends = {}, {}
    t = np.linspace(-1.0, 1.0, SWEEP_POINTS)
    other = rng.uniform(-1, 1, n)
    for k, name in enumerate(ATTRIBUTES):
        feats = []
        for ti in t:
            xy = np.stack([np.full(n, ti), other], 1) if k == 0 else np.stack([other, np.full(n, ti)], 1)
            feats.append(attributes(*lines_at(model, xy, cond))[:, k])
        f = np.stack(feats, 1)  # (n, points)
        monotonic[name] = float((np.diff(f, axis=1) >= 0).all(1).mean())
        ends[name] = [float(f[:, 0].mean()), float(f[:, -1].mean())]
    return PadFigures(change, float(np.mean(pairs)), float(np.min(pairs)), monotonic, ends)


def pad_in_code_range(model: BassModel, codes: np.ndarray) -> float:
    """Share of the pad's four corners inside the codes' central 95 % range on every dimension."""
    lo, hi = np.percentile(codes, [2.5, 97.5], axis=0)
    pts = np.stack([model.pad_point(x, y) for x, y in CORNERS])
    # a float32 hair on the boundary is still inside
    return float(((pts >= lo - 1e-4) & (pts <= hi + 1e-4)).all(1).mean())

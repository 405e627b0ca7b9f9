"""Pad sweeps: slow straight moves of the XY pad around a seed, scored on the played patterns.
A move should change the groove evenly (no long still stretches, no sudden jumps) and change it
at all: a pad that does nothing is dead, not even. Definitions in docs/models.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jamd.model.plane import LatentPlane

N_SWEEPS = 200
N_POINTS = 33  # t = -1 ... 1: 32 moves per sweep
JUMP_CELLS = 8  # one move changing this many cells or more is a jump


@dataclass(frozen=True)
class PadFigures:
    pad_change_cv: float | None  # mean over live sweeps of CV(cells changed per move); None: all dead
    pad_jump_share: float  # share of sweeps with a move changing >= JUMP_CELLS cells
    pad_total_change: float  # mean over sweeps of the cells changed over the whole sweep
    pad_dead_share: float  # share of sweeps in which nothing changes at all


def sweeps(
    plane: LatentPlane, centers: np.ndarray, n: int = N_SWEEPS, points: int = N_POINTS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` straight sweeps, each centred on a random row of ``centers`` in a random direction,
    through (x, y) = t (cos a, sin a), t evenly spaced in [-1, 1], mapped to the latent by the
    plane as the daemon maps the pad (``LatentPlane.point`` with the seed as the centre).
    Returns z: (n, points, d) and the pad positions x, y: (n, points, 2)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(len(centers), size=n)
    angle = rng.uniform(0.0, 2 * np.pi, size=n)
    t = np.linspace(-1.0, 1.0, points)
    xy = t[None, :, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)[:, None, :]
    z = np.stack(
        [np.stack([plane.point(x, y, centers[i]) for x, y in p]) for i, p in zip(idx, xy, strict=True)]
    )
    return z.astype(np.float32), xy


def pad_figures(hits: np.ndarray, jump: int = JUMP_CELLS) -> PadFigures:
    """``hits``: (n_sweeps, n_points, T, V) bool, the played patterns along each sweep."""
    changes = (hits[:, 1:] != hits[:, :-1]).reshape(hits.shape[0], hits.shape[1] - 1, -1).sum(2)
    mean = changes.mean(1)
    live = mean > 0
    cv = changes[live].std(1) / mean[live]
    return PadFigures(
        pad_change_cv=float(cv.mean()) if live.any() else None,
        pad_jump_share=float((changes.max(1) >= jump).mean()),
        pad_total_change=float(changes.sum(1).mean()),
        pad_dead_share=float((~live).mean()),
    )

"""Evaluation of a drum checkpoint, numpy only (the numpy runtime is what plays on stage, so it is
what we measure): the smoothness figures of the latent space. Definitions are in docs/models.md;
every figure uses a fixed seed. The figures of ``jamd eval drums`` are gathered by
`jamd.lab.drum_report`; decode and encode timings come from `jamd.lab.timing`.
"""

from __future__ import annotations

import numpy as np

from jamd.model.drums import DrumModel

SEED = 0
N_PAIRS = 200  # unevenness: pairs of windows
N_LINE = 33  # ... points on each straight line (32 segments)
N_MIXUP = 1000  # metric_cv: mixup points
MIXUP_A0 = 0.2  # ... a ~ U(-a0, 1 + a0), as in training
FD_EPS = 1e-3  # central finite differences for the Jacobian (float32 decoder)


def _batched(fn, z: np.ndarray, batch: int = 512) -> np.ndarray:
    return np.concatenate([fn(z[s : s + batch]) for s in range(0, len(z), batch)])


def unevenness(model: DrumModel, mu: np.ndarray, n_pairs: int = N_PAIRS, seed: int = SEED) -> float:
    """Mean over pairs of the CV of the distances between consecutive decodes on a straight line."""
    rng = np.random.default_rng(seed)
    a = np.linspace(0.0, 1.0, N_LINE, dtype=np.float32)[:, None]
    cvs = []
    for _ in range(n_pairs):
        i, j = rng.choice(len(mu), 2, replace=False)
        p = model.decode_probs((1 - a) * mu[i] + a * mu[j]).reshape(N_LINE, -1)  # (33, T*V)
        dist = np.linalg.norm(np.diff(p.astype(np.float64), axis=0), axis=1)
        cvs.append(dist.std() / max(dist.mean(), 1e-12))
    return float(np.mean(cvs))


def jacobian_fd(model: DrumModel, z: np.ndarray, eps: float = FD_EPS) -> np.ndarray:
    """Jacobian of the hit probabilities at each row of z by central differences: (M, T*V, d)."""
    M, d = z.shape
    cols = []
    for k in range(d):
        dz = np.zeros(d, np.float32)
        dz[k] = eps
        hi = _batched(model.decode_probs, z + dz).reshape(M, -1).astype(np.float64)
        lo = _batched(model.decode_probs, z - dz).reshape(M, -1).astype(np.float64)
        cols.append((hi - lo) / (2 * eps))
    return np.stack(cols, axis=-1)


def metric_cv(model: DrumModel, mu: np.ndarray, n: int = N_MIXUP, seed: int = SEED) -> float:
    """CV of sqrt(tr(G)/d) over mixup points: how evenly the decoder stretches the latent space."""
    rng = np.random.default_rng(seed)
    i, j = rng.integers(len(mu), size=n), rng.integers(len(mu), size=n)
    a = rng.uniform(-MIXUP_A0, 1 + MIXUP_A0, size=(n, 1)).astype(np.float32)
    z = ((1 - a) * mu[i] + a * mu[j]).astype(np.float32)
    J = jacobian_fd(model, z)
    scale = np.sqrt((J**2).sum((1, 2)) / z.shape[1])  # tr(JᵀJ) = ‖J‖²_F
    return float(scale.std() / scale.mean())

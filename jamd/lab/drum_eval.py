"""Evaluation of a drum checkpoint, numpy only (the numpy runtime is what plays on stage, so it is
what we measure). Definitions are in docs/models.md; every figure uses a fixed seed.

Run as ``python -m jamd.lab.drum_eval --time MODEL [N] [--encode]`` it prints decode (and encode)
timings measured in a fresh process with ``OPENBLAS_NUM_THREADS=1`` (the variable only works if
set before numpy loads). The figures of ``jamd eval drums`` are gathered by `jamd.lab.drum_report`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from jamd.model.drums import DrumModel

SEED = 0
N_PAIRS = 200  # unevenness: pairs of windows
N_LINE = 33  # ... points on each straight line (32 segments)
N_MIXUP = 1000  # metric_cv: mixup points
MIXUP_A0 = 0.2  # ... a ~ U(-a0, 1 + a0), as in training
FD_EPS = 1e-3  # central finite differences for the Jacobian (float32 decoder)
N_TIMING = 1000  # decode timings


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


def decode_timings(path: str, n: int = N_TIMING, encode: bool = False) -> dict[str, float]:
    """Decode one window n times (and encode one, with ``encode``), in a fresh process pinned to
    one BLAS thread."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "jamd.lab.drum_eval", "--time", str(path), str(n)] + ["--encode"] * encode,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def _time_here(path: str, n: int, encode: bool) -> dict[str, float]:
    model = DrumModel.load(path)
    z = np.zeros(model.latent_dim, np.float32)
    rng = np.random.default_rng(SEED)
    for _ in range(50):  # warm caches and allocator
        model.decode(z)
    ts = []
    for _ in range(n):
        z = rng.standard_normal(model.latent_dim).astype(np.float32)
        t = time.perf_counter_ns()
        model.decode(z)
        ts.append(time.perf_counter_ns() - t)
    ms = np.array(ts) / 1e6
    out = {"decode_ms_p50": float(np.percentile(ms, 50)), "decode_ms_p99": float(np.percentile(ms, 99))}
    if encode:
        ts = []
        for _ in range(n):
            pattern = model.decode(rng.standard_normal(model.latent_dim).astype(np.float32))
            t = time.perf_counter_ns()
            model.encode(pattern)
            ts.append(time.perf_counter_ns() - t)
        out["encode_ms_p50"] = float(np.percentile(np.array(ts) / 1e6, 50))
    return out


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--time":
        n = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3].isdigit() else N_TIMING
        print(json.dumps(_time_here(sys.argv[2], n, "--encode" in sys.argv)))
    else:
        sys.exit("usage: python -m jamd.lab.drum_eval --time MODEL [N] [--encode]")

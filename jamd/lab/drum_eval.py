"""Evaluation of a drum checkpoint, numpy only (the numpy runtime is what plays on stage, so it is
what we measure). Definitions are in docs/models.md; every figure uses a fixed seed.

Run as ``python -m jamd.lab.drum_eval --time MODEL`` it prints decode timings measured in a fresh
process with ``OPENBLAS_NUM_THREADS=1`` (the variable only works if set before numpy loads).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jamd.data.corpus import Windows
from jamd.lab.timing import decode_timing
from jamd.model.drums import DecodeControls, DrumModel, realise
from jamd.music.drumkit import VOICE_INDEX

SEED = 0
N_PAIRS = 200  # unevenness: pairs of windows
N_LINE = 33  # ... points on each straight line (32 segments)
N_MIXUP = 1000  # metric_cv: mixup points
MIXUP_A0 = 0.2  # ... a ~ U(-a0, 1 + a0), as in training
FD_EPS = 1e-3  # central finite differences for the Jacobian (float32 decoder)
N_PRIOR = 1000  # plausible_rate: prior samples


@dataclass(frozen=True)
class Plausibility:
    """A drum pattern a drummer could plausibly play (applied to a thresholded 32-step window).
    Checked on the GMD test windows themselves: see ``plausible_rate`` of the data in docs."""

    min_hits: int = 8  # the corpus keeps windows with >= 8 hits: fewer is "nearly empty"
    max_hits: int = 128  # 4 per 16th on average: beyond it is a wall of noise (GMD p99.9 ~ 100)
    min_backbeat: int = 2  # kick + snare hits: a groove has a kick or a snare, not just cymbals
    max_steps_per_drum: int = 24  # kick, a tom or crash on > 24 of 32 sixteenths is noise, not a groove
    # (the snare is exempt: 16th-note ghost-note grooves and rolls are real, 6 % of GMD train windows)

    def passes(self, hit: np.ndarray) -> bool:
        n = int(hit.sum())
        if not self.min_hits <= n <= self.max_hits:
            return False
        backbeat = hit[:, VOICE_INDEX["kick"]].sum() + hit[:, VOICE_INDEX["snare"]].sum()
        if backbeat < self.min_backbeat:
            return False
        drums = [VOICE_INDEX[v] for v in ("kick", "low_tom", "mid_tom", "high_tom", "crash")]
        return bool((hit[:, drums].sum(0) <= self.max_steps_per_drum).all())


def _batched(fn, z: np.ndarray, batch: int = 512) -> np.ndarray:
    return np.concatenate([fn(z[s : s + batch]) for s in range(0, len(z), batch)])


def reconstruction(model: DrumModel, w: Windows) -> tuple[dict[str, float | list[float]], np.ndarray]:
    """The reconstruction figures of windows ``w`` through their posterior means, and those means
    ``(n, d)`` (what the smoothness figures start from)."""
    hit = w.hit.astype(np.float32)
    mus, lvs = zip(
        *(
            model.encode_batch(hit[s : s + 512], w.velocity[s : s + 512], w.offset[s : s + 512])
            for s in range(0, len(w), 512)
        )
    )
    mu, logvar = np.concatenate(mus), np.concatenate(lvs)
    logits, vel, off = (
        np.concatenate(a) for a in zip(*(model.decode_raw(mu[s : s + 512]) for s in range(0, len(mu), 512)))
    )
    true = hit > 0.5
    pred = expected_count_hits(logits)  # the runtime's default decoding
    pred05 = logits >= 0.0  # probability >= 0.5, for reference
    kl = 0.5 * (mu**2 + np.exp(logvar) - 1 - logvar).mean(0)
    figures: dict[str, float | list[float]] = {
        "hit_f1": _f1(pred, true),
        "hit_accuracy": float((pred == true).mean()),
        "velocity_mae": float(np.abs(vel - w.velocity)[true].mean()),
        "offset_mae": float(np.abs(off - w.offset)[true].mean()),
        "kl_per_dim": [float(k) for k in kl],
        "hit_f1_threshold05": _f1(pred05, true),
        "hits_per_window": float(pred.sum() / len(pred)),
        "hits_per_window_data": float(true.sum() / len(true)),
    }
    return figures, mu


def _f1(pred: np.ndarray, true: np.ndarray) -> float:
    return 2 * float((pred & true).sum()) / max(float(pred.sum() + true.sum()), 1.0)


def expected_count_hits(logits: np.ndarray) -> np.ndarray:
    """Batched form of the runtime's default decoding (`DecodeControls()`): per window the
    round(sum of probabilities) most probable cells. (B, T, V) -> bool (B, T, V)."""
    B = logits.shape[0]
    flat = logits.reshape(B, -1)
    k = np.rint((0.5 * (1 + np.tanh(0.5 * flat))).sum(1)).astype(int)  # (B,)
    rank = np.argsort(np.argsort(-flat, axis=1, kind="stable"), axis=1, kind="stable")
    return (rank < k[:, None]).reshape(logits.shape)


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


def plausible_rate(
    model: DrumModel,
    n: int = N_PRIOR,
    seed: int = SEED,
    rule: Plausibility = Plausibility(),
    controls: DecodeControls = DecodeControls(),
) -> float:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, model.latent_dim)).astype(np.float32)
    logits, vel, off = model.decode_raw(z)
    ok = sum(rule.passes(realise(logits[k], vel[k], off[k], controls).hit) for k in range(n))
    return ok / n


def data_plausible_rate(w: Windows, rule: Plausibility = Plausibility()) -> float:
    """The same filter on real windows: how strict it is."""
    return float(np.mean([rule.passes(w.hit[k]) for k in range(len(w))]))


def evaluate(path: str, w: Windows, timing: bool = True) -> dict:
    model = DrumModel.load(path)
    rec, mu = reconstruction(model, w)
    out = {
        **rec,
        "unevenness": unevenness(model, mu),
        "metric_cv": metric_cv(model, mu),
        "plausible_rate": plausible_rate(model),
        "plausible_rate_threshold05": plausible_rate(model, controls=DecodeControls(threshold=0.5)),
    }
    if timing:
        out.update(decode_timing("drums", path))
    out["latent_dim"] = model.latent_dim
    out["windows"] = len(w)
    return out

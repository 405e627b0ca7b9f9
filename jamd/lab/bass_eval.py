"""Figures for a bass checkpoint, computed with the numpy runtime (no torch), as it will play.

* ``in_scale_rate``: share of generated notes in the scale of their step's chord.
* ``kick_lock``: share of generated onsets within one step of a kick hit, next to
  ``kick_lock_random``: the same for random onsets at equal density (per window, as many onsets
  as the model played, on uniformly drawn steps) over the same drums.
* ``latent_stability``: mean ``||mu_t - mu_{t+1}||`` between consecutive windows of one piece
  (lower = steadier), and ``latent_stability_relative``: that divided by the mean distance
  between windows of *different* pieces, which a model cannot improve by merely shrinking its
  latent. Compare against the same figures of the model trained without the penalty.
* ``onset_f1`` / ``pitch_accuracy``: reconstruction from the posterior mean, so a penalty that
  bought stability by ignoring the latent would show here.
* ``latent_reach``: how much the knobs change: the mean number of steps whose onset differs
  between decodes at the 9 points of a 3x3 grid over [-2, 2]^2 (up to 300 test windows), and
  ``latent_density_range``: the fewest and most onsets per window across that grid.
* ``decode_ms_p50`` / ``p99``: one window through ``BassModel.decode`` in a fresh process with
  one BLAS thread (what the live engine runs).

"Generated" means decoded at latent points drawn from the prior N(0, I), one per test window,
over that window's real drums and chords: what a performer gets anywhere on the XY pad.
"""

from __future__ import annotations

import numpy as np

from jamd.data.bass_corpus import BassWindows
from jamd.lab.timing import decode_timing
from jamd.model.bass import BassModel, bass_features, cond_features, to_lines
from jamd.music.drumkit import VOICE_INDEX
from jamd.music.harmony import in_scale

KICK = VOICE_INDEX["kick"]


def kick_near(hit: np.ndarray) -> np.ndarray:
    """(n, T) bool: a kick on this step or the one before or after it."""
    k = hit[..., KICK] > 0.5
    near = k.copy()
    near[:, 1:] |= k[:, :-1]
    near[:, :-1] |= k[:, 1:]
    return near


def kick_lock(onset: np.ndarray, hit: np.ndarray) -> float:
    on = onset > 0.5
    return float(kick_near(hit)[on].mean()) if on.any() else 0.0


def random_onsets(onset: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per window, as many onsets as ``onset`` has, on uniformly drawn distinct steps."""
    out = np.zeros_like(onset, dtype=np.float32)
    counts = (onset > 0.5).sum(1)
    for i, c in enumerate(counts):
        out[i, rng.choice(onset.shape[1], size=int(c), replace=False)] = 1.0
    return out


def _lines_arrays(lines) -> dict[str, np.ndarray]:
    return {k: np.stack([getattr(l, k) for l in lines]) for k in ("onset", "pitch", "velocity", "length")}


def generate(model: BassModel, cond: np.ndarray, z: np.ndarray, chunk: int = 256) -> dict[str, np.ndarray]:
    lines = []
    for s in range(0, len(cond), chunk):
        lines += to_lines(model.decode_batch(z[s : s + chunk], cond[s : s + chunk]))
    return _lines_arrays(lines)


def encode(model: BassModel, cond: np.ndarray, bass: np.ndarray, chunk: int = 256) -> np.ndarray:
    return np.concatenate(
        [model.encode_batch(cond[s : s + chunk], bass[s : s + chunk]) for s in range(0, len(cond), chunk)]
    )


def latent_figures(
    mu: np.ndarray, bw: BassWindows, rng: np.random.Generator
) -> dict[str, float | list[float] | None]:
    pairs = bw.next_pairs()
    if len(pairs) == 0:
        return {}
    jump = np.linalg.norm(mu[pairs[:, 0]] - mu[pairs[:, 1]], axis=1).mean()
    a, b = rng.integers(0, len(mu), (2, 20000))
    other = bw.piece[a] != bw.piece[b]
    # None, not NaN (which is not JSON), when every window comes from one piece
    spread = np.linalg.norm(mu[a[other]] - mu[b[other]], axis=1).mean() if other.any() else None
    return {
        "latent_stability": float(jump),
        "latent_stability_relative": None if spread is None else float(jump / spread),
        "latent_pairs": int(len(pairs)),
        "latent_std": [float(s) for s in mu.std(0)],
    }


def latent_reach(model: BassModel, cond: np.ndarray, rng: np.random.Generator, limit: int = 300) -> dict:
    cond = cond[rng.choice(len(cond), min(limit, len(cond)), replace=False)]
    grid = [(x, y) for x in (-2.0, 0.0, 2.0) for y in (-2.0, 0.0, 2.0)]
    ons = np.stack(
        [generate(model, cond, np.tile(np.array(g, np.float32), (len(cond), 1)))["onset"] for g in grid]
    )
    diffs = [(ons[i] != ons[j]).sum(1).mean() for i in range(len(grid)) for j in range(i + 1, len(grid))]
    density = ons.sum(2).mean(1)
    return {
        "latent_reach": float(np.mean(diffs)),
        "latent_density_range": [float(density.min()), float(density.max())],
    }


def evaluate(path: str, bw: BassWindows, seed: int = 0, timing: bool = True) -> dict:
    model = BassModel.load(path)
    rng = np.random.default_rng(seed)
    cond = cond_features(bw.drum_hit, bw.drum_velocity, bw.root, bw.quality)
    mu = encode(model, cond, bass_features(bw.onset, bw.pitch, bw.velocity, bw.length))
    gen = generate(model, cond, rng.standard_normal((len(bw), model.latent)).astype(np.float32))
    on = gen["onset"] > 0.5
    rec = generate(model, cond, mu)
    r_on, t_on = rec["onset"] > 0.5, bw.onset > 0
    both = r_on & t_on
    out = {
        "in_scale_rate": float(in_scale(gen["pitch"][on], bw.quality[on]).mean()) if on.any() else 0.0,
        "kick_lock": kick_lock(gen["onset"], bw.drum_hit),
        "kick_lock_random": float(
            np.mean([kick_lock(random_onsets(gen["onset"], rng), bw.drum_hit) for _ in range(5)])
        ),
        "onsets_per_window": float(on.sum(1).mean()),
        **latent_figures(mu, bw, rng),
        **(latent_reach(model, cond, rng) if model.latent == 2 else {}),
        "onset_f1": float(2 * both.sum() / max(r_on.sum() + t_on.sum(), 1)),
        "pitch_accuracy": float((rec["pitch"][both] == bw.pitch[both]).mean()) if both.any() else 0.0,
        "data": {
            "windows": len(bw),
            "in_scale_rate": float(in_scale(bw.pitch[t_on], bw.quality[t_on]).mean()),
            "kick_lock": kick_lock(bw.onset, bw.drum_hit),
            "onsets_per_window": float(t_on.sum(1).mean()),
        },
    }
    if timing:
        out.update(decode_timing("bass", path))
    return out

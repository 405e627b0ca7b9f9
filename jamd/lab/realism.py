"""Would a listener take played patterns for a human's? Two answers, numpy only:

* a classifier test: an L2-regularised logistic regression on the binarised 9 x 32 grids learns
  real from generated; its held-out accuracy is the figure (0.5: it cannot tell them apart;
  1: every pattern gives itself away). Folds are split by *group* (a real window's file, a pad
  pattern's seed file), so the classifier cannot win by recognising one performance on both
  sides of a fold; both classes are subsampled to the same size, so 0.5 is chance.
* feature distances: the 1-D Wasserstein distance between the per-window distributions of a few
  musical features of generated and real patterns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jamd.music.drumkit import VOICE_INDEX
from jamd.music.grid import BEATS_PER_BAR, STEPS_PER_BEAT

FOLDS = 5
L2 = 1e-2  # on the mean log-loss; weak: 288 binary features, ~1,600 training rows per fold
NEWTON_STEPS = 25
QUANTILES = 200  # for the Wasserstein distance


# ---------------------------------------------------------------------------- classifier


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = NEWTON_STEPS) -> np.ndarray:
    """Weights (bias last) minimising the class-balanced mean log-loss + l2/2 |w|^2 (bias
    unpenalised), by Newton's method: the objective is strictly convex, so it converges in a few
    steps from 0. Balanced: each class weighs half whatever its count, so a fold that happens to
    hold more of one class does not tilt the bias towards the other."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    share = 0.5 / np.array([max((y == c).sum(), 1) for c in (0, 1)])[y.astype(int)]  # sums to 1
    w = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(steps):
        p = 0.5 * (1 + np.tanh(0.5 * (xb @ w)))
        grad = xb.T @ (share * (p - y)) + reg * w
        hess = (xb.T * (share * p * (1 - p))) @ xb + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (x @ w[:-1] + w[-1]) > 0


def fold_of(groups: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """A fold per row: whole groups dealt round-robin in a random order."""
    uniq, inv = np.unique(groups, return_inverse=True)
    order = np.empty(len(uniq), np.int64)
    order[rng.permutation(len(uniq))] = np.arange(len(uniq))
    return (order % k)[inv]


def heldout_accuracy(
    real: np.ndarray,
    real_groups: np.ndarray,
    fake: np.ndarray,
    fake_groups: np.ndarray,
    folds: int = FOLDS,
    seed: int = 0,
) -> float | None:
    """Cross-validated accuracy of real-vs-fake on (n, D) rows, grouped folds, balanced classes
    (subsampled to one size; the mean of the two classes' accuracies, as folds split unevenly).
    None when either side has fewer than two groups (no fold could hold it out)."""
    rng = np.random.default_rng(seed)
    n = min(len(real), len(fake))
    ri = np.sort(rng.choice(len(real), size=n, replace=False))
    fi = np.sort(rng.choice(len(fake), size=n, replace=False))
    x = np.vstack([real[ri], fake[fi]]).astype(np.float64)
    y = np.concatenate([np.zeros(n), np.ones(n)])
    groups = np.concatenate([real_groups[ri], fake_groups[fi]])
    if len(np.unique(real_groups[ri])) < 2 or len(np.unique(fake_groups[fi])) < 2:
        return None
    fold = fold_of(groups, min(folds, len(np.unique(groups))), rng)
    correct = np.zeros(len(y), bool)
    for k in np.unique(fold):
        train, held = fold != k, fold == k
        if len(np.unique(y[train])) < 2:  # a fold holding out a whole class: nothing to learn
            continue  # (counted wrong)
        correct[held] = predict(fit_logistic(x[train], y[train]), x[held]) == y[held]
    return float(0.5 * (correct[y == 0].mean() + correct[y == 1].mean()))


# ------------------------------------------------------------------------------ features


@dataclass(frozen=True)
class FeatureDistances:
    """Wasserstein-1 distances between per-window feature distributions (generated vs real)."""

    hits: float  # hits per window
    voice_rate: float  # per voice: share of steps hit; the mean over voices
    kick_downbeat: float  # share of the bars' first steps with a kick
    snare_backbeat: float  # share of beats 2 and 4 with a snare
    off_8th: float  # share of the window's hits on a 16th between two 8ths


def window_features(hit: np.ndarray) -> dict[str, np.ndarray]:
    """Per-window features of (n, T, V) bool hits; ``voice_rate`` is (n, V), the others (n,)."""
    T = hit.shape[1]
    bar = BEATS_PER_BAR * STEPS_PER_BEAT
    downbeats = np.arange(0, T, bar)
    backbeats = np.concatenate([np.arange(b * STEPS_PER_BEAT, T, bar) for b in (1, 3)])
    count = hit.sum((1, 2))
    off = hit[:, np.arange(T) % (STEPS_PER_BEAT // 2) != 0].sum((1, 2))  # 16ths between the 8ths
    return {
        "hits": count.astype(np.float64),
        "voice_rate": hit.mean(1),
        "kick_downbeat": hit[:, downbeats, VOICE_INDEX["kick"]].mean(1),
        "snare_backbeat": hit[:, backbeats, VOICE_INDEX["snare"]].mean(1),
        "off_8th": off / np.maximum(count, 1),
    }


def wasserstein(a: np.ndarray, b: np.ndarray, n: int = QUANTILES) -> float:
    """W1 distance of two 1-D samples, by their quantile functions on a common grid."""
    q = (np.arange(n) + 0.5) / n
    return float(np.abs(np.quantile(a, q) - np.quantile(b, q)).mean())


def feature_distances(fake: np.ndarray, real: np.ndarray) -> FeatureDistances:
    f, r = window_features(fake), window_features(real)
    voices = f["voice_rate"].shape[1]
    return FeatureDistances(
        hits=wasserstein(f["hits"], r["hits"]),
        voice_rate=float(
            np.mean([wasserstein(f["voice_rate"][:, v], r["voice_rate"][:, v]) for v in range(voices)])
        ),
        kick_downbeat=wasserstein(f["kick_downbeat"], r["kick_downbeat"]),
        snare_backbeat=wasserstein(f["snare_backbeat"], r["snare_backbeat"]),
        off_8th=wasserstein(f["off_8th"], r["off_8th"]),
    )

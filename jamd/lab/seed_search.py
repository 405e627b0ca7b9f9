"""Is the drum model's seed held back by its encoder or by its decoder? Search each window's code
for the one whose decode fits the window best, and play it as the daemon would.

The search starts at the encoder's mean and descends the window's reconstruction loss (hit
cross-entropy, plus ``timing_weight`` times the velocity and offset errors on its hits) by Adam
on central finite differences (2 d decodes a step, batched): slow (about 5 ms a window a step
here), so a measurement, not a live path. The gap between ``encoder`` and ``searched`` rows is
what a better encoder could still win with this decoder (docs/models.md).

    python -m jamd.lab.seed_search MODEL [--windows 400] [--steps 40] [--timing-weight 0]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

import numpy as np

from jamd.base.paths import default_data_dir
from jamd.data.corpus import Windows, WindowSettings, load_corpus
from jamd.lab.drum_played import Played, encode_means, play
from jamd.lab.drum_seed import SeedFigures, others, seed_figures
from jamd.model.drums import DrumModel

FD_STEP = 0.05  # finite-difference step, in posterior standard deviations of the window


def window_loss(model: DrumModel, z: np.ndarray, true: Played, timing_weight: float) -> np.ndarray:
    """(n,) reconstruction loss of each row of ``z`` (n, d) against ``true``'s rows."""
    logits, vel, off = model.decode_raw(z)  # (n, T, V) each
    hit = true.hit.astype(np.float32)
    loss = (np.logaddexp(0.0, logits) - hit * logits).sum((1, 2))
    if timing_weight:
        err = np.abs(vel - true.velocity) + np.abs(off - true.offset)
        loss += timing_weight * (err * hit).sum((1, 2))
    return loss


def search_codes(
    model: DrumModel,
    true: Played,
    mu: np.ndarray,
    sd: np.ndarray,
    steps: int,
    lr: float,
    timing_weight: float,
) -> list[np.ndarray]:
    """The codes after each step, starting at ``mu`` (n, d); ``sd`` (n, d) scales the steps."""
    n, d = mu.shape
    eye = np.eye(d, dtype=np.float32)
    rows = np.repeat(np.arange(n), 2 * d)
    wide = Played(true.hit[rows], true.velocity[rows], true.offset[rows])
    z, m, v = mu.copy(), np.zeros_like(mu), np.zeros_like(mu)
    out = []
    for k in range(1, steps + 1):
        h = FD_STEP * sd  # (n, d)
        probes = np.concatenate(
            [z[:, None] + eye * h[:, None], z[:, None] - eye * h[:, None]], 1
        )  # (n, 2d, d)
        loss = window_loss(model, probes.reshape(-1, d), wide, timing_weight).reshape(n, 2, d)
        grad = (loss[:, 0] - loss[:, 1]) / (2 * h)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        z = z - lr * sd * (m / (1 - 0.9**k)) / (np.sqrt(v / (1 - 0.999**k)) + 1e-8)
        out.append(z.copy())
    return out


def compare(
    model: DrumModel, w: Windows, steps: int, lr: float, timing_weight: float
) -> dict[str, SeedFigures]:
    """Seed figures of the encoder's means and of the searched codes at a few step counts."""
    true = Played.from_windows(w)
    rivals = others(w.file)
    mu, logvar = encode_means(model, w)
    codes = search_codes(model, true, mu, np.exp(0.5 * logvar), steps, lr, timing_weight)
    shown = sorted({s for s in (steps // 4, steps // 2, steps) if s > 0})
    out = {"encoder": seed_figures(true, play(model, mu), rivals)}
    for s in shown:
        out[f"searched, {s} steps"] = seed_figures(true, play(model, codes[s - 1]), rivals)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m jamd.lab.seed_search", description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--split", default="validation")
    ap.add_argument("--windows", type=int, default=400, help="random windows of the split (fixed seed)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--lr", type=float, default=0.3, help="Adam step, in posterior standard deviations")
    ap.add_argument("--timing-weight", type=float, default=0.0, help="weight of velocity + offset errors")
    args = ap.parse_args(argv)
    root = default_data_dir()
    if root is None:
        ap.error("no Groove MIDI Dataset: set JAMD_DATA to the folder with info.csv")
    corpus = load_corpus(root, WindowSettings())
    split = corpus.splits[args.split]
    idx = np.sort(np.random.default_rng(0).choice(len(split), min(args.windows, len(split)), replace=False))
    w = Windows(split.hit[idx], split.velocity[idx], split.offset[idx], split.file[idx], split.bar[idx])
    rows = compare(DrumModel.load(args.model), w, args.steps, args.lr, args.timing_weight)
    print(
        json.dumps(
            {k: {f: round(x, 4) for f, x in asdict(v).items() if x is not None} for k, v in rows.items()}
        )
    )


if __name__ == "__main__":
    main()

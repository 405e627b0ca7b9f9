"""Training the bass VAE (torch): batches of consecutive window pairs, validation, checkpoint.

Every batch is ``B`` pairs (t, t+1) of consecutive windows of one piece, so the stability
penalty always has its pairs; the comparison model (``stability=0``) sees exactly the same
batches. Deterministic for a seed on the CPU (seeded shuffles and noise, one torch thread).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jamd.data.bass_corpus import PLAYED_SPLIT, BassWindows
from jamd.model.bass import ATTRIBUTES, KIND, bass_features, cond_features, representation
from jamd.model.checkpoint import save_checkpoint, update_card
from jamd.training.bass_vae import (
    BassLossConfig,
    BassVAE,
    BassVAEConfig,
    attribute_term,
    loss_terms,
    recon_terms,
    targets,
)
from jamd.training.drum_train import export_tensors, latent_plane, machine_record


@dataclass
class BassTrainSettings:
    steps: int = 6000  # optimiser steps; a few minutes on one core for the default size
    batch: int = 64  # pairs per step, i.e. 128 windows
    lr: float = 2e-3  # AdamW; a small transformer tolerates a brisk rate
    eval_every: int = 250  # steps between validation passes (and checkpoint saves)
    seed: int = 0
    max_minutes: float = 0.0  # wall-clock budget (0 = none): stop and keep the best so far
    threads: int = 1  # one torch thread: deterministic, and the box is shared
    clip: float = 1.0


@dataclass
class Arrays:
    """Everything the network reads, precomputed once as tensors."""

    cond: torch.Tensor
    bass: torch.Tensor
    target: dict[str, torch.Tensor]
    pairs: np.ndarray  # (m, 2) consecutive windows

    @classmethod
    def of(cls, bw: BassWindows) -> Arrays:
        cond = cond_features(bw.drum_hit, bw.drum_velocity, bw.root, bw.quality)
        bass = bass_features(bw.onset, bw.pitch, bw.velocity, bw.length)
        return cls(
            torch.from_numpy(cond),
            torch.from_numpy(bass),
            targets(bw.onset, bw.pitch, bw.velocity, bw.length),
            bw.next_pairs(),
        )

    def batch(self, idx: np.ndarray) -> dict[str, torch.Tensor]:
        t = torch.from_numpy(idx)
        return {"cond": self.cond[t], "bass": self.bass[t]} | {k: v[t] for k, v in self.target.items()}


@torch.no_grad()
def validate(model: BassVAE, data: Arrays, loss_cfg: BassLossConfig, chunk: int = 512) -> dict[str, float]:
    """Reconstruction from the posterior mean, KL and stability over all validation pairs."""
    model.eval()
    sums: dict[str, float] = {}
    n = len(data.pairs)
    for s in range(0, n, chunk):
        p = data.pairs[s : s + chunk]
        batch = data.batch(np.concatenate([p[:, 0], p[:, 1]]))
        mu, logvar = model.encode(batch["cond"], batch["bass"])
        terms = recon_terms(model.decode(mu, batch["cond"]), batch, loss_cfg)
        terms["kl"] = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).sum(-1).mean()
        terms["stab"] = ((mu[: len(p)] - mu[len(p) :]) ** 2).sum(-1).mean()
        terms["attr"] = attribute_term(mu, batch["attrs"], loss_cfg.attribute_sharpness)
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(p)
    model.train()
    out = {k: v / max(n, 1) for k, v in sums.items()}
    out["recon"] = out["onset"] + out["pitch"] + out["velocity"] + out["length"]
    return out


@torch.no_grad()
def posterior_means(model: BassVAE, data: Arrays, limit: int = 4096, chunk: int = 1024) -> np.ndarray:
    """Codes of (an evenly spaced subset of at most ``limit``) windows: enough for the plane."""
    model.eval()
    idx = torch.from_numpy(np.linspace(0, len(data.cond) - 1, min(limit, len(data.cond))).astype(np.int64))
    mus = [
        model.encode(data.cond[idx[s : s + chunk]], data.bass[idx[s : s + chunk]])[0]
        for s in range(0, len(idx), chunk)
    ]
    model.train()
    return torch.cat(mus).numpy()


def named_plane(mu: np.ndarray, named: bool) -> dict[str, Any]:
    """The pad's plane. With named axes (the attribute term on): x and y are latent dimensions 0
    and 1 themselves, centred in and spread over the middle 95 % of the training codes, so a
    full throw reaches the 2.5th and 97.5th percentiles and never extrapolates. Without: the
    principal axes (as the drum model)."""
    if not named:
        return latent_plane(mu)
    lo, hi = np.percentile(mu, [2.5, 97.5], axis=0)
    return {
        "center": ((lo + hi) / 2).astype(np.float32).tolist(),
        "axes": np.eye(2, mu.shape[1], dtype=np.float32).tolist(),
        "spread": ((hi - lo) / 2)[:2].astype(np.float32).tolist(),
        "names": list(ATTRIBUTES),
        "range": "central 95 % of the training codes",
    }


def save_bass_model(path: Path, model: BassVAE, plane: dict, training: dict) -> Path:
    card = {
        "kind": KIND,
        "config": model.cfg.to_dict(),
        "representation": representation(model.cfg.steps),
        "plane": plane,
        "training": training,
        "metrics": {},
    }
    return save_checkpoint(path, export_tensors(model), card)


def train_bass(
    splits: dict[str, BassWindows],
    out: Path,
    model_cfg: BassVAEConfig,
    loss_cfg: BassLossConfig,
    settings: BassTrainSettings,
    data_info: dict[str, Any],
    report: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train; each time the validation reconstruction improves, write the checkpoint at ``out``
    (an interrupted run still leaves a usable model). Returns the training record."""
    t0 = time.perf_counter()
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed + 1)
    # the windows over a drum model's playing (--played-drums) train; the pad spans the corpus's
    # own codes, which the eval holds it to
    corpus = Arrays.of(splits["train"])
    played = splits.get(PLAYED_SPLIT)
    train = corpus if played is None else Arrays.of(splits["train"].join(played))
    val = Arrays.of(splits["validation"])
    if len(train.pairs) == 0 or len(val.pairs) == 0:
        raise ValueError(
            "training and validation both need consecutive windows of one piece "
            f"(found {len(train.pairs)} and {len(val.pairs)} pairs)"
        )
    model = BassVAE(model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.01)
    # short warm-up, then cosine decay to 5 %: the last steps polish rather than wander
    warm = max(1, settings.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: min(1.0, (s + 1) / warm) * max(0.05, 0.5 * (1 + math.cos(math.pi * s / settings.steps))),
    )
    # the untrained model's validation figures: what every later entry is measured against
    history = [{"step": 0, "validation": {k: round(v, 4) for k, v in validate(model, val, loss_cfg).items()}}]
    best, best_step, stop = math.inf, 0, "steps"
    sums: dict[str, float] = {}
    for step in range(1, settings.steps + 1):
        p = train.pairs[rng.integers(0, len(train.pairs), settings.batch)]
        loss, terms = loss_terms(model, train.batch(np.concatenate([p[:, 0], p[:, 1]])), loss_cfg, step, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
        opt.step()
        sched.step()
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + v
        last = step == settings.steps or (
            settings.max_minutes and time.perf_counter() - t0 > settings.max_minutes * 60
        )
        if step % settings.eval_every and not last:
            continue
        n = settings.eval_every if step % settings.eval_every == 0 else step % settings.eval_every
        entry = {
            "step": step,
            "train": {k: round(v / n, 4) for k, v in sums.items()},
            "validation": {k: round(v, 4) for k, v in validate(model, val, loss_cfg).items()},
            "elapsed_s": round(time.perf_counter() - t0, 1),
        }
        sums = {}
        history.append(entry)
        # only once the KL is fully on does the objective stop moving under the model's feet
        improved = (
            step >= loss_cfg.kl_warmup_steps
            and entry["validation"]["recon"] < best
            or last
            and best_step == 0
        )
        if improved:
            best, best_step = entry["validation"]["recon"], step
            record = _record(
                splits, model_cfg, loss_cfg, settings, data_info, history, best_step, "running", t0
            )
            named = loss_cfg.attribute > 0
            # named axes: every training code, so the pad's reach is their exact 95 % range
            codes = posterior_means(model, corpus, limit=len(corpus.cond) if named else 4096)
            save_bass_model(out, model, named_plane(codes, named), record)
        if report:
            report({"event": "eval", **entry, "improved": improved})
        if last:
            stop = "steps" if step == settings.steps else "time budget"
            break
    record = _record(splits, model_cfg, loss_cfg, settings, data_info, history, best_step, stop, t0)
    update_card(out, training=record)
    return record


def _record(splits, model_cfg, loss_cfg, settings, data_info, history, best_step, stop, t0) -> dict[str, Any]:
    return {
        "data": {
            **data_info,
            "windows": {k: len(v) for k, v in splits.items()},
            "pairs": {k: len(v.next_pairs()) for k, v in splits.items()},
        },
        "loss": loss_cfg.to_dict(),
        "settings": asdict(settings),
        "best_step": best_step,
        "stop_reason": stop,
        "wall_time_s": round(time.perf_counter() - t0, 1),
        "machine": machine_record(settings.threads),
        "history": history,
    }

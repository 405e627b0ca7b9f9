"""Training the drum VAE (torch): the loop, early stopping, the latent plane, the checkpoint.

Deterministic for a seed on the CPU: the shuffle, the initialisation, the reparameterisation
noise and the mixup points all come from seeded generators, and torch runs on one thread.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jamd import __version__
from jamd.data.augment import NO_AUGMENT, AugmentConfig, Batch, SameFile, augment
from jamd.data.corpus import Corpus, Windows
from jamd.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint, update_card
from jamd.model.plane import CodeDensity, LatentPlane, home_xy
from jamd.music.drumkit import VOICES
from jamd.music.grid import STEPS_PER_BEAT
from jamd.training.drum_vae import DrumVAE, DrumVAEConfig, LossConfig, features, loss_terms, validation_loss
from jamd.training.resume import Progress, RunState, load_state, plain, save_state

KIND = "drums"


@dataclass
class TrainSettings:
    epochs: int = 40  # upper bound; early stopping usually ends sooner
    batch: int = 128  # small enough for many updates per epoch on ~16k windows
    lr: float = 1e-3  # Adam; the usual RNN-VAE rate
    patience: int = 6  # epochs without a better validation loss before stopping
    seed: int = 0  # everything random is drawn from this
    max_minutes: float = 0.0  # wall-clock budget (0 = none): stop and keep the best so far
    max_windows: int = 0  # use only this many training windows (0 = all): quick trials
    threads: int = 1  # torch threads; 1 keeps runs deterministic and the box shared
    clip: float = 1.0  # gradient-norm clip: GRUs occasionally spike early on
    min_warmup_updates: int = 250  # warm-ups last at least this many updates: on a small folder an
    # "epoch" is a handful of batches, too few for the decoder to learn
    # to read z before the KL (and flatness) bite (GMD: 127 per epoch)


def window_arrays(w: Windows, limit: int = 0) -> Batch:
    n = len(w) if not limit else min(limit, len(w))
    return Batch(w.hit[:n].astype(np.float32), w.velocity[:n].copy(), w.offset[:n].copy(), np.arange(n))


def window_tensors(b: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.from_numpy(b.hit), torch.from_numpy(b.velocity), torch.from_numpy(b.offset)


def _take(b: Batch, idx: np.ndarray) -> Batch:
    return Batch(b.hit[idx], b.velocity[idx], b.offset[idx], idx)


class InitError(ValueError):
    """A warm-start checkpoint that does not fit the model being trained."""


def load_init(model: DrumVAE, path: Path) -> dict[str, Any]:
    """Start ``model`` from the weights of the drum checkpoint at ``path``, which must have the
    same network; returns what the card records of it."""
    ckpt = load_checkpoint(path, kind=KIND)
    want = plain(model.cfg.to_dict())
    if ckpt.config != want:
        differ = sorted(k for k in set(want) | set(ckpt.config) if ckpt.config.get(k) != want.get(k))
        sizes = ", ".join(f"{k} {ckpt.config.get(k)} (this run: {want.get(k)})" for k in differ)
        raise InitError(f"{path}: --init needs a model of the same network; it differs in {sizes}")
    model.load_state_dict(torch_state(ckpt))
    return {"path": str(path), "weights_sha256": ckpt.card["weights_sha256"]}


def torch_state(ck: Checkpoint) -> dict[str, torch.Tensor]:
    """A checkpoint's weights as a torch state dict (copies: torch never shares the loaded arrays)."""
    return {k: torch.from_numpy(v.copy()) for k, v in ck.tensors.items()}


@torch.no_grad()
def posterior_means(model: DrumVAE, hit, velocity, offset, batch: int = 1024) -> np.ndarray:
    model.eval()
    mus = [
        model.encoder(features(hit[s : s + batch], velocity[s : s + batch], offset[s : s + batch]))[0]
        for s in range(0, hit.shape[0], batch)
    ]
    model.train()
    return torch.cat(mus).numpy()


def latent_plane(mu: np.ndarray) -> dict[str, Any]:
    """The plane the controller walks: the training codes' mean (home), their two principal axes
    (unit vectors, sign fixed so the largest component is positive) and the std along each;
    their covariance, the Gaussian a sample of the model is drawn from (`DrumModel.prior`); and
    their density on the home plane (what the map and the web page draw)."""
    center = mu.mean(0)
    cov = np.cov((mu - center).T).reshape(mu.shape[1], mu.shape[1])
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:2]
    axes = vecs[:, order].T  # (2, d)
    axes *= np.sign(axes[np.arange(2), np.abs(axes).argmax(1)])[:, None]
    spread = np.sqrt(np.maximum(vals[order], 0))
    home = LatentPlane(center, axes[0] * spread[0], axes[1] * spread[1])
    return {
        "center": center.astype(np.float32).tolist(),
        "axes": axes.astype(np.float32).tolist(),
        "spread": spread.astype(np.float32).tolist(),
        "covariance": cov.astype(np.float32).tolist(),
        "density": CodeDensity.of_codes(home_xy(home, mu)).to_card(),
    }


def export_tensors(model: DrumVAE) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}


def representation(cfg: DrumVAEConfig) -> dict[str, Any]:
    return {
        "steps": cfg.steps,
        "steps_per_beat": STEPS_PER_BEAT,
        "voices": list(VOICES[: cfg.voices]),
        "features": ["hit", "velocity", "offset"],
        "velocity_range": [0.0, 1.0],
        "offset_range": [-0.5, 0.5],
        "decoder_mean": "hit probabilities (steps x voices)",
    }


def save_drum_model(path: Path, model: DrumVAE, plane: dict, training: dict) -> Path:
    card = {
        "kind": KIND,
        "config": model.cfg.to_dict(),
        "representation": representation(model.cfg),
        "plane": plane,
        "training": training,
        "metrics": {},
    }
    return save_checkpoint(path, export_tensors(model), card)


def train(
    corpus: Corpus,
    out: Path,
    model_cfg: DrumVAEConfig,
    loss_cfg: LossConfig,
    settings: TrainSettings,
    data_info: dict[str, Any] | None = None,
    report: Callable[[dict[str, Any]], None] | None = None,
    resume: bool = False,
    augmentation: AugmentConfig = NO_AUGMENT,
    init: Path | None = None,
) -> dict[str, Any]:
    """Train, keep the epoch with the best validation loss, write the checkpoint at ``out`` (each
    time validation improves, so an interrupted run still leaves a usable model) and the run's
    state at ``OUT.resume.pt`` after every epoch; ``resume`` continues from that state, to the
    result the unbroken run would have had. ``augmentation``: drawn for every training batch;
    ``init``: start from that checkpoint's weights (same network) instead of random ones, with
    the warm-ups as given (not stretched: the model already reads z). Returns the training
    record for the model card."""
    t0 = time.perf_counter()
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    train_a = window_arrays(corpus.splits["train"], settings.max_windows)
    train_t = window_tensors(train_a)
    if "validation" not in corpus.splits or len(corpus.splits["validation"]) == 0:
        raise ValueError("no validation windows: early stopping needs a validation split")
    val_t = window_tensors(window_arrays(corpus.splits["validation"]))
    n = train_t[0].shape[0]
    if n == 0:
        raise ValueError("no training windows")
    same_file = SameFile(corpus.splits["train"].file[:n])
    model = DrumVAE(model_cfg)
    # only what is used is recorded, so the cards and resume states of other runs stay as before
    extra: dict[str, Any] = {"augment": augmentation.to_dict()} if augmentation else {}
    if init is not None:
        extra["init"] = load_init(model, init)
    run = RunState(
        model,
        torch.optim.Adam(model.parameters(), lr=settings.lr),
        np.random.default_rng(settings.seed),
        torch.Generator().manual_seed(settings.seed + 1),
    )
    batches = max(1, math.ceil(n / settings.batch))
    if init is None:
        loss_cfg = _stretch_warmups(loss_cfg, settings.min_warmup_updates / batches)
    # the best epoch only counts once the objective is the final one (KL fully on, flatness on)
    first_eligible = math.ceil(
        max(
            loss_cfg.kl_warmup_epochs,
            loss_cfg.flat_start_epoch + loss_cfg.flat_warmup_epochs if loss_cfg.flat_weight > 0 else 0.0,
        )
    )
    identity = plain(  # what makes two runs the same run (plain types: the resume file holds it)
        {
            "model": model_cfg.to_dict(),
            "loss": loss_cfg.to_dict(),
            "settings": {**asdict(settings), **extra},
            "data": {"train_windows": n, "validation_windows": int(val_t[0].shape[0])},
        }
    )
    prog = Progress()
    if resume:
        prog = load_state(out, run, identity)
        prog.resumes += 1
        if report:
            report({"event": "resume", "epoch": prog.epoch, "best_epoch": prog.best_epoch})
    if data_info and "command" in data_info:
        prog.segments.append(data_info["command"])

    def elapsed() -> float:
        return prog.elapsed_s + time.perf_counter() - t0

    def record(stop_reason: str) -> dict[str, Any]:
        return _record(corpus, loss_cfg, settings, extra, data_info, prog, elapsed(), stop_reason)

    stop_reason = prog.stopped or "epochs"
    while not prog.stopped and prog.epoch < settings.epochs:
        epoch = prog.epoch
        epoch_start = elapsed()
        perm = run.rng.permutation(n)
        sums: dict[str, float] = {}
        for b in range(batches):
            batch = _take(train_a, perm[b * settings.batch : (b + 1) * settings.batch])
            if augmentation:
                batch = augment(batch, augmentation, run.rng, train_a, same_file)
            loss, terms = loss_terms(model, *window_tensors(batch), loss_cfg, epoch + b / batches, run.gen)
            run.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
            run.opt.step()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v
            if report:
                report({"event": "batch", "epoch": epoch, "batch": b + 1, "batches": batches, **terms})
        val = validation_loss(model, *val_t, loss_cfg)
        prog.epoch = epoch + 1
        entry = {
            "epoch": epoch + 1,
            "train": {k: round(v / batches, 4) for k, v in sums.items()},
            "validation": {k: round(v, 4) for k, v in val.items()},
            "elapsed_s": round(elapsed(), 1),
        }
        prog.history.append(entry)
        improved = epoch + 1 >= first_eligible and val["loss"] < prog.best
        if improved:
            prog.best, prog.best_epoch = val["loss"], epoch + 1
            save_drum_model(out, model, latent_plane(posterior_means(model, *train_t)), record("running"))
        if prog.best_epoch > 0 and epoch + 1 - prog.best_epoch >= settings.patience:
            prog.stopped = stop_reason = "early stop"
        elif settings.max_minutes and 2 * elapsed() - epoch_start > settings.max_minutes * 60:
            # another epoch as long as this one would end past the budget: a budget is a promise
            # ("done by the end of the sound check"), not a point to start the last epoch from
            stop_reason = "time budget"
        save_state(out, run, _segment_end(prog, elapsed()), identity)
        if report:
            report({"event": "epoch", **entry, "best_epoch": prog.best_epoch, "improved": improved})
        if stop_reason != "epochs":
            break
    if prog.best_epoch < 0:  # fewer epochs than the warm-up: keep the last one
        prog.best_epoch, prog.best = len(prog.history), prog.history[-1]["validation"]["loss"]
        rec = record(stop_reason)
        save_drum_model(out, model, latent_plane(posterior_means(model, *train_t)), rec)
        return rec
    # rewrite only the card's training record (final wall time, stop reason); the weights on
    # disk are the best epoch's
    rec = record(stop_reason)
    update_card(out, training=rec)
    return rec


def _stretch_warmups(loss_cfg: LossConfig, floor: float) -> LossConfig:
    """On a small set an epoch is a few batches: warm-ups last at least ``floor`` epochs."""
    if floor > loss_cfg.kl_warmup_epochs or floor > loss_cfg.flat_start_epoch:
        return replace(
            loss_cfg,
            kl_warmup_epochs=max(loss_cfg.kl_warmup_epochs, floor),
            flat_start_epoch=max(loss_cfg.flat_start_epoch, floor),
        )
    return loss_cfg


def _segment_end(prog: Progress, elapsed: float) -> Progress:
    """The progress as a resumed run must see it: its earlier segments took ``elapsed``."""
    return replace(prog, elapsed_s=elapsed)


def _record(
    corpus: Corpus,
    loss_cfg: LossConfig,
    settings: TrainSettings,
    extra: dict[str, Any],
    data_info: dict[str, Any] | None,
    prog: Progress,
    wall: float,
    stop_reason: str,
) -> dict[str, Any]:
    windows = {k: len(v) for k, v in corpus.splits.items()}
    if settings.max_windows:
        windows["train"] = min(windows["train"], settings.max_windows)
    return {
        "data": {
            "root": corpus.root,
            **(data_info or {}),
            "windows": windows,
            "files": {s: sum(1 for f in corpus.files if f.split == s) for s in corpus.splits},
            "window_settings": asdict(corpus.settings),
        },
        "loss": loss_cfg.to_dict(),
        "settings": {**asdict(settings), **extra},
        "best_epoch": prog.best_epoch,
        "best_validation_loss": round(prog.best, 4),
        "epochs_run": len(prog.history),
        "resumes": prog.resumes,
        "segments": prog.segments,  # a resumed run: the command of each stretch of training
        "stop_reason": stop_reason,
        "wall_time_s": round(wall, 1),
        "machine": machine_record(settings.threads),
        "history": prog.history,
    }


def machine_record(threads: int) -> dict[str, Any]:
    """Where a model was trained, for its card."""
    return {
        "cpu_threads": threads,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "jamd": __version__,
    }

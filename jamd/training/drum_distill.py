"""Distilling a drum model's decoder into a faster one (torch): same encoder, same latent space.

The live engine decodes at every pad move, and a GRU decoder is 32 recurrent steps of numpy
calls (~0.35 ms). An MLP decoder (`jamd.training.drum_vae.MlpDecoder`) is a few matrix-vector
products (~0.05 ms) but does not learn the flat latent space well from the data alone. So it is
trained to copy a trained decoder (the *teacher*) at the codes the live engine decodes: the
training windows' codes, the pad's plane around them out past its radius, random directions
around them (the seed search's probes), lines between two codes (``jamd interpolate``) and prior
samples. The encoder, the card's plane, pad and seed-search settings are the teacher's: the
student plays the same latent space, and ``jamd eval drums`` judges it as any other model.

Deterministic for a seed on the CPU (seeded generators, one torch thread).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from jamd.data.corpus import Corpus
from jamd.model.checkpoint import load_checkpoint, save_checkpoint
from jamd.model.drums import DecodeControls, choose_hits, covariance_factor, pad_defaults
from jamd.model.plane import card_plane
from jamd.training.drum_train import (
    export_tensors,
    posterior_means,
    torch_state,
    window_arrays,
    window_tensors,
)
from jamd.training.drum_vae import DecoderArch, DrumVAE, DrumVAEConfig

KIND = "drums"
#: the card sections a student plays by exactly as its teacher (one latent space)
SHARED = ("representation", "plane", "pad", "seed_search")


@dataclass
class DistillSettings:
    width: int = 512  # hidden units per layer
    layers: int = 2  # hidden layers
    updates: int = 12000  # Adam steps (a fixed count: the same run gives the same model)
    batch: int = 512
    lr: float = 2e-3  # cosine-decayed to lr/100 over the updates
    pool: int = 200_000  # codes the teacher decodes once, drawn from `CodeCloud`
    # the velocity and offset errors (on the teacher's likely hits) against the logit errors: the
    # seed's timing has the least to spare (docs/models.md)
    offset_weight: float = 50.0
    # below this teacher logit (p < 0.0003) a cell is never played: the student need only stay
    # below it too, and spends its capacity on the cells that can be
    logit_floor: float = -8.0
    seed: int = 0
    threads: int = 1
    max_windows: int = 0  # codes of only this many training windows (0 = all): quick runs


@dataclass(frozen=True)
class CodeCloud:
    """Where the live engine decodes, around a model's training codes ``codes`` (N, d):
    ``chol`` the Cholesky factor of their covariance, ``axes`` the pad's two latent directions
    (2, d) at one unit of x or y, ``radius`` the pad's reach in those units."""

    codes: torch.Tensor
    chol: torch.Tensor
    axes: torch.Tensor
    radius: float

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` codes (n, d), a quarter from each of: the pad's plane around a training code
        (out to 1.25 radii), a random direction around one (whitened, out to one radius), a
        line through two codes (a little beyond each end), the prior."""
        N, d = self.codes.shape
        q = n // 4
        base = self.codes[torch.randint(N, (n,), generator=gen)]  # (n, d)
        theta = torch.rand(q, 1, generator=gen) * 2 * math.pi
        r = torch.rand(q, 1, generator=gen) * 1.25 * self.radius
        on_plane = base[:q] + r * self.along_plane(theta)
        u = torch.randn(q, d, generator=gen)
        u = u / u.norm(dim=1, keepdim=True) * torch.rand(q, 1, generator=gen) * self.radius
        around = base[q : 2 * q] + u @ self.chol.T
        a = torch.rand(q, 1, generator=gen) * 1.5 - 0.25
        other = self.codes[torch.randint(N, (q,), generator=gen)]
        between = (1 - a) * base[2 * q : 3 * q] + a * other
        prior = self.codes.mean(0) + torch.randn(n - 3 * q, d, generator=gen) @ self.chol.T
        return torch.cat([on_plane, around, between, prior])

    def along_plane(self, theta: torch.Tensor) -> torch.Tensor:
        """One unit of the pad in the direction of each angle of ``theta`` (n, 1): (n, d)."""
        return torch.cos(theta) * self.axes[0] + torch.sin(theta) * self.axes[1]


def load_torch_model(path: Path) -> tuple[DrumVAE, dict[str, Any]]:
    """The drum checkpoint at ``path`` as a torch model (eval mode) and its card."""
    ck = load_checkpoint(path, kind=KIND)
    model = DrumVAE(DrumVAEConfig(**ck.config))
    model.load_state_dict(torch_state(ck))
    return model.eval(), ck.card


def code_cloud(teacher: DrumVAE, card: dict[str, Any], corpus: Corpus, max_windows: int) -> CodeCloud:
    """The teacher's codes of the training windows and its card's plane and pad reach."""
    codes = posterior_means(teacher, *window_tensors(window_arrays(corpus.splits["train"], max_windows)))
    plane = card["plane"]
    cov = np.asarray(plane["covariance"], np.float64) if "covariance" in plane else np.cov(codes.T)
    pad = card_plane(card, codes.shape[1])  # one unit of x or y
    return CodeCloud(
        torch.from_numpy(codes),
        torch.from_numpy(covariance_factor(cov)),
        torch.from_numpy(np.stack([pad.axis_a, pad.axis_b])),
        pad_defaults(card, "teacher").radius,
    )


@torch.no_grad()
def _teach(teacher: DrumVAE, z: torch.Tensor, batch: int = 4096) -> tuple[torch.Tensor, ...]:
    """The teacher's logits, velocities, offsets at each code: (n, T, V) each."""
    parts = [teacher.decoder(z[s : s + batch]) for s in range(0, len(z), batch)]
    return tuple(torch.cat([p[i] for p in parts]) for i in range(3))


def distill_loss(student_out, teacher_out, settings: DistillSettings) -> torch.Tensor:
    """Mean squared logit error (where the teacher is below ``logit_floor``, only the student's
    excess over it), plus the velocity and offset errors weighed by the teacher's hit
    probability (a cell it will not play has no dynamics or timing to copy)."""
    (ls, vs, os_), (lt, vt, ot) = student_out, teacher_out
    floor = settings.logit_floor
    logit_err = torch.where(lt < floor, F.relu(ls - floor), ls - lt)
    p = torch.sigmoid(lt)
    return (logit_err**2).mean() + settings.offset_weight * (p * ((vs - vt) ** 2 + (os_ - ot) ** 2)).mean()


def played_agreement(student: DrumVAE, teacher: DrumVAE, cloud: CodeCloud, n: int = 2000) -> dict[str, float]:
    """What a musician would hear differ, at ``n`` fixed codes of ``cloud``: the mean number of
    cells the student plays that the teacher does not, or the reverse, per window
    (``cells_differ``), and the share of windows played alike (``same_pattern_share``); beside
    them the same between the teacher at each code and at a point one pad step away (1/16 of the
    pad's radius, along the plane): the smallest change a move of the pad makes."""
    gen = torch.Generator().manual_seed(12345)
    z = cloud.sample(n, gen)
    theta = torch.rand(n, 1, generator=gen) * 2 * math.pi
    step = cloud.radius / 16 * cloud.along_plane(theta)
    with torch.no_grad():
        played = [_played(m.decoder(x)[0]) for m, x in ((student, z), (teacher, z), (teacher, z + step))]
    ours, theirs, moved = played
    figures = {}
    for name, a in (("", ours), ("pad_step_", moved)):
        differ = (a != theirs).reshape(n, -1).sum(1)
        figures[f"{name}cells_differ"] = float(differ.mean())
        figures[f"{name}same_pattern_share"] = float((differ == 0).mean())
    return figures


def _played(logits: torch.Tensor) -> np.ndarray:
    """The live default decoding's hits of each window: (n, T, V) bool."""
    return np.stack([choose_hits(x, DecodeControls()) for x in logits.numpy()]).astype(bool)


def distill(
    teacher_path: Path,
    corpus: Corpus,
    out: Path,
    settings: DistillSettings,
    info: dict[str, Any],
    report: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train an MLP decoder on the teacher's decodes, write the student checkpoint at ``out``
    (the teacher's encoder, plane, pad and seed search; the new decoder) and return its
    training record (also in the card)."""
    t0 = time.perf_counter()
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    teacher, card = load_torch_model(teacher_path)
    cloud = code_cloud(teacher, card, corpus, settings.max_windows)
    pool = cloud.sample(settings.pool, gen)  # (P, d)
    targets = _teach(teacher, pool)
    cfg = replace(
        DrumVAEConfig(**card["config"]),
        arch=DecoderArch.MLP,
        dec_hidden=settings.width,
        dec_layers=settings.layers,
    )
    student = DrumVAE(cfg)
    student.encoder.load_state_dict(teacher.encoder.state_dict())
    opt = torch.optim.Adam(student.decoder.parameters(), lr=settings.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, settings.updates, eta_min=settings.lr / 100)
    for update in range(settings.updates):
        idx = torch.randint(settings.pool, (settings.batch,), generator=gen)
        loss = distill_loss(student.decoder(pool[idx]), tuple(t[idx] for t in targets), settings)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if report is not None and (update + 1) % 100 == 0:
            report({"update": update + 1, "updates": settings.updates, "loss": loss.item()})
    student.eval()
    halve(student.decoder)
    record = {
        **info,
        "distilled_from": {"path": str(teacher_path), "weights_sha256": card["weights_sha256"]},
        "settings": asdict(settings),
        "played_agreement": played_agreement(student, teacher, cloud),
        "wall_time_s": round(time.perf_counter() - t0, 1),
    }
    new_card = {"kind": KIND, "config": cfg.to_dict(), "training": record, "metrics": {}}
    new_card |= {k: card[k] for k in SHARED if k in card}
    tensors = export_tensors(student)
    tensors |= {k: v.astype(np.float16) for k, v in tensors.items() if k.startswith("decoder.")}
    save_checkpoint(out, tensors, new_card)
    return record


@torch.no_grad()
def halve(decoder: torch.nn.Module) -> None:
    """Round the weights to float16, as they are stored: the file is half the size (a 1024-unit
    student is 8 MB in float32) and the runtime computes in float32 from exactly these values."""
    for p in decoder.parameters():
        p.copy_(p.half().float())

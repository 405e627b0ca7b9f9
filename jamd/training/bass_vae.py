"""The bass VAE (torch): a drum- and chord-conditioned bass generator with a 2-D latent that is
kept steady over time (after BassNet, Grachten, Lattner & Deruty 2020).

Both halves are small bidirectional transformers over the 32 steps of a window (every step sees
every other step: a bass note on the "and" of 4 depends on the kick that comes after it).

    encoder: [drums+chords | bass] (B, T, 64) -> stack -> mean over T -> (mu, logvar) (B, 2)
    decoder: drums+chords (B, T, 36) + proj(z) on every step -> stack -> (B, T, 43) heads:
             onset logit, velocity logit, 25 pitch logits (-12..+12 from the root), 16 lengths

Like the drum decoder, the bass decoder never feeds its own outputs back, so the line is a
smooth, deterministic function of (z, drums, chords) and a numpy re-implementation
(:mod:`jamd.model.bass`) decodes a window in well under a millisecond.

The loss adds to reconstruction + KL the stability penalty ``||mu_t - mu_{t+1}||^2`` over pairs of
consecutive windows of one piece; ``stability=0`` trains the comparison model with the same code.
It also names the two latent axes (attribute regularisation, Pati & Lerch 2020, "AR-VAE"): over
every pair of windows in a batch, latent dimension ``k`` must order the windows as attribute
``k`` does (:data:`jamd.model.bass.ATTRIBUTES`: onsets per window, then the share of notes off the root), so x
on the pad reads busier <-> sparser and y rooted <-> melodic; and the onsets are kept
independent of dimension 1 (:func:`onset_invariance`), as the corpus's notes are of its melodic
knob, so a move along y changes pitches, not the rhythm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from jamd.model.bass import BASS_FEATURES, COND_FEATURES, MAX_LENGTH, OUT_FEATURES, attributes
from jamd.music.grid import BASS_PITCH_MIN, BASS_PITCHES
from jamd.training.transformer import Stack


@dataclass
class BassVAEConfig:
    steps: int = 32  # 2 bars of 16ths: the shared window (docs/architecture.md, "The representation")
    latent: int = 2  # two knobs or one XY pad, straight onto the latent
    d_model: int = 48  # small on purpose: the numpy decode must stay far below 1 ms
    n_head: int = 4  # 12 dims per head is plenty for "where are the kicks"
    n_layer: int = 2  # decoder depth: 2 layers already see the whole window twice
    enc_layers: int = 2  # the encoder only runs in training and evaluation
    d_ff: int = 96  # 2x d_model MLP: enough for the onset/pitch rules of the idioms
    dropout: float = 0.0  # ~16k windows of rule-made data: overfitting is not the risk

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BassLossConfig:
    beta: float = 0.5  # KL weight; below 1 so the 2-D code carries the style, not noise
    free_bits: float = 0.5  # nats per latent dim not penalised: stops the code collapsing
    kl_warmup_steps: int = 1000  # KL weight ramps up from 0 so the decoder learns to read z first
    stability: float = 1.0  # weight of ||mu_t - mu_{t+1}||^2 (0 = the comparison model)
    onset_pos_weight: float = 1.5  # onsets are ~1/3 of steps; a nudge against playing too little
    attribute: float = 1.0  # weight of the named-axes term (0 = axes left to chance)
    attribute_sharpness: float = 10.0  # tanh slope of that term (Pati & Lerch's delta)
    # weight of the term that keeps the onsets deaf to latent dim 1 (0 = off): in the corpus the
    # melodic knob never moves a note, so a y sweep must not either (else "more melodic" wobbles)
    invariance: float = 100.0

    def to_dict(self) -> dict:
        return asdict(self)


class BassVAE(nn.Module):
    def __init__(self, cfg: BassVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.enc = Stack(COND_FEATURES + BASS_FEATURES, cfg.enc_layers, cfg)
        self.enc.head = nn.Linear(cfg.d_model, 2 * cfg.latent)
        self.dec = Stack(COND_FEATURES, cfg.n_layer, cfg)
        self.dec.z = nn.Linear(cfg.latent, cfg.d_model)
        self.dec.head = nn.Linear(cfg.d_model, OUT_FEATURES)

    def encode(self, cond: torch.Tensor, bass: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.enc.head(self.enc(torch.cat([cond, bass], -1)).mean(1)).chunk(2, -1)
        return mu, logvar.clamp(-8, 4)

    def decode(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(B, latent), (B, T, COND_FEATURES) -> (B, T, OUT_FEATURES) raw logits."""
        return self.dec.head(self.dec(cond, self.dec.z(z)[:, None, :]))


def recon_terms(
    out: torch.Tensor, target: dict[str, torch.Tensor], cfg: BassLossConfig
) -> dict[str, torch.Tensor]:
    """Per-term reconstruction losses, each a mean (onset over all steps, the rest over onsets)."""
    on = target["onset"]
    n_on = on.sum().clamp(min=1.0)
    pos_w = torch.tensor(cfg.onset_pos_weight)
    onset = F.binary_cross_entropy_with_logits(out[..., 0], on, pos_weight=pos_w)
    vel = ((torch.sigmoid(out[..., 1]) - target["velocity"]) ** 2 * on).sum() / n_on
    pitch = (
        F.cross_entropy(out[..., 2 : 2 + BASS_PITCHES].transpose(1, 2), target["pitch_idx"], reduction="none")
        * on
    ).sum() / n_on
    length = (
        F.cross_entropy(out[..., 2 + BASS_PITCHES :].transpose(1, 2), target["length_idx"], reduction="none")
        * on
    ).sum() / n_on
    return {"onset": onset, "pitch": pitch, "velocity": vel, "length": length}


def attribute_term(mu: torch.Tensor, attrs: torch.Tensor, sharpness: float) -> torch.Tensor:
    """AR-VAE: ``tanh(sharpness * (mu_ik - mu_jk))`` should equal ``sign(a_ik - a_jk)`` for every
    pair (i, j) of the batch and every named dimension ``k`` (mean absolute difference)."""
    k = attrs.shape[1]
    dz = mu[:, None, :k] - mu[None, :, :k]
    da = attrs[:, None, :] - attrs[None, :, :]
    return (torch.tanh(sharpness * dz) - torch.sign(da)).abs().mean()


def onset_invariance(
    model: BassVAE, z: torch.Tensor, cond: torch.Tensor, out: torch.Tensor, gen: torch.Generator | None
) -> torch.Tensor:
    """Mean squared change of the onset probabilities when latent dim 1 is swapped between the
    windows of the batch (dim 0 and the drums and chords kept)."""
    swapped = z.clone()
    swapped[:, 1] = z[torch.randperm(len(z), generator=gen), 1]
    other = model.decode(swapped, cond)[..., 0]
    return ((torch.sigmoid(out[..., 0]) - torch.sigmoid(other)) ** 2).mean()


def loss_terms(
    model: BassVAE,
    batch: dict[str, torch.Tensor],
    cfg: BassLossConfig,
    step: int,
    gen: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """``batch`` holds 2B windows: rows [0, B) and [B, 2B) are consecutive pairs (t, t+1)."""
    mu, logvar = model.encode(batch["cond"], batch["bass"])
    z = mu + torch.randn(mu.shape, generator=gen) * (0.5 * logvar).exp()
    out = model.decode(z, batch["cond"])
    terms = recon_terms(out, batch, cfg)
    kl_dim = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).mean(0)  # (latent,)
    kl = kl_dim.clamp(min=cfg.free_bits).sum()
    half = mu.shape[0] // 2
    stab = ((mu[:half] - mu[half:]) ** 2).sum(-1).mean()
    attr = attribute_term(mu, batch["attrs"], cfg.attribute_sharpness)
    warm = min(1.0, step / max(cfg.kl_warmup_steps, 1))
    loss = sum(terms.values()) + cfg.beta * warm * kl + cfg.stability * stab + cfg.attribute * attr
    extra = {}
    if cfg.invariance:
        inv = onset_invariance(model, z, batch["cond"], out, gen)
        loss = loss + cfg.invariance * inv
        extra["inv"] = float(inv.detach())
    report = (
        extra
        | {k: float(v.detach()) for k, v in terms.items()}
        | {
            "kl": float(kl_dim.detach().sum()),
            "stab": float(stab.detach()),
            "attr": float(attr.detach()),
            "loss": float(loss.detach()),
        }
    )
    return loss, report


def targets(onset, pitch, velocity, length) -> dict[str, torch.Tensor]:
    """Training targets from numpy bass arrays (B, T), with the named attributes per window."""
    return {
        "attrs": torch.from_numpy(attributes(onset, pitch)),
        "onset": torch.from_numpy((onset > 0).astype(np.float32)),
        "pitch_idx": torch.from_numpy(np.clip(pitch.astype(np.int64) - BASS_PITCH_MIN, 0, BASS_PITCHES - 1)),
        "velocity": torch.from_numpy(velocity.astype(np.float32)),
        "length_idx": torch.from_numpy(np.clip(length.astype(np.int64), 1, MAX_LENGTH) - 1),
    }

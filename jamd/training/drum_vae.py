"""The drum model (torch): a recurrent VAE over the 32-step drum grid, with the flatness
regulariser of Chen et al. (ICML 2020, "Learning Flat Latent Manifolds with VAEs").

Shapes: B batch, T steps (32), V voices (9), F = 3V features per step (hit, velocity, offset),
d latent dims, H hidden units.

* Encoder: bidirectional GRU over the T steps -> the two final states -> ``(mu, logvar)``.
* Decoder (``arch``): a GRU that receives ``z`` (and the step position) at every step and never
  its own outputs, a transformer over the 32 steps whose inputs are a learned step embedding
  plus a projection of ``z`` (`jamd.training.transformer`; GrooVAE / GrooveTransformer style,
  non-autoregressive), or an MLP from ``z`` to the whole window at once (the fastest in numpy:
  three matrix-vector products instead of 32 recurrent steps; trained by distilling a GRU
  decoder, `jamd.training.drum_distill`). Either way the decoder mean is a smooth deterministic function of ``z`` —
  the flatness term and the live engine's latent walks both rely on that. Both are written out
  by hand (not ``nn.GRU`` / ``nn.MultiheadAttention``) so forward-mode AD (``torch.func.jvp``)
  runs through them, and so the numpy runtime (`jamd.model.drums`) is the same arithmetic.
* The "decoder mean" whose geometry is regularised and measured is the hit probabilities,
  ``sigmoid(logits)`` flattened to ``T*V`` values: what a listener hears change most.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from jamd.music.drumkit import VOICES
from jamd.music.grid import DEFAULT_STEPS
from jamd.training.transformer import Sizes, Stack

Term = TypeVar("Term", torch.Tensor, float)  # a loss term: in training (tensor) or averaged (float)


class DecoderArch(str, Enum):
    """The decoder network (card ``config.arch``; a card without it is a GRU's)."""

    GRU = "gru"
    TRANSFORMER = "transformer"
    MLP = "mlp"


DEFAULT_WIDTH = {DecoderArch.GRU: 128, DecoderArch.TRANSFORMER: 96, DecoderArch.MLP: 512}

#: the config fields only a transformer decoder has (a GRU model's card keeps the old layout)
TRANSFORMER_FIELDS = ("arch", "dec_layers", "dec_heads", "dec_ff")


@dataclass
class DrumVAEConfig:
    steps: int = DEFAULT_STEPS  # window length; the step-position input has one entry per step
    voices: int = len(VOICES)  # grid voices (9 GrooVAE classes)
    latent_dim: int = 4  # 2-8: small enough to walk with two knobs, big enough to reconstruct
    enc_hidden: int = 64  # per direction; the encoder runs once per bar, so cost matters little
    dec_hidden: int = 0  # GRU units, the transformer's or the MLP's width (0: 128 for a GRU, 96
    # for a transformer, 512 for an MLP): the decoder runs at every latent move, sized for <= 0.5 ms in numpy
    arch: DecoderArch = DecoderArch.GRU
    dec_layers: int = 2  # transformer blocks, or the MLP's hidden layers
    dec_heads: int = 4  # attention heads per block
    dec_ff: int = 0  # the blocks' MLP width (0: twice the width)

    def __post_init__(self) -> None:
        self.arch = DecoderArch(self.arch)  # a card holds the plain string
        if not self.dec_hidden:
            self.dec_hidden = DEFAULT_WIDTH[self.arch]
        if not self.dec_ff:
            self.dec_ff = 2 * self.dec_hidden
        if self.arch is DecoderArch.TRANSFORMER and self.dec_hidden % self.dec_heads:
            raise ValueError(f"decoder width {self.dec_hidden} is not a multiple of {self.dec_heads} heads")

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.arch is DecoderArch.GRU:  # the card (and a resume file) of a GRU model as before
            return {k: v for k, v in d.items() if k not in TRANSFORMER_FIELDS}
        if self.arch is DecoderArch.MLP:  # no attention: no heads, no blocks' MLP
            return {
                **{k: v for k, v in d.items() if k not in ("dec_heads", "dec_ff")},
                "arch": self.arch.value,
            }
        return {**d, "arch": self.arch.value}


class FlatRandom(str, Enum):
    """The random directions of the flatness term beside the plane's two."""

    ISOTROPIC = "isotropic"  # uniform on the sphere: also the latent's unused (dead) dimensions
    CODES = "codes"  # random combinations of the batch's centred codes: the span the data uses


@dataclass
class LossConfig:
    beta: float = 1.0  # KL weight after warm-up: the plain ELBO
    kl_warmup_epochs: float = 2.0  # beta ramps 0 -> beta so the decoder learns to read z first
    free_bits: float = 0.25  # nats per dimension below which KL is not pushed down (no dead dims)
    flat_weight: float = 3.0  # 0 = the plain-VAE baseline; 3 chosen on validation (docs/models.md)
    flat_start_epoch: float = 2.0  # flatness is switched on once the latent has formed
    flat_warmup_epochs: float = 0.0  # its weight then ramps 0 -> flat_weight over this many epochs
    # (0: at once). A 16-d latent lost its reconstruction when the full term arrived at once
    flat_points: int = 32  # mixup points per batch: the Jacobian costs one decode per direction
    flat_dirs: int = 0  # 0: all d basis directions; k >= 2: the batch codes' two principal axes
    # (the pad's plane) plus k-2 random ones, so the cost stays k decodes whatever d is
    flat_random: FlatRandom = FlatRandom.ISOTROPIC  # how those k-2 random directions are drawn
    mixup_a0: float = 0.2  # a ~ U(-a0, 1+a0): also regularise a little beyond the pair
    # weights of the velocity and offset MSEs beside the hit BCE: at 1 the ~35 nats of BCE over
    # 288 cells swamp their ~3, and the decoder hardly learns them (docs/models.md)
    vel_weight: float = 1.0
    off_weight: float = 1.0

    def reconstruction(self, rec: Mapping[str, Term]) -> Term:
        """The weighted reconstruction loss of `reconstruction_terms`."""
        return rec["hit_bce"] + self.vel_weight * rec["vel_mse"] + self.off_weight * rec["off_mse"]

    def to_dict(self) -> dict:
        """As the card and the resume state record it: the MSE weights only where they are not 1,
        so the cards and resume states of runs without them stay as they were."""
        d = asdict(self)
        for k in ("vel_weight", "off_weight"):
            if d[k] == 1.0:
                del d[k]
        return d


def gru_step(gx: torch.Tensor, h: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor) -> torch.Tensor:
    """One GRU step in PyTorch's gate order (r, z, n); ``gx`` is the precomputed input part."""
    gh = h @ w_hh.T + b_hh  # (B, 3H)
    xr, xz, xn = gx.chunk(3, dim=-1)
    hr, hz, hn = gh.chunk(3, dim=-1)
    r = torch.sigmoid(xr + hr)
    u = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - u) * n + u * h


def heads(y: torch.Tensor, voices: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The decoder's per-step outputs (B, T, 3V) -> hit logits, velocity (sigmoid), offset
    (0.5 tanh): (B, T, V) each."""
    logits, vel, off = y.split(voices, dim=-1)
    return logits, torch.sigmoid(vel), 0.5 * torch.tanh(off)


class Encoder(nn.Module):
    def __init__(self, cfg: DrumVAEConfig):
        super().__init__()
        self.rnn = nn.GRU(3 * cfg.voices, cfg.enc_hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * cfg.enc_hidden, 2 * cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (B, T, F) -> h_n: (2, B, He): final forward state and final backward state
        _, h_n = self.rnn(x)
        h = torch.cat([h_n[0], h_n[1]], dim=-1)  # (B, 2He)
        mu, logvar = self.out(h).chunk(2, dim=-1)  # (B, d) each
        return mu, logvar


class DrumDecoder(nn.Module):
    """z (B, d) -> hit logits, velocity, offset (B, T, V) each; either architecture."""

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder mean whose geometry we shape: hit probabilities, (B, T*V)."""
        return torch.sigmoid(self(z)[0]).flatten(1)


class Decoder(DrumDecoder):
    """GRU fed ``z`` at every step. Its input projection splits into a z part (computed once per
    decode) and a per-step part (a learned table, i.e. a step embedding times its weights, folded)."""

    def __init__(self, cfg: DrumVAEConfig):
        super().__init__()
        H, d = cfg.dec_hidden, cfg.latent_dim
        self.cfg = cfg
        self.z_in = nn.Linear(d, 3 * H, bias=False)  # z -> gate inputs
        self.step_in = nn.Parameter(torch.zeros(cfg.steps, 3 * H))  # step position -> gate inputs (+bias)
        self.h0 = nn.Linear(d, H)  # z -> initial state
        self.w_hh = nn.Parameter(torch.empty(3 * H, H))
        self.b_hh = nn.Parameter(torch.zeros(3 * H))
        self.out = nn.Linear(H, 3 * cfg.voices)  # -> hit logit, velocity, offset
        nn.init.orthogonal_(self.w_hh)
        nn.init.normal_(self.step_in, std=0.1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # z: (B, d) -> logits, velocity, offset: (B, T, V) each
        T, V = self.cfg.steps, self.cfg.voices
        gz = self.z_in(z)  # (B, 3H)
        h = torch.tanh(self.h0(z))  # (B, H)
        hs = []
        for t in range(T):
            h = gru_step(gz + self.step_in[t], h, self.w_hh, self.b_hh)
            hs.append(h)
        return heads(self.out(torch.stack(hs, dim=1)), V)


class TransformerDecoder(DrumDecoder):
    """A transformer over the T steps, fed ``z`` at every step: the step queries are the stack's
    learned positions plus its input projection of ``z``; heads per step as the GRU's."""

    def __init__(self, cfg: DrumVAEConfig):
        super().__init__()
        self.cfg = cfg
        size = Sizes(cfg.steps, cfg.dec_hidden, cfg.dec_heads, cfg.dec_ff)
        self.stack = Stack(cfg.latent_dim, cfg.dec_layers, size)
        self.stack.head = nn.Linear(cfg.dec_hidden, 3 * cfg.voices)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # z: (B, d) -> logits, velocity, offset: (B, T, V) each
        y = self.stack.head(self.stack(z[:, None, :].expand(-1, self.cfg.steps, -1)))
        return heads(y, self.cfg.voices)


class MlpDecoder(DrumDecoder):
    """``z`` to the whole window in one pass: ``dec_layers`` hidden layers of ``dec_hidden`` units
    (SiLU: smooth, so the decoder mean stays a smooth function of ``z``), then all T*3V outputs."""

    def __init__(self, cfg: DrumVAEConfig):
        super().__init__()
        self.cfg = cfg
        widths = [cfg.latent_dim] + [cfg.dec_hidden] * cfg.dec_layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.out = nn.Linear(widths[-1], cfg.steps * 3 * cfg.voices)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # z: (B, d) -> logits, velocity, offset: (B, T, V) each
        x = z
        for layer in self.hidden:
            x = F.silu(layer(x))  # (B, H)
        return heads(self.out(x).reshape(z.shape[0], self.cfg.steps, -1), self.cfg.voices)


DECODERS: dict[DecoderArch, Callable[[DrumVAEConfig], DrumDecoder]] = {
    DecoderArch.GRU: Decoder,
    DecoderArch.TRANSFORMER: TransformerDecoder,
    DecoderArch.MLP: MlpDecoder,
}


class DrumVAE(nn.Module):
    def __init__(self, cfg: DrumVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder: DrumDecoder = DECODERS[cfg.arch](cfg)

    def forward(self, x: torch.Tensor, sample: bool = True):
        mu, logvar = self.encoder(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        return (mu, logvar, z), self.decoder(z)


def features(hit: torch.Tensor, velocity: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """(B, T, V) x 3 -> encoder input (B, T, 3V): the same layout the numpy runtime builds."""
    return torch.cat([hit, velocity, offset], dim=-1)


def reconstruction_terms(
    out, hit: torch.Tensor, velocity: torch.Tensor, offset: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Per-window sums, averaged over the batch: BCE on hits; MSE on velocity and offset where a
    hit is present (a silent cell has no velocity or timing to learn)."""
    logits, vel, off = out
    B = hit.shape[0]
    bce = F.binary_cross_entropy_with_logits(logits, hit, reduction="sum") / B
    vel_mse = ((vel - velocity) ** 2 * hit).sum() / B
    off_mse = ((off - offset) ** 2 * hit).sum() / B
    return {"hit_bce": bce, "vel_mse": vel_mse, "off_mse": off_mse}


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per latent dimension, averaged over the batch: (d,)."""
    return 0.5 * (mu**2 + logvar.exp() - 1 - logvar).mean(0)


def decoder_jacobian(
    mean: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, directions: torch.Tensor | None = None
) -> torch.Tensor:
    """Jacobian of a batched map ``mean: (B, d) -> (B, D)`` (the decoder mean) at each row of
    ``z`` along the k columns of ``directions`` (d, k; default the identity): (M, D, k), all
    columns from ONE batched forward-mode product (the points repeated k times against the
    tangents)."""
    M, d = z.shape
    if directions is None:
        directions = torch.eye(d, dtype=z.dtype, device=z.device)
    k = directions.shape[1]
    zs = z.repeat(k, 1)  # (k*M, d): block j = all points
    tangents = directions.T.to(z.dtype).repeat_interleave(M, dim=0)  # (k*M, d)
    _, jv = torch.func.jvp(mean, (zs,), (tangents,))  # (k*M, D)
    return jv.reshape(k, M, -1).permute(1, 2, 0)  # (M, D, k)


def flat_directions(
    z: torch.Tensor,
    k: int,
    generator: torch.Generator | None = None,
    random: FlatRandom = FlatRandom.ISOTROPIC,
) -> torch.Tensor | None:
    """(d, k) orthonormal directions for the flatness term: the two principal axes of the codes
    ``z`` (B, d) — the plane the pad walks is the training codes' — then k-2 random ones, so
    the rest of the latent is not left free to fold. None (all d axes) when k >= d or k == 0."""
    d = z.shape[1]
    if k == 1:
        raise ValueError("flat_dirs: 0 (all axes) or at least 2 (the plane, then random ones)")
    if k <= 0 or k >= d:
        return None
    zc = z - z.mean(0)
    _, _, vh = torch.linalg.svd(zc, full_matrices=False)  # rows: principal axes
    if random is FlatRandom.CODES:
        rand = zc.T @ torch.randn(z.shape[0], k - 2, generator=generator).to(z.dtype)
    else:
        rand = torch.randn(d, k - 2, generator=generator).to(z.dtype)
    q, _ = torch.linalg.qr(torch.cat([vh[:2].T, rand], dim=1))
    return q


def mixup_points(
    z: torch.Tensor, n: int, a0: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``n`` points ``(1-a) z_i + a z_j`` between random pairs of rows, ``a ~ U(-a0, 1+a0)``."""
    B = z.shape[0]
    i = torch.randint(B, (n,), generator=generator)
    j = torch.randint(B, (n,), generator=generator)
    a = (torch.rand(n, 1, generator=generator) * (1 + 2 * a0) - a0).to(z.dtype)
    return (1 - a) * z[i] + a * z[j]


def flatness_from_jacobian(J: torch.Tensor) -> torch.Tensor:
    """``mean ‖G − c²I‖²_F / c⁴`` with ``G = JᵀJ`` and ``c²`` the batch mean of ``tr(G)/d``,
    detached: the term asks the metric to be a multiple of the identity everywhere (flat), not
    for a particular scale, and dividing by c⁴ makes it scale-free so it cannot be won by
    shrinking the decoder's sensitivity. Zero iff every G equals the same c²I."""
    G = J.transpose(1, 2) @ J  # (M, k, k): the metric restricted to the k directions
    d = G.shape[-1]
    c2 = (torch.diagonal(G, dim1=1, dim2=2).sum(-1) / d).mean().detach()
    eye = torch.eye(d, dtype=G.dtype, device=G.device)
    return ((G - c2 * eye) ** 2).sum((1, 2)).mean() / (c2**2 + 1e-12)


def flatness_term(
    decoder: DrumDecoder, z: torch.Tensor, cfg: LossConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    z = z.detach()
    zm = mixup_points(z, cfg.flat_points, cfg.mixup_a0, generator)  # (M, d)
    dirs = flat_directions(z, cfg.flat_dirs, generator, cfg.flat_random)
    return flatness_from_jacobian(decoder_jacobian(decoder.mean, zm, dirs))


def loss_terms(
    model: DrumVAE,
    hit,
    velocity,
    offset,
    cfg: LossConfig,
    epoch: float,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Training loss at (fractional) ``epoch`` and its terms for the progress display."""
    (mu, logvar, z), out = model(features(hit, velocity, offset))
    rec = reconstruction_terms(out, hit, velocity, offset)
    kl_d = kl_per_dim(mu, logvar)
    beta = cfg.beta * min(1.0, epoch / cfg.kl_warmup_epochs) if cfg.kl_warmup_epochs > 0 else cfg.beta
    # free bits: a dimension's KL below the floor is not penalised, so none is pushed to zero
    kl_fb = torch.clamp(kl_d, min=cfg.free_bits).sum()
    loss = cfg.reconstruction(rec) + beta * kl_fb
    terms = {k: float(v.detach()) for k, v in rec.items()}
    terms["kl"] = float(kl_d.detach().sum())
    terms["beta"] = beta
    if cfg.flat_weight > 0 and epoch >= cfg.flat_start_epoch:
        flat = flatness_term(model.decoder, z, cfg, generator)
        loss = loss + flat_weight(cfg, epoch) * flat
        terms["flat"] = float(flat.detach())
    terms["loss"] = float(loss.detach())
    return loss, terms


def flat_weight(cfg: LossConfig, epoch: float) -> float:
    """The flatness weight at (fractional) ``epoch``: 0 before the start, then a linear ramp."""
    if epoch < cfg.flat_start_epoch:
        return 0.0
    if cfg.flat_warmup_epochs <= 0:
        return cfg.flat_weight
    return cfg.flat_weight * min(1.0, (epoch - cfg.flat_start_epoch) / cfg.flat_warmup_epochs)


@torch.no_grad()
def validation_loss(
    model: DrumVAE, hit, velocity, offset, cfg: LossConfig, batch: int = 512
) -> dict[str, float]:
    """The objective being trained on held-out windows, without free bits and with z = mu (a
    noise-free figure): the weighted reconstruction + ``cfg.beta`` KL (``loss``, what early
    stopping compares; with beta < 1 the plain negative ELBO would prefer epochs that encode less)
    and the plain (unweighted) negative ELBO (``nelbo``)."""
    model.eval()
    sums: dict[str, float] = {}
    n = hit.shape[0]
    for s in range(0, n, batch):
        h, v, o = hit[s : s + batch], velocity[s : s + batch], offset[s : s + batch]
        mu, logvar = model.encoder(features(h, v, o))
        rec = reconstruction_terms(model.decoder(mu), h, v, o)
        kl = kl_per_dim(mu, logvar).sum()
        for k, val in {**rec, "kl": kl}.items():
            sums[k] = sums.get(k, 0.0) + float(val) * h.shape[0]
    model.train()
    out = {k: v / n for k, v in sums.items()}
    out["nelbo"] = out["hit_bce"] + out["vel_mse"] + out["off_mse"] + out["kl"]
    out["loss"] = cfg.reconstruction(out) + cfg.beta * out["kl"]
    return out

"""A small bidirectional transformer over the steps of a window (torch), shared by the bass VAE
(both halves) and the drum VAE's transformer decoder. :mod:`jamd.model.transformer` is the same
arithmetic in numpy, op for op.

Attention is written out (softmax of ``q kᵀ / √d_head`` times ``v``), not
``F.scaled_dot_product_attention``: the CPU fused kernel has no forward-mode derivative, and the
drum VAE's flatness term takes the decoder's Jacobian with ``torch.func.jvp``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn


class StackSize(Protocol):
    """The sizes a stack is built from (a model's config provides them)."""

    steps: int  # the length of the learned position table
    d_model: int
    n_head: int
    d_ff: int
    dropout: float


@dataclass
class Sizes:
    """A :class:`StackSize` for a model whose config names its sizes otherwise (the drum VAE)."""

    steps: int
    d_model: int
    n_head: int
    d_ff: int
    dropout: float = 0.0


class Block(nn.Module):
    """Pre-norm transformer block without a causal mask."""

    def __init__(self, cfg: StackSize):
        super().__init__()
        self.n_head = cfg.n_head
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.attn.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.mlp = nn.Module()
        self.mlp.fc = nn.Linear(cfg.d_model, cfg.d_ff)
        self.mlp.out = nn.Linear(cfg.d_ff, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, d = x.shape
        hd = d // self.n_head
        q, k, v = self.attn.qkv(self.ln1(x)).view(B, T, 3, self.n_head, hd).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)  # (B, H, T, T)
        y = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + self.drop(self.attn.proj(y))
        # tanh GELU: what the numpy runtime computes (it has no erf)
        return x + self.drop(self.mlp.out(F.gelu(self.mlp.fc(self.ln2(x)), approximate="tanh")))


class Stack(nn.Module):
    """Input projection + learned step positions (the bar position) + blocks + final norm."""

    def __init__(self, n_in: int, n_layer: int, cfg: StackSize):
        super().__init__()
        self.inp = nn.Linear(n_in, cfg.d_model)
        self.pos = nn.Parameter(torch.randn(cfg.steps, cfg.d_model) * 0.02)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)

    def forward(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        h = self.inp(x) + self.pos[: x.shape[1]]
        if add is not None:
            h = h + add
        for blk in self.blocks:
            h = blk(h)
        return self.ln_f(h)

"""A small bidirectional transformer over the steps of a window, in numpy (no torch): the
arithmetic of :mod:`jamd.training.transformer`, rearranged once at load so a decode is little
more than matmuls. The bass model (both halves) and the drum model's transformer decoder run it.
"""

from __future__ import annotations

import numpy as np


def _normalize(x, eps=1e-5):
    """LayerNorm without its affine part (folded into the next linear layer at load). Means are
    a matmul with a (d, 1) column: on (32, 48) arrays ~2x faster than .mean()."""
    avg = np.full((x.shape[-1], 1), 1.0 / x.shape[-1], np.float32)
    c = x - x @ avg
    return c / np.sqrt((c * c) @ avg + eps)


def _gelu(x):
    # the tanh form, which the torch model uses too (nn.GELU(approximate="tanh")), for parity;
    # x*x*x, not x**3: numpy's float32 power is ~80x slower and was most of a decode
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class Stack:
    """One transformer stack and its output head, rearranged once at load so that a decode is
    little more than matmuls: weights pre-transposed, every LayerNorm's scale and shift folded
    into the linear layer after it, the attention scale folded into the query weights, and the
    input bias added to the position table. About a third fewer numpy calls per window."""

    def __init__(self, t: dict[str, np.ndarray], prefix: str, n_layer: int, n_head: int):
        def lin(name, ln=None):
            w, b = t[f"{prefix}{name}.weight"].T, t[f"{prefix}{name}.bias"]
            if ln:  # (n * g + s) @ w + b == n @ (g[:, None] * w) + (s @ w + b)
                g, sh = t[f"{prefix}{ln}.weight"], t[f"{prefix}{ln}.bias"]
                w, b = g[:, None] * w, sh @ w + b
            return np.ascontiguousarray(w, np.float32), np.asarray(b, np.float32)

        self.inp = lin("inp")[0]
        self.base = t[f"{prefix}pos"] + t[f"{prefix}inp.bias"]  # (steps, d)
        d = self.base.shape[1]
        self.n_head, hd = n_head, d // n_head
        self.blocks = []
        for i in range(n_layer):
            qkv_w, qkv_b = lin(f"blocks.{i}.attn.qkv", f"blocks.{i}.ln1")
            qkv_w[:, :d] /= np.sqrt(hd)
            qkv_b[:d] /= np.sqrt(hd)
            self.blocks.append(
                (
                    (qkv_w, qkv_b),
                    lin(f"blocks.{i}.attn.proj"),
                    lin(f"blocks.{i}.mlp.fc", f"blocks.{i}.ln2"),
                    lin(f"blocks.{i}.mlp.out"),
                )
            )
        self.head = lin("head", "ln_f")

    def __call__(self, x: np.ndarray, add: np.ndarray | None = None) -> np.ndarray:
        """``x`` (B, T, in) -> head outputs (B, T, out); ``add`` (B, 1, d) is added to every
        step (the latent)."""
        h = x @ self.inp + self.base[: x.shape[1]]
        if add is not None:
            h = h + add
        B, T, d = h.shape
        H, hd = self.n_head, d // self.n_head
        for qkv, proj, fc, out in self.blocks:
            a = (_normalize(h) @ qkv[0] + qkv[1]).reshape(B, T, 3, H, hd).transpose(2, 0, 3, 1, 4)
            att = _softmax(a[0] @ a[1].transpose(0, 1, 3, 2))  # (B, H, T, T)
            y = (att @ a[2]).transpose(0, 2, 1, 3).reshape(B, T, d)
            h = h + y @ proj[0] + proj[1]
            h = h + _gelu(_normalize(h) @ fc[0] + fc[1]) @ out[0] + out[1]
        return _normalize(h) @ self.head[0] + self.head[1]

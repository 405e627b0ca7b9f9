"""Seed search: the code whose decode plays the drummer's window best, found from the encoder's.

The encoder gives a code at once, but not the best one: on validation windows, codes searched
for each window play it at hit F1 0.84 where the encoder's mean plays 0.79 (drums-v3,
docs/models.md, "The seed: searched, not only encoded"). The decoder can play the drummer's
groove; the encoder does not find where. So the daemon seeds with the encoder's code at the bar
line (within the 10 ms the seed latency allows) and then searches on from it, a step between its
other work, and moves the seed to the searched code when done (`jamd.live.daemon`).

A step: central finite differences of the window's reconstruction loss (hit cross-entropy plus
``timing_weight`` times the velocity and offset errors on its hits) along every latent dimension,
one batched decode of 2 d codes, then an Adam step scaled by the posterior's standard deviations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: (n, d) codes -> hit logits, velocities, offsets, (n, T, V) each: `DrumModel.decode_raw`
Decoder = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
FD_STEP = 0.05  # finite-difference step, in posterior standard deviations
BETAS = (0.9, 0.999)  # Adam's


@dataclass(frozen=True)
class SearchSettings:
    """A drum model card's ``seed_search`` section (absent: off)."""

    steps: int = 0  # 0: the encoder's code is the seed
    lr: float = 0.6  # Adam's step, in posterior standard deviations (chosen on validation, docs/models.md)
    timing_weight: float = 1.0  # weight of the velocity and offset errors beside the hits'

    def to_card(self) -> dict[str, float | int]:
        return {"steps": self.steps, "lr": self.lr, "timing_weight": self.timing_weight}

    @classmethod
    def from_card(cls, entry: dict) -> SearchSettings:
        s = cls(int(entry["steps"]), float(entry["lr"]), float(entry["timing_weight"]))
        if s.steps < 0 or s.lr <= 0 or s.timing_weight < 0:
            raise ValueError(f"steps {s.steps}, lr {s.lr}, timing_weight {s.timing_weight}")
        return s


def window_loss(
    decode: Decoder, z: np.ndarray, hit: np.ndarray, vel: np.ndarray, off: np.ndarray, timing_weight: float
) -> np.ndarray:
    """(n,) reconstruction loss of each code ``z`` (n, d) against its window (n, T, V) x 3."""
    logits, v, o = decode(z)
    loss = (np.logaddexp(0.0, logits) - hit * logits).sum((1, 2))
    if timing_weight:
        loss += timing_weight * ((np.abs(v - vel) + np.abs(o - off)) * hit).sum((1, 2))
    return loss


class CodeSearch:
    """The search for ``n`` windows at once (the daemon: one), a :meth:`step` at a time."""

    def __init__(
        self,
        decode: Decoder,
        window: tuple[np.ndarray, np.ndarray, np.ndarray],
        mu: np.ndarray,
        sd: np.ndarray,
        settings: SearchSettings,
    ):
        hit, vel, off = (np.asarray(a, np.float32) for a in window)  # (n, T, V) each
        self.decode, self.settings = decode, settings
        self.z, self.sd = np.array(mu, np.float32), np.asarray(sd, np.float32)  # (n, d)
        n, d = self.z.shape
        # each window repeated for its 2 d probes
        rows = np.repeat(np.arange(n), 2 * d)
        self._window = (hit[rows], vel[rows], off[rows])
        self._eye = np.eye(d, dtype=np.float32)
        self._m, self._v = np.zeros_like(self.z), np.zeros_like(self.z)
        self.done_steps = 0

    @property
    def done(self) -> bool:
        return self.done_steps >= self.settings.steps

    def step(self) -> None:
        n, d = self.z.shape
        h = FD_STEP * self.sd  # (n, d)
        probes = np.concatenate(
            [self.z[:, None] + self._eye * h[:, None], self.z[:, None] - self._eye * h[:, None]], 1
        )  # (n, 2d, d)
        loss = window_loss(self.decode, probes.reshape(-1, d), *self._window, self.settings.timing_weight)
        loss = loss.reshape(n, 2, d)
        grad = (loss[:, 0] - loss[:, 1]) / (2 * h)
        b1, b2 = BETAS
        self.done_steps += 1
        k = self.done_steps
        self._m = b1 * self._m + (1 - b1) * grad
        self._v = b2 * self._v + (1 - b2) * grad**2
        m_hat, v_hat = self._m / (1 - b1**k), self._v / (1 - b2**k)
        self.z = self.z - self.settings.lr * self.sd * m_hat / (np.sqrt(v_hat) + 1e-8)

    def run(self) -> np.ndarray:
        while not self.done:
            self.step()
        return self.z

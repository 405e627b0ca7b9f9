"""The drum model at run time, numpy only (no torch): what the live engine calls.

``DrumModel.load(path)`` reads a checkpoint written by `jamd.training.drum_train`; then
``encode(pattern) -> mu``, ``decode_probs(z)`` (the decoder mean) and
``decode(z, controls) -> DrumPattern``. The arithmetic is the torch model's (`jamd.training.drum_vae`),
line by line; ``tests/test_drum_model.py`` holds the two to 1e-5.

Speed: the decoder's input is ``z`` at every step, so its gate inputs ``W_z z + step_in[t]`` are
computed once per decode (one small matmul), leaving 32 recurrent ``h @ W_hh`` steps. Set
``OPENBLAS_NUM_THREADS=1`` in the engine: small matmuls only get slower with a second BLAS thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jamd.model.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from jamd.model.pacing import Pacing, PadMemory
from jamd.model.seed_search import CodeSearch, SearchSettings
from jamd.model.transformer import Stack
from jamd.music.drumkit import VOICES
from jamd.music.grid import STEPS_PER_BEAT, DrumPattern

KIND = "drums"
#: the pad's reach (``latent.radius``) for a model whose card names none
DEFAULT_RADIUS = 2.0


@dataclass(frozen=True)
class PadDefaults:
    """How the daemon's pad plays this model unless the config says otherwise: the card's
    ``pad`` section (chosen on the validation split, docs/models.md), else radius 2, no memory."""

    radius: float = DEFAULT_RADIUS  # x, y = +-1 reach this many spreads of the training codes
    pacing: Pacing = Pacing()  # decoding with memory along pad moves (jamd.model.pacing)


@dataclass
class DecodeControls:
    """How decoder probabilities become a played pattern. Defaults: deterministic, the expected
    number of hits on the model's most probable cells, velocities and timing as decoded."""

    threshold: float | None = None  # None: play as many hits as the model expects (round of the summed
    # probabilities) on its most probable cells; a number: hit where p >= it
    density: float | None = None  # if set: the top density*steps*voices cells are hit (overrides threshold)
    temperature: float = 0.0  # 0 = deterministic; >0 = sample hits from sigmoid(logit / T)
    seed: int | None = None  # sampling seed (same z + seed = same pattern)
    velocity: float = 1.0  # dynamics amount: 0 = every hit at the pattern's mean, 1 = as decoded
    timing: float = 1.0  # micro-timing amount: 0 = quantised, 1 = as decoded, >1 exaggerated
    count_scale: float = 1.0  # with threshold None: play this many times the expected hits
    # (the live density knob: sparser or busier, same best cells)


def covariance_factor(cov: np.ndarray) -> np.ndarray:
    """The Cholesky factor (float32) of the training codes' covariance ``cov`` (d, d): ``mean +
    L e`` with ``e ~ N(0, I)`` draws from the prior. Raises ``np.linalg.LinAlgError``."""
    # a dimension the codes hardly use still gets a sliver of variance, so the factor exists
    return np.linalg.cholesky(cov + 1e-6 * np.eye(len(cov))).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warning for large |x| in float32, equal to 1/(1+e^-x) to float precision
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _gru_step(gx: np.ndarray, h: np.ndarray, w_hh_t: np.ndarray, b_hh: np.ndarray, H: int) -> np.ndarray:
    """Same as `jamd.training.drum_vae.gru_step`; gates in PyTorch's order (r, z, n). gx: (B, 3H), h: (B, H)."""
    gh = h @ w_hh_t + b_hh
    ru = _sigmoid(gx[:, : 2 * H] + gh[:, : 2 * H])  # r and u gates in one pass
    n = np.tanh(gx[:, 2 * H :] + ru[:, :H] * gh[:, 2 * H :])
    return n + ru[:, H:] * (h - n)  # = (1-u) n + u h, one op fewer


class _GruDecoder:
    """`jamd.training.drum_vae.Decoder`: its gate inputs ``W_z z + step_in[t]`` once per decode,
    then the 32 recurrent steps."""

    def __init__(self, t: dict[str, np.ndarray], hidden: int):
        self.H = hidden
        self.z_in_t = t["decoder.z_in.weight"].T.copy()  # (d, 3H)
        self.step_in = t["decoder.step_in"]  # (T, 3H)
        self.h0_w, self.h0_b = t["decoder.h0.weight"].T.copy(), t["decoder.h0.bias"]
        self.w_hh_t, self.b_hh = t["decoder.w_hh"].T.copy(), t["decoder.b_hh"]
        self.out_w, self.out_b = t["decoder.out.weight"].T.copy(), t["decoder.out.bias"]
        if self.w_hh_t.shape != (hidden, 3 * hidden) or self.step_in.shape[1] != 3 * hidden:
            raise ValueError(f"recurrent weights {self.w_hh_t.shape} for {hidden} units")
        self.steps = self.step_in.shape[0]  # the window length the weights were trained for

    def __call__(self, z: np.ndarray, steps: int) -> np.ndarray:
        """z (B, d) -> the output layer's (B, T, 3V)."""
        gx = (z @ self.z_in_t)[:, None, :] + self.step_in  # (B, T, 3H): once per decode
        h = np.tanh(z @ self.h0_w + self.h0_b)  # (B, H)
        hs = np.empty((z.shape[0], steps, self.H), np.float32)
        for t in range(steps):
            h = _gru_step(gx[:, t], h, self.w_hh_t, self.b_hh, self.H)
            hs[:, t] = h
        return hs @ self.out_w + self.out_b


class _TransformerDecoder:
    """`jamd.training.drum_vae.TransformerDecoder`: ``z`` on every step into the stack."""

    def __init__(self, t: dict[str, np.ndarray], layers: int, heads: int):
        width = t["decoder.stack.pos"].shape[1]
        if heads < 1 or width % heads or layers < 1 or f"decoder.stack.blocks.{layers}.ln1.weight" in t:
            raise ValueError(f"{layers} blocks of {heads} heads do not match the weights")
        self.stack = Stack(t, "decoder.stack.", layers, heads)
        self.steps = self.stack.base.shape[0]  # the length of its position table

    def __call__(self, z: np.ndarray, steps: int) -> np.ndarray:
        return self.stack(np.broadcast_to(z[:, None, :], (z.shape[0], steps, z.shape[1])))


class _MlpDecoder:
    """`jamd.training.drum_vae.MlpDecoder`: a few matrix-vector products, no per-step loop."""

    def __init__(self, t: dict[str, np.ndarray], layers: int, voices: int):
        if layers < 1 or f"decoder.hidden.{layers}.weight" in t:
            raise ValueError(f"{layers} hidden layers do not match the weights")
        self.hidden = [
            (t[f"decoder.hidden.{i}.weight"].T.copy(), t[f"decoder.hidden.{i}.bias"]) for i in range(layers)
        ]
        self.out_w, self.out_b = t["decoder.out.weight"].T.copy(), t["decoder.out.bias"]
        self.steps = self.out_b.shape[0] // (3 * voices)  # the window it was trained for

    def __call__(self, z: np.ndarray, steps: int) -> np.ndarray:
        """z (B, d) -> the output layer's (B, T, 3V)."""
        x = z
        for w, b in self.hidden:
            x = x @ w + b  # (B, H)
            x = x * _sigmoid(x)  # SiLU
        return (x @ self.out_w + self.out_b).reshape(z.shape[0], steps, -1)


class DrumModel:
    """A loaded drum VAE. Arrays are float32 and contiguous in the layout the loops want."""

    def __init__(self, ck: Checkpoint):
        cfg = ck.config
        try:
            self.steps, self.voices = int(cfg["steps"]), int(cfg["voices"])
            self.latent_dim, self.enc_hidden = int(cfg["latent_dim"]), int(cfg["enc_hidden"])
            self.arch = str(cfg.get("arch", "gru"))  # a card from before the transformer: a GRU
            t = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in ck.tensors.items()}
            He = self.enc_hidden
            # encoder: per direction, input weights applied to all steps at once, recurrent per step
            self.enc = []
            for sfx in ("", "_reverse"):
                self.enc.append(
                    (
                        t[f"encoder.rnn.weight_ih_l0{sfx}"].T.copy(),
                        t[f"encoder.rnn.bias_ih_l0{sfx}"],
                        t[f"encoder.rnn.weight_hh_l0{sfx}"].T.copy(),
                        t[f"encoder.rnn.bias_hh_l0{sfx}"],
                    )
                )
            self.enc_out_w, self.enc_out_b = t["encoder.out.weight"].T.copy(), t["encoder.out.bias"]
            if self.arch == "gru":
                self.decoder: _GruDecoder | _TransformerDecoder | _MlpDecoder = _GruDecoder(
                    t, int(cfg["dec_hidden"])
                )
            elif self.arch == "transformer":
                self.decoder = _TransformerDecoder(t, int(cfg["dec_layers"]), int(cfg["dec_heads"]))
            elif self.arch == "mlp":
                self.decoder = _MlpDecoder(t, int(cfg["dec_layers"]), self.voices)
            else:
                raise ValueError(f"unknown decoder arch {self.arch!r}")
            ok = (
                self.enc[0][0].shape == (3 * self.voices, 3 * He)
                and self.enc_out_w.shape == (2 * He, 2 * self.latent_dim)
                and self.decoder.steps == self.steps
                # one decode of the origin: every decoder weight has its place and shape
                and self.decoder(np.zeros((1, self.latent_dim), np.float32), self.steps).shape
                == (1, self.steps, 3 * self.voices)
            )
        except KeyError as e:
            raise CheckpointError(
                f"{ck.path.name}: config or weight {e} missing: not a drum VAE checkpoint"
            ) from None
        except (TypeError, ValueError) as e:  # a config value that is not a number, a 1-D weight ...
            raise CheckpointError(
                f"{ck.path.name}: config or weights unusable ({e}): not a drum VAE checkpoint"
            ) from None
        if not ok:
            raise CheckpointError(f"{ck.path.name}: weight shapes do not match the card's config")
        self.card = ck.card
        self.path = ck.path

    @classmethod
    def load(cls, path: str | Path) -> DrumModel:
        return cls(
            load_checkpoint(
                path, kind=KIND, representation={"steps_per_beat": STEPS_PER_BEAT, "voices": list(VOICES)}
            )
        )

    # ------------------------------------------------------------------------------ encoder
    def encode_batch(
        self, hit: np.ndarray, velocity: np.ndarray, offset: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(B, T, V) x 3 -> mu, logvar: (B, d) each."""
        x = np.concatenate([hit, velocity, offset], axis=-1).astype(np.float32)  # (B, T, 3V)
        He = self.enc_hidden
        finals = []
        for direction, (w_ih_t, b_ih, w_hh_t, b_hh) in enumerate(self.enc):
            gx = x @ w_ih_t + b_ih  # (B, T, 3He)
            h = np.zeros((x.shape[0], He), np.float32)
            order = range(x.shape[1]) if direction == 0 else range(x.shape[1] - 1, -1, -1)
            for t in order:
                h = _gru_step(gx[:, t], h, w_hh_t, b_hh, He)
            finals.append(h)
        y = np.concatenate(finals, axis=-1) @ self.enc_out_w + self.enc_out_b  # (B, 2d)
        return y[:, : self.latent_dim], y[:, self.latent_dim :]

    def encode_many(
        self, hit: np.ndarray, velocity: np.ndarray, offset: np.ndarray, chunk: int = 512
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`encode_batch` of many windows, ``chunk`` at a time (bounded memory): mu, logvar."""
        parts = [
            self.encode_batch(
                hit[s : s + chunk].astype(np.float32), velocity[s : s + chunk], offset[s : s + chunk]
            )
            for s in range(0, len(hit), chunk)
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def encode(self, pattern: DrumPattern) -> np.ndarray:
        """The posterior mean of one window: (d,). A longer/shorter pattern is cut/padded."""
        p = _fit(pattern, self.steps)
        mu, _ = self.encode_batch(p.hit[None], p.velocity[None], p.offset[None])
        return mu[0]

    @property
    def seed_search(self) -> SearchSettings:
        """How far the seed is searched on from the encoder's code: the card's ``seed_search``
        section, else not at all (`jamd.model.seed_search`)."""
        return search_settings(self.card, self.path.name)

    def code_search(
        self, window: tuple[np.ndarray, np.ndarray, np.ndarray], settings: SearchSettings | None = None
    ) -> CodeSearch:
        """The search for the codes of windows (hit, velocity, offset: (n, T, V) each), started at
        the encoder's means (``settings``: the card's)."""
        mu, logvar = self.encode_batch(*window)
        return CodeSearch(self.decode_raw, window, mu, np.exp(0.5 * logvar), settings or self.seed_search)

    def pattern_search(self, pattern: DrumPattern, settings: SearchSettings | None = None) -> CodeSearch:
        """:meth:`code_search` for one window (cut/padded as :meth:`encode`); its ``z[0]``."""
        p = _fit(pattern, self.steps)
        return self.code_search((p.hit[None], p.velocity[None], p.offset[None]), settings)

    # ------------------------------------------------------------------------------ decoder
    def decode_raw(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """z: (d,) or (B, d) -> hit logits, velocity, offset: (B, T, V) each."""
        V = self.voices
        y = self.decoder(np.atleast_2d(np.asarray(z, np.float32)), self.steps)  # (B, T, 3V)
        return y[..., :V], _sigmoid(y[..., V : 2 * V]), 0.5 * np.tanh(y[..., 2 * V :])

    def decode_probs(self, z: np.ndarray) -> np.ndarray:
        """The decoder mean: hit probabilities, (T, V) for one z, (B, T, V) for a batch."""
        z = np.asarray(z, np.float32)
        p = _sigmoid(self.decode_raw(z)[0])
        return p[0] if z.ndim == 1 else p

    def decode(
        self,
        z: np.ndarray,
        controls: DecodeControls = DecodeControls(),
        memory: PadMemory | None = None,
        xy: tuple[float, float] = (0.0, 0.0),
        context: object = None,
    ) -> DrumPattern:
        """One z (d,) -> a playable pattern, shaped by ``controls``. With a ``memory`` the hits
        follow the last pattern it played at its pace (``xy``: the pad position of ``z``;
        ``context``: what, when it changes, starts the memory afresh; `jamd.model.pacing`)."""
        logits, vel, off = (a[0] for a in self.decode_raw(np.asarray(z, np.float32).reshape(1, -1)))
        hit = choose_hits(logits, controls)
        if memory is not None:
            hit = memory.step(hit, logits, xy, context)
        return shape_pattern(hit, vel, off, controls)

    # ------------------------------------------------------------------------- pad, prior
    @property
    def pad(self) -> PadDefaults:
        """The card's pad defaults (radius, pacing), or radius 2 without memory."""
        return pad_defaults(self.card, self.path.name)

    def prior(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Where to draw codes from: the mean and a Cholesky factor of the covariance of the
        training codes when the card holds it (``plane.covariance``), else N(0, I): (0, None).
        A model trained with a small KL weight does not fill N(0, I) (docs/models.md)."""
        p = self.card.get("plane", {})
        if "covariance" not in p:
            return np.zeros(self.latent_dim, np.float32), None
        try:
            cov, mean = np.asarray(p["covariance"], np.float64), np.asarray(p["center"], np.float32)
            if cov.shape != (self.latent_dim, self.latent_dim) or mean.shape != (self.latent_dim,):
                raise ValueError(
                    f"covariance {cov.shape} / center {mean.shape} for a {self.latent_dim}-d latent"
                )
            return mean, covariance_factor(cov)
        except (KeyError, TypeError, ValueError, np.linalg.LinAlgError) as e:
            raise CheckpointError(f"{self.path.name}.json: prior covariance unusable ({e})") from None

    def plane(self, radius: float | None = None):
        """The card's latent plane as a `jamd.model.plane.LatentPlane`: axes scaled by their spread,
        so x, y = +-1 reach ``radius`` standard deviations of the training codes (None: the
        model's default, :attr:`pad`)."""
        from jamd.model.plane import card_plane

        radius = self.pad.radius if radius is None else radius

        try:
            return card_plane(self.card, self.latent_dim, radius)
        except ValueError as e:
            raise CheckpointError(f"{self.path.name}.json: {e}") from None

    def code_density(self):
        """The training codes' density on the home plane (`jamd.model.plane.CodeDensity`), or
        None for a card made before jamd kept it."""
        from jamd.model.plane import CodeDensity

        entry = self.card.get("plane", {}).get("density")
        if entry is None:
            return None
        try:
            return CodeDensity.from_card(entry)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{self.path.name}.json: code density unusable ({e})") from None


def pad_defaults(card: dict, name: str) -> PadDefaults:
    """The ``pad`` section of a drum model card (absent: radius 2, no memory)."""
    p = card.get("pad")
    if p is None:
        return PadDefaults()
    try:
        return PadDefaults(float(p["radius"]), Pacing(float(p["pace"]), int(p["lag"])))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{name}.json: pad defaults unusable ({e})") from None


def search_settings(card: dict, name: str) -> SearchSettings:
    """The ``seed_search`` section of a drum model card (absent: no search)."""
    entry = card.get("seed_search")
    try:
        return SearchSettings() if entry is None else SearchSettings.from_card(entry)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{name}.json: seed search unusable ({e})") from None


def realise(logits: np.ndarray, vel: np.ndarray, off: np.ndarray, c: DecodeControls) -> DrumPattern:
    """Decoder outputs (T, V) -> DrumPattern under the decoding controls.

    Why "expected count" is the default rather than p >= 0.5: where the model is unsure *where*
    the hits go (its probabilities spread over several cells), a 0.5 threshold drops them all and
    plays a sparse pattern; on GMD validation windows it plays 23 % fewer hits than the drummer,
    and decodes of prior samples fall below the plausibility filter 3-6x as often. Playing the
    expected number of hits on the most probable cells keeps the density right and scored a
    higher hit F1 on the validation split (docs/models.md)."""
    return shape_pattern(choose_hits(logits, c), vel, off, c)


def choose_hits(logits: np.ndarray, c: DecodeControls) -> np.ndarray:
    """Which cells are hit (0/1 float32, (T, V)) under the controls (see :func:`realise`)."""
    if c.temperature > 0:
        rng = np.random.default_rng(c.seed)
        noise = rng.logistic(size=logits.shape).astype(np.float32)  # logit + logistic noise > 0 == Bernoulli
        score = logits / c.temperature + noise
    else:
        score = logits
    if c.density is not None:
        hit = _top(score, int(round(np.clip(c.density, 0.0, 1.0) * score.size)))
    elif c.temperature > 0:
        hit = (score >= 0.0).astype(np.float32)  # the sample itself
    elif c.threshold is None:
        hit = _top(score, int(round(c.count_scale * float(_sigmoid(logits).sum()))))
    elif c.threshold <= 0 or c.threshold >= 1:
        hit = np.full(score.shape, 1.0 if c.threshold <= 0 else 0.0, np.float32)
    else:
        hit = (score >= np.log(c.threshold / (1 - c.threshold))).astype(np.float32)
    return hit


def shape_pattern(hit: np.ndarray, vel: np.ndarray, off: np.ndarray, c: DecodeControls) -> DrumPattern:
    """The pattern of the chosen ``hit`` cells with the decoded velocities and offsets, shaped
    by the dynamics and timing controls."""
    velocity = vel * hit
    if hit.any() and c.velocity != 1.0:
        mean = velocity.sum() / hit.sum()
        velocity = np.clip(mean + c.velocity * (vel - mean), 0.0, 1.0) * hit
    offset = np.clip(off * c.timing, -0.5, 0.49) * hit
    return DrumPattern(hit, velocity.astype(np.float32), offset.astype(np.float32))


def _top(score: np.ndarray, k: int) -> np.ndarray:
    """0/1 array with ones at the ``k`` highest scores (ties: the earlier cell)."""
    hit = np.zeros(score.shape, np.float32)
    if k > 0:
        hit.flat[np.argsort(-score, axis=None, kind="stable")[:k]] = 1.0
    return hit


def _fit(p: DrumPattern, steps: int) -> DrumPattern:
    if p.steps == steps:
        return p
    out = DrumPattern.empty(steps, p.hit.shape[1])
    n = min(steps, p.steps)
    out.hit[:n], out.velocity[:n], out.offset[:n] = p.hit[:n], p.velocity[:n], p.offset[:n]
    return out

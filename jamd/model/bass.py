"""The bass model at run time: numpy only (no torch import), as the live engine needs.

``BassModel.load(path).decode(z, drums, chords) -> BassLine`` turns a 2-D latent point, the drum
grid being played and the chords per step into one window of bass. The network is the small
bidirectional (non-causal) transformer of :mod:`jamd.training.bass_vae`, re-implemented here op for op;
``tests/test_bass_model.py`` holds the two to the same outputs.

The input features are built here too (and imported by the torch side), so training and the
live engine can never disagree about what a feature means.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jamd.model.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from jamd.model.plane import card_plane
from jamd.model.transformer import Stack
from jamd.music.drumkit import VOICES
from jamd.music.grid import BASS_PITCH_MIN, BASS_PITCHES, BassLine, DrumPattern
from jamd.music.harmony import Chords, chord_features, in_scale

KIND = "bass"
#: length classes: a note lasts 1..MAX_LENGTH steps; longer notes are held by the next window
MAX_LENGTH = 16
DRUM_FEATURES = 2 * len(VOICES)  # hit + velocity per voice
COND_FEATURES = DRUM_FEATURES + chord_features(Chords.constant(0, 0, 1)).shape[1]
BASS_FEATURES = 1 + BASS_PITCHES + 1 + 1  # onset, pitch one-hot, velocity, length
#: decoder output per step: onset logit, velocity logit, pitch logits, length logits
OUT_FEATURES = 2 + BASS_PITCHES + MAX_LENGTH


#: What the two latent axes are trained to mean (the pad's x and y), and the feature of a window
#: each one orders (jamd.training.bass_vae's attribute term; the bass eval's sweeps).
ATTRIBUTES = ("busier", "more melodic")


def attributes(onset: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """``(n, 2)`` float32 per window: onsets, and the share of notes off the root (any octave)."""
    on = np.asarray(onset) > 0.5
    count = on.sum(-1)
    off_root = (on & (np.asarray(pitch) % 12 != 0)).sum(-1) / np.maximum(count, 1)
    return np.stack([count, off_root], -1).astype(np.float32)


def representation(steps: int) -> dict:
    """What a bass checkpoint's grid is; loading refuses a card that says otherwise."""
    return {
        "steps": steps,
        "steps_per_beat": 4,
        "voices": list(VOICES),
        "pitch_range": [BASS_PITCH_MIN, BASS_PITCH_MIN + BASS_PITCHES - 1],
        "max_length": MAX_LENGTH,
    }


# ------------------------------------------------------------------------------ features


def cond_features(
    drum_hit: np.ndarray, drum_velocity: np.ndarray, root: np.ndarray, quality: np.ndarray
) -> np.ndarray:
    """``(..., steps, COND_FEATURES)``: the drums (hits, velocities where hit) and the chords.
    Leading axes are windows."""
    hit = (np.asarray(drum_hit) > 0.5).astype(np.float32)
    root, quality = np.asarray(root), np.asarray(quality)
    lead = root.shape[:-1]
    chords = np.stack(
        [
            chord_features(Chords(r, q))
            for r, q in zip(root.reshape(-1, root.shape[-1]), quality.reshape(-1, root.shape[-1]))
        ]
    )
    chords = chords.reshape(*lead, *chords.shape[1:])
    return np.concatenate([hit, hit * np.asarray(drum_velocity, np.float32), chords], axis=-1)


def bass_features(onset, pitch, velocity, length) -> np.ndarray:
    """``(..., steps, BASS_FEATURES)``: what the encoder reads of a bass line."""
    on = (np.asarray(onset) > 0.5).astype(np.float32)
    idx = np.clip(np.asarray(pitch, np.int64) - BASS_PITCH_MIN, 0, BASS_PITCHES - 1)
    onehot = np.eye(BASS_PITCHES, dtype=np.float32)[idx] * on[..., None]
    vel = np.asarray(velocity, np.float32) * on
    ln = np.clip(np.asarray(length, np.float32), 0, MAX_LENGTH) / MAX_LENGTH * on
    return np.concatenate([on[..., None], onehot, vel[..., None], ln[..., None]], axis=-1)


# ------------------------------------------------------------------------------ network


@dataclass
class DecodedBatch:
    """Raw decoder outputs for ``B`` windows of ``T`` steps."""

    onset_p: np.ndarray  # (B, T) probability of an onset
    velocity: np.ndarray  # (B, T) in [0, 1]
    pitch_logits: np.ndarray  # (B, T, 25)
    length_logits: np.ndarray  # (B, T, 16)


class BassModel:
    """A loaded bass checkpoint, numpy only."""

    def __init__(self, ckpt: Checkpoint):
        cfg, t = ckpt.config, {k: v.astype(np.float32) for k, v in ckpt.tensors.items()}
        try:
            self.steps, self.latent = int(cfg["steps"]), int(cfg["latent"])
            self.enc = Stack(t, "enc.", cfg["enc_layers"], cfg["n_head"])
            self.dec = Stack(t, "dec.", cfg["n_layer"], cfg["n_head"])
            self.dec_z = (np.ascontiguousarray(t["dec.z.weight"].T), t["dec.z.bias"])
        except KeyError as e:
            raise CheckpointError(
                f"{ckpt.path.name}: bass weights lack {e} (not a jamd bass model?)"
            ) from None
        self.card = ckpt.card
        try:
            self.pad = card_plane(ckpt.card, self.latent)
        except ValueError as e:
            raise CheckpointError(f"{ckpt.path.name}: {e}") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> BassModel:
        return cls(load_checkpoint(Path(path), kind=KIND))

    def pad_point(self, x: float, y: float) -> np.ndarray:
        """The latent point under the pad's (x, y) in [-1, 1]^2: the card's plane, its axes
        scaled by their spread (for a model with named axes, half the training codes' central
        95 % range, so a full throw never leaves the codes the model was trained on)."""
        return self.pad.point(x, y)

    # -- batched (training data, evaluation) --------------------------------------------
    def encode_batch(self, cond: np.ndarray, bass: np.ndarray) -> np.ndarray:
        """Posterior means ``(B, latent)`` of windows given their features."""
        # the head is affine, so averaging its per-step outputs == the head of the average
        h = self.enc(np.concatenate([cond, bass], axis=-1).astype(np.float32))
        return h.mean(axis=1)[:, : self.latent]

    def decode_batch(self, z: np.ndarray, cond: np.ndarray) -> DecodedBatch:
        z = np.asarray(z, np.float32).reshape(-1, 1, self.latent)
        out = self.dec(cond.astype(np.float32), z @ self.dec_z[0] + self.dec_z[1])
        sig = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
        return DecodedBatch(
            sig(out[..., 0]), sig(out[..., 1]), out[..., 2 : 2 + BASS_PITCHES], out[..., 2 + BASS_PITCHES :]
        )

    # -- one window (the live engine) -------------------------------------------------
    def decode(self, z, drums: DrumPattern, chords: Chords, scale_lock: bool = False) -> BassLine:
        """One window of bass at latent point ``z`` over ``drums`` and ``chords``.

        Deterministic (argmax/threshold), so the same knob position always plays the same line.
        Monophonic by construction (one pitch per step; a new onset ends the previous note) and
        in range (pitch within +-12 of the root; :func:`jamd.music.grid.bass_to_events` folds it into
        the instrument's notes). ``scale_lock`` forbids pitches outside the chord's scale."""
        if drums.steps != self.steps or chords.steps != self.steps:
            raise ValueError(
                f"this model plays {self.steps}-step windows "
                f"(drums have {drums.steps}, chords {chords.steps})"
            )
        cond = cond_features(drums.hit, drums.velocity, chords.root, chords.quality)[None]
        out = self.decode_batch(np.asarray(z, np.float32), cond)
        return to_lines(out, chords.quality[None] if scale_lock else None)[0]


def to_lines(out: DecodedBatch, lock_quality: np.ndarray | None = None) -> list[BassLine]:
    """Decoder outputs -> bass lines (threshold 0.5 on onsets, argmax pitch and length).
    ``lock_quality`` (B, T): restrict pitches to the scale of these chord qualities."""
    logits = out.pitch_logits
    if lock_quality is not None:
        pitches = np.arange(BASS_PITCH_MIN, BASS_PITCH_MIN + BASS_PITCHES)
        mask = in_scale(pitches[None, None, :], np.asarray(lock_quality)[..., None])  # (B, T, 25)
        logits = np.where(mask, logits, -np.inf)
    pitch = logits.argmax(-1) + BASS_PITCH_MIN
    length = out.length_logits.argmax(-1) + 1
    onset = (out.onset_p > 0.5).astype(np.float32)
    return [
        BassLine(
            onset[b],
            (pitch[b] * onset[b]).astype(np.int16),
            (out.velocity[b] * onset[b]).astype(np.float32),
            (length[b] * onset[b]).astype(np.int16),
        )
        for b in range(len(onset))
    ]

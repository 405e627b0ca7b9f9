"""A tiny untrained drum model saved as a checkpoint, for tests of what reads one (needs torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_tiny_drum_model(path: Path) -> Path:
    """A 3-d model whose decoder weights are scaled up, so its probabilities spread out and the
    pad changes the pattern; its plane from 50 random codes. Returns ``path``."""
    import torch

    from jamd.training.drum_train import latent_plane, save_drum_model
    from jamd.training.drum_vae import DrumVAE, DrumVAEConfig

    torch.manual_seed(3)
    m = DrumVAE(DrumVAEConfig(latent_dim=3, enc_hidden=16, dec_hidden=24))
    with torch.no_grad():
        for p in m.decoder.parameters():
            p.mul_(3.0)
    save_drum_model(
        path, m, latent_plane(np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)), {}
    )
    return path

"""``jamd.lab.seed_search``: the searched codes fit their windows better than the encoder's means
(the measurement docs/models.md reports rests on it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jamd.lab.drum_played import Played
from jamd.lab.seed_search import search_codes, window_loss
from jamd.model.drums import DrumModel

MODEL = Path(__file__).resolve().parents[1] / "models" / "drums-v3"


def _grooves(n: int, rng: np.random.Generator) -> Played:
    hit = np.zeros((n, 32, 9), bool)
    hit[:, ::8, 0] = True  # kick on the beats
    hit[:, 4::8, 1] = True  # snare on the backbeats
    hit[:, ::2, 2] = rng.random((n, 16)) < 0.8  # hats on most 8ths
    vel = np.where(hit, rng.uniform(0.3, 1.0, hit.shape), 0).astype(np.float32)
    off = np.where(hit, rng.uniform(-0.2, 0.2, hit.shape), 0).astype(np.float32)
    return Played(hit, vel, off)


def test_search_fits_the_windows_better_than_the_encoder():
    model = DrumModel.load(MODEL)
    true = _grooves(6, np.random.default_rng(3))
    mu, logvar = model.encode_batch(true.hit.astype(np.float32), true.velocity, true.offset)
    codes = search_codes(model, true, mu, np.exp(0.5 * logvar), steps=6, lr=0.3, timing_weight=1.0)
    before = window_loss(model, mu, true, 1.0)
    after = window_loss(model, codes[-1], true, 1.0)
    assert len(codes) == 6
    assert np.all(after < before), (before, after)
    # the search moves the code, and each step starts from the last one (not from mu again)
    assert np.linalg.norm(codes[-1] - mu) > np.linalg.norm(codes[0] - mu)

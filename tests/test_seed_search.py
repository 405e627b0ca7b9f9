"""Seed search (`jamd.model.seed_search`): the searched codes fit their windows better than the
encoder's, a step at a time as the daemon runs it gives what one run gives, and a card's bad
``seed_search`` section is one clear error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from jamd.data.corpus import Windows
from jamd.lab.drum_played import encode_seeds
from jamd.model.checkpoint import CheckpointError
from jamd.model.drums import DrumModel
from jamd.model.seed_search import SearchSettings, window_loss

MODEL = Path(__file__).resolve().parents[1] / "models" / "drums-v3"


def _grooves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hit = np.zeros((n, 32, 9), np.float32)
    hit[:, ::8, 0] = 1  # kick on the beats
    hit[:, 4::8, 1] = 1  # snare on the backbeats
    hit[:, ::2, 2] = rng.random((n, 16)) < 0.8  # hats on most 8ths
    vel = (hit * rng.uniform(0.3, 1.0, hit.shape)).astype(np.float32)
    off = (hit * rng.uniform(-0.2, 0.2, hit.shape)).astype(np.float32)
    return hit, vel, off


@pytest.fixture(scope="module")
def model() -> DrumModel:
    return DrumModel.load(MODEL)


def test_search_fits_the_windows_better_than_the_encoder(model):
    window = _grooves(6, np.random.default_rng(3))
    search = model.code_search(window, SearchSettings(steps=6))
    mu = search.z.copy()
    search.run()
    before = window_loss(model.decode_raw, mu, *window, 1.0)
    after = window_loss(model.decode_raw, search.z, *window, 1.0)
    assert search.done and search.done_steps == 6
    assert np.all(after < before), (before, after)


def test_one_window_searched_alone_as_in_a_batch(model):
    """The daemon searches one window, the eval many at once: the same code either way."""
    hit, vel, off = _grooves(3, np.random.default_rng(4))
    w = Windows(hit.astype(np.uint8), vel, off, np.zeros(3, np.int32), np.arange(3, dtype=np.int32))
    batch = encode_seeds(model, w, SearchSettings(steps=4))
    assert model.pattern_search(w.pattern(1)).settings.steps == 0, "drums-v3's card asks for none"
    alone = model.pattern_search(w.pattern(1), SearchSettings(steps=4))
    np.testing.assert_allclose(alone.run()[0], batch[1], atol=1e-4)
    assert np.linalg.norm(batch[1] - model.encode(w.pattern(1))) > 0.05, "the search moved the code"


def test_a_bad_seed_search_section_is_one_clear_error(tmp_path, model):
    for suffix in (".json", ".safetensors"):
        shutil.copy(MODEL.with_suffix(suffix), tmp_path / f"m{suffix}")
    card = json.loads((tmp_path / "m.json").read_text())
    card["seed_search"] = {"steps": -3, "lr": 0.3, "timing_weight": 1}
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="seed search"):
        _ = DrumModel.load(tmp_path / "m").seed_search

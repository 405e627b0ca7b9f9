"""The bass VAE: the numpy runtime matches torch, training lowers the loss, decoded lines are
playable (in range, monophonic, every note ended), and the evaluation figures mean what they say."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_bass_corpus import fake_windows  # noqa: E402  (tests/ is on sys.path)

from jamd.data.bass_corpus import bass_windows  # noqa: E402
from jamd.model.bass import ATTRIBUTES, BassModel, attributes, bass_features, cond_features  # noqa: E402
from jamd.model.checkpoint import CheckpointError, save_checkpoint  # noqa: E402
from jamd.music.grid import BassRange, DrumPattern, bass_to_events  # noqa: E402
from jamd.music.harmony import Chords, in_scale  # noqa: E402
from jamd.training.bass_train import BassTrainSettings, named_plane, save_bass_model, train_bass  # noqa: E402
from jamd.training.bass_vae import BassLossConfig, BassVAE, BassVAEConfig  # noqa: E402

PLANE = {"center": [0.0, 0.0], "axes": [[1.0, 0.0], [0.0, 1.0]], "spread": [1.0, 1.0]}
TINY = BassVAEConfig(d_model=16, n_head=2, n_layer=1, enc_layers=1, d_ff=32)


@pytest.fixture(scope="module")
def data():
    styles = ["rock", "funk", "jazz", "latin", "hiphop", "reggae"]
    return bass_windows(fake_windows(n_bars=12, files=len(styles), seed=1), styles, seed=0)


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    torch.manual_seed(0)
    model = BassVAE(BassVAEConfig()).eval()
    path = tmp_path_factory.mktemp("bass") / "random"
    save_bass_model(path, model, PLANE, {"data": "none"})
    return model, path


def test_numpy_runtime_matches_torch(random_model, data):
    model, path = random_model
    np_model = BassModel.load(path)
    cond = cond_features(data.drum_hit[:8], data.drum_velocity[:8], data.root[:8], data.quality[:8])
    bass = bass_features(data.onset[:8], data.pitch[:8], data.velocity[:8], data.length[:8])
    z = np.random.default_rng(0).standard_normal((8, 2)).astype(np.float32)
    with torch.no_grad():
        ref = model.decode(torch.from_numpy(z), torch.from_numpy(cond)).numpy()
        mu_ref = model.encode(torch.from_numpy(cond), torch.from_numpy(bass))[0].numpy()
    out = np_model.decode_batch(z, cond)
    np.testing.assert_allclose(out.pitch_logits, ref[..., 2:27], atol=1e-4)
    np.testing.assert_allclose(out.length_logits, ref[..., 27:], atol=1e-4)
    np.testing.assert_allclose(out.onset_p, 1 / (1 + np.exp(-ref[..., 0])), atol=1e-5)
    np.testing.assert_allclose(np_model.encode_batch(cond, bass), mu_ref, atol=1e-4)


def test_runtime_does_not_import_torch(random_model):
    code = (
        "import sys; from jamd.model.bass import BassModel; from jamd.lab.bass_eval import evaluate; "
        f"BassModel.load({str(random_model[1])!r}); print('torch' in sys.modules)"
    )
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "False"
    )


def test_decoded_lines_are_playable(random_model, data):
    np_model = BassModel.load(random_model[1])
    drums = DrumPattern(
        data.drum_hit[0].astype(np.float32), data.drum_velocity[0], np.zeros((32, 9), np.float32)
    )
    chords = Chords.from_symbols(["Am7", "D7", "G", "Em"], 32)
    rng = BassRange()
    for z in np.random.default_rng(1).standard_normal((20, 2)) * 2:
        line = np_model.decode(z, drums, chords, scale_lock=True)
        on = line.onsets()
        assert in_scale(line.pitch[on], chords.quality[on]).all()
        events = bass_to_events(line, chords.root, rng)
        assert len(events) == len(on)
        for a, b in zip(events, events[1:]):
            assert a.end_beat <= b.start_beat  # monophonic: a note ends before the next
        assert all(rng.low <= e.note <= rng.high and e.end_beat > e.start_beat for e in events)


def test_loading_refuses_a_model_of_another_kind(tmp_path):
    save_checkpoint(tmp_path / "drums", {"w": np.zeros(2, np.float32)}, {"kind": "drums"})
    with pytest.raises(CheckpointError):
        BassModel.load(tmp_path / "drums")


def test_tiny_training_lowers_the_loss(data, tmp_path):
    # held-out windows (every third, and the pairs they start) of the same sections: the
    # knobs are shared, the drums and notes are new. (A section's knobs are unseen in bars that
    # training never sees, and 12 sections are too few to learn the knobs from.)
    held = data.bar % 3 == 0
    split = {
        "train": data.subset(np.nonzero(~held)[0]),
        "validation": data.subset(np.nonzero(held | np.roll(held, 1))[0]),
    }
    st = BassTrainSettings(steps=120, batch=16, eval_every=40, lr=5e-3)
    record = train_bass(
        split, tmp_path / "tiny", TINY, BassLossConfig(kl_warmup_steps=40), st, {"corpus": "test"}
    )
    untrained, last = (
        record["history"][0]["validation"]["recon"],
        record["history"][-1]["validation"]["recon"],
    )
    assert last < 0.75 * untrained
    assert BassModel.load(tmp_path / "tiny").card["training"]["data"]["corpus"] == "test"


def test_stability_penalty_pulls_consecutive_codes_together(data, tmp_path):
    split = {"train": data, "validation": data}
    st = BassTrainSettings(steps=80, batch=16, eval_every=80, lr=5e-3)
    jumps = {}
    for w in (0.0, 20.0):
        rec = train_bass(
            split, tmp_path / f"s{w}", TINY, BassLossConfig(kl_warmup_steps=20, stability=w), st, {}
        )
        jumps[w] = rec["history"][-1]["validation"]["stab"]
    assert jumps[20.0] < jumps[0.0]


def test_training_is_deterministic_for_a_seed(data, tmp_path):
    # the shipped checkpoints are documented as reproducible by one command
    st = BassTrainSettings(steps=20, batch=8, eval_every=20)
    split = {"train": data, "validation": data}
    for name in ("a", "b"):
        train_bass(split, tmp_path / name, TINY, BassLossConfig(kl_warmup_steps=5), st, {})
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_shipped_model_loads_with_numpy_and_says_what_it_learnt_from():
    from jamd.live.config import DEFAULT_BASS_MODEL

    model = BassModel.load(DEFAULT_BASS_MODEL)
    assert "procedural" in model.card["training"]["data"]["corpus"]
    assert "PROCEDURAL" in model.card["description"]
    drums = DrumPattern.empty()
    drums.hit[::4, 0] = 1  # four on the floor
    line = model.decode([0.0, 0.0], drums, Chords.from_symbols(["C", "G"], 32))
    assert 2 <= len(line.onsets()) <= 32


def test_the_attribute_term_names_the_axes(data, tmp_path):
    # x must order windows by their notes, y by their share of notes off the root; without
    # the term nothing ties the two codes to those features
    st = BassTrainSettings(steps=150, batch=16, eval_every=150, lr=5e-3)
    split = {"train": data, "validation": data}
    attrs = attributes(data.onset, data.pitch)
    agree = {}
    for w in (0.0, 2.0):
        train_bass(split, tmp_path / f"a{w}", TINY, BassLossConfig(kl_warmup_steps=20, attribute=w), st, {})
        model = BassModel.load(tmp_path / f"a{w}")
        cond = cond_features(data.drum_hit, data.drum_velocity, data.root, data.quality)
        mu = model.encode_batch(cond, bass_features(data.onset, data.pitch, data.velocity, data.length))
        agree[w] = [_pair_order_agreement(mu[:, k], attrs[:, k]) for k in range(2)]
    assert min(agree[2.0]) > 0.75
    assert min(agree[2.0]) > min(agree[0.0])


def _pair_order_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pairs with different ``b`` that ``a`` orders the same way."""
    da, db = np.sign(a[:, None] - a[None]), np.sign(b[:, None] - b[None])
    return float((da == db)[db != 0].mean())


def test_named_plane_spans_the_codes_central_95_percent():
    mu = np.random.default_rng(0).normal([1.0, -2.0], [0.5, 2.0], (4000, 2))
    plane = named_plane(mu, named=True)
    lo, hi = np.percentile(mu, [2.5, 97.5], axis=0)
    corners = (
        np.array(plane["center"]) + np.array([[sx, sy] for sx in (-1, 1) for sy in (-1, 1)]) * plane["spread"]
    )
    np.testing.assert_allclose(corners.min(0), lo, rtol=1e-5)
    np.testing.assert_allclose(corners.max(0), hi, rtol=1e-5)
    assert plane["names"] == list(ATTRIBUTES)
    assert "names" not in named_plane(mu, named=False)  # principal axes, as the drum model's


def test_the_invariance_term_keeps_the_rhythm_still_along_y(data, tmp_path):
    st = BassTrainSettings(steps=150, batch=16, eval_every=150, lr=5e-3)
    split = {"train": data, "validation": data}
    cond = cond_features(data.drum_hit, data.drum_velocity, data.root, data.quality)
    moved = {}
    for w in (0.0, 100.0):
        loss = BassLossConfig(kl_warmup_steps=20, invariance=w)
        train_bass(split, tmp_path / f"i{w}", TINY, loss, st, {})
        model = BassModel.load(tmp_path / f"i{w}")
        ends = [np.tile(np.array([0.0, y], np.float32), (len(cond), 1)) for y in (-1.5, 1.5)]
        p = [model.decode_batch(z, cond).onset_p for z in ends]
        moved[w] = float(np.abs(p[0] - p[1]).mean())
    assert moved[100.0] < 0.5 * moved[0.0]

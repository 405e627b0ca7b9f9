"""The drum VAE: flatness term, Jacobian, training, numpy/torch parity, decoding controls.

Tiny models only (a few thousand parameters), one torch thread: the whole file runs in well
under a minute on two shared cores."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from jamd.base.paths import default_data_dir
from jamd.data.corpus import Corpus, Windows, load_corpus
from jamd.lab.drum_eval import jacobian_fd, unevenness
from jamd.lab.drum_played import encode_means
from jamd.model.drums import DecodeControls, DrumModel
from jamd.model.plane import CodeDensity
from jamd.training.drum_train import TrainSettings, latent_plane, save_drum_model, train
from jamd.training.drum_vae import (
    DrumVAE,
    DrumVAEConfig,
    FlatRandom,
    LossConfig,
    decoder_jacobian,
    features,
    flat_directions,
    flat_weight,
    flatness_from_jacobian,
    flatness_term,
    loss_terms,
    validation_loss,
)

torch.set_num_threads(1)
_GMD = default_data_dir()
GMD = _GMD if _GMD is not None and (_GMD / "info.csv").is_file() else None
needs_gmd = pytest.mark.skipif(GMD is None, reason="Groove MIDI Dataset not found (set JAMD_DATA)")

TINY = DrumVAEConfig(latent_dim=3, enc_hidden=16, dec_hidden=24)
TINY_T = DrumVAEConfig(latent_dim=3, enc_hidden=16, arch="transformer", dec_hidden=16, dec_heads=2)
TINY_M = DrumVAEConfig(latent_dim=3, enc_hidden=16, arch="mlp", dec_hidden=20)


@pytest.fixture(scope="module")
def gmd():
    if GMD is None:
        pytest.skip("Groove MIDI Dataset not found")
    return load_corpus(GMD)


def _sub(w: Windows, n: int, start: int = 0) -> Windows:
    sl = slice(start, start + n)
    return Windows(w.hit[sl], w.velocity[sl], w.offset[sl], w.file[sl], w.bar[sl])


# ------------------------------------------------------------------------------- flatness


def _linear(A: torch.Tensor):
    return lambda z: z @ A.T  # (B, d) -> (B, D), Jacobian A everywhere


def test_flatness_zero_for_orthogonal_equal_norm_columns():
    torch.manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(50, 4, dtype=torch.float64))  # orthonormal columns
    A = 2.5 * Q  # equal norms, orthogonal
    z = torch.randn(16, 4, dtype=torch.float64)
    flat = flatness_from_jacobian(decoder_jacobian(_linear(A), z))
    assert float(flat) == pytest.approx(0.0, abs=1e-20)


@pytest.mark.parametrize("how", ["unequal_norms", "not_orthogonal"])
def test_flatness_positive_otherwise(how):
    torch.manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(50, 4, dtype=torch.float64))
    A = Q * torch.tensor([1.0, 1.0, 1.0, 1.5], dtype=torch.float64) if how == "unequal_norms" else Q.clone()
    if how == "not_orthogonal":
        A[:, 1] = (Q[:, 0] + Q[:, 1]) / 2**0.5  # unit norm, 45 degrees to column 0
    z = torch.randn(16, 4, dtype=torch.float64)
    assert float(flatness_from_jacobian(decoder_jacobian(_linear(A), z))) > 0.01


def test_flatness_is_scale_free():
    """Dividing by c^4 means the term cannot be lowered by shrinking the decoder's sensitivity."""
    J = torch.randn(8, 30, 3, dtype=torch.float64)
    assert float(flatness_from_jacobian(0.01 * J)) == pytest.approx(
        float(flatness_from_jacobian(J)), rel=1e-6
    )


@pytest.mark.parametrize("cfg", [TINY, TINY_T, TINY_M], ids=["gru", "transformer", "mlp"])
def test_jvp_jacobian_equals_finite_differences(cfg):
    torch.manual_seed(1)
    dec = DrumVAE(cfg).decoder.double()
    z = torch.randn(5, TINY.latent_dim, dtype=torch.float64)
    J = decoder_jacobian(dec.mean, z)  # (5, T*V, d)
    eps = 1e-6
    for k in range(TINY.latent_dim):
        dz = torch.zeros_like(z)
        dz[:, k] = eps
        with torch.no_grad():
            fd = (dec.mean(z + dz) - dec.mean(z - dz)) / (2 * eps)
        torch.testing.assert_close(J[..., k], fd, atol=1e-7, rtol=1e-5)


def test_jacobian_along_directions_is_the_jacobian_times_them():
    torch.manual_seed(3)
    A = torch.randn(40, 6, dtype=torch.float64)
    z = torch.randn(5, 6, dtype=torch.float64)
    dirs = torch.linalg.qr(torch.randn(6, 3, dtype=torch.float64))[0]
    J = decoder_jacobian(_linear(A), z, dirs)  # (5, 40, 3)
    torch.testing.assert_close(J, (A @ dirs).expand(5, 40, 3))


def test_flat_directions_start_with_the_codes_plane():
    """Codes spread mostly along two known axes: those span the first two directions; all are
    orthonormal; k >= d (or 0) means every axis, as before."""
    g = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))[0]
    scale = torch.tensor([5.0, 3.0] + [0.1] * 6, dtype=torch.float64)
    z = (torch.randn(500, 8, generator=g, dtype=torch.float64) * scale) @ basis.T + 2.0
    q = flat_directions(z, 4, g)
    assert q is not None and q.shape == (8, 4)
    torch.testing.assert_close(q.T @ q, torch.eye(4, dtype=torch.float64))
    plane = basis[:, :2]
    proj = plane @ (plane.T @ q[:, :2])  # the first two directions lie in the plane
    torch.testing.assert_close(proj, q[:, :2], atol=0.02, rtol=0)
    assert flat_directions(z, 8, g) is None and flat_directions(z, 0, g) is None
    with pytest.raises(ValueError):
        flat_directions(z, 1, g)


def test_flat_directions_from_the_codes_stay_in_their_span():
    """Codes using 5 of 8 dimensions: "codes" draws every direction inside those 5, "isotropic"
    reaches the 3 unused ones (where the decoder has nothing to be flat about)."""
    g = torch.Generator().manual_seed(1)
    z = torch.zeros(300, 8, dtype=torch.float64)
    z[:, :5] = torch.randn(300, 5, generator=g, dtype=torch.float64) * torch.arange(5, 0, -1)
    q = flat_directions(z, 5, g, FlatRandom.CODES)
    assert q is not None
    assert float(q[5:].abs().max()) < 1e-9
    iso = flat_directions(z, 5, g, FlatRandom.ISOTROPIC)
    assert iso is not None and float(iso[5:].abs().max()) > 0.1


def test_flatness_along_directions_ignores_the_rest():
    """A decoder flat on the plane but stretched off it: zero along the plane, positive on all axes."""
    Q = torch.linalg.qr(torch.randn(50, 6, dtype=torch.float64))[0]
    A = Q * torch.tensor([2.0, 2.0, 5.0, 0.5, 1.0, 3.0], dtype=torch.float64)
    z = torch.randn(16, 6, dtype=torch.float64)
    plane = torch.eye(6, dtype=torch.float64)[:, :2]
    assert float(flatness_from_jacobian(decoder_jacobian(_linear(A), z, plane))) == pytest.approx(
        0, abs=1e-20
    )
    assert float(flatness_from_jacobian(decoder_jacobian(_linear(A), z))) > 0.1


def test_flatness_weight_ramps_after_its_start():
    at_once = LossConfig(flat_weight=3.0, flat_start_epoch=2.0)
    ramp = LossConfig(flat_weight=3.0, flat_start_epoch=2.0, flat_warmup_epochs=4.0)
    assert [flat_weight(at_once, e) for e in (1.9, 2.0, 5.0)] == [0.0, 3.0, 3.0]
    assert [flat_weight(ramp, e) for e in (1.9, 2.0, 3.0, 6.0, 9.0)] == [0.0, 0.0, 0.75, 3.0, 3.0]


def test_flatness_gradient_reaches_decoder():
    """The term must train the decoder (jvp inside autograd), not just be reported."""
    torch.manual_seed(2)
    model = DrumVAE(TINY)
    z = torch.randn(16, TINY.latent_dim)
    flat = flatness_term(model.decoder, z, LossConfig(flat_weight=1.0, flat_points=8))
    flat.backward()
    assert model.decoder.w_hh.grad is not None and float(model.decoder.w_hh.grad.abs().sum()) > 0


# --------------------------------------------------------------------------- the loss


def _random_windows(n: int = 12, seed: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shape = (n, TINY.steps, TINY.voices)
    hit = (torch.rand(shape, generator=g) < 0.2).float()
    return hit, torch.rand(shape, generator=g) * hit, (torch.rand(shape, generator=g) - 0.5) * hit


def test_mse_weights_scale_the_velocity_and_offset_terms():
    """--vel-weight / --off-weight: the training and the validation loss (what early stopping
    compares) each gain (w - 1) times the term, the terms themselves and the ELBO stay put."""
    torch.manual_seed(0)
    model = DrumVAE(TINY)
    windows = _random_windows()
    plain = LossConfig(beta=0.1, kl_warmup_epochs=0, flat_weight=0)
    weighted = LossConfig(beta=0.1, kl_warmup_epochs=0, flat_weight=0, vel_weight=8, off_weight=3)
    torch.manual_seed(1)  # the same reparameterisation noise for both
    _, t1 = loss_terms(model, *windows, plain, epoch=5)
    torch.manual_seed(1)
    _, tw = loss_terms(model, *windows, weighted, epoch=5)
    assert {k: tw[k] for k in ("hit_bce", "vel_mse", "off_mse", "kl")} == {
        k: t1[k] for k in ("hit_bce", "vel_mse", "off_mse", "kl")
    }
    assert t1["vel_mse"] > 0.1 and t1["off_mse"] > 0.01
    extra = 7 * t1["vel_mse"] + 2 * t1["off_mse"]
    assert tw["loss"] - t1["loss"] == pytest.approx(extra, rel=1e-5)
    v1, vw = validation_loss(model, *windows, plain), validation_loss(model, *windows, weighted)
    assert vw["nelbo"] == v1["nelbo"]
    assert vw["loss"] - v1["loss"] == pytest.approx(7 * v1["vel_mse"] + 2 * v1["off_mse"], rel=1e-9)


def test_mse_weights_are_recorded_only_when_used():
    """A run without them has the card and resume identity it always had."""
    assert "vel_weight" not in LossConfig().to_dict() and "off_weight" not in LossConfig().to_dict()
    d = LossConfig(off_weight=8).to_dict()
    assert d["off_weight"] == 8 and "vel_weight" not in d


# ------------------------------------------------------------------------ training, parity


@pytest.fixture(scope="module")
def tiny_run(gmd, tmp_path_factory):
    """A few epochs on 600 real training windows, validated on 200 validation windows."""
    small = Corpus(
        gmd.root,
        gmd.settings,
        gmd.files,
        {"train": _sub(gmd.splits["train"], 600), "validation": _sub(gmd.splits["validation"], 200)},
    )
    out = tmp_path_factory.mktemp("tiny") / "tiny"
    st = TrainSettings(epochs=4, batch=64, seed=3, lr=3e-3, min_warmup_updates=0)
    lc = LossConfig(kl_warmup_epochs=1, flat_start_epoch=1, flat_weight=1.0, flat_points=8)
    record = train(small, out, TINY, lc, st)
    return small, out, record, (st, lc)


@needs_gmd
def test_tiny_training_lowers_the_loss(tiny_run):
    _, _, record, _ = tiny_run
    hist = record["history"]
    first, best = hist[0]["validation"]["loss"], record["best_validation_loss"]
    assert best < first - 5, (first, best)
    assert hist[-1]["train"]["hit_bce"] < hist[0]["train"]["hit_bce"]
    assert "flat" in hist[-1]["train"]  # the term was switched on


@needs_gmd
def test_training_is_deterministic(tiny_run, tmp_path):
    small, out, _, (st, lc) = tiny_run
    st2 = TrainSettings(**{**st.__dict__, "epochs": 1})
    a, b = tmp_path / "a", tmp_path / "b"
    train(small, a, TINY, lc, st2)
    train(small, b, TINY, lc, st2)
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def _torch_model(path) -> DrumVAE:
    from jamd.model.checkpoint import load_checkpoint

    ck = load_checkpoint(path)
    m = DrumVAE(DrumVAEConfig(**ck.config))
    m.load_state_dict({k: torch.from_numpy(v) for k, v in ck.tensors.items()})
    return m.eval()


@needs_gmd
def test_numpy_runtime_matches_torch_on_real_windows(tiny_run, gmd):
    _, out, _, _ = tiny_run
    w = _sub(gmd.splits["test"], 256)
    np_model, t_model = DrumModel.load(out), _torch_model(out)
    hit = w.hit.astype(np.float32)
    mu, logvar = np_model.encode_batch(hit, w.velocity, w.offset)
    with torch.no_grad():
        tmu, tlv = t_model.encoder(features(*(torch.from_numpy(a) for a in (hit, w.velocity, w.offset))))
        tlogits, tvel, toff = t_model.decoder(tmu)
    np.testing.assert_allclose(mu, tmu.numpy(), atol=1e-5)
    np.testing.assert_allclose(logvar, tlv.numpy(), atol=1e-5)
    probs = np_model.decode_probs(tmu.numpy())
    tprobs = torch.sigmoid(tlogits).numpy()
    assert np.abs(probs - tprobs).max() <= 1e-5
    np.testing.assert_array_equal(probs >= 0.5, tprobs >= 0.5)
    _, vel, off = np_model.decode_raw(tmu.numpy())
    np.testing.assert_allclose(vel, tvel.numpy(), atol=1e-5)
    np.testing.assert_allclose(off, toff.numpy(), atol=1e-5)
    # single-window API agrees with the batch one
    np.testing.assert_allclose(np_model.encode(w.pattern(0)), mu[0], atol=1e-6)
    np.testing.assert_array_equal(
        np_model.decode(mu[0], DecodeControls(threshold=0.5)).hit,
        (np_model.decode_probs(mu[0]) >= 0.5).astype(np.float32),
    )


@needs_gmd
def test_checkpoint_round_trip_through_model_card(tiny_run, tmp_path):
    small, out, _, _ = tiny_run
    t_model = _torch_model(out)
    plane = latent_plane(np.random.default_rng(0).normal(size=(100, TINY.latent_dim)).astype(np.float32))
    save_drum_model(tmp_path / "again", t_model, plane, {"note": "round trip"})
    a, b = DrumModel.load(out), DrumModel.load(tmp_path / "again")
    z = np.random.default_rng(1).normal(size=(4, TINY.latent_dim)).astype(np.float32)
    np.testing.assert_array_equal(a.decode_probs(z), b.decode_probs(z))
    assert b.card["training"] == {"note": "round trip"}
    assert b.card["representation"]["voices"][0] == "kick" and b.card["representation"]["steps"] == 32
    p = b.plane()
    np.testing.assert_allclose(np.linalg.norm(p.axis_a), plane["spread"][0], rtol=1e-5)


@needs_gmd
def test_tampered_drum_checkpoint_gives_clear_error(tiny_run, tmp_path):
    from jamd.model.checkpoint import CheckpointError, save_checkpoint

    _, out, _, _ = tiny_run
    import shutil

    for suffix in (".json", ".safetensors"):
        shutil.copy(str(out) + suffix, tmp_path / f"m{suffix}")
    data = bytearray((tmp_path / "m.safetensors").read_bytes())
    data[-100] ^= 0xFF
    (tmp_path / "m.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="m.safetensors: sha256 does not match"):
        DrumModel.load(tmp_path / "m")
    # a bass (or any other) checkpoint is refused by the drum runtime by its kind
    save_checkpoint(tmp_path / "b", {"w": np.zeros(2, np.float32)}, {"kind": "bass"})
    with pytest.raises(CheckpointError, match="'bass' model, expected 'drums'"):
        DrumModel.load(tmp_path / "b")


@needs_gmd
def test_latent_plane_is_principal_axes():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(5000, 4)) * np.array([3.0, 0.5, 1.0, 0.1]) + 7.0
    p = latent_plane(mu.astype(np.float32))
    np.testing.assert_allclose(p["center"], 7.0, atol=0.1)
    np.testing.assert_allclose(np.abs(p["axes"][0]), [1, 0, 0, 0], atol=0.02)
    np.testing.assert_allclose(np.abs(p["axes"][1]), [0, 0, 1, 0], atol=0.02)
    np.testing.assert_allclose(p["spread"], [3.0, 1.0], rtol=0.05)
    density = CodeDensity.from_card(p["density"])  # the codes' density, kept for the web page
    assert density.counts.sum() >= 0.99 * len(mu)  # all but the far tail inside +-4 spreads


# --------------------------------------------------------------------- evaluation helpers


@needs_gmd
def test_finite_difference_jacobian_matches_torch_jvp(tiny_run):
    """The eval's numpy Jacobian (for metric_cv) agrees with the training's jvp one."""
    _, out, _, _ = tiny_run
    z = np.random.default_rng(0).normal(size=(6, TINY.latent_dim)).astype(np.float32)
    J_np = jacobian_fd(DrumModel.load(out), z)
    J_t = decoder_jacobian(_torch_model(out).decoder.mean, torch.from_numpy(z)).detach().numpy()
    np.testing.assert_allclose(J_np, J_t, atol=2e-3)


@needs_gmd
def test_unevenness_is_sane(tiny_run, gmd):
    _, out, _, _ = tiny_run
    m = DrumModel.load(out)
    mu, _ = encode_means(m, _sub(gmd.splits["test"], 200))
    assert 0 <= unevenness(m, mu, n_pairs=10) < 3


# ------------------------------------------------------------------------ decoding controls


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    torch.manual_seed(5)
    m = DrumVAE(TINY)
    with torch.no_grad():
        m.decoder.out.bias[:9] += 1.0  # some probabilities above 0.5
        for p in m.decoder.parameters():
            p.mul_(3.0)  # spread the probabilities out
    path = tmp_path_factory.mktemp("rand") / "r"
    save_drum_model(
        path, m, latent_plane(np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)), {}
    )
    return DrumModel.load(path)


def test_decode_controls(random_model):
    m = random_model
    z = np.array([0.3, -0.2, 0.5], np.float32)
    base = m.decode(z, DecodeControls(threshold=0.5))
    p = m.decode_probs(z)
    np.testing.assert_array_equal(base.hit, (p >= 0.5).astype(np.float32))
    assert m.decode(z, DecodeControls(threshold=0.9)).n_hits <= base.n_hits
    expected = m.decode(z)  # default: expected count
    assert expected.n_hits == round(float(p.sum()))
    assert p[expected.hit > 0].min() >= p[expected.hit == 0].max()  # ... on the most probable cells
    assert m.decode(z, DecodeControls(density=0.25)).n_hits == round(0.25 * 32 * 9)
    s1 = m.decode(z, DecodeControls(temperature=1.0, seed=7))
    s2 = m.decode(z, DecodeControls(temperature=1.0, seed=7))
    np.testing.assert_array_equal(s1.hit, s2.hit)  # seeded sampling repeats
    samples = np.mean([m.decode(z, DecodeControls(temperature=1.0, seed=s)).hit for s in range(400)], axis=0)
    assert np.abs(samples - p).max() < 0.12  # T=1 samples the model's probabilities
    flat_vel = m.decode(z, DecodeControls(velocity=0.0))
    v = flat_vel.velocity[flat_vel.hit > 0]
    assert v.size and np.ptp(v) < 1e-6  # no dynamics left
    quant = m.decode(z, DecodeControls(timing=0.0))
    assert np.all(quant.offset == 0)
    assert np.all(base.velocity[base.hit == 0] == 0) and np.all(base.offset[base.hit == 0] == 0)


@pytest.mark.parametrize("cfg, noise", [(TINY_T, 0.3), (TINY_M, 1.0)], ids=["transformer", "mlp"])
def test_other_decoders_numpy_matches_torch(tmp_path, cfg, noise):
    """The transformer and MLP archs through the checkpoint: the numpy runtime decodes what torch
    does (the random weights scaled up, so the LayerNorm scales and attention are far from
    uniform and the MLP's units far from linear)."""
    torch.manual_seed(4)
    m = DrumVAE(cfg)
    with torch.no_grad():
        for part, amount in ((m.encoder, 0.3), (m.decoder, noise)):
            for p in part.parameters():
                p.add_(amount * torch.randn_like(p))
    save_drum_model(tmp_path / "t", m, latent_plane(np.random.default_rng(0).normal(size=(50, 3))), {})
    np_model = DrumModel.load(tmp_path / "t")
    assert np_model.arch == cfg.arch.value and np_model.card["config"]["dec_layers"] == 2
    rng = np.random.default_rng(2)
    hit = (rng.random((64, 32, 9)) < 0.15).astype(np.float32)
    vel, off = rng.random((64, 32, 9), np.float32) * hit, (rng.random((64, 32, 9), np.float32) - 0.5) * hit
    mu, _ = np_model.encode_batch(hit, vel, off)
    m.eval()
    with torch.no_grad():
        tmu, _ = m.encoder(features(*(torch.from_numpy(a) for a in (hit, vel, off))))
        tlogits, tvel, toff = m.decoder(tmu)
    np.testing.assert_allclose(mu, tmu.numpy(), atol=1e-5)
    logits, v, o = np_model.decode_raw(tmu.numpy())
    assert np.abs(logits - tlogits.numpy()).max() < 2e-5 and float(tlogits.std()) > 1
    np.testing.assert_allclose(v, tvel.numpy(), atol=1e-5)
    np.testing.assert_allclose(o, toff.numpy(), atol=1e-5)
    assert np_model.decode(mu[0]).n_hits == round(float(np_model.decode_probs(mu[0]).sum()))


def test_gru_card_config_is_unchanged_and_old_cards_load_as_gru(random_model):
    """A GRU model's card holds the sizes it always held (no transformer fields), and a card
    without ``arch`` is a GRU's: drums-v2, drums-flat and drums-plain load as before."""
    assert set(TINY.to_dict()) == {"steps", "voices", "latent_dim", "enc_hidden", "dec_hidden"}
    assert "arch" not in random_model.card["config"] and random_model.arch == "gru"
    assert DrumVAEConfig(**TINY.to_dict()) == TINY
    assert DrumVAEConfig(**TINY_T.to_dict()) == TINY_T and TINY_T.to_dict()["arch"] == "transformer"
    assert DrumVAEConfig(arch="transformer").dec_hidden == 96 and DrumVAEConfig().dec_hidden == 128


def test_runtime_does_not_import_torch(random_model):
    code = (
        "import sys, numpy as np; from jamd.model.drums import DrumModel; "
        f"m = DrumModel.load({str(random_model.path)!r}); m.decode(np.zeros(3, np.float32)); "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@needs_gmd
def test_warmups_last_a_minimum_number_of_updates(tiny_run, tmp_path):
    """On a small set an epoch is a few batches: the warm-ups are stretched to enough updates."""
    small, _, _, (st, lc) = tiny_run
    st2 = TrainSettings(**{**st.__dict__, "epochs": 2, "min_warmup_updates": 30})  # 10 batches/epoch
    record = train(small, tmp_path / "w", TINY, lc, st2)
    assert record["loss"]["kl_warmup_epochs"] == pytest.approx(3.0)
    assert record["loss"]["flat_start_epoch"] == pytest.approx(3.0)
    assert all("flat" not in h["train"] for h in record["history"])


@pytest.mark.parametrize(
    "edit", [("dec_heads", 0), ("dec_heads", 5), ("dec_layers", 1), ("dec_layers", 3), ("steps", 16)]
)
def test_transformer_card_that_does_not_match_its_weights_is_refused(tmp_path, edit):
    """A damaged transformer card is refused at load, not decoded with weights left out."""
    from jamd.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    save_drum_model(tmp_path / "t", DrumVAE(TINY_T), latent_plane(np.zeros((4, 3)) + np.eye(4, 3)), {})
    ck = load_checkpoint(tmp_path / "t")
    card = {**ck.card, "config": {**ck.card["config"], edit[0]: edit[1]}}
    save_checkpoint(tmp_path / "bad", ck.tensors, card)
    with pytest.raises(CheckpointError, match="bad"):
        DrumModel.load(tmp_path / "bad")

"""Resumable drum training: a run stopped part-way (killed mid-epoch, or ended by its epoch
budget) and continued with ``resume`` ends with exactly the weights of the unbroken run."""

from __future__ import annotations

from dataclasses import replace

import mido
import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from jamd.data.augment import AugmentConfig
from jamd.data.corpus import load_corpus
from jamd.model.checkpoint import read_card
from jamd.training.drum_train import InitError, TrainSettings, load_init, train
from jamd.training.drum_vae import DrumVAE, DrumVAEConfig, LossConfig
from jamd.training.resume import ResumeError, resume_path
from tests._corpus_fixtures import to_track, write_midi

torch.set_num_threads(1)

TINY = DrumVAEConfig(latent_dim=3, enc_hidden=8, dec_hidden=12)
TINY_T = DrumVAEConfig(latent_dim=3, enc_hidden=8, arch="transformer", dec_hidden=8, dec_heads=2)
LOSS = LossConfig(kl_warmup_epochs=1, flat_start_epoch=1, flat_weight=1.0, flat_points=4)
NOTES = (36, 38, 42, 46, 45, 49, 51)


def _groove(rng: np.random.Generator, bars: int, tpb: int = 480) -> list[tuple[int, mido.Message]]:
    """Random 16th-note hits, humanised: a different groove per file so the windows differ."""
    density = rng.uniform(0.1, 0.3, len(NOTES))
    out = []
    for step in range(bars * 16):
        for note, p in zip(NOTES, density, strict=True):
            if rng.random() < p:
                tick = max(0, step * tpb // 4 + int(rng.integers(-30, 30)))
                vel = int(rng.integers(30, 127))
                out.append((tick, mido.Message("note_on", channel=9, note=note, velocity=vel)))
                out.append((tick + tpb // 8, mido.Message("note_off", channel=9, note=note, velocity=0)))
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("grooves")
    rng = np.random.default_rng(7)
    for i in range(12):
        write_midi(root / f"groove{i}.mid", [to_track(_groove(rng, 5), bpm=110)])
    c = load_corpus(root, midi_dir=True, use_cache=False)
    assert len(c.splits["train"]) >= 20 and len(c.splits["validation"]) >= 2
    return c


def _settings(epochs: int) -> TrainSettings:
    return TrainSettings(epochs=epochs, batch=8, seed=5, lr=3e-3, min_warmup_updates=0, patience=50)


def _weights(out) -> dict[str, np.ndarray]:
    return load_file(str(out) + ".safetensors")


def _last_weights(out) -> dict[str, torch.Tensor]:
    return torch.load(resume_path(out), weights_only=True)["model"]


def _assert_same_run(a, b) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)
    la, lb = _last_weights(a), _last_weights(b)
    for k in la:
        assert torch.equal(la[k], lb[k]), k


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module", params=[TINY, TINY_T], ids=["gru", "transformer"])
def cfg(request) -> DrumVAEConfig:
    return request.param


@pytest.fixture(scope="module")
def unbroken(corpus, cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("unbroken") / "m"
    return out, train(corpus, out, cfg, LOSS, _settings(4))


def test_killed_mid_epoch_and_resumed_equals_unbroken(corpus, cfg, unbroken, tmp_path):
    out = tmp_path / "m"

    def kill_in_epoch_3(ev):
        if ev["event"] == "batch" and ev["epoch"] == 2 and ev["batch"] == 2:
            raise Interrupt  # as a Ctrl-C would: the state on disk is the end of epoch 2

    with pytest.raises(Interrupt):
        train(corpus, out, cfg, LOSS, _settings(4), report=kill_in_epoch_3)
    events = []
    record = train(corpus, out, cfg, LOSS, _settings(4), report=events.append, resume=True)
    assert events[0]["event"] == "resume" and events[0]["epoch"] == 2
    _assert_same_run(unbroken[0], out)
    ref = unbroken[1]
    assert [h["validation"] for h in record["history"]] == [h["validation"] for h in ref["history"]]
    assert record["best_epoch"] == ref["best_epoch"] and record["resumes"] == 1


def test_extending_the_epoch_budget_equals_unbroken(corpus, cfg, unbroken, tmp_path):
    out = tmp_path / "m"
    train(corpus, out, cfg, LOSS, _settings(2), {"command": "first"})
    record = train(corpus, out, cfg, LOSS, _settings(4), {"command": "second"}, resume=True)
    _assert_same_run(unbroken[0], out)
    assert record["epochs_run"] == 4 and record["segments"] == ["first", "second"]


def test_resume_refuses_another_run_and_a_missing_state(corpus, cfg, unbroken, tmp_path):
    with pytest.raises(ResumeError, match="no resume state"):
        train(corpus, tmp_path / "none", cfg, LOSS, _settings(4), resume=True)
    other = TrainSettings(**{**_settings(4).__dict__, "lr": 1e-3})
    with pytest.raises(ResumeError, match=r"settings\.lr"):
        train(corpus, unbroken[0], cfg, LOSS, other, resume=True)
    with pytest.raises(ResumeError, match=r"loss\.vel_weight"):
        train(corpus, unbroken[0], cfg, replace(LOSS, vel_weight=8.0), _settings(4), resume=True)
    with pytest.raises(ResumeError, match=r"model\.dec_hidden"):
        train(
            corpus,
            unbroken[0],
            replace(cfg, dec_hidden=16),
            LOSS,
            _settings(4),
            resume=True,
        )


def test_out_in_folders_that_do_not_exist_yet(corpus, tmp_path):
    """``jamd train drums --out runs/new/mine``: the run's state, like the checkpoint, makes
    its folders (it used to end the first epoch with a traceback)."""
    out = tmp_path / "runs" / "new" / "m"
    # the first epoch is before the flatness term, so not yet eligible: the state comes first
    train(corpus, out, TINY, replace(LOSS, flat_start_epoch=2), _settings(1))
    assert resume_path(out).is_file() and (out.parent / "m.safetensors").is_file()


def test_the_time_budget_is_never_overrun(corpus, tmp_path, monkeypatch):
    """--max-minutes is kept: no epoch is started that would end past it (a fake clock: each
    batch costs 10 s, so an epoch costs the same every time)."""
    from jamd.training import drum_train

    now = [0.0]
    monkeypatch.setattr(drum_train.time, "perf_counter", lambda: now[0])

    def tick(ev):
        if ev["event"] == "batch":
            now[0] += 10.0

    batches = []
    train(corpus, tmp_path / "probe", TINY, LOSS, _settings(1), report=lambda ev: batches.append(ev))
    epoch_s = 10.0 * sum(ev["event"] == "batch" for ev in batches)
    budget = 2.5 * epoch_s
    settings = TrainSettings(**{**_settings(10).__dict__, "max_minutes": budget / 60})
    record = train(corpus, tmp_path / "m", TINY, LOSS, settings, report=tick)
    assert record["stop_reason"] == "time budget" and record["epochs_run"] == 2
    assert record["wall_time_s"] <= budget


AUG = AugmentConfig.parse("all")


def test_resume_with_augmentation_equals_unbroken(corpus, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    ref = train(corpus, a, TINY, LOSS, _settings(3), augmentation=AUG)

    def kill_in_epoch_2(ev):
        if ev["event"] == "batch" and ev["epoch"] == 1 and ev["batch"] == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(corpus, b, TINY, LOSS, _settings(3), report=kill_in_epoch_2, augmentation=AUG)
    record = train(corpus, b, TINY, LOSS, _settings(3), resume=True, augmentation=AUG)
    _assert_same_run(a, b)
    assert [h["train"] for h in record["history"]] == [h["train"] for h in ref["history"]]
    assert record["settings"]["augment"]["kinds"] == ["swap", "velocity", "timing", "repair"]
    # the augmentation is part of what the run is: it changes the training and is checked
    plain_run = train(corpus, tmp_path / "c", TINY, LOSS, _settings(3))
    assert plain_run["history"][0]["train"] != ref["history"][0]["train"]
    assert "augment" not in plain_run["settings"]
    with pytest.raises(ResumeError, match=r"settings\.augment"):
        train(corpus, b, TINY, LOSS, _settings(3), resume=True)
    with pytest.raises(ResumeError, match=r"settings\.augment"):
        train(corpus, b, TINY, LOSS, _settings(3), resume=True, augmentation=AugmentConfig.parse("swap"))


def test_init_starts_from_the_checkpoint_and_is_recorded(corpus, unbroken, cfg, tmp_path):
    src = unbroken[0]
    model = DrumVAE(cfg)
    info = load_init(model, src)
    for k, v in _weights(src).items():
        np.testing.assert_array_equal(model.state_dict()[k].numpy(), v, err_msg=k)
    assert info == {"path": str(src), "weights_sha256": read_card(src)["weights_sha256"]}
    record = train(corpus, tmp_path / "m", cfg, LOSS, _settings(1), init=src)
    assert record["settings"]["init"] == info
    # one epoch from trained weights lands far nearer them than one from random weights
    ref = unbroken[1]["history"]
    assert record["history"][0]["validation"]["loss"] < ref[0]["validation"]["loss"]


def test_init_refuses_a_checkpoint_of_another_size(corpus, unbroken, cfg, tmp_path):
    bigger = replace(cfg, enc_hidden=cfg.enc_hidden + 4)
    with pytest.raises(InitError, match=r"same network; it differs in enc_hidden 8 \(this run: 12\)"):
        train(corpus, tmp_path / "m", bigger, LOSS, _settings(1), init=unbroken[0])

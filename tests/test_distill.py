"""`jamd train distill`: a drum model's decoder copied into an MLP decoder that plays the same
latent space (jamd.training.drum_distill)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _corpus_fixtures import rock_beat, to_track, write_midi
from _tiny_drums import save_tiny_drum_model

from jamd.cli import main

pytest.importorskip("torch")


@pytest.fixture
def setup(tmp_path):
    root = tmp_path / "grooves"
    for i in range(6):
        write_midi(root / f"g{i}.mid", [to_track(rock_beat(4 + i % 3, 480), bpm=100)])
    return save_tiny_drum_model(tmp_path / "teacher"), root


def _distill(teacher, root, out, updates: int, capsys) -> dict:
    args = ["train", "distill", "--teacher", str(teacher), "--midi-dir", str(root), "--out", str(out)]
    assert main([*args, "--width", "48", "--updates", str(updates), "--pool", "4000", "--quiet"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_student_plays_the_teachers_latent_space(setup, tmp_path, capsys):
    from jamd.model.checkpoint import read_card
    from jamd.model.drums import DrumModel

    teacher_path, root = setup
    record = _distill(teacher_path, root, tmp_path / "student", 1500, capsys)
    _distill(teacher_path, root, tmp_path / "barely", 1, capsys)
    teacher, student, barely = (DrumModel.load(tmp_path / n) for n in ("teacher", "student", "barely"))
    assert student.arch == "mlp" and teacher.arch == "gru"
    t_card, s_card = read_card(teacher_path), read_card(tmp_path / "student")
    assert s_card["plane"] == t_card["plane"] and s_card["representation"] == t_card["representation"]
    assert s_card["training"]["distilled_from"]["weights_sha256"] == t_card["weights_sha256"]
    assert s_card["training"]["command"].startswith("jamd ")  # the command line that made it
    # the same encoder: a window gets the same code
    pattern = teacher.decode(np.zeros(3, np.float32))
    np.testing.assert_array_equal(student.encode(pattern), teacher.encode(pattern))
    # around the codes the pad walks, trained copies the teacher far better than untrained
    z = np.random.default_rng(5).normal(size=(200, 3)).astype(np.float32)
    target = teacher.decode_raw(z)[0]
    err = [float(np.mean((m.decode_raw(z)[0] - target) ** 2)) for m in (student, barely)]
    assert err[0] < 0.1 * err[1], err
    # stored in float16 (half the file), and torch and the numpy runtime decode the same from it
    import torch

    from jamd.model.checkpoint import load_checkpoint
    from jamd.training.drum_distill import load_torch_model

    assert load_checkpoint(tmp_path / "student").tensors["decoder.out.weight"].dtype == np.float16
    torch_student, _ = load_torch_model(tmp_path / "student")
    with torch.no_grad():
        torch_logits = torch_student.decoder(torch.from_numpy(z))[0].numpy()
    assert np.abs(torch_logits - student.decode_raw(z)[0]).max() < 1e-4
    agreement = record["played_agreement"]
    assert agreement["cells_differ"] < agreement["pad_step_cells_differ"] * 4


def test_the_same_command_gives_the_same_model(setup, tmp_path, capsys):
    from jamd.model.checkpoint import read_card

    teacher_path, root = setup
    for name in ("one", "two"):
        _distill(teacher_path, root, tmp_path / name, 50, capsys)
    assert read_card(tmp_path / "one")["weights_sha256"] == read_card(tmp_path / "two")["weights_sha256"]


def test_a_teacher_that_is_not_a_drum_model_is_a_clear_error(setup, tmp_path, capsys):
    _, root = setup
    (tmp_path / "junk.json").write_text("{not json")
    args = ["train", "distill", "--teacher", str(tmp_path / "junk"), "--midi-dir", str(root)]
    assert main([*args, "--out", str(tmp_path / "s"), "--quiet"]) != 0
    err = capsys.readouterr().err
    assert "junk" in err and "Traceback" not in err

"""The groove plane (jamd.lab.groove_plane): the pad's axes where the decoder changes the pattern
most per spread of the codes; stored in the card by `jamd eval drums --groove-plane --set-pad`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from _corpus_fixtures import rock_beat, to_track, write_midi
from _tiny_drums import save_tiny_drum_model

from jamd.cli import main
from jamd.lab.groove_plane import groove_axes


class LinearDecoder:
    """Hit probabilities linear in the code: ``W z`` as (B, T, V), T * V = W's rows."""

    def __init__(self, w: np.ndarray):
        self.w = w

    def decode_probs(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, np.float64)
        return (np.atleast_2d(z) @ self.w.T).reshape(len(np.atleast_2d(z)), -1, 2)


def _decoder(norms: list[float]) -> LinearDecoder:
    """A decoder whose column k changes the pattern by ``norms[k]`` per unit of code k."""
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(16, len(norms))))  # orthonormal columns
    return LinearDecoder(q * np.asarray(norms))


def test_the_axes_are_where_the_pattern_changes_most_not_where_the_codes_spread():
    model = _decoder([1.0, 0.5, 0.2, 3.0])
    codes = np.random.default_rng(0).normal(size=(400, 4))
    # the codes spread most along dimension 2 (std 10), which changes the pattern 0.2 a unit:
    # 2 a standard deviation; dimension 3 changes it 3 a unit and has std 1: 3 a standard deviation
    cov = np.diag([1.0, 1.0, 100.0, 1.0])
    axes, spread = groove_axes(model, codes, cov)  # type: ignore[arg-type]
    np.testing.assert_allclose(np.abs(axes), np.eye(4)[[3, 2]], atol=1e-6)
    np.testing.assert_allclose(spread, [1.0, 10.0], rtol=1e-4)
    assert (axes[np.arange(2), np.abs(axes).argmax(1)] > 0).all()  # signs fixed


def test_a_unit_of_the_pad_is_one_standard_deviation_of_the_codes():
    rng = np.random.default_rng(2)
    model = LinearDecoder(rng.normal(size=(16, 5)))
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + 0.1 * np.eye(5)
    axes, spread = groove_axes(model, rng.normal(size=(50, 5)), cov)  # type: ignore[arg-type]
    for axis, s in zip(axes, spread, strict=True):
        step = s * axis
        assert step @ np.linalg.solve(cov, step) == pytest.approx(1.0, rel=1e-4)  # Mahalanobis 1
    # and of all directions one standard deviation long, the first axis changes the pattern most
    change = [np.linalg.norm(model.w @ (s * v)) for v, s in zip(axes, spread, strict=True)]
    others = rng.normal(size=(200, 5))
    others /= np.sqrt(np.einsum("nd,nd->n", others @ np.linalg.inv(cov), others))[:, None]
    assert change[0] >= np.linalg.norm(others @ model.w.T, axis=1).max() - 1e-6


@pytest.fixture
def tiny_copy(tmp_path):
    pytest.importorskip("torch")
    return save_tiny_drum_model(tmp_path / "tiny")


def test_set_pad_with_the_groove_plane_stores_it_and_the_pad_plays_it(tiny_copy, tmp_path, capsys):
    from jamd.model.checkpoint import read_card
    from jamd.model.drums import DrumModel

    root = tmp_path / "grooves"
    for i in range(6):
        write_midi(root / f"g{i}.mid", [to_track(rock_beat(4 + i % 3, 480), bpm=100)])
    before = read_card(tiny_copy)["plane"]
    shutil.copy(tiny_copy.with_suffix(".json"), tmp_path / "before.json")
    args = ["eval", "drums", str(tiny_copy), "--midi-dir", str(root), "--split", "train", "--json"]
    assert main([*args, "--no-timing", "--groove-plane"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert read_card(tiny_copy)["plane"] == before  # evaluated only: the card is unchanged
    assert main([*args, "--no-timing", "--groove-plane", "--set-pad"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["pad_total_change"] == evaluated["pad_total_change"]
    plane = read_card(tiny_copy)["plane"]
    assert plane["axes_from"] == "groove" and plane["center"] == before["center"]
    assert plane["covariance"] == before["covariance"] and plane["axes"] != before["axes"]
    model = DrumModel.load(tiny_copy)
    pad = model.plane(1.0)
    np.testing.assert_allclose(pad.axis_a, np.multiply(plane["axes"][0], plane["spread"][0]), rtol=1e-6)
    # the card's groove plane is the one evaluated: evaluating it as the card's plays the same
    assert main([*args, "--no-timing"]) == 0
    assert json.loads(capsys.readouterr().out)["pad_total_change"] == evaluated["pad_total_change"]

"""`jamd eval drums`: each figure on hand-made cases whose answer is known, the played patterns
against the daemon's own rendering, and the command on a small MIDI folder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from _corpus_fixtures import rock_beat, to_track, write_midi
from _tiny_drums import save_tiny_drum_model

from jamd.cli import main
from jamd.lab.drum_pad import pad_figures, sweeps
from jamd.lab.drum_played import Played, nearest, play, play_walks, quantised, random_hits, snap
from jamd.lab.drum_seed import f1, identification, others, seed_figures, style_nn
from jamd.lab.realism import feature_distances, fit_logistic, heldout_accuracy, wasserstein, window_features
from jamd.model.plane import LatentPlane
from jamd.music.drumkit import VOICE_INDEX

T, V = 32, 9
KICK, SNARE, HAT = VOICE_INDEX["kick"], VOICE_INDEX["snare"], VOICE_INDEX["closed_hat"]


def _played(hit: np.ndarray, velocity: float = 0.8) -> Played:
    hit = np.asarray(hit, bool)
    return Played(hit, np.where(hit, velocity, 0).astype(np.float32), np.zeros(hit.shape, np.float32))


def _random_grids(n: int, rate: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, T, V)) < rate


def _rock() -> np.ndarray:
    g = np.zeros((T, V), bool)
    g[::16, KICK] = g[8::16, KICK] = True
    g[4::8, SNARE] = True
    g[::2, HAT] = True
    return g


# --------------------------------------------------------------------------------- seed


def test_a_perfect_player_scores_one_and_a_wrong_one_zero():
    true = _played(_random_grids(40, 0.15, 0))
    files = np.arange(40) // 2
    rivals = others(files, n=10)
    perfect = seed_figures(true, true, rivals)
    assert perfect.seed_f1 == perfect.seed_f1_kick == perfect.seed_f1_snare == 1.0
    assert perfect.seed_identification == 1.0
    assert perfect.seed_velocity_mae == perfect.seed_offset_mae == 0.0
    inverted = seed_figures(true, _played(~true.hit), rivals)
    assert inverted.seed_f1 == 0.0 and inverted.seed_velocity_mae is None
    assert inverted.seed_identification == 0.0


def test_f1_and_errors_on_matched_hits_by_hand():
    true = np.zeros((1, T, V), bool)
    true[0, [0, 8, 16], KICK] = True
    pred = true.copy()
    pred[0, 16, KICK], pred[0, 4, SNARE] = False, True  # 2 of 3 right, 1 wrong
    assert f1(pred, true) == pytest.approx(2 * 2 / (3 + 3))
    t = Played(true, np.where(true, 0.5, 0).astype(np.float32), np.zeros(true.shape, np.float32))
    p = Played(pred, np.where(pred, 0.7, 0).astype(np.float32), np.where(pred, 0.1, 0).astype(np.float32))
    s = seed_figures(t, p, [np.array([], int)])
    assert s.seed_velocity_mae == pytest.approx(0.2) and s.seed_offset_mae == pytest.approx(0.1)
    assert s.seed_identification is None  # one file: no other window to tell it from


def test_identification_fails_when_the_decode_is_nearer_another_window():
    a, b = np.zeros((T, V), bool), _rock()
    true = _played(np.stack([a, b]))
    played = _played(np.stack([b, b]))  # window 0 played as window 1
    assert identification(true, played, others(np.array([0, 1]))) == 0.5


def test_others_are_other_files_and_fixed():
    files = np.repeat(np.arange(10), 7)
    r1, r2 = others(files, n=50, seed=3), others(files, n=50, seed=3)
    for i, (x, y) in enumerate(zip(r1, r2, strict=True)):
        np.testing.assert_array_equal(x, y)
        assert len(x) == 50 and (files[x] != files[i]).all() and len(set(x)) == 50


def test_baselines_copy_quantised_nearest_random():
    true = _played(_random_grids(30, 0.2, 1), velocity=0.6)
    true.velocity[0, 0, 0] = 1.0 if true.hit[0, 0, 0] else 0.0
    q = quantised(true)
    np.testing.assert_array_equal(q.hit, true.hit)
    assert not q.offset.any()
    for i in range(len(q)):
        v = q.velocity[i][q.hit[i]]
        assert np.ptp(v) == 0 and v[0] == pytest.approx(true.velocity[i][true.hit[i]].mean())
    table = _played(_random_grids(50, 0.2, 2))
    near = snap(true, table)
    for i in range(len(true)):
        d = (table.hit != true.hit[i]).reshape(50, -1).sum(1)
        assert (near.hit[i] != true.hit[i]).sum() == d.min()
    counts = np.array([0, 5, 40, 288])
    r = random_hits(counts, table, np.random.default_rng(0))
    np.testing.assert_array_equal(r.hit.sum((1, 2)), counts)
    assert set(np.unique(r.velocity[r.hit])) <= set(np.unique(table.velocity[table.hit]))


def test_nearest_never_picks_the_same_file():
    table = np.eye(4, dtype=np.float32)
    query = table[:2]
    assert list(nearest(query, table)) == [0, 1]
    got = nearest(query, table, np.array([0, 1]), np.array([0, 1, 2, 3]))
    assert got[0] != 0 and got[1] != 1


def test_style_nn_by_hand():
    styles = ["rock", "funk", "rock", "funk"]  # by file
    table = np.array([[0.0, 0.0], [10.0, 10.0]], np.float32)
    table_file = np.array([0, 1])
    query = np.array([[0.5, 0.0], [9.0, 10.0]], np.float32)
    assert style_nn(query, np.array([2, 3]), table, table_file, styles) == 1.0
    # a query whose nearest window is from its own file takes the next one: the wrong style
    assert style_nn(query[:1], np.array([0]), table, table_file, styles) == 0.0
    assert style_nn(query, np.array([2, 3]), table, table_file, ["", "", "", ""]) is None


# ---------------------------------------------------------------------------------- pad


def test_a_dead_pad_is_not_even():
    hits = np.repeat(_rock()[None, None], 33, axis=1).repeat(5, axis=0)  # nothing ever changes
    p = pad_figures(hits)
    assert p.pad_total_change == 0 and p.pad_dead_share == 1.0 and p.pad_jump_share == 0
    assert p.pad_change_cv is None


def test_an_even_pad_and_a_jumpy_one():
    even = np.zeros((2, 33, T, V), bool)
    for k in range(33):
        even[:, k].reshape(2, -1)[:, :k] = True  # one more cell each point: 1 change per move
    p = pad_figures(even)
    assert p.pad_change_cv == 0 and p.pad_total_change == 32 and p.pad_jump_share == 0
    jumpy = np.zeros((1, 33, T, V), bool)
    jumpy[0, 17:].reshape(16, -1)[:, :10] = True  # one move flips 10 cells, the rest nothing
    p = pad_figures(jumpy)
    assert p.pad_jump_share == 1.0 and p.pad_total_change == 10
    assert p.pad_change_cv == pytest.approx(np.sqrt(31))  # one non-zero of 32: std/mean = sqrt(n-1)


def test_sweeps_follow_the_pad_mapping():
    plane = LatentPlane(np.zeros(3), np.array([1.0, 0, 0]), np.array([0, 2.0, 0]), radius=1.5)
    centers = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    z, xy = sweeps(plane, centers, n=4, points=33)
    assert z.shape == (4, 33, 3) and xy.shape == (4, 33, 2)
    for s, p in zip(z, xy, strict=True):
        np.testing.assert_allclose(s, [plane.point(x, y, s[16]) for x, y in p], atol=1e-5)
        assert any(np.allclose(s[16], c) for c in centers)  # t = 0 is the seed
        np.testing.assert_allclose(np.diff(s, axis=0), np.diff(s, axis=0)[:1].repeat(32, 0), atol=1e-5)
        x, y = plane.project(s[-1], s[16])
        assert x**2 + y**2 == pytest.approx(1.0, abs=1e-4)  # the ends at full throw


# ------------------------------------------------------------------------------ realism


def test_real_vs_real_is_chance_and_real_vs_noise_is_not():
    real = _random_grids(600, 0.15, 3).reshape(600, -1).astype(np.float32)
    groups = np.arange(600) // 6
    acc = heldout_accuracy(real[:300], groups[:300], real[300:], groups[300:])
    assert acc is not None and 0.4 < acc < 0.6
    fake = real[300:].copy()
    fake[:, 1::2] = 1.0  # the same plus a wall on every odd cell
    assert heldout_accuracy(real[:300], groups[:300], fake, groups[300:]) > 0.95
    assert heldout_accuracy(real[:300], np.zeros(300), fake, groups[300:]) is None  # one file


def test_logistic_regression_reaches_its_optimum():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    y = (x @ np.array([2.0, -1, 0, 0, 1]) + 0.5 * rng.normal(size=400) > 0).astype(float)
    w = fit_logistic(x, y, l2=1e-2)
    p = 1 / (1 + np.exp(-(x @ w[:-1] + w[-1])))
    share = np.where(y == 1, 0.5 / y.sum(), 0.5 / (1 - y).sum())
    grad = np.append(x.T @ (share * (p - y)) + 1e-2 * w[:-1], (share * (p - y)).sum())
    assert np.abs(grad).max() < 1e-8
    assert np.mean((p > 0.5) == y) > 0.85


def test_features_of_a_rock_beat():
    f = window_features(_rock()[None])
    assert f["hits"][0] == 4 + 4 + 16
    assert f["kick_downbeat"][0] == 1.0 and f["snare_backbeat"][0] == 1.0 and f["off_8th"][0] == 0.0
    shifted = np.roll(_rock(), 1, axis=0)[None]  # everything a 16th late
    g = window_features(shifted)
    assert g["kick_downbeat"][0] == 0.0 and g["off_8th"][0] == 1.0
    assert wasserstein(np.arange(100.0), np.arange(100.0) + 3) == pytest.approx(3.0)
    d = feature_distances(np.repeat(shifted, 3, 0), np.repeat(_rock()[None], 3, 0))
    assert d.hits == 0 and d.kick_downbeat == 1.0 and d.off_8th == 1.0


# ------------------------------------------------------------------- the daemon's pattern


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    pytest.importorskip("torch")
    from jamd.model.drums import DrumModel

    path = save_tiny_drum_model(tmp_path_factory.mktemp("tiny") / "tiny")
    return path, DrumModel.load(path)


def test_played_is_what_the_daemon_renders(tiny_model):
    from jamd.live.config import LatentConfig
    from jamd.live.performance import Performance

    _, model = tiny_model
    plane = model.plane(LatentConfig().radius)
    perf = Performance(model, plane)
    seed = np.array([0.4, -0.3, 0.2], np.float32)
    perf.set_center(seed)
    xy = [(0.0, 0.0), (0.7, -0.2), (-1.0, 1.0)]
    played = play(model, np.stack([plane.point(x, y, seed) for x, y in xy]))
    for k, (x, y) in enumerate(xy):
        window = perf.render((x, y))
        np.testing.assert_array_equal(played.hit[k], window.drums.hit > 0)
        np.testing.assert_array_equal(played.velocity[k], window.drums.velocity)
        np.testing.assert_array_equal(played.offset[k], window.drums.offset)


@pytest.fixture
def paced_model(tiny_model, tmp_path):
    """The tiny model with pad defaults in its card: radius 1.5, a slow pace, a short lag."""
    from jamd.model.checkpoint import update_card
    from jamd.model.drums import DrumModel

    path = tmp_path / "paced"
    for suffix in (".json", ".safetensors"):
        shutil.copy(tiny_model[0].with_suffix(suffix), path.with_suffix(suffix))
    update_card(path, pad={"radius": 1.5, "pace": 8.0, "lag": 3})
    return path, DrumModel.load(path)


def test_a_pad_walk_is_what_the_daemon_renders_with_its_memory(paced_model):
    from jamd.live.performance import Performance

    _, model = paced_model
    assert model.pad.radius == 1.5 and model.pad.pacing.pace == 8.0 and model.pad.pacing.lag == 3
    plane = model.plane()  # the model's own radius
    assert plane.radius == 1.5
    perf = Performance(model, plane)
    seed = np.array([0.4, -0.3, 0.2], np.float32)
    perf.set_center(seed)
    xy = np.stack([np.linspace(-1, 1, 33), np.linspace(0.5, -0.5, 33)], axis=1)
    z = np.stack([plane.point(x, y, seed) for x, y in xy])
    walked = play_walks(model, z[None], xy[None], model.pad.pacing)
    fresh = play(model, z)
    assert (walked.hit != fresh.hit).any()  # the memory is at work along this walk
    for k, (x, y) in enumerate(xy):
        window = perf.render((x, y))
        np.testing.assert_array_equal(walked.hit[k], window.drums.hit > 0)
        np.testing.assert_array_equal(walked.velocity[k], window.drums.velocity)
    perf.set_center(seed + 0.1)  # a new seed: afresh
    x, y = xy[-1]
    window = perf.render((x, y))
    np.testing.assert_array_equal(
        play(model, plane.point(x, y, seed + 0.1)[None]).hit[0], window.drums.hit > 0
    )


def test_the_card_holds_the_pad_defaults_and_the_prior(paced_model, tiny_model):
    from jamd.model.checkpoint import CheckpointError, read_card, update_card
    from jamd.model.drums import DrumModel

    path, model = paced_model
    assert DrumModel.load(tiny_model[0]).pad.radius == 2.0 and not tiny_model[1].pad.pacing.on
    mean, chol = model.prior()
    plane = read_card(path)["plane"]
    np.testing.assert_allclose(mean, plane["center"])
    np.testing.assert_allclose(chol @ chol.T, plane["covariance"], atol=1e-5)
    update_card(path, pad={"radius": 1.5, "pace": "fast", "lag": 3})
    with pytest.raises(CheckpointError, match="pad defaults"):
        _ = DrumModel.load(path).pad
    update_card(path, pad={"radius": 1.5, "pace": 8.0, "lag": 3}, plane={**plane, "covariance": [[1.0]]})
    with pytest.raises(CheckpointError, match="prior covariance"):
        DrumModel.load(path).prior()


def test_set_pad_stores_what_was_evaluated(paced_model, tmp_path, capsys):
    from jamd.model.checkpoint import read_card, update_card

    path, _ = paced_model
    card = read_card(path)
    update_card(path, pad=None, plane={k: v for k, v in card["plane"].items() if k != "covariance"})
    root = tmp_path / "grooves"
    for i in range(6):
        write_midi(root / f"g{i}.mid", [to_track(rock_beat(4 + i % 3, 480), bpm=100)])
    args = ["eval", "drums", str(path), "--midi-dir", str(root), "--split", "train", "--json", "--no-timing"]
    assert main([*args, "--radius", "1.25", "--pace", "20", "--lag", "2", "--set-pad"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["radius"], out["pace"], out["lag"]) == (1.25, 20.0, 2) and out["pad_lag"] >= 0
    card = read_card(path)
    assert {k: card["pad"][k] for k in ("radius", "pace", "lag", "chosen_on")} == {
        "radius": 1.25,
        "pace": 20.0,
        "lag": 2,
        "chosen_on": "train",
    }
    assert np.asarray(card["plane"]["covariance"]).shape == (3, 3)


def test_eval_command_on_a_small_folder(tiny_model, tmp_path, capsys):
    path, _ = tiny_model
    root = tmp_path / "grooves"
    for i in range(12):
        notes = (36, 38, 42) if i % 2 else (36, 40, 46)
        write_midi(root / f"g{i}.mid", [to_track(rock_beat(4 + i % 3, 480, notes=notes), bpm=100)])
    args = ["eval", "drums", str(path), "--midi-dir", str(root), "--split", "train", "--json", "--no-timing"]
    assert main([*args, "--baselines"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    for key in (
        "seed_f1",
        "seed_identification",
        "pad_change_cv",
        "pad_total_change",
        "realism_pad",
        "style_nn",
    ):
        assert key in out
    assert "plausible_rate" not in out
    assert 0 <= out["seed_f1"] <= 1 and out["pad_total_change"] >= 0 and out["radius"] == 2.0
    assert out["style_nn"] is None  # a user's folder has no styles
    base = out["baselines"]
    assert base["copy"]["seed_f1"] == 1.0 and base["quantised"]["seed_f1"] == 1.0
    assert base["copy"]["seed_velocity_mae"] == 0.0
    assert 0 <= base["random"]["seed_f1"] < 1


def test_compare_prints_the_models_beside_the_baselines(tiny_model, tmp_path, capsys):
    path, _ = tiny_model
    twin = tmp_path / "twin"
    for suffix in (".json", ".safetensors"):
        shutil.copy(path.with_suffix(suffix), twin.with_suffix(suffix))
    root = tmp_path / "grooves"
    for i in range(6):
        write_midi(root / f"g{i}.mid", [to_track(rock_beat(4 + i % 3, 480), bpm=100)])
    args = ["eval", "drums", "--compare", str(path), str(twin), "--midi-dir", str(root), "--split", "train"]
    assert main([*args, "--no-timing"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(c in lines[0] for c in ("[copy]", "[quantised]", "[nearest_train]", "[random]"))
    seed_row = next(line.split() for line in lines if line.startswith("seed_f1 "))
    assert seed_row[1] == seed_row[2] and seed_row[3] == "1.0000"  # the same model twice; copy = 1


def test_timing_process_times_decode_and_encode(tiny_model):
    from jamd.lab.timing import decode_timing

    path, _ = tiny_model
    t = decode_timing("drums", str(path), 20, encode=True)
    assert set(t) == {"decode_ms_p50", "decode_ms_p99", "encode_ms_p50"} and all(v > 0 for v in t.values())
    assert set(decode_timing("drums", str(path), 5)) == {
        "decode_ms_p50",
        "decode_ms_p99",
    }  # what jamd bench reads

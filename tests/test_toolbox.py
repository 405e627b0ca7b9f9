"""The latent toolbox on real GMD files with the shipped drum model."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from jamd.base.paths import default_data_dir
from jamd.lab.latentmap import HIT, MapLayout, draw_map
from jamd.lab.toolbox import LibraryIndex, combine, encode_file, file_code, interpolate, vary
from jamd.live.config import DEFAULT_DRUM_MODEL
from jamd.model.drums import DecodeControls, DrumModel
from jamd.model.plane import read_walk, walk_text
from jamd.model.style import balanced_accuracy, confusion, fit
from jamd.music.drumkit import GM
from jamd.music.grid import drums_from_notes, read_midi

MODEL = Path(os.environ.get("JAMD_TEST_DRUM_MODEL", DEFAULT_DRUM_MODEL))
GMD = default_data_dir()
FILES = [
    "drummer1/session1/102_funk_95_beat_4-4.mid",
    "drummer1/session1/101_dance-disco_120_beat_4-4.mid",
    "drummer1/session1/100_neworleans-secondline_94_beat_4-4.mid",
]
pytestmark = pytest.mark.skipif(GMD is None, reason="Groove MIDI Dataset not found")


@pytest.fixture(scope="module")
def model():
    return DrumModel.load(MODEL)


@pytest.fixture
def library(tmp_path, monkeypatch):
    monkeypatch.setenv("JAMD_CACHE", str(tmp_path / "cache"))
    lib = tmp_path / "lib"
    lib.mkdir()
    for f in FILES:
        shutil.copy(Path(GMD) / f, lib / Path(f).name)
    return lib


def jamd(*args):
    return subprocess.run([sys.executable, "-m", "jamd", *map(str, args)], capture_output=True, text=True)


def test_encode_gives_every_bar_and_its_plane_xy(model):
    r = jamd("encode", Path(GMD) / FILES[0], "--model", MODEL, "--kit", "td11", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    codes = encode_file(model, Path(GMD) / FILES[0], "td11")
    assert [w["bar"] for w in out["windows"]] == [c.bar for c in codes]
    np.testing.assert_allclose(out["windows"][0]["z"], codes[0].z, atol=1e-4)
    plane = model.plane()
    assert out["windows"][0]["xy"] == pytest.approx(plane.project(codes[0].z), abs=1e-3)


def test_similar_finds_the_file_itself_first_and_caches(model, library):
    query = library / Path(FILES[1]).name
    z = {c.bar: c.z for c in encode_file(model, query)}[0]
    index = LibraryIndex(model, library).refresh()
    assert sorted(index.rebuilt) == sorted(Path(f).name for f in FILES)
    best = index.nearest(z, k=3)
    assert (best[0].file, best[0].bar, best[0].distance) == (query.name, 0, pytest.approx(0.0, abs=1e-6))
    assert best[1].distance > 0
    assert LibraryIndex(model, library).refresh().rebuilt == []  # cached
    os.utime(query, ns=(1, 1))
    assert LibraryIndex(model, library).refresh().rebuilt == [query.name]  # changed file re-encoded


def test_similar_command(library):
    r = jamd(
        "similar", library / Path(FILES[0]).name, "--library", library, "--model", MODEL, "-k", "2", "--json"
    )
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)["matches"]
    assert m[0]["file"] == Path(FILES[0]).name and m[0]["bar"] == 1 and m[0]["distance"] == 0


def test_combining_one_file_with_weight_one_reproduces_its_encoding(model, tmp_path):
    src = Path(GMD) / FILES[0]
    z = file_code(model, src, "td11")
    np.testing.assert_allclose(combine([z], [1.0]), z)
    out = tmp_path / "g.mid"
    r = jamd("generate", "--from", src, "--weights", "1.0", "--kit", "td11", "--model", MODEL, "-o", out)
    assert r.returncode == 0, r.stderr
    played = drums_from_notes(read_midi(mido.MidiFile(out)).drums, GM, model.steps)
    np.testing.assert_array_equal(played.hit, model.decode(z).hit)


def test_a_random_pattern_is_drawn_from_the_models_prior(model, tmp_path):
    out = tmp_path / "r.mid"
    r = jamd("generate", "--seed", 4, "--model", MODEL, "-o", out)
    assert r.returncode == 0, r.stderr
    played = drums_from_notes(read_midi(mido.MidiFile(out)).drums, GM, model.steps)
    mean, scale = model.prior()
    controls = DecodeControls(seed=4)
    np.testing.assert_array_equal(played.hit, model.decode(vary(mean, 1.0, 4, scale), controls).hit)
    if scale is not None:  # a fitted prior is not N(0, I)
        assert not np.array_equal(played.hit, model.decode(vary(np.zeros_like(mean), 1.0, 4), controls).hit)


def test_latent_arithmetic_is_linear(model):
    za, zb = (file_code(model, Path(GMD) / f, "td11") for f in FILES[:2])
    np.testing.assert_allclose(combine([za, zb], [0.7, 0.3]), 0.7 * za + 0.3 * zb, rtol=1e-6)
    np.testing.assert_allclose(combine([za, zb], [1.0, -1.0]), za - zb, rtol=1e-6)
    with pytest.raises(ValueError):
        combine([za, zb], [1.0])


def test_interpolation_starts_at_a_and_ends_at_b(model):
    za, zb = (file_code(model, Path(GMD) / f, "td11") for f in FILES[:2])
    walk = interpolate(model, za, zb, bars=8)
    assert walk.steps == 8 * 16
    np.testing.assert_array_equal(walk.hit[:16], model.decode(za).hit[:16])
    np.testing.assert_array_equal(walk.hit[-16:], model.decode(zb).hit[16:])


def test_interpolate_command_writes_the_bars(tmp_path):
    out = tmp_path / "walk.mid"
    r = jamd(
        "interpolate",
        Path(GMD) / FILES[0],
        Path(GMD) / FILES[1],
        "--bars",
        "6",
        "--kit",
        "td11",
        "--model",
        MODEL,
        "-o",
        out,
    )
    assert r.returncode == 0, r.stderr
    notes = read_midi(mido.MidiFile(out)).drums
    assert notes and max(n.beat for n in notes) < 6 * 4


def test_map_picture_shows_patterns_contours_and_the_home_point(model, tmp_path):
    from matplotlib.image import imread

    layout = MapLayout(cells=5, inches=6, dpi=100)
    density = model.code_density()
    assert density is not None, "the shipped model's card keeps its training codes' density"
    fig = draw_map(model, model.plane(), layout, density, marks=[(0.5, 0.5)], walk=[(-1, -1), (1, 1)])
    path = tmp_path / "map.png"
    fig.savefig(path, facecolor=fig.get_facecolor())
    img = (imread(path)[..., :3] * 255).astype(int)
    assert img.shape[:2] == (round(6 * 0.78 * 100), 600)

    def pixels(rgb) -> int:
        return int((np.abs(img - np.asarray(rgb)).sum(-1) < 40).sum())

    assert pixels(HIT * 255) > 50  # decoded hits drawn, not a blank picture
    assert pixels([0x8F, 0xB4, 0xF0]) > 200  # the contours
    assert pixels([0x50, 0xE6, 0x78]) > 10  # the marked file
    texts = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    assert "kick" in texts and "ride" in texts  # the key names the voice rows
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("50%" in t for t in labels) and any("home" in t for t in labels)


def test_recorded_walk_is_read_back():
    mid = mido.MidiFile()
    track = mido.MidiTrack(
        [
            mido.MetaMessage("text", text=walk_text(0.25, -0.5)),
            mido.MetaMessage("text", text="something else"),
            mido.MetaMessage("text", text=walk_text(1.0, 0.0), time=480),
        ]
    )
    mid.tracks.append(track)
    assert read_walk(mid) == [(0.25, -0.5), (1.0, 0.0)]


def test_style_fit_separates_separable_styles():
    rng = np.random.default_rng(1)
    centers = np.array([[2, 0, 0, 0], [-2, 0, 0, 0], [0, 2, 0, 0]], float)
    y = rng.integers(0, 3, 600)
    z = centers[y] + 0.3 * rng.normal(size=(600, 4))
    clf = fit(z, y, ["rock", "jazz", "funk"], l2=1e-3)
    m = confusion(clf, z, y)
    assert balanced_accuracy(m) > 0.95
    np.testing.assert_allclose(clf.proba(z).sum(1), 1.0)
    assert clf.predict(centers) == ["rock", "jazz", "funk"]


def test_classify_command_gives_probabilities_per_window():
    style = MODEL.with_name(MODEL.name + "-style")
    if not style.with_suffix(".json").is_file():
        pytest.skip(f"no style classifier beside {MODEL}")
    r = jamd("classify", Path(GMD) / FILES[0], "--model", MODEL, "--kit", "td11", "--json")
    assert r.returncode == 0, r.stderr
    windows = json.loads(r.stdout)["windows"]
    assert windows and all(abs(sum(w["styles"].values()) - 1) < 1e-3 for w in windows)


def test_similar_says_why_it_skips_a_damaged_file(library):
    (library / "empty.mid").write_bytes(b"")
    (library / "cut.mid").write_bytes((library / Path(FILES[0]).name).read_bytes()[:40])
    r = jamd("similar", library / Path(FILES[0]).name, "--library", library, "--model", MODEL, "--json")
    assert r.returncode == 0, r.stderr
    skipped = dict(line.split("similar: skipping ", 1)[1].split(": ", 1) for line in r.stderr.splitlines())
    assert sorted(skipped) == ["cut.mid", "empty.mid"], r.stderr
    assert all(why.strip() for why in skipped.values()), r.stderr

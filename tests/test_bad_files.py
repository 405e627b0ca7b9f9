"""Bad files, end to end: one clear line on stderr (file, line where it applies, what is allowed),
exit code 2, never a traceback - through the real command line (``python -m jamd``).

In-process checks of the same readers are in test_config.py (every config key), test_mapping.py
(every mapping field) and test_checkpoint.py (damaged weights); this file adds what only the
command line shows (exit code, one line, no traceback) and the damage those do not reach:
model cards with broken fields and unreadable MIDI files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mido
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jamd.base.errors import UserError
from jamd.model.checkpoint import CheckpointError, save_checkpoint
from jamd.model.drums import DrumModel
from jamd.music.drumkit import VOICES

SCALE = max(1, int(os.environ.get("JAMD_FUZZ_EXAMPLES", "1")))
D, HE, H, V, T = 3, 8, 12, len(VOICES), 32


def drum_checkpoint(path: Path) -> Path:
    """A small drum VAE checkpoint with random weights, written without torch (same names and
    shapes as ``jamd.training.drum_train.export_tensors``)."""
    rng = np.random.default_rng(0)
    shapes = {
        "decoder.b_hh": (3 * H,),
        "decoder.h0.bias": (H,),
        "decoder.h0.weight": (H, D),
        "decoder.out.bias": (3 * V,),
        "decoder.out.weight": (3 * V, H),
        "decoder.step_in": (T, 3 * H),
        "decoder.w_hh": (3 * H, H),
        "decoder.z_in.weight": (3 * H, D),
        "encoder.out.bias": (2 * D,),
        "encoder.out.weight": (2 * D, 2 * HE),
    }
    for sfx in ("", "_reverse"):
        shapes |= {
            f"encoder.rnn.bias_hh_l0{sfx}": (3 * HE,),
            f"encoder.rnn.bias_ih_l0{sfx}": (3 * HE,),
            f"encoder.rnn.weight_hh_l0{sfx}": (3 * HE, HE),
            f"encoder.rnn.weight_ih_l0{sfx}": (3 * HE, 3 * V),
        }
    tensors = {k: rng.normal(size=s).astype(np.float32) * 0.3 for k, s in shapes.items()}
    card = {
        "kind": "drums",
        "config": {"steps": T, "voices": V, "latent_dim": D, "enc_hidden": HE, "dec_hidden": H},
        "representation": {
            "steps": T,
            "steps_per_beat": 4,
            "voices": list(VOICES),
            "features": ["hit", "velocity", "offset"],
        },
        "plane": {"center": [0.0] * D, "axes": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "spread": [1.0, 1.0]},
        "training": {},
        "metrics": {},
    }
    return save_checkpoint(path, tensors, card)


def groove(path: Path, drums: bool = True) -> Path:
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for i in range(64):
        if not drums:  # a controller sweep: no note at all
            track.append(mido.Message("control_change", control=1, value=i, time=0 if i == 0 else 120))
            continue
        note = 36 if i % 4 == 0 else 42
        track.append(mido.Message("note_on", channel=9, note=note, velocity=100, time=0 if i == 0 else 120))
        track.append(mido.Message("note_off", channel=9, note=note, velocity=0, time=0))
    mid.save(path)
    return path


def _variant(base: Path, name: str, card_edit=None, weights_edit=None) -> Path:
    """A copy of a checkpoint with its card and/or weights bytes changed."""
    out = base.with_name(name)
    card = json.loads(base.with_suffix(".json").read_text())
    weights = base.with_name(base.name + ".safetensors").read_bytes()
    if card_edit:
        card_edit(card)
    if weights_edit:
        weights = weights_edit(weights)
    out.with_name(name + ".json").write_text(json.dumps(card))
    out.with_name(name + ".safetensors").write_bytes(weights)
    return out


def _flip(data: bytes) -> bytes:
    b = bytearray(data)
    b[len(b) // 2] ^= 0x01  # one bit of one weight
    return bytes(b)


# ------------------------------------------------------------------------------ the cases

#: name -> (argv builder, words the one line must hold). ``{d}`` is the case folder.
CASES: dict[str, tuple[list[str], list[str]]] = {
    "malformed YAML": (
        ["check", "--config", "{d}/bad-yaml.yaml"],
        ["{d}/bad-yaml.yaml:3:", "not valid YAML"],
    ),
    "mapping with an unknown target": (
        ["check", "--config", "{d}/uses-unknown-target.yaml"],
        ["{d}/unknown-target.yaml:3:", "unknown target 'drums.z'", "drums.x"],
    ),
    "mapping with CC 300": (["check", "--config", "{d}/uses-cc300.yaml"], ["{d}/cc300.yaml:3:", "0..127"]),
    "mapping file given to check": (
        ["check", "--config", "{d}/empty.yaml", "{d}/cc300.yaml"],
        ["{d}/cc300.yaml:3:", "0..127"],
    ),
    "config naming a missing model": (
        ["check", "--config", "{d}/missing-model.yaml"],
        ["{d}/missing-model.yaml:2:", "no model 'nowhere/drums'"],
    ),
    "missing checkpoint": (["encode", "{d}/x.mid", "--model", "{d}/nowhere"], ["nowhere.json", "not found"]),
    "truncated checkpoint": (
        ["encode", "{d}/x.mid", "--model", "{d}/truncated"],
        ["truncated.safetensors", "sha256", "truncated"],
    ),
    "tampered checkpoint (one bit)": (
        ["encode", "{d}/x.mid", "--model", "{d}/flipped"],
        ["flipped.safetensors", "sha256"],
    ),
    "card from another representation": (
        ["encode", "{d}/x.mid", "--model", "{d}/other-voices"],
        ["other-voices.json", "representation voices", "cowbell", "kick"],
    ),
    "bass checkpoint where drums expected": (
        ["encode", "{d}/x.mid", "--model", "{d}/bass"],
        ["bass.json", "'bass' model, expected 'drums'"],
    ),
    "card that is not JSON": (
        ["encode", "{d}/x.mid", "--model", "{d}/not-json"],
        ["not-json.json", "not valid JSON"],
    ),
    "card with a text format_version": (
        ["encode", "{d}/x.mid", "--model", "{d}/text-version"],
        ["text-version.json", "format_version must be a whole number"],
    ),
    "card with a list for representation": (
        ["encode", "{d}/x.mid", "--model", "{d}/list-repr"],
        ["list-repr.json", "representation must be a JSON object"],
    ),
    "card config value not a number": (
        ["encode", "{d}/x.mid", "--model", "{d}/text-config"],
        ["text-config", "not a drum VAE checkpoint"],
    ),
    "card with a broken latent plane": (
        ["encode", "{d}/x.mid", "--model", "{d}/bad-plane"],
        ["bad-plane.json", "latent plane"],
    ),
    "weights of another model (card swapped)": (
        ["encode", "{d}/x.mid", "--model", "{d}/swapped"],
        ["swapped.safetensors", "sha256"],
    ),
    "MIDI file that is not MIDI": (
        ["encode", "{d}/garbage.mid", "--model", "{d}/good"],
        ["garbage.mid", "not a readable MIDI file"],
    ),
    "truncated MIDI file": (
        ["encode", "{d}/truncated.mid", "--model", "{d}/good"],
        ["truncated.mid", "not a readable MIDI file"],
    ),
    "MIDI file without drums": (
        ["encode", "{d}/no-drums.mid", "--model", "{d}/good"],
        ["no-drums.mid", "no 2-bar window with a drum hit"],
    ),
    "missing MIDI file": (
        ["encode", "{d}/nowhere.mid", "--model", "{d}/good"],
        ["nowhere.mid", "no such MIDI file"],
    ),
}


def _make_files(d: Path) -> None:
    good = drum_checkpoint(d / "good")
    groove(d / "x.mid")
    groove(d / "no-drums.mid", drums=False)
    (d / "garbage.mid").write_bytes(bytes(range(256)) * 2)
    (d / "truncated.mid").write_bytes((d / "x.mid").read_bytes()[:40])
    (d / "bad-yaml.yaml").write_text("clock:\n  tempo: [100\n")
    (d / "empty.yaml").write_text("")
    (d / "unknown-target.yaml").write_text("controls:\n  k:\n    target: drums.z\n    cc: 1\n")
    (d / "cc300.yaml").write_text("controls:\n  k:\n    cc: 300\n    target: drums.x\n")
    (d / "uses-unknown-target.yaml").write_text("mappings:\n  - ./unknown-target.yaml\n")
    (d / "uses-cc300.yaml").write_text("mappings:\n  - ./cc300.yaml\n")
    (d / "missing-model.yaml").write_text("models:\n  drums: nowhere/drums\n")
    _variant(good, "truncated", weights_edit=lambda w: w[:-100])
    _variant(good, "flipped", weights_edit=_flip)
    _variant(
        good,
        "other-voices",
        card_edit=lambda c: c["representation"].__setitem__("voices", ["kick", "snare", "cowbell"]),
    )
    _variant(good, "bass", card_edit=lambda c: c.__setitem__("kind", "bass"))
    _variant(good, "text-version", card_edit=lambda c: c.__setitem__("format_version", "1"))
    _variant(good, "list-repr", card_edit=lambda c: c.__setitem__("representation", ["steps", 32]))
    _variant(good, "text-config", card_edit=lambda c: c["config"].__setitem__("latent_dim", "three"))
    _variant(good, "bad-plane", card_edit=lambda c: c["plane"].__setitem__("axes", [[1.0, 0.0]]))
    _variant(good, "swapped", weights_edit=lambda w: w.replace(b"decoder.b_hh", b"decoder.b_hx"))
    _variant(good, "not-json")
    (d / "not-json.json").write_text('{"format": "jamd-checkpoint", "kind": ')


#: these run as a real ``python -m jamd`` process; the rest through ``jamd.cli.main`` in this
#: process (the same code path bar the interpreter start, which costs ~0.5 s of CPU per case)
SUBPROCESS = (
    "malformed YAML",
    "mapping with an unknown target",
    "mapping with CC 300",
    "config naming a missing model",
    "truncated checkpoint",
    "tampered checkpoint (one bit)",
    "card from another representation",
    "bass checkpoint where drums expected",
)


def _in_process(argv: list[str], d: Path) -> subprocess.CompletedProcess:
    """``jamd.cli.main`` as the console script calls it; an exception escaping it is what
    would have printed a traceback."""
    import contextlib
    import io
    import traceback

    from jamd.cli import main

    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(d)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except Exception:  # noqa: BLE001 - reported as the traceback it would be
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(cwd)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def _run(argv: list[str], d: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CONFIG_HOME=str(d / "xdg"), JAMD_CONFIG="", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "jamd", *argv], capture_output=True, text=True, timeout=120, cwd=d, env=env
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> tuple[Path, dict[str, subprocess.CompletedProcess]]:
    """Every case run once: the brief's list as real processes (in parallel), the rest in-process."""
    d = tmp_path_factory.mktemp("badfiles")
    _make_files(d)
    jobs = {name: [a.format(d=d) for a in argv] for name, (argv, _) in CASES.items()}
    jobs["(the good model and file)"] = ["encode", f"{d}/x.mid", "--model", f"{d}/good"]
    sub = [n for n in jobs if n in SUBPROCESS or n.startswith("(")]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        done = dict(zip(sub, pool.map(lambda n: _run(jobs[n], d), sub)))
    for name in jobs:
        if name not in done:
            done[name] = _in_process(jobs[name], d)
    return d, done


def test_the_good_files_work(results) -> None:
    """The damage, not the setup, is what the other cases see."""
    _, done = results
    r = done["(the good model and file)"]
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("bar ") == 3


@pytest.mark.parametrize("case", list(CASES))
def test_bad_file_is_one_clear_line_exit_2(results, case: str) -> None:
    d, done = results
    r = done[case]
    words = [w.format(d=d) for w in CASES[case][1]]
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    for w in words:
        assert w in lines[0], (w, lines[0])


# ---------------------------------------------------------- fuzz the same readers in-process


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> Path:
    return drum_checkpoint(tmp_path_factory.mktemp("good") / "m")


json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "steps", "axes"]), st.integers(0, 3), max_size=2),
)
card_paths = st.sampled_from(
    [
        ("format_version",),
        ("kind",),
        ("config",),
        ("config", "steps"),
        ("config", "voices"),
        ("config", "latent_dim"),
        ("config", "dec_hidden"),
        ("representation",),
        ("representation", "voices"),
        ("representation", "steps_per_beat"),
        ("plane",),
        ("plane", "axes"),
        ("plane", "center"),
        ("plane", "spread"),
        ("weights_sha256",),
        ("format",),
    ]
)


@settings(
    max_examples=250 * SCALE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=st.lists(st.tuples(card_paths, json_values | st.just("<delete>")), min_size=1, max_size=4))
def test_any_card_damage_is_a_checkpoint_error(good_model, tmp_path_factory, edits) -> None:
    """A model card edited by hand (any field, any JSON value, or deleted): the model loads and
    its plane is usable, or there is one CheckpointError - never another exception."""
    card = json.loads(good_model.with_suffix(".json").read_text())
    for path, value in edits:
        node = card
        for k in path[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict):
            if value == "<delete>":
                node.pop(path[-1], None)
            else:
                node[path[-1]] = value
    d = tmp_path_factory.mktemp("card")
    base = d / "m"
    (d / "m.json").write_text(json.dumps(card))
    (d / "m.safetensors").write_bytes(good_model.with_name("m.safetensors").read_bytes())
    try:
        model = DrumModel.load(base)
        model.plane()
    except CheckpointError as e:
        assert "\n" not in str(e)


@settings(
    max_examples=200 * SCALE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(0, 2000), flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 255)), max_size=4)
)
def test_any_damaged_midi_file_is_a_user_error(tmp_path_factory, cut, flips) -> None:
    from jamd.commands.common import midi_file

    d = tmp_path_factory.mktemp("mid")
    data = bytearray(groove(d / "x.mid").read_bytes())
    for at, x in flips:
        if data:
            data[at % len(data)] ^= x
    (d / "bad.mid").write_bytes(bytes(data[:cut]))
    try:
        midi_file(d / "bad.mid")
    except UserError as e:
        assert "\n" not in str(e)

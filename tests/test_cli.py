"""The ``jamd`` command, run as a user runs it: a subprocess of the installed console script
(or ``python -m jamd``), checked on exit status, stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from _corpus_fixtures import GMD, gmd_corpus, gmd_rows, needs_gmd, rock_beat, to_track, write_midi

import jamd
from jamd.music.drumkit import VOICES

__all__ = ["gmd_corpus"]  # the session fixture, imported for pytest

SCRIPT = Path(sys.executable).with_name("jamd")
ENTRY_POINTS = [[str(SCRIPT)], [sys.executable, "-m", "jamd"]]
IDS = ["console-script", "python-m"]


def jamd_cmd(*args, cache: Path | None = None, entry=None, timeout=120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if cache is not None:
        env["JAMD_CACHE"] = str(cache)
    cmd = (entry or ENTRY_POINTS[0]) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def test_console_script_is_installed():
    assert SCRIPT.is_file(), f"no console script next to {sys.executable}"


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=IDS)
def test_version(entry):
    r = jamd_cmd("--version", entry=entry)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"jamd {jamd.__version__}"
    assert jamd.__version__ == metadata.version("jamd")


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=IDS)
def test_help_lists_the_commands(entry):
    r = jamd_cmd("--help", entry=entry)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: jamd")
    assert "data" in r.stdout and "--version" in r.stdout
    r = jamd_cmd("data", "--help", entry=entry)
    assert r.returncode == 0
    for opt in ("--data", "--midi-dir", "--json", "--no-cache"):
        assert opt in r.stdout


def test_no_command_prints_usage_and_fails():
    r = jamd_cmd()
    assert r.returncode == 2
    assert "usage: jamd" in r.stdout + r.stderr


def test_unknown_option_is_a_usage_error():
    r = jamd_cmd("data", "--no-such-option")
    assert r.returncode == 2
    assert "unrecognized arguments" in r.stderr and "Traceback" not in r.stderr


@needs_gmd
def test_data_json_on_the_real_corpus(gmd_corpus):
    """Shape of the JSON, file counts per split from info.csv's 4/4 rows, and windows and hit
    rates equal to the corpus loaded in this process (same cache, so no second 12 s build)."""
    corpus, cache = gmd_corpus
    r = jamd_cmd("data", "--data", str(GMD), "--json", cache=cache)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"train", "validation", "test"}
    want_files = Counter(row["split"] for row in gmd_rows() if row["time_signature"] == "4-4")
    for split, s in out.items():
        assert {"files", "windows", "hit_rate"} <= set(s)
        assert isinstance(s["files"], int) and isinstance(s["windows"], int)
        assert s["files"] == want_files[split]
        assert s["windows"] == len(corpus.splits[split]) > 0
        assert list(s["hit_rate"]) == list(VOICES)
        rates = np.array([s["hit_rate"][v] for v in VOICES])
        assert np.all((rates >= 0) & (rates <= 1))
        want = corpus.splits[split].hit.reshape(-1, len(VOICES)).mean(axis=0)
        np.testing.assert_allclose(rates, want, atol=1e-4)
    assert out["train"]["windows"] > out["validation"]["windows"]
    # the text form says the same numbers
    r = jamd_cmd("data", "--data", str(GMD), cache=cache)
    assert r.returncode == 0, r.stderr
    for split, s in out.items():
        line = next(l for l in r.stdout.splitlines() if l.strip().startswith(split + ":"))
        assert f"{s['files']} files" in " ".join(line.split())
        assert f"{s['windows']} windows" in " ".join(line.split())


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=IDS)
def test_missing_data_folder_is_one_clear_line_and_exit_2(tmp_path, entry):
    missing = tmp_path / "no" / "such" / "folder"
    r = jamd_cmd("data", "--data", str(missing), "--json", cache=tmp_path / "cache", entry=entry)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert str(missing) in lines[0] and "not found" in lines[0]
    assert not (tmp_path / "cache").exists()


def test_data_folder_without_info_csv_is_one_line(tmp_path):
    (tmp_path / "gmd").mkdir()
    r = jamd_cmd("data", "--data", str(tmp_path / "gmd"), cache=tmp_path / "cache")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "info.csv" in r.stderr


def test_empty_midi_dir_is_one_line(tmp_path):
    (tmp_path / "mine").mkdir()
    r = jamd_cmd("data", "--midi-dir", str(tmp_path / "mine"), cache=tmp_path / "cache")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "no MIDI files" in r.stderr


def test_data_json_on_a_user_midi_folder(tmp_path):
    root = tmp_path / "mine"
    for i in range(4):
        write_midi(root / f"loop{i}.mid", [to_track(rock_beat(3 + i, 480, channel=1 + i % 2 * 9), bpm=100)])
    r = jamd_cmd("data", "--midi-dir", str(root), "--json", cache=tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"train", "validation"}
    assert out["train"]["files"] + out["validation"]["files"] == 4
    assert out["validation"]["files"] >= 1
    # loops of 3..6 bars -> 2..5 windows each
    assert out["train"]["windows"] + out["validation"]["windows"] == 2 + 3 + 4 + 5
    # a rock beat: kick, snare, closed hat; nothing else
    for s in out.values():
        if s["windows"]:
            assert {v for v, r_ in s["hit_rate"].items() if r_ > 0} == {"kick", "snare", "closed_hat"}
    assert list((tmp_path / "cache").glob("windows-*.npz"))

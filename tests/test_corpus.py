"""jamd.data.corpus: GMD and user-folder windows, the split rules and the .npz cache.

The GMD checks compare the corpus with ``info.csv`` (read with ``csv``) and with grids rebuilt
from an independent MIDI reader; the window rules are the ones documented in jamd.data.corpus.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import mido
import numpy as np
import pytest
from _corpus_fixtures import (
    GMD,
    SPLITS,
    exact_step,
    expected_cells,
    gmd_corpus,
    gmd_rows,
    needs_gmd,
    raw_note_ons,
    rock_beat,
    to_track,
    write_midi,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jamd.data.corpus as corpus_mod
from jamd.data.corpus import WindowSettings, folder_files, load_corpus
from jamd.music.drumkit import TD11, VOICES

N_VOICES = len(VOICES)
__all__ = ["gmd_corpus"]  # the session fixture, imported for pytest


def four_four_rows():
    return [r for r in gmd_rows() if r["time_signature"] == "4-4"]


# --------------------------------------------------------------------------------- real GMD


@needs_gmd
def test_files_are_the_4_4_rows_of_info_csv_with_their_own_split(gmd_corpus):
    corpus, _ = gmd_corpus
    want = {r["midi_filename"]: r["split"] for r in four_four_rows()}
    got = {f.path: f.split for f in corpus.files}
    assert len(got) == len(corpus.files), "a file listed twice"
    assert got == want
    non44 = {r["midi_filename"] for r in gmd_rows() if r["time_signature"] != "4-4"}
    assert len(non44) == 12 and not non44 & set(got)


@needs_gmd
def test_windows_never_cross_a_split(gmd_corpus):
    corpus, _ = gmd_corpus
    assert set(corpus.splits) == set(SPLITS)
    seen: dict[int, str] = {}
    for name, w in corpus.splits.items():
        assert len(w) > 0
        for i in np.unique(w.file):
            assert corpus.files[i].split == name, corpus.files[i].path
            assert seen.setdefault(int(i), name) == name
    # the split is the dataset's own, file by file
    by_csv = {r["midi_filename"]: r["split"] for r in gmd_rows()}
    for i, name in seen.items():
        assert by_csv[corpus.files[i].path] == name
    # every beat (a long performance) of 3+ bars gives windows; short fills may not
    index = {f.path: i for i, f in enumerate(corpus.files)}
    beats = [
        r
        for r in four_four_rows()
        if r["beat_type"] == "beat" and float(r["duration"]) * float(r["bpm"]) / 60 >= 12
    ]
    assert len(beats) > 400
    missing = [r["midi_filename"] for r in beats if index[r["midi_filename"]] not in seen]
    assert not missing


@needs_gmd
def test_window_arrays_shape_and_ranges(gmd_corpus):
    corpus, _ = gmd_corpus
    for w in corpus.splits.values():
        n = len(w)
        assert w.hit.shape == w.velocity.shape == w.offset.shape == (n, 32, N_VOICES)
        assert w.file.shape == w.bar.shape == (n,)
        assert set(np.unique(w.hit)) <= {0, 1}
        on = w.hit == 1
        assert np.all(w.velocity[on] > 0) and np.all(w.velocity[on] <= 1)
        assert np.all(w.offset[on] >= -0.5) and np.all(w.offset[on] < 0.5)
        assert not w.velocity[~on].any() and not w.offset[~on].any()
        # documented rule: a window keeps at least min_hits (8) hits
        assert w.hit.sum(axis=(1, 2)).min() >= corpus.settings.min_hits == 8
        # no window twice
        assert len(set(zip(w.file.tolist(), w.bar.tolist()))) == n


@needs_gmd
def test_every_voice_is_played_in_the_training_windows(gmd_corpus):
    corpus, _ = gmd_corpus
    assert np.all(corpus.splits["train"].hit.sum(axis=(0, 1)) > 0)


def independent_grid(path: Path) -> tuple[dict, int]:
    """{(step, voice): (velocity, offsets)} and the last note-on's step, from the raw bytes."""
    tpb, ons = raw_note_ons(path.read_bytes())
    cells = expected_cells(((*exact_step(t, tpb), n, v) for t, _, n, v in ons), TD11)
    return cells, max(exact_step(t, tpb)[0] for t, _, _, _ in ons)


def sample_files(corpus, per_split=6):
    out = []
    for name in SPLITS:
        idx = [i for i, f in enumerate(corpus.files) if f.split == name]
        out += idx[:: max(1, len(idx) // per_split)][:per_split]
    return out


@needs_gmd
def test_windows_are_the_files_bars_hop_steps_and_min_hits(gmd_corpus):
    """For a sample of files of every split: each kept window is exactly the 32 steps starting
    at its bar line (hop 16) of the file's grid, and every full window inside the played part
    with 8+ hits is kept, every one with fewer is dropped."""
    corpus, _ = gmd_corpus
    s = corpus.settings
    assert (s.steps, s.hop) == (32, 16)
    checked = 0
    for i in sample_files(corpus):
        f = corpus.files[i]
        w = corpus.splits[f.split]
        rows = np.nonzero(w.file == i)[0]
        cells, last = independent_grid(GMD / f.path)
        kept = {}
        for r in rows:
            start = int(w.bar[r]) * s.hop
            hit = np.zeros((s.steps, N_VOICES), np.uint8)
            for (step, voice), (vel, offs) in cells.items():
                if start <= step < start + s.steps:
                    hit[step - start, voice] = 1
                    assert w.velocity[r, step - start, voice] == pytest.approx(vel / 127, abs=1e-6)
                    assert any(abs(w.offset[r, step - start, voice] - float(o)) < 1e-6 for o in offs)
            np.testing.assert_array_equal(w.hit[r], hit, err_msg=f"{f.path} bar {w.bar[r]}")
            kept[int(w.bar[r])] = int(hit.sum())
        for bar in range(0, (last + 1 - s.steps) // s.hop + 1):
            start = bar * s.hop
            n = sum(start <= st < start + s.steps for st, _ in cells)
            assert (bar in kept) == (n >= s.min_hits), (f.path, bar, n)
        checked += len(rows)
    assert checked > 100


@needs_gmd
def test_summary_counts_and_hit_rates(gmd_corpus):
    corpus, _ = gmd_corpus
    summary = corpus.summary()
    files = Counter(r["split"] for r in four_four_rows())
    for name in SPLITS:
        s, w = summary[name], corpus.splits[name]
        assert s["files"] == files[name]
        assert s["windows"] == len(w)
        assert list(s["hit_rate"]) == list(VOICES)
        rate = w.hit.reshape(-1, N_VOICES).mean(axis=0)
        assert [s["hit_rate"][v] for v in VOICES] == pytest.approx(rate, abs=1e-4)
        assert s["hits_per_window"] == pytest.approx(w.hit.sum() / len(w), abs=0.01)
    # the README's corpus figures (`jamd data`): 16,211 train and 2,010 validation windows
    assert 15000 < summary["train"]["windows"] < 17500
    assert 1700 < summary["validation"]["windows"] < 2300


@needs_gmd
def test_second_load_reuses_the_cache_without_reading_midi(gmd_corpus, monkeypatch):
    corpus, cache = gmd_corpus
    assert len(list(cache.glob("windows-*.npz"))) == 1

    def no_midi(*a, **k):
        raise AssertionError("MIDI was read although the cache is valid")

    monkeypatch.setenv("JAMD_CACHE", str(cache))
    monkeypatch.setattr(corpus_mod, "file_grid", no_midi)
    monkeypatch.setattr(corpus_mod, "read_midi", no_midi)
    monkeypatch.setattr(corpus_mod.mido, "MidiFile", no_midi)
    again = load_corpus(GMD)
    assert [f.path for f in again.files] == [f.path for f in corpus.files]
    for name in SPLITS:
        a, b = corpus.splits[name], again.splits[name]
        for k in ("hit", "velocity", "offset", "file", "bar"):
            np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
            assert getattr(a, k).dtype == getattr(b, k).dtype


# ---------------------------------------------------------------------------- user folders


def make_user_folder(root: Path) -> dict[str, str]:
    """A few small files of the kinds users have. Returns {relative path: what it is}."""
    bass = [(i * 480, mido.Message("note_on", channel=0, note=40 + i % 5, velocity=90)) for i in range(16)]
    bass += [
        (i * 480 + 400, mido.Message("note_off", channel=0, note=40 + i % 5, velocity=0)) for i in range(16)
    ]
    write_midi(
        root / "song_with_bass.mid",
        [to_track([], "tempo", bpm=100), to_track(rock_beat(4, 480), "drums"), to_track(bass, "bass")],
    )
    # a drum loop exported by a drum machine: one track, channel 1
    write_midi(
        root / "loops" / "machine_loop_ch1.mid",
        [to_track(rock_beat(4, 96, channel=1), "loop", bpm=120)],
        tpb=96,
    )
    write_midi(root / "type0.MIDI", [to_track(rock_beat(6, 960), bpm=90)], tpb=960, type=0)
    write_midi(root / "fills" / "busy.mid", [to_track(rock_beat(3, 480, notes=(36, 40, 44)))])
    (root / "notes.txt").write_text("not MIDI")
    return {
        "song_with_bass.mid": "drums ch10 + bass ch1",
        "loops/machine_loop_ch1.mid": "ch1 only",
        "type0.MIDI": "type 0",
        "fills/busy.mid": "td11 rim/pedal",
    }


def counting_file_grid(monkeypatch) -> list:
    calls = []
    real = corpus_mod.file_grid

    def wrapped(path, settings):
        calls.append(Path(path).name)
        return real(path, settings)

    monkeypatch.setattr(corpus_mod, "file_grid", wrapped)
    return calls


def test_user_folder_loads_with_train_and_validation(tmp_path, monkeypatch):
    monkeypatch.setenv("JAMD_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "midi"
    kinds = make_user_folder(root)
    c = load_corpus(root)
    assert sorted(f.path for f in c.files) == sorted(kinds)
    assert {f.split for f in c.files} == {"train", "validation"}
    assert set(c.splits) == {"train", "validation"}
    bars = {"song_with_bass.mid": 4, "loops/machine_loop_ch1.mid": 4, "type0.MIDI": 6, "fills/busy.mid": 3}
    per_file = Counter()
    for name, w in c.splits.items():
        for i in w.file:
            assert c.files[i].split == name
            per_file[c.files[i].path] += 1
        # 12 hits a bar: every 2-bar window of the beat is kept, and holds 24 hits
        assert np.all(w.hit.sum(axis=(1, 2)) == 24)
        # the rock beat on kick, snare and closed hat only, whatever notes/channel it came on
        used = np.nonzero(w.hit.sum(axis=(0, 1)))[0]
        assert [VOICES[v] for v in used] == ["kick", "snare", "closed_hat"]
        # quantised beat: no micro-timing
        assert not w.offset.any()
    # bars - 1 windows per file at hop 1 bar (the last bar only starts a partial window)
    assert dict(per_file) == {p: n - 1 for p, n in bars.items()}


def test_a_damaged_file_is_skipped_by_name_and_the_rest_are_read(tmp_path, monkeypatch, caplog):
    """One broken file in a musician's folder: a warning naming it, the others' windows all
    there, and nothing cached, so the next read names it again."""
    monkeypatch.setenv("JAMD_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "midi"
    kinds = make_user_folder(root)
    whole = load_corpus(root, use_cache=False)
    (root / "broken.mid").write_bytes(b"not a MIDI file")
    for _ in range(2):
        caplog.clear()
        c = load_corpus(root)
        assert any("broken.mid" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
        assert sum(len(w) for w in c.splits.values()) == sum(len(w) for w in whole.splits.values())
        assert len(c.files) == len(kinds) + 1
    assert not list((tmp_path / "cache").glob("windows-*"))


def test_the_only_channel_1_track_is_read_as_drums(tmp_path, monkeypatch):
    monkeypatch.setenv("JAMD_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "midi"
    write_midi(root / "a.mid", [to_track(rock_beat(3, 96, channel=1), bpm=120)], tpb=96)
    write_midi(root / "b.mid", [to_track(rock_beat(3, 480, channel=10), bpm=120)])
    c = load_corpus(root)
    windows = {
        c.files[i].path: c.splits[name].hit[k] for name in c.splits for k, i in enumerate(c.splits[name].file)
    }
    assert set(windows) == {"a.mid", "b.mid"}
    np.testing.assert_array_equal(windows["a.mid"], windows["b.mid"])


def test_user_folder_without_midi_is_a_clear_error(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="no MIDI files"):
        load_corpus(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_corpus(tmp_path / "missing")


def test_user_folder_split_is_stable_when_a_file_is_added(tmp_path, monkeypatch):
    """A folder of takes, then new files one by one (through the whole loader, cache included):
    no existing file changes split. (50 takes: a folder big enough that some path hashes into
    the 10 % validation share; for tiny folders see the next test.)"""
    monkeypatch.setenv("JAMD_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "midi"
    for i in range(50):
        write_midi(root / f"take_{i:02d}.mid", [to_track(rock_beat(3, 480), bpm=100)])
    before = {f.path: f.split for f in load_corpus(root).files}
    assert set(before.values()) == {"train", "validation"}
    for extra in ("new_take.mid", "a_first.mid", "zz_last.mid", "sub/x.mid", "take_00 (copy).mid"):
        write_midi(root / extra, [to_track(rock_beat(3, 480), bpm=100)])
        c = load_corpus(root)
        after = {f.path: f.split for f in c.files}
        assert {p: after[p] for p in before} == before, f"adding {extra} moved files between splits"
        for name, w in c.splits.items():  # and the windows follow the files
            assert all(c.files[i].split == name for i in w.file)
        before = after


def test_tiny_folder_never_moves_a_training_file_into_validation(tmp_path, monkeypatch):
    """With few files no path may hash into the validation share; one file is validation anyway.
    Adding files may then take that one back to train, but never the other way round."""
    monkeypatch.setenv("JAMD_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "midi"
    write_midi(root / "one.mid", [to_track(rock_beat(3, 480), bpm=100)])
    before = {f.path: f.split for f in load_corpus(root).files}
    assert before == {"one.mid": "train"}
    for i in range(12):
        write_midi(root / f"take_{i:02d}.mid", [to_track(rock_beat(3, 480), bpm=100)])
        after = {f.path: f.split for f in load_corpus(root).files}
        assert "validation" in after.values() and "train" in after.values()
        if len(before) >= 2:
            assert all(after[p] == "train" for p, s in before.items() if s == "train")
        before = after


names = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789_-"), min_size=1, max_size=12)


@given(st.sets(names, min_size=1, max_size=40), names)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_adding_a_file_never_moves_a_training_file_into_validation(tmp_path_factory, existing, new):
    """Whatever the names: a file the last model trained on never becomes validation data for
    the next one, and validation files stay validation once there are two or more."""
    root = tmp_path_factory.mktemp("split")
    for n in existing:
        (root / f"{n}.mid").touch()
    before = {f.path: f.split for f in folder_files(root)}
    (root / f"{new}.mid").touch()
    after = {f.path: f.split for f in folder_files(root)}
    assert ("validation" in after.values()) == (len(after) >= 2)
    if len(before) >= 2:  # (a lone file had no validation to keep: it may become it)
        for p, split in before.items():
            if split == "train":
                assert after[p] == "train", p
    if list(before.values()).count("validation") >= 2:
        assert all(after[p] == "validation" for p, s in before.items() if s == "validation")


def test_validation_share_is_about_ten_percent(tmp_path):
    for i in range(1000):
        (tmp_path / f"song{i}.mid").touch()
    n_val = sum(f.split == "validation" for f in folder_files(tmp_path))
    assert 60 <= n_val <= 140


# ------------------------------------------------------------------------------ the cache


def test_cache_is_reused_and_invalidated_by_settings_and_content(tmp_path, monkeypatch):
    monkeypatch.setenv("JAMD_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "midi"
    make_user_folder(root)
    calls = counting_file_grid(monkeypatch)
    first = load_corpus(root)
    assert len(calls) == 4
    assert len(list((tmp_path / "cache").glob("windows-*.npz"))) == 1

    calls.clear()
    again = load_corpus(root)
    assert calls == []  # reused: no MIDI read
    for name in first.splits:
        np.testing.assert_array_equal(first.splits[name].hit, again.splits[name].hit)

    for changed in (
        WindowSettings(min_hits=30),
        WindowSettings(hop=8),
        WindowSettings(steps=16),
        WindowSettings(table="gm"),
    ):
        calls.clear()
        load_corpus(root, changed)
        assert len(calls) == 4, changed  # new settings: rebuilt
    n_caches = len(list((tmp_path / "cache").glob("windows-*.npz")))
    assert n_caches == 5

    # a file's content changes: rebuilt
    write_midi(root / "type0.MIDI", [to_track(rock_beat(5, 960), bpm=90)], tpb=960, type=0)
    calls.clear()
    changed = load_corpus(root)
    assert len(calls) == 4
    assert sum(len(w) for w in changed.splits.values()) == sum(len(w) for w in first.splits.values()) - 1

    # use_cache=False reads the MIDI and writes nothing
    calls.clear()
    load_corpus(root, use_cache=False)
    assert len(calls) == 4
    assert len(list((tmp_path / "cache").glob("windows-*.npz"))) == n_caches + 1


def test_other_settings_are_respected(tmp_path, monkeypatch):
    monkeypatch.setenv("JAMD_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "midi"
    write_midi(root / "a.mid", [to_track(rock_beat(4, 480), bpm=100)])
    write_midi(root / "b.mid", [to_track(rock_beat(4, 480), bpm=100)])
    s = WindowSettings(steps=16, hop=4, min_hits=10)
    c = load_corpus(root, s)
    for w in c.splits.values():
        assert w.hit.shape[1:] == (16, N_VOICES)
        # 4 bars = 64 steps: starts 0, 4, ..., 48 -> 13 windows, each 1 bar of 12 hits
        assert sorted(w.bar.tolist()) == list(range(13))
        assert np.all(w.hit.sum(axis=(1, 2)) == 12)
    # min_hits above what a window holds drops everything
    c = load_corpus(root, WindowSettings(min_hits=25))
    assert sum(len(w) for w in c.splits.values()) == 0

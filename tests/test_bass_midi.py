"""Training on the user's own multitrack MIDI: a small synthetic set written here with mido
(drums on channel 10, a bass part found by program, by track name or by option, piano chords)."""

from __future__ import annotations

import json

import mido
import numpy as np
import pytest

from jamd.cli import main
from jamd.data.bass_idioms import BAR
from jamd.data.bass_lines import BarContext, Section, bar_line
from jamd.data.bass_midi import bass_channel, estimate_chords, load_multitrack
from jamd.music.grid import (
    BassLine,
    BassRange,
    DrumPattern,
    NoteEvent,
    bass_note,
    bass_to_events,
    drums_to_events,
    events_to_midi,
)
from jamd.music.harmony import MAJ, MIN

#: what `jamd eval bass --json` reports (issue 19)
ISSUE_19_KEYS = (
    "note_roles",
    "corpus_note_roles",
    "root_share",
    "distinct_pitches_per_bar",
    "pitch_repeat",
    "pad_change_05",
    "kick_lock_exact",
    "kick_lock_exact_random",
    "in_scale_nonroot",
    "in_scale_nonroot_n",
    "octave_jump_rate",
    "decode_ms_p50",
)

BARS = 8
PROGRESSION = [(9, MIN), (5, MAJ), (0, MAJ), (7, MAJ)]  # Am F C G


def _song(seed: int, bass_track: str, program: int | None, bass_channel_no: int = 2) -> mido.MidiFile:
    """A rock song: kick on 1, the and of 2 and 3; a root-and-octave bass on the kick and 8ths;
    a sustained piano triad per bar on channel 1."""
    rng = np.random.default_rng(seed)
    steps = BARS * BAR
    drums = DrumPattern.empty(steps)
    line = BassLine.empty(steps)
    roots, piano = np.zeros(steps, int), []
    for b in range(BARS):
        root, quality = PROGRESSION[b % 4]
        nxt = PROGRESSION[(b + 1) % 4][0]
        for s in (0, 6, 8):
            drums.place(b * BAR + s, 0, 0.9, 0.0)
        for s in (4, 12):
            drums.place(b * BAR + s, 1, 0.8, 0.0)
        sl = slice(b * BAR, (b + 1) * BAR)
        ctx = BarContext(
            drums.hit[sl, 0] > 0,
            np.full(BAR, root),
            np.full(BAR, quality),
            nxt,
            Section(float(rng.uniform()), 0.3),  # melodic level 1: root, fifth, octave
            rng,
        )
        on, pitch, vel, length, _ = bar_line("rock", ctx)
        line.onset[sl], line.pitch[sl], line.velocity[sl], line.length[sl] = on, pitch, vel, length
        roots[sl] = root
        third = 3 if quality == MIN else 4
        piano += [NoteEvent(b * 4.0, b * 4.0 + 4, 60 + (root + iv) % 12, 70, 1) for iv in (0, third, 7)]
    mid = events_to_midi(
        {
            "drums": drums_to_events(drums),
            bass_track: bass_to_events(line, roots, BassRange(channel=bass_channel_no)),
            "piano": piano,
        }
    )
    if program is not None:
        mid.tracks[2].insert(1, mido.Message("program_change", channel=bass_channel_no - 1, program=program))
    return mid


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("multitrack")
    for i in range(6):
        # half the files name their bass track, the others only set a GM bass program (34, 0-based 33)
        _song(i, "Bass" if i % 2 else f"Track {i}", None if i % 2 else 33).save(root / f"song{i}.mid")
    return root


def test_bass_part_is_found_by_program_name_or_option(folder):
    assert bass_channel(mido.MidiFile(folder / "song0.mid")) == 2  # GM program
    assert bass_channel(mido.MidiFile(folder / "song1.mid")) == 2  # track name
    assert bass_channel(mido.MidiFile(folder / "song1.mid"), "piano") == 1
    assert bass_channel(mido.MidiFile(folder / "song1.mid"), "5") == 5
    unnamed = _song(9, "Track 3", None)
    assert bass_channel(unnamed) is None


def test_chords_are_estimated_from_the_bass_and_the_other_tracks():
    bass, piano = [], []
    for b, (root, quality) in enumerate(PROGRESSION):
        note = bass_note(root, 0, BassRange())
        bass += [(b * 4.0 + q, b * 4.0 + q + 0.5, note + (12 if q % 2 else 0), 90) for q in range(4)]
        piano += [
            (b * 4.0, b * 4.0 + 4, 60 + (root + iv) % 12, 70) for iv in (0, 3 if quality == MIN else 4, 7)
        ]
    root, quality = estimate_chords(bass, piano, 4 * BAR)
    assert list(root[::BAR]) == [r for r, _ in PROGRESSION]
    assert list(quality[::BAR]) == [q for _, q in PROGRESSION]


def test_folder_windows_pair_drums_with_bass_relative_to_the_roots(folder):
    splits = load_multitrack(folder)
    assert set(splits) == {"train", "validation"}
    w = splits["train"]
    assert len(w) >= 4 * (BARS - 2) and len(w.next_pairs()) > 0
    on = w.onset > 0
    kick_steps = w.drum_hit[..., 0] > 0
    assert on[kick_steps].all()  # the rock bass plays on every kick
    # roots, fifths and octaves; a fifth the estimate took for the root reads as a fourth
    assert set(np.unique(w.pitch[on])) <= {-12, -7, -5, 0, 5, 7, 12}


def test_train_and_eval_bass_on_a_midi_folder(folder, tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "mine"
    assert (
        main(
            [
                "train",
                "bass",
                "--midi-dir",
                str(folder),
                "--out",
                str(out),
                "--steps",
                "30",
                "--eval-every",
                "15",
                "--d-model",
                "16",
                "--quiet",
            ]
        )
        == 0
    )
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["kind"] == "bass" and card["training"]["data"]["corpus"] == "user multitrack MIDI"
    assert card["training"]["data"]["windows"]["train"] > 0
    capsys.readouterr()  # drop the training summary line
    assert main(["eval", "bass", str(out), "--midi-dir", str(folder), "--json", "--no-timing"]) == 0
    # strict JSON (no NaN), even where the folder's validation files are one piece
    result = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert result["split"] == "validation"
    assert set(ISSUE_19_KEYS) - {"decode_ms_p50"} <= set(result)

"""`jamd generate --bass`: a bass track from the shipped bass model over the generated drums."""

import subprocess
import sys

import mido
import numpy as np

from jamd.base.paths import MODELS_DIR
from jamd.live.config import DEFAULT_DRUM_MODEL
from jamd.live.performance import BASS_REACH
from jamd.model.bass import BassModel
from jamd.model.drums import DecodeControls, DrumModel
from jamd.music.grid import BassRange, bass_to_events, beat_to_tick
from jamd.music.harmony import Chords


def jamd(*args):
    return subprocess.run([sys.executable, "-m", "jamd", *map(str, args)], capture_output=True, text=True)


def notes(track: mido.MidiTrack) -> list[tuple[int, int, int]]:
    """(tick, note, velocity) of each note-on."""
    out, tick = [], 0
    for m in track:
        tick += m.time
        if m.type == "note_on" and m.velocity > 0:
            out.append((tick, m.note, m.velocity))
    return out


def test_bass_track_is_the_bass_model_over_the_written_drums(tmp_path):
    out = tmp_path / "g.mid"
    r = jamd("generate", "--xy", 0.3, -0.2, "--bass", "--bass-xy", 0.5, -0.5, "--chords", "Am7 D7", "-o", out)
    assert r.returncode == 0, r.stderr
    mid = mido.MidiFile(out)
    assert [t.name for t in mid.tracks] == ["drums", "bass"]

    drums = DrumModel.load(DEFAULT_DRUM_MODEL)
    pattern = drums.decode(drums.plane().point(0.3, -0.2), DecodeControls(timing=1.0))
    chords = Chords.from_symbols(["Am7", "D7"], drums.steps)
    line = BassModel.load(MODELS_DIR / "bass").decode(
        BASS_REACH * np.array([0.5, -0.5], np.float32), pattern, chords
    )
    expected = [
        (beat_to_tick(e.start_beat, mid.ticks_per_beat), e.note, e.velocity)
        for e in bass_to_events(line, chords.root)
    ]
    got = notes(mid.tracks[1])
    assert got == expected and len(got) >= 4
    rng = BassRange()
    assert all(rng.low <= n <= rng.high for _, n, _ in got)
    assert {m.channel for m in mid.tracks[1] if m.type == "note_on"} == {rng.channel - 1}
    sounding = 0
    for m in mid.tracks[1]:  # monophonic: a note ends before the next starts
        if m.type in ("note_on", "note_off"):
            sounding += 1 if m.type == "note_on" and m.velocity else -1
            assert sounding in (0, 1)


def test_no_bass_unless_asked_and_bad_chords_are_one_line(tmp_path):
    out = tmp_path / "g.mid"
    assert jamd("generate", "--seed", 1, "-o", out).returncode == 0
    assert [t.name for t in mido.MidiFile(out).tracks] == ["drums"]
    r = jamd("generate", "--bass", "--chords", "Am Hm7", "-o", out)
    assert r.returncode == 2 and "--chords" in r.stderr

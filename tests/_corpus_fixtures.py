"""Shared helpers for the foundation tests (grid, drumkit, corpus, CLI).

* ``raw_note_ons``: an independent Standard MIDI File reader (no mido, no jamd) used as the
  oracle the tests compare jamd's MIDI -> grid code against.
* ``gmd_rows`` / ``GMD``: the Groove MIDI Dataset and its ``info.csv``, read with ``csv`` only.
* ``gmd_corpus``: one load of the real corpus per test session (the full build takes ~12 s),
  cached in a temporary ``JAMD_CACHE`` that the CLI tests reuse.
* ``write_midi``: small MIDI files for user-folder tests.
"""

from __future__ import annotations

import csv
import functools
import os
import struct
from fractions import Fraction
from pathlib import Path

import mido
import pytest

from jamd.base.paths import default_data_dir
from jamd.midi import spec as ms

_default = default_data_dir()
GMD: Path | None = _default if _default is not None and (_default / "info.csv").is_file() else None
needs_gmd = pytest.mark.skipif(GMD is None, reason="Groove MIDI Dataset not found (set JAMD_DATA)")

SPLITS = ("train", "validation", "test")


# ------------------------------------------------------------------------- independent reader


def _vlq(data: bytes, i: int) -> tuple[int, int]:
    value = 0
    while True:
        b = data[i]
        i += 1
        value = (value << 7) | (b & 0x7F)
        if b < 0x80:
            return value, i


def raw_note_ons(data: bytes) -> tuple[int, list[tuple[int, int, int, int]]]:
    """Parse an SMF by hand: ``(ticks_per_beat, [(abs_tick, channel 1-16, note, velocity)])`` for
    every note-on with velocity > 0, in file order per track (tracks concatenated)."""
    assert data[:4] == b"MThd"
    header_len = struct.unpack(">I", data[4:8])[0]
    _fmt, n_tracks, division = struct.unpack(">HHH", data[8:14])
    assert not division & 0x8000, "SMPTE time division not supported by the oracle"
    pos = 8 + header_len
    out = []
    for _ in range(n_tracks):
        assert data[pos : pos + 4] == b"MTrk"
        length = struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        i, end = pos + 8, pos + 8 + length
        pos = end
        tick = 0
        status = 0
        while i < end:
            delta, i = _vlq(data, i)
            tick += delta
            if data[i] >= 0x80:
                status = data[i]
                i += 1
            if status == 0xFF:  # meta: type, length, data
                n, i = _vlq(data, i + 1)
                i += n
            elif status in (0xF0, 0xF7):  # sysex
                n, i = _vlq(data, i)
                i += n
            elif ms.kind_of(status) in (ms.PROGRAM_CHANGE, ms.CHANNEL_AFTERTOUCH):  # one data byte
                i += 1
            else:
                a, b = data[i], data[i + 1]
                i += 2
                if ms.kind_of(status) == ms.NOTE_ON and b > 0:
                    out.append((tick, ms.channel_of(status), a, b))
    return division, out


def exact_step(tick: int, tpb: int, steps_per_beat: int = 4) -> tuple[int, Fraction]:
    """Nearest 16th step of a tick and the remainder, in exact arithmetic (ties go to the later
    step, so the remainder is in [-1/2, 1/2))."""
    pos = Fraction(tick * steps_per_beat, tpb)
    step = (pos + Fraction(1, 2)).__floor__()
    return step, pos - step


def expected_cells(hits, table: dict[int, int], steps: int | None = None):
    """``hits``: iterable of (step, offset, note, velocity) -> {(step, voice): (velocity,
    [offsets of the loudest notes])}: what a grid must hold by the documented folding rule."""
    cells: dict[tuple[int, int], tuple[int, list]] = {}
    for step, offset, note, velocity in hits:
        voice = table.get(note)
        if voice is None or velocity <= 0 or step < 0 or (steps is not None and step >= steps):
            continue
        key = (step, voice)
        if key not in cells or velocity > cells[key][0]:
            cells[key] = (velocity, [offset])
        elif velocity == cells[key][0]:
            cells[key][1].append(offset)
    return cells


# ------------------------------------------------------------------------------- the dataset


@functools.cache
def gmd_rows() -> tuple[dict, ...]:
    with open(GMD / "info.csv", newline="") as fh:
        return tuple(csv.DictReader(fh))


@functools.cache
def gmd_note_set() -> frozenset[int]:
    """Every drum note played anywhere in the GMD (all 1,150 files, read by the oracle)."""
    notes = set()
    for row in gmd_rows():
        _, ons = raw_note_ons((GMD / row["midi_filename"]).read_bytes())
        notes.update(n for _, _, n, _ in ons)
    return frozenset(notes)


_SHARED: dict = {}


@pytest.fixture(scope="session")
def gmd_corpus(tmp_path_factory):
    """``(corpus, cache_dir)``: the real GMD corpus with default settings, built once per session
    into a temporary cache (which the CLI tests point ``JAMD_CACHE`` at)."""
    if GMD is None:
        pytest.skip("Groove MIDI Dataset not found")
    if "gmd" not in _SHARED:
        from jamd.data.corpus import load_corpus

        cache = tmp_path_factory.mktemp("gmd-cache")
        old = os.environ.get("JAMD_CACHE")
        os.environ["JAMD_CACHE"] = str(cache)
        try:
            corpus = load_corpus(GMD)
        finally:
            if old is None:
                del os.environ["JAMD_CACHE"]
            else:
                os.environ["JAMD_CACHE"] = old
        _SHARED["gmd"] = (corpus, cache)
    return _SHARED["gmd"]


# ------------------------------------------------------------------------------ writing MIDI


def rock_beat(bars: int, tpb: int, channel: int = 10, notes=(36, 38, 42)) -> list[tuple[int, mido.Message]]:
    """A plain rock beat: kick on 1 and 3, snare on 2 and 4, 8th-note hats. 12 hits a bar."""
    kick, snare, hat = notes
    out = []
    for bar in range(bars):
        for eighth in range(8):
            tick = (bar * 4 * 2 + eighth) * tpb // 2
            out.append((tick, mido.Message("note_on", channel=channel - 1, note=hat, velocity=70 + eighth)))
            if eighth in (0, 4):
                out.append((tick, mido.Message("note_on", channel=channel - 1, note=kick, velocity=100)))
            if eighth in (2, 6):
                out.append((tick, mido.Message("note_on", channel=channel - 1, note=snare, velocity=110)))
    # drum note-offs a 32nd later
    offs = [
        (t + tpb // 8, mido.Message("note_off", channel=m.channel, note=m.note, velocity=0)) for t, m in out
    ]
    return sorted(out + offs, key=lambda tm: (tm[0], tm[1].type == "note_on"))


def to_track(timed, name: str | None = None, bpm: float | None = None) -> mido.MidiTrack:
    track = mido.MidiTrack()
    if name:
        track.append(mido.MetaMessage("track_name", name=name, time=0))
    if bpm:
        track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    now = 0
    for tick, msg in sorted(timed, key=lambda tm: tm[0]):
        track.append(msg.copy(time=tick - now))
        now = tick
    return track


def write_midi(path: Path, tracks: list[mido.MidiTrack], tpb: int = 480, type: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    mid = mido.MidiFile(type=type, ticks_per_beat=tpb)
    mid.tracks.extend(tracks)
    mid.save(path)
    return path

"""Paired drum + bass windows from a folder of the user's own multitrack MIDI files.

Per file: the drums are the notes on channel 10 (folded with the General MIDI table); the bass
is the channel given by ``--bass`` (a channel 1-16, or a track-name substring), else the channel
of a General MIDI bass program (33-40), else the channel of a track whose name contains "bass".
Files without both are skipped, with a log line saying why.

Chords: a MIDI file does not say what its chords are, so they are *estimated*, per half bar:
the root is the pitch class the bass dwells on longest there (bass players land on roots), with
the first note of the half bar counted double; the quality comes from every pitched note
sounding there (bass and other tracks): a minor third above the root weighing more than a major
third makes it minor, a minor seventh makes it a seventh chord. A half bar with no bass notes
keeps the chord before it. Lines that walk or pedal off the root will get some roots wrong;
that only shifts the model's idea of which notes are "the root", and it is said in the card.
"""

from __future__ import annotations

import logging
from pathlib import Path

import mido
import numpy as np

from jamd.data.bass_corpus import BassWindows
from jamd.data.corpus import folder_files
from jamd.music.drumkit import GM_DRUM_CHANNEL, INPUT_TABLES
from jamd.music.grid import STEPS_PER_BEAT, bass_from_notes, drums_from_notes, read_midi
from jamd.music.harmony import DOM7, MAJ, MIN, MIN7

log = logging.getLogger(__name__)

WINDOW, HOP, SEGMENT = 32, 16, 8  # 2-bar windows every bar; chords per half bar
MIN_BASS_NOTES = 2  # a window with fewer bass onsets teaches only silence
GM_BASS_PROGRAMS = range(32, 40)  # GM programs 33-40, 0-based as in MIDI messages

Note = tuple[float, float, int, int]  # start beat, end beat, MIDI note, velocity


def bass_channel(mid: mido.MidiFile, choice: str | None = None) -> int | None:
    """The channel (1-16) of the bass part, or None. See the module doc for the order."""
    if choice and choice.isdigit():
        return int(choice)
    named, programmed = None, None
    for track in mid.tracks:
        name = next((m.name for m in track if m.type == "track_name"), "")
        channels = [m.channel + 1 for m in track if m.type == "note_on" and m.channel + 1 != GM_DRUM_CHANNEL]
        for m in track:
            if (
                m.type == "program_change"
                and m.program in GM_BASS_PROGRAMS
                and m.channel + 1 != GM_DRUM_CHANNEL
            ):
                programmed = programmed or m.channel + 1
        wanted = choice.lower() if choice else "bass"
        if channels and wanted in name.lower():
            named = named or channels[0]
    return named if choice else programmed or named


def estimate_chords(bass: list[Note], others: list[Note], steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-step (root, quality) estimated per half bar; see the module doc."""
    root, quality = np.zeros(steps, np.int64), np.zeros(steps, np.int64)
    prev = (0, MAJ)
    for seg in range(0, steps, SEGMENT):
        lo, hi = seg / STEPS_PER_BEAT, (seg + SEGMENT) / STEPS_PER_BEAT
        weight = np.zeros(12)
        inside = sorted(n for n in bass if lo <= n[0] < hi)
        for i, (s, e, note, _) in enumerate(inside):
            weight[note % 12] += (min(e, hi) - s) * (2 if i == 0 else 1)
        if weight.any():
            r = int(weight.argmax())
            pcs = np.zeros(12)
            for s, e, note, _ in bass + others:
                overlap = min(e, hi) - max(s, lo)
                if overlap > 0:
                    pcs[(note - r) % 12] += overlap
            minor, seventh = pcs[3] > pcs[4], pcs[10] > 0.25 * pcs.max()
            prev = (r, (MIN7 if seventh else MIN) if minor else (DOM7 if seventh else MAJ))
        root[seg : seg + SEGMENT], quality[seg : seg + SEGMENT] = prev
    return root, quality


def _shift(notes: list[Note], start_beat: float) -> list[Note]:
    return [(s - start_beat, e - start_beat, n, v) for s, e, n, v in notes]


def file_windows(path: Path, choice: str | None, piece: int) -> list[dict] | None:
    """All usable windows of one file as dicts of BassWindows fields (None: no drums+bass)."""
    mid = mido.MidiFile(path)
    channel = bass_channel(mid, choice)
    notes = read_midi(mid)
    if channel is None or channel not in notes.pitched or not notes.drums:
        log.info("%s: skipped (needs drums on channel 10 and a bass part; bass channel %s)", path, channel)
        return None
    bass = notes.pitched[channel]
    others = [n for ch, ns in notes.pitched.items() if ch != channel for n in ns]
    steps = int(np.ceil(notes.length_beats * STEPS_PER_BEAT)) + 1
    drums = drums_from_notes(notes.drums, INPUT_TABLES["gm"], steps)
    root, quality = estimate_chords(bass, others, steps)
    out = []
    for start in range(0, steps - WINDOW + 1, HOP):
        sl = slice(start, start + WINDOW)
        line = bass_from_notes(_shift(bass, start / STEPS_PER_BEAT), root[sl], WINDOW)
        if line.onset.sum() < MIN_BASS_NOTES:
            continue
        out.append(
            {
                "drum_hit": drums.hit[sl].astype(np.uint8),
                "drum_velocity": drums.velocity[sl],
                "root": root[sl],
                "quality": quality[sl],
                "onset": line.onset,
                "pitch": line.pitch,
                "velocity": line.velocity,
                "length": np.minimum(line.length, 127),
                "offset": np.zeros(WINDOW, np.float32),
                "piece": piece,
                "bar": start // HOP,
                "idiom": -1,
            }
        )
    return out


def load_multitrack(root: Path, choice: str | None = None) -> dict[str, BassWindows]:
    """Windows per split ("train", "validation": a stable hash of each file's path)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"MIDI folder not found: {root}")
    parts: dict[str, list[dict]] = {}
    for i, f in enumerate(folder_files(root)):
        parts.setdefault(f.split, []).extend(file_windows(root / f.path, choice, i) or [])
    dtypes = {
        f: t
        for f, t in zip(
            BassWindows.__dataclass_fields__,
            (
                np.uint8,
                np.float32,
                np.int8,
                np.int8,
                np.uint8,
                np.int8,
                np.float32,
                np.int8,
                np.float32,
                np.int32,
                np.int32,
                np.int8,
            ),
        )
    }
    return {
        split: BassWindows(**{k: np.array([w[k] for w in ws], dtypes[k]) for k in dtypes})
        for split, ws in parts.items()
        if ws
    }

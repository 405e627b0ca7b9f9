"""The step-grid representation and the only MIDI <-> grid conversions in jamd.

A window is ``steps`` 16th notes (default 32 = 2 bars of 4/4). Drums are ``steps x voices``
arrays of hit (0/1), velocity in [0, 1] and offset in [-0.5, 0.5) of a step (micro-timing).
A bass line is per step: onset, pitch relative to the chord root, velocity and length in steps.

Times are kept in *beats* (quarter notes) as long as possible, because a beat is what the grid,
the clock and a MIDI file's ticks share; seconds only appear at a given tempo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import mido
import numpy as np

from jamd.music.drumkit import GM_OUTPUT, VOICES, VoiceOut

STEPS_PER_BEAT = 4  # 16th notes
BEATS_PER_BAR = 4  # 4/4 only (the corpus keeps 4/4 files)
DEFAULT_STEPS = 32  # 2 bars of 4/4
MIDI_MAX = 127
#: The largest offset a float32 grid can hold that is still below +0.5 (0.5 is the next step).
OFFSET_MAX = float(np.nextafter(np.float32(0.5), np.float32(0)))
#: Drum notes are triggers; a 32nd-note gate is long enough for any drum machine to see the
#: note-on and short enough never to overlap the next hit of the same voice on the next step.
DRUM_GATE_BEATS = 0.125


@dataclass(frozen=True)
class NoteIn:
    """One incoming note-on: when (in beats from the window/file start), which note, how hard."""

    beat: float
    note: int
    velocity: int


@dataclass(frozen=True, order=True)
class NoteEvent:
    """One outgoing note-on/note-off pair. ``channel`` is 1-16."""

    start_beat: float
    end_beat: float
    note: int
    velocity: int
    channel: int

    def start_s(self, bpm: float) -> float:
        return self.start_beat * 60.0 / bpm

    def end_s(self, bpm: float) -> float:
        return self.end_beat * 60.0 / bpm


def quantize(beat: float) -> tuple[int, float]:
    """Nearest 16th step of a time in beats, and the remainder as an offset in [-0.5, 0.5)."""
    pos = beat * STEPS_PER_BEAT
    step = int(np.floor(pos))
    rem = pos - step  # exact in floating point, unlike ``floor(pos + 0.5)``
    if rem >= 0.5:
        step, rem = step + 1, rem - 1.0
    return step, rem


def velocity_to_unit(velocity: int) -> float:
    return min(max(velocity, 0), MIDI_MAX) / MIDI_MAX


def unit_to_velocity(value: float) -> int:
    """[0, 1] -> 1..127: a note that is played is never silent (velocity 0 means note-off)."""
    return int(min(max(round(value * MIDI_MAX), 1), MIDI_MAX))


# --------------------------------------------------------------------------------------- drums


@dataclass
class DrumPattern:
    """``steps x voices`` drum grid. ``hit`` is 0/1 (float32 so models can read it directly)."""

    hit: np.ndarray
    velocity: np.ndarray
    offset: np.ndarray

    def __post_init__(self) -> None:
        if not (self.hit.shape == self.velocity.shape == self.offset.shape) or self.hit.ndim != 2:
            raise ValueError("hit, velocity and offset must be equal 2-D arrays (steps, voices)")

    @classmethod
    def empty(cls, steps: int = DEFAULT_STEPS, voices: int = len(VOICES)) -> DrumPattern:
        z = np.zeros((steps, voices), np.float32)
        return cls(z.copy(), z.copy(), z.copy())

    @property
    def steps(self) -> int:
        return self.hit.shape[0]

    @property
    def n_hits(self) -> int:
        return int(self.hit.sum())

    def copy(self) -> DrumPattern:
        return DrumPattern(self.hit.copy(), self.velocity.copy(), self.offset.copy())

    def same_as(self, other: DrumPattern) -> bool:
        return all(
            np.array_equal(a, b)
            for a, b in ((self.hit, other.hit), (self.velocity, other.velocity), (self.offset, other.offset))
        )

    def place(self, step: int, voice: int, velocity: float, offset: float) -> None:
        """Put a hit on the grid; a second hit of a voice on one step keeps the louder."""
        if self.hit[step, voice] and self.velocity[step, voice] >= velocity:
            return
        self.hit[step, voice] = 1.0
        self.velocity[step, voice] = velocity
        # an offset just under +0.5 would round to 0.5 in float32: the next step's -0.5
        self.offset[step, voice] = min(offset, OFFSET_MAX)


def drums_from_notes(
    notes: Iterable[NoteIn], table: Mapping[int, int], steps: int, voices: int = len(VOICES)
) -> DrumPattern:
    """Fold timed note-ons into a grid of ``steps``; notes outside it or the table are ignored."""
    pattern = DrumPattern.empty(steps, voices)
    for n in notes:
        voice = table.get(n.note)
        if voice is None or n.velocity <= 0:
            continue
        step, offset = quantize(n.beat)
        if 0 <= step < steps:
            pattern.place(step, voice, velocity_to_unit(n.velocity), offset)
    return pattern


def drums_to_events(
    pattern: DrumPattern,
    outputs: Sequence[VoiceOut] = GM_OUTPUT,
    timing: float = 1.0,
    start_beat: float = 0.0,
    gate_beats: float = DRUM_GATE_BEATS,
) -> list[NoteEvent]:
    """Grid -> note events, sorted by time. ``timing`` scales the micro-timing offsets
    (0 = quantised, 1 = as played, above 1 = exaggerated groove). A note's gate is cut where
    the next hit of the same output note starts, so the two never overlap."""
    events = []
    for step, voice in zip(*np.nonzero(pattern.hit > 0.5)):
        beat = start_beat + (step + timing * float(pattern.offset[step, voice])) / STEPS_PER_BEAT
        out = outputs[voice]
        events.append(
            NoteEvent(
                beat,
                beat + gate_beats,
                out.note,
                unit_to_velocity(float(pattern.velocity[step, voice])),
                out.channel,
            )
        )
    events.sort()
    next_start: dict[tuple[int, int], float] = {}
    for i in range(len(events) - 1, -1, -1):
        e = events[i]
        nxt = next_start.get((e.channel, e.note))
        if nxt is not None and e.start_beat < nxt < e.end_beat:
            events[i] = NoteEvent(e.start_beat, nxt, e.note, e.velocity, e.channel)
        next_start[(e.channel, e.note)] = e.start_beat
    return events


# ---------------------------------------------------------------------------------------- bass

BASS_PITCH_MIN = -12  # an octave below the root ...
BASS_PITCH_MAX = 12  # ... to an octave above: what a bass line does around one chord
BASS_PITCHES = BASS_PITCH_MAX - BASS_PITCH_MIN + 1


@dataclass
class BassLine:
    """Monophonic bass over ``steps``: ``onset`` 0/1, ``pitch`` semitones from the chord root
    (valid where onset), ``velocity`` [0, 1], ``length`` in steps (>= 1 where onset). A note whose
    length reaches the next onset is played legato (tied into it); a gap is a rest."""

    onset: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    length: np.ndarray

    @classmethod
    def empty(cls, steps: int = DEFAULT_STEPS) -> BassLine:
        return cls(
            np.zeros(steps, np.float32),
            np.zeros(steps, np.int16),
            np.zeros(steps, np.float32),
            np.zeros(steps, np.int16),
        )

    @property
    def steps(self) -> int:
        return self.onset.shape[0]

    def onsets(self) -> np.ndarray:
        return np.nonzero(self.onset > 0.5)[0]


@dataclass(frozen=True)
class BassRange:
    """Where the bass sounds. Roots sit in E2..D#3 so that +-12 semitones around them spans
    E1..D#4, a 4-string bass's range; notes outside ``low..high`` are folded in by octaves."""

    root_low: int = 40  # E2: the lowest note a root (pitch 0) is placed on
    low: int = 28  # E1, a 4-string bass's lowest string
    high: int = 63  # D#4
    channel: int = 1


def root_note(root_pc: int, rng: BassRange) -> int:
    """The MIDI note of pitch 0 over a chord root (pitch class 0-11)."""
    return rng.root_low + (root_pc - rng.root_low) % 12


def bass_note(root_pc: int, pitch: int, rng: BassRange) -> int:
    """Absolute MIDI note of a pitch relative to a chord root, folded by octaves into range."""
    note = root_note(root_pc, rng) + pitch
    while note < rng.low:
        note += 12
    while note > rng.high:
        note -= 12
    return note


def bass_to_events(
    line: BassLine, roots: Sequence[int] | np.ndarray, rng: BassRange = BassRange(), start_beat: float = 0.0
) -> list[NoteEvent]:
    """Bass line -> note events, monophonic: a note is cut where the next one starts."""
    onsets = list(line.onsets())
    events = []
    for i, step in enumerate(onsets):
        end = step + max(int(line.length[step]), 1)
        if i + 1 < len(onsets):
            end = min(end, onsets[i + 1])
        events.append(
            NoteEvent(
                start_beat + step / STEPS_PER_BEAT,
                start_beat + end / STEPS_PER_BEAT,
                bass_note(int(roots[step]), int(line.pitch[step]), rng),
                unit_to_velocity(float(line.velocity[step])),
                rng.channel,
            )
        )
    return events


def bass_from_notes(
    notes: Iterable[tuple[float, float, int, int]],
    roots: Sequence[int] | np.ndarray,
    steps: int,
    rng: BassRange = BassRange(),
) -> BassLine:
    """``(start_beat, end_beat, note, velocity)`` -> bass line relative to the per-step roots
    (pitch classes). Pitches outside +-12 of the root are folded in by octaves; on a step with
    two onsets the lower note wins (the bass is the bottom of the harmony)."""
    line = BassLine.empty(steps)
    lowest: dict[int, int] = {}  # step -> the note placed there
    for start, end, note, velocity in sorted(notes, key=lambda n: (n[0], -n[2])):
        step, _ = quantize(start)
        if not 0 <= step < steps or lowest.get(step, note + 1) <= note:
            continue
        lowest[step] = note
        rel = note - root_note(int(roots[step]), rng)
        while rel > BASS_PITCH_MAX:
            rel -= 12
        while rel < BASS_PITCH_MIN:
            rel += 12
        line.onset[step] = 1.0
        line.pitch[step] = rel
        line.velocity[step] = velocity_to_unit(velocity)
        line.length[step] = max(quantize(end)[0] - step, 1)
    return line


# ----------------------------------------------------------------------------- MIDI files


@dataclass
class MidiNotes:
    """The notes of a MIDI file in beats: drum note-ons and pitched notes with their ends."""

    drums: list[NoteIn] = field(default_factory=list)
    pitched: dict[int, list[tuple[float, float, int, int]]] = field(default_factory=dict)
    length_beats: float = 0.0
    bpm: float = 120.0


def read_midi(mid: mido.MidiFile, drum_channel: int = 10) -> MidiNotes:
    """Read a type 0/1 file. Notes on ``drum_channel`` (1-16) are drums; a type-1 file with a
    single note track and no note on the drum channel is read as drums too (a loop exported
    from a drum machine on another channel). Other channels are pitched, keyed by 1-16."""
    tpb = mid.ticks_per_beat
    out = MidiNotes()
    open_notes: dict[tuple[int, int], tuple[float, int]] = {}
    tracks = mid.tracks if mid.type != 2 else mid.tracks[:1]
    note_tracks = [t for t in tracks if any(m.type == "note_on" for m in t)]
    channels_used = {m.channel + 1 for t in note_tracks for m in t if m.type == "note_on"}
    drums_anyway = drum_channel not in channels_used and len(channels_used) == 1
    for track in tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            beat = tick / tpb
            if msg.type == "set_tempo" and tick == 0:
                out.bpm = mido.tempo2bpm(msg.tempo)
            if msg.type not in ("note_on", "note_off"):
                continue
            out.length_beats = max(out.length_beats, beat)
            channel = msg.channel + 1
            on = msg.type == "note_on" and msg.velocity > 0
            if channel == drum_channel or drums_anyway:
                if on:
                    out.drums.append(NoteIn(beat, msg.note, msg.velocity))
            elif on:
                open_notes[(channel, msg.note)] = (beat, msg.velocity)
            elif (channel, msg.note) in open_notes:
                start, vel = open_notes.pop((channel, msg.note))
                out.pitched.setdefault(channel, []).append((start, beat, msg.note, vel))
    out.drums.sort(key=lambda n: n.beat)
    return out


def beat_to_tick(beat: float, ticks_per_beat: int) -> int:
    """Nearest tick of a time in beats, except that rounding never carries a note over a 16th
    step boundary: a hit played just before the half-step point stays on its step when the file
    is read back (the error is still at most one tick)."""
    exact = beat * ticks_per_beat
    tick = round(exact)
    if quantize(tick / ticks_per_beat)[0] != quantize(beat)[0]:
        tick += 1 if tick < exact else -1
    return tick


def events_to_midi(
    tracks: Mapping[str, Sequence[NoteEvent]], bpm: float = 120.0, ticks_per_beat: int = 480
) -> mido.MidiFile:
    """Note events (per named track) -> a type-1 MIDI file at ``bpm``."""
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    tempo = mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0)
    for name, events in tracks.items():
        timed = []
        for e in events:
            timed.append(
                (
                    beat_to_tick(e.start_beat, ticks_per_beat),
                    1,
                    mido.Message("note_on", channel=e.channel - 1, note=e.note, velocity=e.velocity),
                )
            )
            timed.append(
                (
                    beat_to_tick(e.end_beat, ticks_per_beat),
                    0,
                    mido.Message("note_off", channel=e.channel - 1, note=e.note, velocity=0),
                )
            )
        # at equal ticks note-offs go first, so a repeated note is ended before it restarts
        timed.sort(key=lambda t: (t[0], t[1]))
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0), tempo.copy()])
        now = 0
        for tick, _, msg in timed:
            tick = max(tick, 0)
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    return mid

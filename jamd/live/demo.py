"""``jamd run --demo``: jamd without hardware. A groove plays as "the drummer" (into the seed
capture, as the clock passes each note) and the pad sweeps a slow circle, so a newcomer sees —
and, with jamd's virtual ports connected to a synth, hears — seeding and latent walks work."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mido

from jamd.model.drums import DrumModel
from jamd.music.drumkit import GM_OUTPUT
from jamd.music.grid import STEPS_PER_BEAT, NoteIn, drums_to_events, read_midi

#: The default groove: the shipped model's decode at this point of its plane. Made by the
#: project from its own model, so nothing from the training data is shipped.
DEMO_GROOVE_XY = (0.35, -0.25)
SWEEP_BARS = 8  # one turn of the pad's circle
SWEEP_RADIUS = 0.8


def model_groove(model: DrumModel) -> tuple[list[NoteIn], float]:
    """The demo groove as notes (GM numbers) and its length in beats."""
    pattern = model.decode(model.plane().point(*DEMO_GROOVE_XY))
    notes = [NoteIn(e.start_beat, e.note, e.velocity) for e in drums_to_events(pattern, GM_OUTPUT)]
    return notes, pattern.steps / STEPS_PER_BEAT


def file_groove(path: Path) -> tuple[list[NoteIn], float]:
    """A MIDI file's drums, looped at its length rounded up to a whole bar."""
    notes = read_midi(mido.MidiFile(path))
    bars = max(1, math.ceil(notes.length_beats / 4))
    return notes.drums, bars * 4.0


@dataclass
class DemoDrummer:
    """Feeds a looped groove to ``play(beat, note, velocity)`` as the clock passes each note,
    and moves the pad through ``move(x, y)``."""

    notes: list[NoteIn]
    length: float  # loop length, beats
    play: Callable[[float, int, int], None]
    move: Callable[[float, float], None]
    _done: float = 0.0  # clock position up to which notes have been played

    def tick(self, beat: float) -> None:
        if beat < self._done:  # the clock went back (locate): start over from here
            self._done = beat
        lo, hi = self._done, beat
        # neighbouring loops too: a note played early belongs to the next loop but sounds
        # before its start, a late one sounds after its loop's end
        loops = range(int(lo // self.length) - 1, int(hi // self.length) + 2)
        for k in loops:
            base = k * self.length
            for n in self.notes:
                if lo < base + n.beat <= hi:
                    self.play(base + n.beat, n.note, n.velocity)
        self._done = hi
        self.move(*sweep_point(beat))


def sweep_point(beat: float) -> tuple[float, float]:
    """The pad's position on its circle at a clock position."""
    angle = 2 * math.pi * beat / (SWEEP_BARS * 4)
    return SWEEP_RADIUS * math.cos(angle), SWEEP_RADIUS * math.sin(angle)

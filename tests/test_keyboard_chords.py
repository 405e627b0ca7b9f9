"""Chords from a keyboard (held notes -> root and quality) and chord changes at the bar line:
the bar playing keeps its chord, the next bar is decoded with the new one ahead of time."""

import numpy as np
import pytest

from jamd.live.config import DEFAULT_DRUM_MODEL
from jamd.live.performance import Performance
from jamd.model.drums import DrumModel
from jamd.music.harmony import DOM7, MAJ, MIN, MIN7, NOTE_NAMES, Chords, HeldChord, chord_from_notes


@pytest.mark.parametrize(
    "notes, name",
    [
        ((60, 64, 67), "C maj"),
        ((64, 67, 72), "C maj"),  # first inversion: still C
        ((57, 60, 64, 67), "A min7"),
        ((60, 64, 67, 70), "C dom7"),
        ((60, 63, 67), "C min"),
        ((62, 65, 69, 72), "D min7"),
        ((55, 59, 62, 65), "G dom7"),
        ((60, 64, 67, 71), "C maj"),
        ((48, 60, 63, 67), "C min"),  # doubled root
    ],
)
def test_chords_are_named_from_the_notes_held(notes, name):
    root, quality = chord_from_notes(notes)
    assert f"{NOTE_NAMES[root]} {('maj', 'min', 'dom7', 'min7')[quality]}" == name


def test_a_bare_root_or_power_chord_keeps_the_quality_that_was_playing():
    assert chord_from_notes([50], prefer_quality=MIN7) == (2, MIN7)
    assert chord_from_notes([45, 52], prefer_quality=MIN) == (9, MIN)
    assert chord_from_notes([45, 52], prefer_quality=MAJ) == (9, MAJ)
    assert chord_from_notes([]) is None


def test_held_chord_reports_changes_only_and_keeps_the_last_chord_when_released():
    keys = HeldChord()
    on = lambda n: [0x90, n, 90]  # noqa: E731
    assert keys.feed(on(57)) == (9, MAJ)  # A alone: a major until told
    assert keys.feed(on(60)) == (9, MIN)  # + C: A minor
    assert keys.feed(on(64)) is None  # + E: still A minor
    assert keys.feed([0x80, 57, 0]) is None and keys.feed([0x90, 60, 0]) is None  # releases
    assert keys.chord == (9, MIN)
    assert keys.feed([0xB0, 1, 64]) is None and keys.feed([0xF8]) is None  # not notes
    keys.held.clear()
    assert keys.feed(on(62)) == (2, MIN)  # a new root keeps the quality
    for n in (66, 69, 72):
        keys.feed(on(n))
    assert keys.chord == (2, DOM7)  # D F# A C


@pytest.fixture(scope="module")
def perf():
    drums = DrumModel.load(DEFAULT_DRUM_MODEL)
    return Performance(drums, drums.plane(2.0), chords=Chords.constant(9, MIN, drums.steps))


@pytest.mark.parametrize("bar", [6, 7])
def test_a_chord_change_fills_the_next_bar_now_and_all_bars_at_the_bar_line(perf, bar):
    perf.bar_line(bar)  # bar 6: window steps 0-15 play
    perf.apply("chord", "Eb")
    playing = slice(0, 16) if bar % 2 == 0 else slice(16, 32)
    coming = slice(16, 32) if bar % 2 == 0 else slice(0, 16)
    assert set(perf.chords.root[playing]) == {9} and set(perf.chords.root[coming]) == {3}
    assert perf.dirty  # decoded again at once
    assert set(perf.render().roots[coming]) == {3}
    perf.bar_line(bar + 1)
    assert set(perf.chords.root) == {3} and set(perf.chords.quality) == {MAJ}
    perf.apply("chord", Chords.constant(9, MIN, perf.drums.steps))
    perf.bar_line(bar + 2)
    assert np.all(perf.chords.root == 9)

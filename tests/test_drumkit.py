"""jamd.music.drumkit: voices and the note -> voice tables.

The references below are written from the sources, not from jamd: the TD-11 table from Gillick
et al. 2019 (Groove MIDI Dataset paper, table of the TD-11 notes and their 9-class mapping) and
the GM table from Magenta's ``drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES``.
"""

from __future__ import annotations

import re

import pytest
from _corpus_fixtures import GMD, gmd_note_set, needs_gmd

from jamd.music import drumkit
from jamd.music.drumkit import GM, GM_DRUM_CHANNEL, GM_OUTPUT, INPUT_TABLES, TD11, VOICES

#: The 9 GrooVAE classes, in the order docs/architecture.md ("The representation") lists them.
GROOVAE = ("kick", "snare", "closed_hat", "open_hat", "low_tom", "mid_tom", "high_tom", "crash", "ride")

#: Gillick et al. 2019: TD-11 note -> class.
PAPER_TD11 = {
    36: "kick",
    38: "snare",
    40: "snare",
    37: "snare",
    48: "high_tom",
    50: "high_tom",
    45: "mid_tom",
    47: "mid_tom",
    43: "low_tom",
    58: "low_tom",
    46: "open_hat",
    26: "open_hat",
    42: "closed_hat",
    22: "closed_hat",
    44: "closed_hat",
    49: "crash",
    55: "crash",
    57: "crash",
    52: "crash",
    51: "ride",
    59: "ride",
    53: "ride",
}

#: Magenta drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES (the GrooVAE folding of GM).
MAGENTA_GM = {
    "kick": [36, 35],
    "snare": [38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85],
    "closed_hat": [42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22],
    "open_hat": [46, 67, 72, 74, 79, 81, 26],
    "low_tom": [45, 29, 41, 43, 61, 64, 84],
    "mid_tom": [48, 47, 60, 63, 77, 86, 87],
    "high_tom": [50, 30, 62, 76, 83],
    "crash": [49, 52, 55, 57, 58],
    "ride": [51, 53, 59, 82],
}


def test_voices_are_the_nine_groovae_classes_in_order():
    assert VOICES == GROOVAE
    assert dict(drumkit.VOICE_INDEX) == {v: i for i, v in enumerate(GROOVAE)}


@needs_gmd
@pytest.mark.parametrize("name", sorted(INPUT_TABLES))
def test_every_note_the_gmd_plays_is_folded(name):
    """Read from all 1,150 files (independent SMF reader), not from the README."""
    used = gmd_note_set()
    assert len(used) >= 9
    missing = sorted(used - set(INPUT_TABLES[name]))
    assert not missing, f"{name} drops GMD notes {missing}"


@needs_gmd
def test_gmd_note_set_is_the_one_the_data_readme_states():
    readme = (GMD.parent / "README.md").read_text()
    line = next(l for l in readme.splitlines() if "22 distinct MIDI notes" in l)
    stated = {int(n) for n in re.findall(r"\b(\d{2})\b", line.split("22 distinct MIDI notes")[1])}
    assert gmd_note_set() == stated


@needs_gmd
def test_td11_folds_gmd_notes_onto_every_voice():
    assert {TD11[n] for n in gmd_note_set()} == set(range(len(VOICES)))


def test_td11_is_the_papers_table():
    for note, voice in PAPER_TD11.items():
        assert VOICES[TD11[note]] == voice, note
    # the only addition is 35 (Acoustic Bass Drum), a second kick
    assert set(TD11) - set(PAPER_TD11) == {35} and VOICES[TD11[35]] == "kick"


def test_gm_is_magentas_folding():
    want = {n: v for v, notes in MAGENTA_GM.items() for n in notes}
    assert {n: VOICES[i] for n, i in GM.items()} == want


def test_tables_disagree_exactly_on_the_documented_toms():
    """Documented in jamd.music.drumkit: on the TD-11, 45 is the mid tom, 48 the high tom and 58 the
    floor tom's rim; in GM, 45 is a low tom, 48 a mid tom and 58 a crash-like accent."""
    differ = {n for n in set(TD11) & set(GM) if TD11[n] != GM[n]}
    assert differ == {45, 48, 58}
    assert (VOICES[TD11[45]], VOICES[GM[45]]) == ("mid_tom", "low_tom")
    assert (VOICES[TD11[48]], VOICES[GM[48]]) == ("high_tom", "mid_tom")
    assert (VOICES[TD11[58]], VOICES[GM[58]]) == ("low_tom", "crash")
    for n in (45, 48, 58):
        assert str(n) in drumkit.__doc__


def test_table_builder_rejects_a_note_in_two_voices():
    with pytest.raises(ValueError, match="36"):
        drumkit._fold({"kick": (35, 36), "snare": (38, 36)})
    with pytest.raises(ValueError):
        drumkit._fold({"low_tom": (43,), "mid_tom": (45,), "high_tom": (45, 48)})
    # a clean table builds, with every note pointing to its voice
    t = drumkit._fold({"kick": (36,), "ride": (51, 59)})
    assert t == {36: VOICES.index("kick"), 51: VOICES.index("ride"), 59: VOICES.index("ride")}


def test_table_builder_rejects_an_unknown_voice():
    with pytest.raises(KeyError):
        drumkit._fold({"cowbell": (56,)})


@pytest.mark.parametrize("table", [TD11, GM])
def test_tables_are_valid_midi_notes_and_voices(table):
    assert all(0 <= n <= 127 for n in table)
    assert all(0 <= v < len(VOICES) for v in table.values())


def test_default_outputs_one_per_voice_and_read_back_as_the_same_voice():
    """What jamd plays, read by jamd (GM or TD-11 kit table), is what it meant to play."""
    assert len(GM_OUTPUT) == len(VOICES)
    assert len({o.note for o in GM_OUTPUT}) == len(VOICES)
    for i, out in enumerate(GM_OUTPUT):
        assert out.channel == GM_DRUM_CHANNEL == 10
        assert GM[out.note] == i, VOICES[i]
        assert TD11[out.note] == i, VOICES[i]

"""jamd.music.grid: the step grid and the only MIDI <-> grid conversions.

The expectations come from the documented rules (nearest 16th step, remainder in [-0.5, 0.5),
louder hit wins, ...) evaluated with exact arithmetic or an independent MIDI reader
(``_corpus_fixtures.raw_note_ons``), never from jamd's own output.
"""

from __future__ import annotations

import io
import math
from fractions import Fraction

import mido
import numpy as np
import pytest
from _corpus_fixtures import GMD, exact_step, expected_cells, gmd_rows, needs_gmd, raw_note_ons
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from jamd.music.drumkit import GM_OUTPUT, TD11, VOICES, VoiceOut
from jamd.music.grid import (
    BASS_PITCH_MAX,
    BASS_PITCH_MIN,
    DEFAULT_STEPS,
    BassLine,
    BassRange,
    DrumPattern,
    NoteEvent,
    NoteIn,
    bass_from_notes,
    bass_note,
    bass_to_events,
    drums_from_notes,
    drums_to_events,
    events_to_midi,
    quantize,
    read_midi,
)

N_VOICES = len(VOICES)
#: output note -> voice, to read jamd's own output back
OUT_TABLE = {o.note: i for i, o in enumerate(GM_OUTPUT)}
HYP = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def save_and_reload(mid: mido.MidiFile) -> mido.MidiFile:
    """Through bytes, as a file on disk would go."""
    buf = io.BytesIO()
    mid.save(file=buf)
    return mido.MidiFile(file=io.BytesIO(buf.getvalue()))


def assert_same_grid(a: DrumPattern, b: DrumPattern, offset_tol: float, vel_tol: float = 1 / 127):
    """Same hits; velocity within ``vel_tol`` and offset within ``offset_tol`` on every hit."""
    np.testing.assert_array_equal(a.hit, b.hit)
    on = a.hit > 0.5
    dv = np.abs(a.velocity[on] - b.velocity[on])
    do = np.abs(a.offset[on] - b.offset[on])
    assert dv.max(initial=0) <= vel_tol + 1e-6, f"velocity off by {dv.max()}"
    assert do.max(initial=0) <= offset_tol + 1e-6, f"offset off by {do.max()} (allowed {offset_tol})"
    # empty cells stay empty (zero velocity and offset)
    assert not a.velocity[~on].any() and not b.velocity[~on].any()
    assert not b.offset[~on].any()


def assert_valid_pattern(p: DrumPattern):
    assert set(np.unique(p.hit)) <= {0.0, 1.0}
    on = p.hit > 0.5
    assert np.all(p.offset[on] >= -0.5) and np.all(p.offset[on] < 0.5), "offset outside [-0.5, 0.5)"
    assert np.all(p.velocity[on] > 0) and np.all(p.velocity[on] <= 1)


# ----------------------------------------------------------------------------------- quantize


@given(st.floats(-1000, 1000, allow_nan=False))
@example(0.125)  # exactly between steps 0 and 1
@example(-0.125)
@example(float(np.nextafter(0.125, 0)))  # one ulp before the half step
@example(float(np.nextafter(0.375, 0)))
@example(float(np.nextafter(-0.125, -1)))
@settings(max_examples=300)
def test_quantize_is_nearest_step_with_remainder_in_half_open_range(beat):
    step, rem = quantize(beat)
    assert isinstance(step, int)
    assert -0.5 <= rem < 0.5
    exact = Fraction(beat) * 4
    want_step, want_rem = exact_step_of(exact)
    assert step == want_step
    assert math.isclose(rem, float(want_rem), abs_tol=1e-9)


def exact_step_of(pos: Fraction) -> tuple[int, Fraction]:
    step = math.floor(pos + Fraction(1, 2))
    return step, pos - step


def test_quantize_half_step_goes_to_the_later_step():
    # 0.125 beat is half a 16th: the remainder range [-0.5, 0.5) puts it on step 1 at -0.5.
    assert quantize(0.125) == (1, -0.5)
    assert quantize(0.0) == (0, 0.0)
    assert quantize(1.0) == (4, 0.0)
    assert quantize(-0.125) == (0, -0.5)


# ------------------------------------------------------------------------ notes -> drum grid


def test_second_hit_of_a_voice_on_one_step_keeps_the_louder():
    kick = [n for n, v in TD11.items() if VOICES[v] == "kick"][0]
    # two kicks on step 2 (beat 0.5): the soft one early, the loud one late, then a soft one
    notes = [NoteIn(0.49, kick, 40), NoteIn(0.52, kick, 100), NoteIn(0.51, kick, 60)]
    p = drums_from_notes(notes, TD11, 8)
    v = VOICES.index("kick")
    assert p.n_hits == 1 and p.hit[2, v] == 1
    assert p.velocity[2, v] == pytest.approx(100 / 127)
    assert p.offset[2, v] == pytest.approx(0.52 * 4 - 2)  # the loud note's timing
    # same with the loud note first
    p = drums_from_notes(list(reversed(notes)), TD11, 8)
    assert p.velocity[2, v] == pytest.approx(100 / 127)
    assert p.offset[2, v] == pytest.approx(0.52 * 4 - 2)


def test_two_notes_of_one_voice_fold_together():
    # TD-11 snare head (38) and rim (40) are one voice: the louder decides
    p = drums_from_notes([NoteIn(0.0, 38, 50), NoteIn(0.01, 40, 90)], TD11, 4)
    s = VOICES.index("snare")
    assert p.n_hits == 1 and p.velocity[0, s] == pytest.approx(90 / 127)


def test_notes_outside_table_window_or_silent_are_ignored():
    steps = 8
    notes = [
        NoteIn(0.0, 60, 100),  # bongo: not in the TD-11 table
        NoteIn(0.0, 36, 0),  # velocity 0 note-on = note-off
        NoteIn(-0.13, 36, 100),  # nearest step -1: before the window
        NoteIn(steps / 4 - 0.125, 38, 100),  # nearest step == steps: after the window
        NoteIn(steps / 4, 42, 100),
    ]
    assert drums_from_notes(notes, TD11, steps).n_hits == 0
    # ... while the same notes nudged inside are kept
    inside = [NoteIn(-0.12, 36, 100), NoteIn(steps / 4 - 0.126, 38, 100)]
    p = drums_from_notes(inside, TD11, steps)
    assert p.n_hits == 2
    assert p.hit[0, VOICES.index("kick")] and p.hit[steps - 1, VOICES.index("snare")]


def test_velocity_zero_note_on_in_a_file_is_not_a_hit():
    track = mido.MidiTrack(
        [
            mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
            mido.Message("note_on", channel=9, note=36, velocity=0, time=60),  # running-status off
            mido.Message("note_on", channel=9, note=38, velocity=0, time=60),  # stray "off" only
        ]
    )
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(track)
    notes = read_midi(save_and_reload(mid))
    assert [(n.note, n.velocity) for n in notes.drums] == [(36, 100)]
    p = drums_from_notes(notes.drums, TD11, 4)
    assert p.n_hits == 1


notes_strategy = st.lists(
    st.tuples(
        st.floats(-1.0, 9.0, allow_nan=False),
        st.sampled_from(sorted(TD11) + [0, 27, 60, 81, 127]),
        st.integers(0, 127),
    ),
    max_size=60,
)


@given(notes_strategy)
@HYP
def test_drums_from_notes_follows_the_folding_rules(raw):
    """Every cell is the loudest in-table, in-window, non-silent note quantised there."""
    steps = 32
    notes = [NoteIn(b, n, v) for b, n, v in raw]
    p = drums_from_notes(notes, TD11, steps)
    assert_valid_pattern(p)
    want = expected_cells(((*exact_step_of(Fraction(b) * 4), n, v) for b, n, v in raw), TD11, steps)
    got = {(int(s), int(v)) for s, v in zip(*np.nonzero(p.hit))}
    assert got == set(want)
    for (s, v), (vel, offsets) in want.items():
        assert p.velocity[s, v] == pytest.approx(vel / 127)
        assert any(abs(p.offset[s, v] - float(o)) < 1e-6 for o in offsets)


@given(st.integers(0, 31), st.floats(-0.5, 0.5, exclude_max=True), st.integers(1, 127))
@example(3, 0.49999999, 100)  # rounds to 0.5 in float32
@example(3, float(np.nextafter(0.5, 0)), 100)
@example(31, 0.4999999999999999, 1)  # the sum rounds up to the next window
def test_stored_offsets_stay_below_half_a_step(step, offset, velocity):
    """An offset just under +0.5 must not be stored as 0.5 (that is the next step's -0.5)."""
    beat = (step + offset) / 4
    p = drums_from_notes([NoteIn(beat, 36, velocity)], TD11, 32)
    assert_valid_pattern(p)
    if quantize(beat)[0] == 32:  # 31 + 0.4999999999999999 is 31.5 in float64: the next
        assert not p.hit.any()  # window's first step, outside this one
        return
    got_step = int(np.nonzero(p.hit[:, 0])[0][0])
    assert got_step == quantize(beat)[0]
    # and writing it out again lands on the same step
    (e,) = drums_to_events(p)
    assert quantize(e.start_beat)[0] == got_step


# ---------------------------------------------------------------------- drum grid -> events


def test_drums_to_events_times_velocities_and_outputs():
    p = DrumPattern.empty(16)
    p.place(0, 0, 1.0, 0.0)
    p.place(4, 1, 0.5, 0.25)
    p.place(6, 2, 0.1, -0.4)
    outs = [VoiceOut(30 + i, channel=1 + i) for i in range(N_VOICES)]
    ev = drums_to_events(p, outs, start_beat=8.0)
    assert [e.start_beat for e in ev] == pytest.approx([8.0, 8.0 + 4.25 / 4, 8.0 + 5.6 / 4])
    assert [(e.note, e.channel) for e in ev] == [(30, 1), (31, 2), (32, 3)]
    assert [e.velocity for e in ev] == [127, round(0.5 * 127), round(0.1 * 127)]
    assert all(e.end_beat > e.start_beat for e in ev)


@given(st.floats(0, 3))
def test_timing_amount_scales_offsets(timing):
    p = DrumPattern.empty(8)
    p.place(1, 0, 1.0, 0.3)
    p.place(5, 1, 1.0, -0.2)
    ev = sorted(drums_to_events(p, timing=timing), key=lambda e: e.note)  # kick 36, snare 38
    assert ev[0].start_beat == pytest.approx((1 + timing * 0.3) / 4)
    assert ev[1].start_beat == pytest.approx((5 - timing * 0.2) / 4)


def test_timing_zero_is_quantised():
    rng = np.random.default_rng(0)
    p = random_pattern(rng, 32)
    for e in drums_to_events(p, timing=0.0):
        assert (e.start_beat * 4) == int(e.start_beat * 4)


def random_pattern(rng, steps, density=0.3) -> DrumPattern:
    hit = (rng.random((steps, N_VOICES)) < density).astype(np.float32)
    vel = (rng.integers(1, 128, (steps, N_VOICES)) / 127).astype(np.float32) * hit
    off = rng.uniform(-0.5, 0.5, (steps, N_VOICES)).astype(np.float32)
    off = np.where(off >= 0.5, 0, off).astype(np.float32) * hit
    return DrumPattern(hit, vel, off)


def assert_no_overlap_per_note(events: list[NoteEvent]):
    """A note (channel, number) is never started again while it still sounds."""
    by_note: dict[tuple[int, int], list[NoteEvent]] = {}
    for e in events:
        assert e.end_beat > e.start_beat, e
        by_note.setdefault((e.channel, e.note), []).append(e)
    for evs in by_note.values():
        evs.sort()
        for a, b in zip(evs, evs[1:]):
            assert a.end_beat <= b.start_beat + 1e-12, (a, b)


def test_drum_gate_never_overlaps_the_next_hit_of_the_same_voice():
    """The module says the drum gate never overlaps the next hit of the same voice: hits on
    consecutive steps pushed towards each other by their offsets must not overlap either."""
    p = DrumPattern.empty(8)
    p.place(2, 0, 1.0, 0.45)  # late
    p.place(3, 0, 1.0, -0.5)  # early: 0.05 of a step after the previous one
    ev = drums_to_events(p)
    assert len(ev) == 2
    assert_no_overlap_per_note(ev)


# ------------------------------------------------------------- grid -> MIDI -> grid (property)


@st.composite
def patterns(draw, steps=st.sampled_from([16, 32, 64])):
    """Sparse draws (a list of hits) shrink far faster than a dense steps x voices matrix."""
    n = draw(steps)
    cells = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.integers(0, N_VOICES - 1),
                st.integers(1, 127),
                st.floats(-0.5, 0.5, exclude_max=True, width=32),
            ),
            max_size=4 * n,
            unique_by=lambda c: c[:2],
        )
    )
    p = DrumPattern.empty(n)
    for step, voice, vel, off in cells:
        p.hit[step, voice] = 1
        p.velocity[step, voice] = vel / 127
        p.offset[step, voice] = off
    return p


def edge_pattern(steps=32) -> DrumPattern:
    """Offsets at and next to both ends of [-0.5, 0.5) on neighbouring steps of one voice."""
    p = DrumPattern.empty(steps)
    top = float(np.nextafter(np.float32(0.5), np.float32(0)))
    for s, o in enumerate([-0.5, top, -0.5, 0.49, -0.49, top, top, -0.5]):
        p.place(4 + s, 0, (s + 1) / 127, o)
        p.place(4 + s, 3, 1.0, -o if o != -0.5 else top)
    return p


def roundtrip(p: DrumPattern, tpb: int, bpm: float, lead: float) -> tuple[DrumPattern, mido.MidiFile, list]:
    events = drums_to_events(p, start_beat=lead)
    mid = save_and_reload(events_to_midi({"drums": events}, bpm=bpm, ticks_per_beat=tpb))
    notes = read_midi(mid)
    back = drums_from_notes(
        [NoteIn(n.beat - lead, n.note, n.velocity) for n in notes.drums], OUT_TABLE, p.steps
    )
    return back, mid, events


TPBS = st.sampled_from([480, 96, 960, 24, 120, 100, 1000, 384])


@given(patterns(), TPBS, st.floats(40, 300), st.sampled_from([4.0, 1.0, 8.0]))
@example(edge_pattern(), 480, 120.0, 4.0)
@example(edge_pattern(), 96, 120.0, 4.0)
@example(edge_pattern(), 100, 97.0, 1.0)
@HYP
def test_grid_to_midi_to_grid_is_unchanged(p, tpb, bpm, lead):
    """Any grid survives grid -> MIDI file -> grid: same hits on the same steps and voices,
    velocity within 1/127, offset within one MIDI tick (4/tpb of a step)."""
    back, mid, events = roundtrip(p, tpb, bpm, lead)
    assert_same_grid(p, back, offset_tol=4 / tpb)
    assert mid.ticks_per_beat == tpb
    assert read_midi(mid).bpm == pytest.approx(bpm, rel=1e-5)


@given(patterns(st.just(32)))
@HYP
def test_grid_roundtrip_from_beat_zero(p):
    """Written from beat 0 with nothing before step 0: no time needs to be negative."""
    assume(not np.any((p.hit[0] > 0) & (p.offset[0] < 0)))
    back, _, _ = roundtrip(p, 480, 120.0, 0.0)
    assert_same_grid(p, back, offset_tol=4 / 480)


@given(patterns(st.just(32)), TPBS, st.floats(40, 300))
@HYP
def test_midi_files_are_well_formed_and_times_match_seconds(p, tpb, bpm):
    """Every note-on is ended by one note-off; each note plays (per mido's own tempo map) at
    the time ``NoteEvent.start_s`` says, within a tick; the seconds convert back to the grid."""
    lead = 4.0
    events = drums_to_events(p, start_beat=lead)
    assert_no_overlap_per_note(events)
    mid = save_and_reload(events_to_midi({"drums": events}, bpm=bpm, ticks_per_beat=tpb))
    now, starts, sounding = 0.0, [], {}
    for msg in mid:  # mido plays the file: time in seconds
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            assert (msg.channel, msg.note) not in sounding, "note started twice without an off"
            sounding[(msg.channel, msg.note)] = now
            starts.append((now, msg.note, msg.velocity))
        elif msg.type in ("note_on", "note_off"):
            assert sounding.pop((msg.channel, msg.note), None) is not None, "note-off without on"
    assert not sounding, "notes left sounding"
    tick_s = 60.0 / bpm / tpb
    # per note: two notes less than a tick apart may swap places in the file, one note may not
    got_by_note: dict[int, list] = {}
    want_by_note: dict[int, list] = {}
    for t, n, v in starts:
        got_by_note.setdefault(n, []).append((t, v))
    for e in events:
        want_by_note.setdefault(e.note, []).append((e.start_s(bpm), e.velocity))
    assert got_by_note.keys() == want_by_note.keys()
    for n, want in want_by_note.items():
        got = got_by_note[n]
        assert len(got) == len(want)
        for (t, v), (ws, wv) in zip(sorted(got), sorted(want)):
            assert v == wv
            # one tick, plus the file's tempo resolution (a whole microsecond per beat)
            assert abs(t - ws) <= tick_s + 0.5e-6 * ws * bpm / 60 + 1e-9
    # seconds -> beats -> the grid: every hit comes back to its step + offset. (Compared as one
    # position: an offset of exactly -0.5 is the previous step's +0.5 once a float rounds.)
    got_pos: dict[int, list] = {}
    for e in events:
        step, rem = quantize(e.start_s(bpm) * bpm / 60 - lead)
        got_pos.setdefault(e.note, []).append((step + rem, e.velocity))
    want_pos: dict[int, list] = {}
    for s_, v in zip(*np.nonzero(p.hit)):
        want_pos.setdefault(GM_OUTPUT[v].note, []).append(
            (float(s_) + float(p.offset[s_, v]), round(float(p.velocity[s_, v]) * 127))
        )
    assert got_pos.keys() == want_pos.keys()
    for n, want in want_pos.items():
        for (gp, gv), (wp, wv) in zip(sorted(got_pos[n]), sorted(want)):
            assert gv == wv and abs(gp - wp) < 1e-6


def test_note_event_seconds():
    e = NoteEvent(3.0, 3.5, 36, 100, 10)
    assert e.start_s(120) == pytest.approx(1.5)
    assert e.end_s(120) == pytest.approx(1.75)
    assert e.start_s(60) == pytest.approx(3.0)


# --------------------------------------------------------------- real GMD files round trip


def _pick_gmd_files() -> list[str]:
    """One beat and one fill per drummer (the shortest of each that lasts 8+ s / any fill),
    plus a non-4/4 beat: several drummers and styles, small enough to be quick."""
    if GMD is None:
        return []
    chosen = []
    by_drummer: dict[str, list[dict]] = {}
    for r in gmd_rows():
        by_drummer.setdefault(r["drummer"], []).append(r)
    for _drummer, rows in sorted(by_drummer.items()):
        beats = sorted(
            (r for r in rows if r["beat_type"] == "beat" and float(r["duration"]) >= 8),
            key=lambda r: float(r["duration"]),
        )
        fills = sorted(
            (r for r in rows if r["beat_type"] == "fill" and float(r["duration"]) >= 4),
            key=lambda r: float(r["duration"]),
        )
        for group in (beats, fills):
            if group:
                chosen.append(group[len(group) // 4]["midi_filename"])
    odd = sorted((r for r in gmd_rows() if r["time_signature"] != "4-4"), key=lambda r: float(r["duration"]))
    chosen.append(odd[0]["midi_filename"])
    return chosen


GMD_FILES = _pick_gmd_files()


@needs_gmd
def test_picked_gmd_files_are_varied():
    rows = {r["midi_filename"]: r for r in gmd_rows()}
    picked = [rows[f] for f in GMD_FILES]
    assert len({r["drummer"] for r in picked}) >= 8
    assert len({r["style"].split("/")[0] for r in picked}) >= 5
    assert {r["beat_type"] for r in picked} == {"beat", "fill"}


@needs_gmd
@pytest.mark.parametrize("name", GMD_FILES)
def test_gmd_file_to_grid_matches_an_independent_reading(name):
    """MIDI -> grid on a real performance: every cell is exactly what the independent reader
    and the documented rules say (nearest step, loudest hit, TD-11 folding)."""
    path = GMD / name
    tpb, ons = raw_note_ons(path.read_bytes())
    notes = read_midi(mido.MidiFile(path))
    steps = max(exact_step(t, tpb)[0] for t, _, _, _ in ons) + 1
    p = drums_from_notes(notes.drums, TD11, steps)
    assert_valid_pattern(p)
    want = expected_cells(((*exact_step(t, tpb), n, v) for t, _, n, v in ons), TD11)
    got = {(int(s), int(v)) for s, v in zip(*np.nonzero(p.hit))}
    assert got == set(want)
    assert len(want) >= 8
    for (s, v), (vel, offsets) in want.items():
        assert p.velocity[s, v] == pytest.approx(vel / 127, abs=1e-6)
        assert any(abs(p.offset[s, v] - float(o)) < 1e-6 for o in offsets)


@needs_gmd
@pytest.mark.parametrize("name", GMD_FILES)
def test_gmd_file_grid_midi_grid_roundtrip(name):
    """A real performance: MIDI -> grid -> MIDI -> grid keeps every hit's voice, step,
    velocity (within 1/127) and offset (within one tick: 4/480 of a step), at the file's tempo."""
    path = GMD / name
    notes = read_midi(mido.MidiFile(path))
    steps = int(np.ceil(notes.length_beats * 4)) + 1
    p = drums_from_notes(notes.drums, TD11, steps)
    assert p.n_hits >= 8
    events = drums_to_events(p)
    mid = save_and_reload(events_to_midi({"drums": events}, bpm=notes.bpm, ticks_per_beat=480))
    back_notes = read_midi(mid)
    assert back_notes.bpm == pytest.approx(notes.bpm, rel=1e-5)
    back = drums_from_notes(back_notes.drums, OUT_TABLE, steps)
    assert_same_grid(p, back, offset_tol=4 / 480)
    # and the file's own tempo is the one info.csv states
    row = next(r for r in gmd_rows() if r["midi_filename"] == name)
    assert notes.bpm == pytest.approx(float(row["bpm"]), rel=1e-3)


# ----------------------------------------------------------------------------------- bass


@st.composite
def bass_lines(draw):
    n = draw(st.sampled_from([8, 16, 32]))
    onset = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), np.float32)
    pitch = np.array(
        draw(st.lists(st.integers(BASS_PITCH_MIN, BASS_PITCH_MAX), min_size=n, max_size=n)), np.int16
    )
    vel = np.array(draw(st.lists(st.integers(1, 127), min_size=n, max_size=n)), np.float32) / 127
    length = np.array(draw(st.lists(st.integers(1, n), min_size=n, max_size=n)), np.int16)
    roots = draw(st.lists(st.integers(0, 11), min_size=n, max_size=n))
    on = onset > 0.5
    line = BassLine(
        onset,
        np.where(on, pitch, 0).astype(np.int16),
        np.where(on, vel, 0).astype(np.float32),
        np.where(on, length, 0).astype(np.int16),
    )
    return line, roots


def expected_lengths(line: BassLine) -> dict[int, int]:
    """Documented: a note is cut where the next one starts (monophonic), otherwise kept."""
    on = list(np.nonzero(line.onset > 0.5)[0])
    out = {}
    for i, s in enumerate(on):
        length = int(line.length[s])
        if i + 1 < len(on):
            length = min(length, on[i + 1] - s)
        out[int(s)] = length
    return out


def assert_bass_equal(line: BassLine, back: BassLine):
    np.testing.assert_array_equal(back.onset, line.onset)
    on = line.onset > 0.5
    np.testing.assert_array_equal(back.pitch[on], line.pitch[on])
    np.testing.assert_allclose(back.velocity[on], line.velocity[on], atol=1 / 127 + 1e-6)
    want = expected_lengths(line)
    assert {int(s): int(back.length[s]) for s in want} == want


@given(bass_lines(), st.sampled_from([0.0, 4.0]))
@HYP
def test_bass_line_events_notes_bass_line(lr, start):
    line, roots = lr
    events = bass_to_events(line, roots, start_beat=start)
    notes = [(e.start_beat - start, e.end_beat - start, e.note, e.velocity) for e in events]
    back = bass_from_notes(notes, roots, line.steps)
    assert_bass_equal(line, back)


@given(bass_lines(), st.sampled_from([96, 480, 960]), st.floats(60, 200))
@HYP
def test_bass_line_through_a_midi_file(lr, tpb, bpm):
    """Bass with drums in one file (bass on channel 1, drums on 10) comes back unchanged."""
    line, roots = lr
    bass = bass_to_events(line, roots)
    drums = [NoteEvent(0.0, 0.125, 36, 100, 10)]
    mid = save_and_reload(events_to_midi({"drums": drums, "bass": bass}, bpm=bpm, ticks_per_beat=tpb))
    notes = read_midi(mid)
    assert [n.note for n in notes.drums] == [36]
    back = bass_from_notes(notes.pitched.get(BassRange().channel, []), roots, line.steps)
    assert_bass_equal(line, back)


ranges = st.sampled_from(
    [
        BassRange(),
        BassRange(root_low=35, low=23, high=60),  # 5-string
        BassRange(root_low=36, low=36, high=47, channel=2),  # one octave
        BassRange(root_low=28, low=28, high=52, channel=16),
    ]
)


@given(bass_lines(), ranges)
@HYP
def test_bass_output_is_monophonic_and_in_range(lr, rng):
    line, roots = lr
    events = bass_to_events(line, roots, rng)
    assert len(events) == int((line.onset > 0.5).sum())
    for e in events:
        assert rng.low <= e.note <= rng.high
        assert e.channel == rng.channel
        assert e.end_beat > e.start_beat
        # the note is the documented pitch class: root + pitch, up to octaves
        s = int(round(e.start_beat * 4))
        assert (e.note - roots[s] - int(line.pitch[s])) % 12 == 0
    for a, b in zip(events, events[1:]):
        assert a.end_beat <= b.start_beat, "overlapping bass notes"


@given(st.integers(0, 11), st.integers(BASS_PITCH_MIN, BASS_PITCH_MAX))
def test_default_range_holds_every_pitch_without_folding(root, pitch):
    """Roots E2..D#3 +-12 is E1..D#4: a pitch relative to the root is never folded, so the
    interval to the root (not just the pitch class) is what is played."""
    rng = BassRange()
    root_note = bass_note(root, 0, rng)
    assert rng.root_low <= root_note < rng.root_low + 12 and root_note % 12 == root
    assert bass_note(root, pitch, rng) - root_note == pitch


def test_bass_legato_tie_and_rest():
    line = BassLine.empty(16)
    for step, pitch, length in [(0, 0, 4), (4, 7, 2), (8, 5, 8), (10, -5, 1)]:
        line.onset[step], line.pitch[step], line.velocity[step], line.length[step] = 1, pitch, 0.8, length
    ev = bass_to_events(line, [0] * 16)
    assert [(e.start_beat * 4, e.end_beat * 4) for e in ev] == [(0, 4), (4, 6), (8, 10), (10, 11)]
    assert ev[0].end_beat == ev[1].start_beat  # length reaches the next onset: legato
    assert ev[1].end_beat < ev[2].start_beat  # a gap: steps 6-7 are a rest
    assert ev[2].end_beat == ev[3].start_beat  # too long: cut at the next onset
    # through MIDI: a tied note's off comes before the next note's on at the same tick
    mid = save_and_reload(events_to_midi({"bass": ev, "drums": [NoteEvent(0, 0.1, 36, 1, 10)]}))
    (track,) = [t for t in mid.tracks if t.name == "bass"]
    bass_track = [m for m in track if m.type in ("note_on", "note_off")]
    kinds = [(m.type == "note_on" and m.velocity > 0, m.time) for m in bass_track]
    assert kinds[1] == (False, 4 * 120) and kinds[2] == (True, 0)


def test_bass_two_onsets_on_one_step_lower_wins():
    """Documented: on a step with two onsets the lower note wins, whichever comes first."""
    roots = [0] * 8
    for notes in (
        [(0.49, 0.75, 55, 90), (0.51, 0.75, 43, 80)],
        [(0.49, 0.75, 43, 80), (0.51, 0.75, 55, 90)],
        [(0.5, 0.75, 55, 90), (0.5, 0.75, 43, 80)],
    ):
        line = bass_from_notes(notes, roots, 8)
        assert line.onset[2] == 1 and line.onset.sum() == 1
        assert bass_note(0, int(line.pitch[2]), BassRange()) == 43, notes


def test_bass_from_notes_folds_far_notes_by_octaves_and_ignores_outside():
    line = bass_from_notes(
        [(0.0, 1.0, 48 + 24 + 7, 100), (-1.0, 0.0, 40, 100), (2.0, 3.0, 40, 100)], [0] * 8, 8
    )
    assert list(np.nonzero(line.onset)[0]) == [0]
    assert BASS_PITCH_MIN <= line.pitch[0] <= BASS_PITCH_MAX and line.pitch[0] % 12 == 7


def test_default_window_is_two_bars_of_sixteenths():
    assert DEFAULT_STEPS == 32
    p = DrumPattern.empty()
    assert p.hit.shape == (32, N_VOICES)
    with pytest.raises(ValueError):
        DrumPattern(np.zeros((4, 9)), np.zeros((4, 8)), np.zeros((4, 9)))

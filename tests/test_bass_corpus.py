"""The procedural bass corpus: each idiom writes what docs/bass.md's table of idioms says, the
section knobs do what their names say, notes leave the chord's scale only as approach notes,
and consecutive windows of a piece agree on the bar they share."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jamd.data.bass_corpus import IDIOMS, PROGRESSIONS, bass_windows, make_piece
from jamd.data.bass_idioms import BAR, IDIOM, STYLE_IDIOM, roman
from jamd.data.bass_lines import BarContext, Section, bar_line
from jamd.data.corpus import Windows
from jamd.lab.bass_lines import NoteRole, roles
from jamd.music.harmony import DOM7, MAJ, MIN, MIN7, QUALITIES, in_scale

ROOTS = (0, 12, -12)  # the root in any octave


def _ctx(kick_steps, busy=0.5, melodic=0.5, root=0, quality=MAJ, next_root=5, change_at=None, seed=0):
    kick = np.zeros(BAR, bool)
    kick[list(kick_steps)] = True
    roots, quals = np.full(BAR, root), np.full(BAR, quality)
    if change_at:  # a second chord in the bar (jazz ii-V in one bar)
        roots[change_at:], quals[change_at:] = (root + 7) % 12, DOM7
    return BarContext(kick, roots, quals, next_root, Section(busy, melodic), np.random.default_rng(seed))


def _line(idiom, *args, **kw):
    onset, pitch, velocity, length, offset = bar_line(idiom, _ctx(*args, **kw))
    return [int(s) for s in np.nonzero(onset)[0]], pitch, velocity, length, offset


knobs = st.floats(0.0, 0.999)
bars = st.tuples(
    st.sets(st.integers(0, BAR - 1), max_size=8),
    knobs,
    knobs,
    st.integers(0, 11),
    st.integers(0, len(QUALITIES) - 1),
    st.integers(0, 11),
    st.sampled_from([None, 8]),
)


@settings(max_examples=80, deadline=None)
@given(bars, st.sampled_from(IDIOMS))
def test_notes_are_in_range_and_leave_the_scale_only_to_approach_a_chord(bar, idiom):
    kicks, busy, melodic, root, quality, nxt, change = bar
    ctx = _ctx(kicks, busy, melodic, root, quality, nxt, change)
    onset, pitch, velocity, length, offset = bar_line(idiom, ctx)
    steps = list(np.nonzero(onset)[0])
    assert steps
    assert (np.abs(pitch) <= 12).all() and (length[steps] >= 1).all()
    assert ((velocity[steps] > 0) & (velocity[steps] <= 1)).all() and (np.abs(offset) < 0.5).all()
    for i, s in enumerate(steps):
        if not in_scale(pitch[s], ctx.quality[s]):
            change = ctx.next_change(s)[0]
            assert IDIOM[idiom].chromatic <= ctx.section.level
            assert i + 1 == len(steps) or steps[i + 1] >= change  # the last note before the change


@settings(max_examples=40, deadline=None)
@given(bars)
def test_rock_plays_every_kick_on_eighths_with_root_fifth_and_octave(bar):
    kicks, busy, _, root, quality, nxt, _ = bar
    steps, pitch, *_ = _line("rock", kicks, busy, 0.3, root, quality, nxt)  # melodic level 1
    assert set(kicks) <= set(steps)
    assert {s for s in steps if s not in kicks} <= set(range(0, BAR, 2))
    assert {int(pitch[s]) for s in steps} <= {-12, -5, 0}  # root, fifth, octave (register -12)


def test_funk_has_sixteenths_on_the_kick_octave_pops_ghost_notes_and_chromatic_approaches():
    steps, pitch, velocity, length, _ = _line("funk", [0, 7, 15], busy=0.9, melodic=0.55, quality=MIN7)
    assert {7, 15} <= set(steps)  # syncopated 16ths where the kick plays them
    assert any(pitch[s] == 12 for s in steps)  # octave pop (register 0 at level 2)
    ghosts = [s for s in steps if velocity[s] < 0.4]
    assert ghosts and all(length[g] == 1 for g in ghosts)
    steps, pitch, *_ = _line("funk", [0, 7, 15], busy=0.9, melodic=0.9, quality=MIN7, next_root=5)
    assert abs(int(pitch[15]) - 5) == 1  # a half step into the next root (F after C-7)
    assert not in_scale(pitch[15], MIN7)


@pytest.mark.parametrize("melodic", [0.1, 0.4, 0.6, 0.9])
def test_disco_plays_the_octave_on_every_offbeat_eighth(melodic):
    steps, pitch, *_ = _line("disco", [0, 4, 8, 12], busy=1.0, melodic=melodic)
    offbeats = [s for s in steps if s % 4 == 2]
    assert offbeats == [2, 6, 10, 14]
    register = -12 if melodic < 0.5 else 0
    assert all(pitch[s] == register + 12 for s in offbeats)


@settings(max_examples=40, deadline=None)
@given(bars)
def test_jazz_walks_legato_quarters_with_chord_tones_on_one_and_three(bar):
    kicks, _, melodic, root, quality, nxt, change = bar
    steps, pitch, _, length, _ = _line("jazz", kicks, 0.0, melodic, root, quality, nxt, change)
    assert steps == [0, 4, 8, 12]
    assert (length[steps] == 4).all()
    assert pitch[0] in ROOTS
    strong = roles(pitch[[0, 8]], np.array([quality, DOM7 if change else quality]))
    chord_tones = {list(NoteRole).index(r) for r in (NoteRole.ROOT, NoteRole.THIRD, NoteRole.FIFTH)}
    assert set(strong) <= chord_tones


def test_jazz_approaches_the_next_chord_on_beat_four():
    for melodic, chromatic in ((0.3, False), (0.9, True)):
        steps, pitch, *_ = _line("jazz", [], 0.0, melodic, root=2, quality=MIN7, next_root=7)
        target = (7 - 2) % 12  # G over D-7: a fourth up
        assert min(abs(int(pitch[12]) % 12 - target), 12 - abs(int(pitch[12]) % 12 - target)) in (1, 2)
        assert bool(in_scale(pitch[12], MIN7)) is not chromatic


@settings(max_examples=40, deadline=None)
@given(bars)
def test_reggae_one_drop_rests_on_the_one_and_lands_on_three(bar):
    kicks, busy, melodic, root, quality, nxt, _ = bar
    steps, pitch, *_ = _line("reggae", kicks | {8}, busy, melodic, root, quality, nxt)
    assert 0 not in steps and 8 in steps and pitch[8] in ROOTS


@settings(max_examples=40, deadline=None)
@given(bars)
def test_latin_tumbao_anticipates_the_next_root_on_four_and_ties_it_over(bar):
    kicks, busy, melodic, _, _, _, _ = bar
    steps, pitch, _, length, _ = _line("latin", kicks, busy, melodic, root=0, quality=MAJ, next_root=7)
    assert 0 not in steps and {6, 12} <= set(steps)
    assert pitch[12] % 12 == 7  # G, the next chord's root, played over C on beat 4
    assert 12 + length[12] > BAR  # held over the bar line


@settings(max_examples=40, deadline=None)
@given(bars)
def test_hiphop_sits_on_the_kick_sparsely(bar):
    kicks, busy, melodic, root, quality, nxt, _ = bar
    steps, *_ = _line("hiphop", kicks, busy, melodic, root, quality, nxt)
    assert set(steps) <= (set(kicks) or {0})
    assert len(_line("hiphop", kicks, 0.0, melodic, root, quality, nxt)[0]) == 1


def test_ballad_plays_half_notes_when_sparse():
    steps, pitch, _, length, _ = _line("ballad", [0, 6], busy=0.0, melodic=0.1)
    assert steps == [0, 8] and list(length[steps]) == [8, 8]
    assert len(_line("ballad", [0, 6], busy=1.0, melodic=0.1)[0]) > 2


@pytest.mark.parametrize("idiom", [i for i in IDIOMS if IDIOM[i].optional or i == "hiphop"])
def test_the_knobs_mean_busier_and_more_melodic(idiom):
    kicks = [0, 3, 8, 10]
    counts = [len(_line(idiom, kicks, busy, 0.5)[0]) for busy in (0.0, 0.5, 0.999)]
    assert counts == sorted(counts) and counts[0] < counts[-1]

    def off_root(melodic):
        steps, pitch, *_ = _line(idiom, kicks, 0.999, melodic, quality=MAJ)
        return np.mean([pitch[s] % 12 != 0 for s in steps])

    shares = [off_root(m) for m in (0.1, 0.4, 0.6, 0.9)]
    assert shares[0] < shares[-1] and shares[-1] > 0.3


@pytest.mark.parametrize("idiom", IDIOMS)
def test_a_higher_melodic_level_never_takes_a_note_back_to_the_root(idiom):
    # position by position through the ladders' cycles, so the share of notes off the root can
    # only grow along the melodic knob, whatever the kicks and the busy knob make of the bar
    for ladder in IDIOM[idiom].ladders.values():
        for low, high in zip(ladder, ladder[1:]):
            for i in range(12):
                assert low[i % len(low)] in ("R", "O") or high[i % len(high)] not in ("R", "O")


@pytest.mark.parametrize(
    ("symbol", "chord"),
    [
        ("I", (0, MAJ)),
        ("ii7", (2, MIN7)),
        ("V7", (7, DOM7)),
        ("bVII", (10, MAJ)),
        ("bVI", (8, MAJ)),
        ("iv", (5, MIN)),
    ],
)
def test_roman_numerals(symbol, chord):
    assert roman(symbol) == chord
    with pytest.raises(ValueError):
        roman("Vi")


def test_every_style_has_an_idiom_and_a_progression():
    assert set(STYLE_IDIOM.values()) == set(IDIOMS) == set(PROGRESSIONS)


def fake_windows(n_bars=6, files=2, seed=0):
    """Windows cut every bar from random 'files', as corpus.py would (hop 16, 32 steps)."""
    rng = np.random.default_rng(seed)
    hit, fidx, bar = [], [], []
    for f in range(files):
        grid = (rng.random(((n_bars + 1) * BAR, 9)) < 0.25).astype(np.uint8)
        for b in range(n_bars):
            hit.append(grid[b * BAR : (b + 2) * BAR])
            fidx.append(f)
            bar.append(b)
    hit = np.array(hit)
    return Windows(
        hit,
        hit.astype(np.float32) * 0.8,
        np.zeros(hit.shape, np.float32),
        np.array(fidx, np.int32),
        np.array(bar, np.int32),
    )


def test_consecutive_windows_share_their_overlapping_bar_and_chords():
    bw = bass_windows(fake_windows(), ["funk", "jazz"], seed=3)
    pairs = bw.next_pairs()
    assert len(pairs) == 2 * 5
    for a, b in pairs:
        for field in ("onset", "pitch", "velocity", "length", "root", "quality"):
            np.testing.assert_array_equal(getattr(bw, field)[a][BAR:], getattr(bw, field)[b][:BAR])
    assert set(bw.idiom) == {IDIOMS.index("funk"), IDIOMS.index("jazz")}


def test_the_corpus_is_deterministic_for_a_seed():
    w = fake_windows()
    a, b, c = (bass_windows(w, ["rock", "latin"], seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.pitch, b.pitch)
    np.testing.assert_array_equal(a.velocity, b.velocity)
    assert not np.array_equal(a.velocity, c.velocity)


@pytest.mark.parametrize("idiom", IDIOMS)
def test_progressions_loop_over_the_piece(idiom):
    piece = make_piece({"latin": "afrocuban", "disco": "dance", "ballad": "pop"}.get(idiom, idiom), 0, 7)
    assert piece.idiom == idiom and piece.progression in PROGRESSIONS[idiom]
    n = len(piece.progression)
    for bar in range(3):
        for x, y in zip(piece.bar_chords(bar), piece.bar_chords(bar + n)):
            np.testing.assert_array_equal(x, y)

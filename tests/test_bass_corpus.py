"""The procedural bass corpus: each idiom has the properties docs/bass.md promises, every note is
in its chord's scale, and consecutive windows of a piece agree on the bar they share."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jamd.data.bass_corpus import (
    BAR,
    IDIOMS,
    PROGRESSIONS,
    BarContext,
    bar_line,
    bass_windows,
    make_piece,
    section_params,
)
from jamd.data.corpus import Windows
from jamd.music.harmony import QUALITIES, in_scale


def _ctx(kick_steps, idiom="rock", seed=0, root=0, quality=0, next_root=5, change_at=None):
    rng = np.random.default_rng(seed)
    kick = np.zeros(BAR, bool)
    kick[list(kick_steps)] = True
    roots, quals = np.full(BAR, root), np.full(BAR, quality)
    if change_at:  # a second chord in the bar (jazz ii-V in one bar)
        roots[change_at:], quals[change_at:] = (root + 7) % 12, 2
    return BarContext(kick, roots, quals, next_root, section_params(idiom, rng), rng)


bars = st.tuples(
    st.sets(st.integers(0, BAR - 1), max_size=8),
    st.integers(0, 2**16),
    st.integers(0, 11),
    st.integers(0, len(QUALITIES) - 1),
    st.integers(0, 11),
    st.sampled_from([None, 8]),
)


@settings(max_examples=60, deadline=None)
@given(bars, st.sampled_from(IDIOMS))
def test_every_note_is_in_its_chords_scale_and_range(bar, idiom):
    kicks, seed, root, quality, nxt, change = bar
    ctx = _ctx(kicks, idiom, seed, root, quality, nxt, change)
    onset, pitch, velocity, length, offset = bar_line(idiom, ctx)
    on = onset > 0
    assert on.any()
    assert in_scale(pitch[on], ctx.quality[on]).all()
    assert (np.abs(pitch) <= 12).all() and (length[on] >= 1).all()
    assert ((velocity[on] > 0) & (velocity[on] <= 1)).all() and (np.abs(offset) < 0.5).all()


@settings(max_examples=40, deadline=None)
@given(bars)
def test_rock_plays_on_every_kick(bar):
    kicks, seed, root, quality, nxt, _ = bar
    onset = bar_line("rock", _ctx(kicks, "rock", seed, root, quality, nxt))[0]
    assert all(onset[k] for k in kicks)


@settings(max_examples=40, deadline=None)
@given(bars)
def test_hiphop_plays_only_on_kicks(bar):
    kicks, seed, root, quality, nxt, _ = bar
    onset = bar_line("hiphop", _ctx(kicks, "hiphop", seed, root, quality, nxt))[0]
    allowed = set(kicks) or {0}
    assert set(np.nonzero(onset)[0]) <= allowed


@settings(max_examples=40, deadline=None)
@given(bars)
def test_jazz_walks_legato_quarters_from_the_root(bar):
    kicks, seed, root, quality, nxt, change = bar
    onset, pitch, _, length, _ = bar_line("jazz", _ctx(kicks, "jazz", seed, root, quality, nxt, change))
    assert list(np.nonzero(onset)[0]) == [0, 4, 8, 12]
    assert (length[[0, 4, 8, 12]] == 4).all()
    assert pitch[0] == 0
    if change:
        assert pitch[change] in (0, 12)  # a new chord starts on its root


def test_reggae_one_drop_and_latin_tumbao_leave_the_one_empty():
    for seed in range(30):
        on_r = bar_line("reggae", _ctx([8], "reggae", seed))[0]
        assert on_r[0] == 0 and on_r[8] == 1
        on_l, pitch_l = bar_line("latin", _ctx([0, 8], "latin", seed, root=0, quality=0, next_root=7))[:2]
        assert on_l[0] == 0 and on_l[6] == 1 and on_l[12] == 1
        assert pitch_l[12] == 7  # the next bar's root (G over C), anticipated


def test_funk_has_syncopation_and_ghost_notes():
    ghosts = synco = 0
    for seed in range(40):
        onset, _, velocity, length, _ = bar_line("funk", _ctx([0, 10], "funk", seed, quality=3))
        ghosts += int(((velocity < 0.4) & (onset > 0)).sum())
        synco += int(onset[1::2].sum())
    assert ghosts > 20 and synco > 40


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
    piece = make_piece({"latin": "afrocuban", "default": "country"}.get(idiom, idiom), 0, 7)
    assert piece.idiom == idiom and piece.progression in PROGRESSIONS[idiom]
    n = len(piece.progression)
    for bar in range(3):
        for x, y in zip(piece.bar_chords(bar), piece.bar_chords(bar + n)):
            np.testing.assert_array_equal(x, y)

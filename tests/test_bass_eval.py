"""The bass line figures of `jamd eval bass` (issue 19) on hand-made lines: each figure counts
what its name says, and the baselines are what they claim to be."""

from __future__ import annotations

import numpy as np
import pytest

from jamd.lab.bass_lines import (
    NoteRole,
    kick_lock_exact,
    kick_lock_random,
    line_figures,
    random_onsets,
    roles,
)
from jamd.lab.bass_pad import _move_05, notes_changed
from jamd.music.harmony import DOM7, MAJ, MIN, MIN7

R = {role: i for i, role in enumerate(NoteRole)}


@pytest.mark.parametrize(
    ("pitch", "quality", "role"),
    [
        (0, MAJ, NoteRole.ROOT),
        (12, MIN, NoteRole.ROOT),
        (-12, DOM7, NoteRole.ROOT),
        (4, MAJ, NoteRole.THIRD),
        (3, MIN7, NoteRole.THIRD),
        (3, MAJ, NoteRole.CHROMATIC),  # a minor third over a major chord
        (7, MIN, NoteRole.FIFTH),
        (-5, MAJ, NoteRole.FIFTH),
        (11, MAJ, NoteRole.SEVENTH),
        (10, DOM7, NoteRole.SEVENTH),
        (11, DOM7, NoteRole.CHROMATIC),
        (2, MIN, NoteRole.SCALE),
        (9, MAJ, NoteRole.SCALE),
        (6, MAJ, NoteRole.CHROMATIC),
    ],
)
def test_note_roles(pitch, quality, role):
    assert roles(np.array([pitch]), np.array([quality]))[0] == R[role]


def _window(notes: dict[int, int], root=None, quality=MAJ, kicks=()):
    onset, pitch = np.zeros((1, 32)), np.zeros((1, 32), np.int64)
    for s, p in notes.items():
        onset[0, s], pitch[0, s] = 1, p
    hit = np.zeros((1, 32, 9))
    hit[0, list(kicks), 0] = 1
    root = np.zeros((1, 32), np.int64) if root is None else np.asarray(root)[None]
    return onset, pitch, root, np.full((1, 32), quality), hit


def test_line_figures_count_sounding_pitches_repeats_and_octave_jumps():
    # bar 1: C C C' G (over C); bar 2: over F, the same relative 0 is a new sounding pitch
    root = np.r_[np.zeros(16), np.full(16, 5)].astype(np.int64)
    f = line_figures(*_window({0: 0, 4: 0, 8: 12, 12: 7, 16: 0, 20: 3}, root, MAJ, kicks=(0, 8, 16, 30)))
    assert f.distinct_pitches_per_bar == (3 + 2) / 2
    # pairs: C-C (repeat), C-C' (octave), C'-G, G-F, F-Ab
    assert f.pitch_repeat == pytest.approx(1 / 5) and f.octave_jump_rate == pytest.approx(1 / 5)
    assert f.root_share == pytest.approx(4 / 6)  # the octave counts as the root
    # only the third-less notes test the scale: the b3 over F is chromatic, nothing else tested
    assert f.in_scale_nonroot_n == 1 and f.in_scale_nonroot == 0.0
    assert f.kick_lock_exact == pytest.approx(3 / 6)
    assert sum(f.note_roles.values()) == pytest.approx(1.0)


def test_exact_kick_lock_and_its_random_baseline():
    hit = np.zeros((50, 32, 9))
    hit[:, ::8, 0] = 1  # a kick every half bar: 4 of 32 steps
    onset = np.zeros((50, 32))
    onset[:, ::8] = 1
    assert kick_lock_exact(onset, hit) == 1.0
    off = np.roll(onset, 1, axis=1)
    assert kick_lock_exact(off, hit) == 0.0  # one step late is not locked
    rand = random_onsets(onset, np.random.default_rng(0))
    assert (rand.sum(1) == onset.sum(1)).all()
    assert kick_lock_random(onset, hit, np.random.default_rng(0)) == pytest.approx(4 / 32, abs=0.04)


def test_notes_changed_counts_onsets_and_pitches_over_the_union():
    a = (np.array([[1, 0, 1, 0, 1]]), np.array([[0, 0, 7, 0, 0]]))
    b = (np.array([[1, 1, 1, 0, 0]]), np.array([[0, 5, 4, 0, 0]]))
    # union {0,1,2,4}: 1 and 4 only in one line, 2 at another pitch
    assert notes_changed(a, b) == pytest.approx(3 / 4)
    assert notes_changed(a, a) == 0.0


def test_pad_moves_are_half_a_unit_and_stay_on_the_pad():
    start, end = _move_05(1000, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(end - start, axis=1), 0.5, atol=1e-9)
    assert (np.abs(start) <= 1).all() and (np.abs(end) <= 1 + 1e-12).all()

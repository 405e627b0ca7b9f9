"""``jamd train bass --played-drums``: the training split gains each window's drums as a drum model
plays them, with lines the corpus's rules write over *those* kicks, kept apart from the real
pieces; nothing else changes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from _corpus_fixtures import gmd_corpus

from jamd.cli import main
from jamd.data.bass_corpus import PLAYED_SPLIT, procedural_splits
from jamd.data.corpus import Windows
from jamd.lab.bass_lines import kick_lock_exact
from jamd.model.drums import DrumModel
from jamd.training.bass_played import played_windows

__all__ = ["gmd_corpus"]  # the session fixture, imported for pytest

DRUMS = Path(__file__).resolve().parents[1] / "models" / "drums-v3"
N = 96  # consecutive windows from the start of each split: whole pieces, so pairs exist


def _head(w: Windows, n: int = N) -> Windows:
    return Windows(w.hit[:n], w.velocity[:n], w.offset[:n], w.file[:n], w.bar[:n])


@pytest.fixture(scope="module")
def small(gmd_corpus):
    corpus, _ = gmd_corpus
    return replace(corpus, splits={k: _head(w) for k, w in corpus.splits.items()})


@pytest.fixture(scope="module")
def drums() -> DrumModel:
    return DrumModel.load(DRUMS)


def test_played_windows_are_the_models_patterns(small, drums):
    w = small.splits["train"]
    a = played_windows(w, drums, np.random.default_rng(1))
    b = played_windows(w, drums, np.random.default_rng(1))
    assert np.array_equal(a.hit, b.hit), "a seed plays the same windows"
    assert np.array_equal(a.file, w.file) and np.array_equal(a.bar, w.bar)
    assert a.hit.shape == w.hit.shape and a.hit.dtype == np.uint8
    # played, not copied: the model's patterns differ from the drummer's in most windows
    assert np.mean([not np.array_equal(x, y) for x, y in zip(a.hit, w.hit)]) > 0.8
    assert set(np.unique(a.hit)) <= {0, 1} and a.hit.sum(axis=(1, 2)).min() > 0


def test_replay_adds_lines_over_the_played_kicks_beside_training(small, drums):
    plain = procedural_splits(small, use_cache=False)
    played = procedural_splits(
        small, use_cache=False, replay=lambda w: played_windows(w, drums, np.random.default_rng(1))
    )
    assert set(played) == set(plain) | {PLAYED_SPLIT}
    for split in plain:
        assert np.array_equal(played[split].onset, plain[split].onset)
    real, new = plain["train"], played[PLAYED_SPLIT]
    assert len(new) == len(real)
    assert new.piece.min() > real.piece.max(), "the played copies are other pieces"
    both = real.join(new)
    pairs = both.next_pairs()
    assert len(pairs) == 2 * len(real.next_pairs()), "played windows pair as the real ones do"
    assert not np.any((pairs[:, 0] < N) != (pairs[:, 1] < N)), "no pair mixes real and played"
    # same pieces: the chords are the real windows'; the lines follow the kicks played, not the real ones
    assert np.array_equal(new.root, real.root) and np.array_equal(new.quality, real.quality)
    assert kick_lock_exact(new.onset, new.drum_hit) > kick_lock_exact(real.onset, new.drum_hit) + 0.1


def test_played_drums_needs_the_procedural_corpus(tmp_path, capsys):
    code = main(
        [
            "train",
            "bass",
            "--midi-dir",
            str(tmp_path),
            "--played-drums",
            str(DRUMS),
            "--out",
            str(tmp_path / "b"),
        ]
    )
    assert code == 2
    assert "--played-drums" in capsys.readouterr().err

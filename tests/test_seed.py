from pathlib import Path

import mido
import numpy as np
import pytest

from jamd.base.paths import default_data_dir
from jamd.data.corpus import WindowSettings, cut_windows, file_grid
from jamd.live.seed import SeedCapture, Seeder, SeedMode, SeedSettings, closes_at
from jamd.music.drumkit import GM, TD11
from jamd.music.grid import read_midi

GMD = default_data_dir()
FILE = "drummer1/session1/1_funk_80_beat_4-4.mid"


@pytest.mark.skipif(GMD is None, reason="Groove MIDI Dataset not found")
def test_live_capture_equals_the_corpus_window_of_the_same_bars():
    """A drummer played into the capture gives, at each bar line, exactly the training window of
    those two bars: live seeding and training see the same representation."""
    path = Path(GMD) / FILE
    notes = read_midi(mido.MidiFile(path))
    cap = SeedCapture(TD11)
    pending = iter(notes.drums)
    windows = dict(cut_windows(file_grid(path, WindowSettings()), WindowSettings()))
    assert len(windows) > 10
    note = next(pending)
    for bar, w in windows.items():
        end = (bar + 2) * 4.0
        while note is not None and note.beat < end:  # play up to the bar line, as live
            cap.add(note.beat, note.note, note.velocity)
            note = next(pending, None)
        live = cap.window(end_beat=end)
        np.testing.assert_array_equal(live.hit, w.hit)
        np.testing.assert_allclose(live.velocity, w.velocity)
        np.testing.assert_allclose(live.offset, w.offset, atol=1e-6)


def test_early_note_lands_on_first_step_and_late_note_is_next_window():
    cap = SeedCapture(GM)
    cap.add(8.0 - 0.1, 36, 100)  # a kick just before the window (which starts at beat 8)
    cap.add(16.0 - 0.1, 38, 100)  # a snare just before the bar line: belongs to the next window
    w = cap.window(end_beat=16.0)
    assert w.hit[0, 0] == 1 and w.offset[0, 0] == pytest.approx(-0.4, abs=1e-6)
    assert w.n_hits == 1


def test_note_off_and_unknown_notes_ignored():
    cap = SeedCapture(GM)
    cap.add(1.0, 36, 0)
    cap.add(1.0, 5, 100)
    assert cap.window(8.0).n_hits == 0


def _played(cap, bars, hits_per_bar):
    for b in range(bars):
        for i in range(hits_per_bar):
            cap.add(b * 4 + i * 4 / hits_per_bar, 36, 90)


def test_seeder_modes():
    encode = lambda w: np.full(2, float(w.n_hits), np.float32)  # stands in for the encoder
    cap = SeedCapture(GM, SeedSettings(mode=SeedMode.FOLLOW, min_hits=8))
    _played(cap, 2, 3)  # 6 hits in 2 bars: too few
    seeder = Seeder(cap, encode)
    assert seeder.bar_line(8.0) is None and seeder.z_seed is None
    _played(cap, 4, 8)
    # per bar: 8 eighth-note kicks + the 3-per-bar kicks on steps 5 and 11 (step 0 is shared)
    np.testing.assert_allclose(seeder.bar_line(8.0), [20, 20])

    blend = Seeder(SeedCapture(GM, SeedSettings(mode=SeedMode.BLEND, blend=0.25)), encode)
    blend.z_seed = np.zeros(2, np.float32)
    _played(blend.capture, 2, 8)
    np.testing.assert_allclose(blend.bar_line(8.0), [4.0, 4.0])

    hold = Seeder(SeedCapture(GM, SeedSettings(mode=SeedMode.HOLD)), encode)
    _played(hold.capture, 2, 8)
    assert hold.bar_line(8.0) is None


class _Counting:
    """Stands in for the encoder: the window's hit count, and how often it was called."""

    def __init__(self):
        self.calls = 0

    def __call__(self, window):
        self.calls += 1
        return np.full(2, float(window.n_hits), np.float32)


def test_the_code_encoded_ahead_is_used_at_the_bar_line_unless_the_window_changed():
    encode = _Counting()
    seeder = Seeder(SeedCapture(GM, SeedSettings(min_hits=8)), encode)
    _played(seeder.capture, 2, 8)
    assert closes_at(8.0) == pytest.approx(8.0 - 0.125)
    seeder.ahead(8.0)
    seeder.capture.add(7.95, 38, 100)  # the next window's first step, played early
    np.testing.assert_allclose(seeder.bar_line(8.0), [16, 16])
    assert encode.calls == 1  # the bar line encoded nothing

    _played(seeder.capture, 4, 8)
    seeder.ahead(16.0)
    seeder.capture.add(15.5, 38, 100)  # stamped before the close, taken in after: counts
    # 16 kicks, the snare played early on its first step and this one
    np.testing.assert_allclose(seeder.bar_line(16.0), [18, 18])
    assert encode.calls == 3

    seeder.ahead(16.0)
    seeder.use_encoder(lambda w: np.zeros(2, np.float32))  # a new model: the old code is stale
    np.testing.assert_allclose(seeder.bar_line(16.0), [0, 0])
    seeder.ahead(20.0)
    np.testing.assert_allclose(seeder.bar_line(16.0), [0, 0])  # ahead of another bar line


class _Search:
    """Stands in for a `CodeSearch`: starts at the window's hit count, +1 a step, done after 3."""

    def __init__(self, window):
        self.z = np.full((1, 2), float(window.n_hits), np.float32)
        self.done_steps = 0

    @property
    def done(self):
        return self.done_steps >= 3

    def step(self):
        self.z += 1.0
        self.done_steps += 1


def test_a_search_started_ahead_encodes_the_window_once():
    """With a search, :meth:`Seeder.ahead` starts it (the search encodes the window): the bar
    line takes the search's starting code, and no step encodes the window again."""
    encode, started = _Counting(), []

    def search(window):
        started.append(window)
        return _Search(window)

    seeder = Seeder(SeedCapture(GM, SeedSettings(min_hits=8)), encode, search)
    _played(seeder.capture, 2, 8)
    seeder.ahead(8.0)
    np.testing.assert_allclose(seeder.bar_line(8.0), [16, 16])  # the search's start: 16 hits
    assert [seeder.search_step() for _ in range(3)][-1] is not None  # 3 steps, none a start
    np.testing.assert_allclose(seeder.z_seed, [19, 19])
    assert encode.calls == 0 and len(started) == 1


def test_seeder_searches_on_after_the_bar_line():
    encode = lambda w: np.full(2, -1.0, np.float32)  # the encoder's code: not the searched one
    seeder = Seeder(SeedCapture(GM, SeedSettings(min_hits=8)), encode, _Search)
    assert not seeder.searching and seeder.search_step() is None
    _played(seeder.capture, 2, 8)
    np.testing.assert_allclose(seeder.bar_line(8.0), [-1, -1])  # at once: the encoder's
    assert seeder.searching
    # the first step starts the search (the encoding), three more finish it
    assert [seeder.search_step() for _ in range(3)] == [None] * 3
    np.testing.assert_allclose(seeder.search_step(), [19, 19])  # 16 hits + 3 steps
    np.testing.assert_allclose(seeder.z_seed, [19, 19])
    assert not seeder.searching and seeder.search_step() is None

    # a bar line during a search starts it again on the newer window
    _played(seeder.capture, 4, 8)
    seeder.bar_line(12.0)
    seeder.search_step()
    seeder.bar_line(16.0)
    assert [seeder.search_step() for _ in range(4)][-1] is not None

    blend = Seeder(SeedCapture(GM, SeedSettings(mode=SeedMode.BLEND, blend=0.25)), encode, _Search)
    blend.z_seed = np.zeros(2, np.float32)
    _played(blend.capture, 2, 8)
    np.testing.assert_allclose(blend.bar_line(8.0), [-0.25, -0.25])
    z = [blend.search_step() for _ in range(4)][-1]
    np.testing.assert_allclose(z, [19 * 0.25, 19 * 0.25])  # blended from the seed before the bar line

    hold = Seeder(SeedCapture(GM, SeedSettings(mode=SeedMode.HOLD)), encode, _Search)
    _played(hold.capture, 2, 8)
    assert hold.bar_line(8.0) is None and not hold.searching


def test_seeder_search_with_the_real_model():
    from jamd.model.drums import DrumModel
    from jamd.model.seed_search import SearchSettings

    model = DrumModel.load(Path(__file__).resolve().parents[1] / "models" / "drums-v3")
    settings = SearchSettings(steps=3)
    seeder = Seeder(SeedCapture(GM), model.encode, lambda w: model.pattern_search(w, settings))
    _played(seeder.capture, 2, 8)
    first = seeder.bar_line(8.0)
    found = None
    while found is None:
        found = seeder.search_step()
    window = seeder.capture.window(8.0)
    np.testing.assert_allclose(first, model.encode(window))
    np.testing.assert_allclose(found, model.pattern_search(window, settings).run()[0], atol=1e-5)
    assert np.linalg.norm(found - first) > 0.01

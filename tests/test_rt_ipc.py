"""The engine's IPC: window double buffer, control messages, status/timing block (no MIDI)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from jamd.engine.config import RtConfig
from jamd.engine.handle import EngineHandle, EngineLayout
from jamd.engine.ipc import (
    REC_NOTE_OFF,
    REC_NOTE_ON,
    REC_TICK,
    Control,
    ControlKind,
    EngineStatus,
    RtShared,
    WindowBuffer,
    jitter_stats,
)
from jamd.midi.null import null_port
from jamd.music.grid import BassLine, DrumPattern
from jamd.music.window import Part, Window, empty_window


def random_window(seed: int, steps: int = 32) -> Window:
    rng = np.random.default_rng(seed)
    d = DrumPattern(
        (rng.random((steps, 9)) < 0.3).astype(np.float32),
        rng.random((steps, 9)).astype(np.float32),
        (rng.random((steps, 9)) - 0.5).astype(np.float32),
    )
    b = BassLine.empty(steps)
    b.onset[::4], b.pitch[::4], b.velocity[::4], b.length[::4] = 1, 3, 0.5, 2
    return Window(d, b, rng.integers(0, 12, steps))


def test_window_buffer_round_trip() -> None:
    buf = WindowBuffer.create()
    try:
        reader = WindowBuffer.attach(buf.name)
        assert reader.read() is None
        w = random_window(1)
        n = buf.publish(w)
        got = reader.read()
        assert got is not None and got.window_id == n == 1
        np.testing.assert_array_equal(got.drums.hit, w.drums.hit)
        np.testing.assert_array_equal(got.drums.offset, w.drums.offset)
        np.testing.assert_array_equal(got.bass.pitch, w.bass.pitch)
        np.testing.assert_array_equal(got.roots, w.roots)
        assert reader.read() is None  # nothing newer
        buf.publish(random_window(2, steps=16))
        buf.publish(random_window(3))
        assert reader.read().window_id == 3  # only the newest matters
        reader.close()
    finally:
        buf.close()


def test_torn_read_is_refused() -> None:
    buf = WindowBuffer.create()
    try:
        buf.publish(random_window(1))
        slot = buf._slots[1]
        slot["seq"] = 99  # a writer in the middle of it
        assert buf.read() is None
    finally:
        buf.close()


def test_window_too_big_is_refused() -> None:
    buf = WindowBuffer.create()
    try:
        with pytest.raises(ValueError):
            buf.publish(random_window(1, steps=128))
    finally:
        buf.close()


def test_controls_are_checked_on_the_control_side() -> None:
    Control(ControlKind.TEMPO, 97.3)
    Control(ControlKind.MUTE, 1.0, Part.BASS)
    with pytest.raises(TypeError, match="ControlKind"):
        Control("tempo", 97.3)  # a word, not a ControlKind
    with pytest.raises(ValueError, match="mute"):
        Control(ControlKind.MUTE, 1.0)  # mute what?
    with pytest.raises(ValueError, match="mute"):
        Control(ControlKind.TEMPO, 97.3, Part.DRUMS)


def test_status_reads_as_an_engine_status() -> None:
    sh = RtShared.create(capacity=8)
    try:
        assert sh.read_status() == EngineStatus()  # nothing written yet
        for name, value in (("running", 1), ("bpm", 120.0), ("beat", 8.0), ("updated_ns", 10**9)):
            sh.set(name, value)
        sh.set("notes_on", 17)
        st = sh.read_status()
        assert st.running is True and st.notes_on == 17 and isinstance(st.notes_on, int)
        assert st.beat_at(10**9 + 500_000_000) == pytest.approx(9.0)  # half a second at 120 BPM
        assert st.time_at(10.0) == pytest.approx(2 * 10**9)
        sh.set("running", 0)
        assert sh.read_status().beat_at(10**10) == 8.0  # stopped: the position stays
    finally:
        sh.close()


def test_records_ring_and_stats() -> None:
    sh = RtShared.create(capacity=8)
    try:
        for i in range(20):
            sh.record(REC_TICK, 1000 * i, 1000 * i + 10 * i, 0)
        recs, n = sh.read_records()
        assert n == 20 and len(recs) == 8 and recs[-1][1] == 19000
        st = jitter_stats(recs, REC_TICK)
        assert st["n"] == 8 and st["max_ms"] == pytest.approx(190 / 1e6)
    finally:
        sh.close()


def test_engine_thread_plays_and_ends_notes() -> None:
    """The whole loop without MIDI: null ports, master clock at 300 BPM, half a second."""
    null = null_port("drums")
    h = EngineHandle(
        RtConfig(bpm=300.0, drums=null, clock_out=[null], autostart=True, rt_priority=0),
        mode=EngineLayout.THREAD,
    )
    h.publish(random_window(4))
    with h:
        time.sleep(0.6)
        h.send(ControlKind.DENSITY, 0.5)
        h.send(ControlKind.MUTE, 1.0, Part.BASS)
        time.sleep(0.2)
        st = h.status()
        assert st.running and st.swaps >= 1 and st.notes_on > 0
        recs, _ = h.records()
    assert (recs[:, 0] == REC_TICK).sum() > 60  # 300 BPM = 120 ticks/s; generous
    on, off = (recs[:, 0] == REC_NOTE_ON).sum(), (recs[:, 0] == REC_NOTE_OFF).sum()
    assert on > 0 and off >= on - 20


def test_empty_window_plays_nothing() -> None:
    w = empty_window()
    assert w.drums.n_hits == 0 and w.steps == 32

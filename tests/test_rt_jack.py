"""The real-time engine over real JACK MIDI ports (jackd with the dummy driver, see conftest).

Timing is never asserted tightly here (2 shared cores, JACK quantises delivery to its 0.67 ms
period): the checks are counts, order, pairing and generous windows. The timing figures are
measured by ``jamd.ops.layout`` and reported in docs/architecture.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from jamd.engine.clock import ClockMode
from jamd.engine.config import RtConfig
from jamd.engine.handle import EngineHandle
from jamd.engine.ipc import REC_TICK, ControlKind
from jamd.midi import spec as ms
from jamd.midi.ports import PortConfig, PortError
from jamd.music.drumkit import VoiceOut
from jamd.music.grid import BassLine, BassRange, DrumPattern, bass_to_events, drums_to_events
from jamd.music.window import Window

pytestmark = [pytest.mark.jack]
rtmidi = pytest.importorskip("rtmidi")
J = rtmidi.API_UNIX_JACK
ROOT = Path(__file__).resolve().parents[1]
GMD = Path(os.environ.get("JAMD_DATA", ROOT.parent / "shared" / "data" / "groove"))


class Sink:
    """A JACK MIDI input standing in for a drum machine / synth: records what arrives.

    It polls rtmidi's queue from a thread instead of using a Python callback: a callback runs
    in JACK's process thread and needs the GIL, and a JACK client that waits for the GIL can
    stall the whole server while another client (de)activates. Arrival times are therefore
    known to ~1 ms, enough for these tests."""

    def __init__(self, client: str = "sink", port: str = "in") -> None:
        self.dev = rtmidi.MidiIn(rtapi=J, name=client, queue_size_limit=8192)
        self.dev.ignore_types(sysex=True, timing=False, active_sense=True)
        self.got: list[tuple[int, list[int]]] = []
        self.dev.open_virtual_port(port)
        self._run = True
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while self._run:
            ev = self.dev.get_message()
            if ev is None:
                time.sleep(0.0005)
                continue
            self.got.append((time.perf_counter_ns(), ev[0]))

    def close(self) -> None:
        self._run = False
        self._thread.join(2)
        self.dev.close_port()
        self.dev.delete()

    def status(self, status: int) -> list[int]:
        return [t for t, m in self.got if m[0] == status]

    def notes(self) -> list[tuple[int, list[int]]]:
        return [(t, m) for t, m in self.got if len(m) == 3 and ms.kind_of(m[0]) in (ms.NOTE_ON, ms.NOTE_OFF)]

    def unmatched(self) -> Counter:
        """(channel, note) -> sounding count at the end (all zero when nothing hangs)."""
        c: Counter = Counter()
        for _, m in self.got:
            key = (ms.channel_of(m[0]), m[1]) if len(m) == 3 else None
            if ms.is_note_on(m):
                c[key] += 1
            elif ms.is_note_off(m):
                c[key] -= 1
        return +c


def wait_for(cond, timeout: float = 5.0, step: float = 0.01) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def beat_pattern(steps: int = 32, voices: int = 9) -> DrumPattern:
    """A kick on every beat, a closed hat on every 8th, a snare pushed a little late."""
    d = DrumPattern.empty(steps, voices)
    for s in range(0, steps, 4):
        d.place(s, 0, 0.9, 0.0)
    for s in range(0, steps, 2):
        d.place(s, 2, 0.5, 0.0)
    for s in range(4, steps, 8):
        d.place(s, 1, 0.8, 0.2)
    return d


def long_bass(steps: int = 32) -> BassLine:
    b = BassLine.empty(steps)
    for s in (0, 16):
        b.onset[s], b.pitch[s], b.velocity[s], b.length[s] = 1, 0, 0.8, 16
    return b


def win(drums: DrumPattern, bass: BassLine | None = None) -> Window:
    steps = drums.steps
    return Window(drums, bass if bass is not None else BassLine.empty(steps), np.zeros(steps, np.int64))


def engine_cfg(**kw) -> RtConfig:
    base = dict(
        drums=PortConfig("drums", "sink:in", api="jack"), bass_range=BassRange(channel=2), rt_priority=0
    )
    base.update(kw)
    return RtConfig(**base)


@pytest.fixture
def sink(jack_server):
    s = Sink()
    yield s
    s.close()


# ------------------------------------------------------------------------------ master


def test_master_ticks_start_stop_spp(sink) -> None:
    cfg = engine_cfg(
        bpm=180.0,
        clock_out=[PortConfig("clock", "sink:in", api="jack")],
        clock_when_stopped=False,
    )
    with EngineHandle(cfg) as h:
        time.sleep(0.1)
        h.send(ControlKind.START)
        assert wait_for(lambda: sink.status(ms.START), 2)
        time.sleep(2.0)
        h.send(ControlKind.STOP)
        assert wait_for(lambda: sink.status(ms.STOP), 2)
        time.sleep(0.1)
        start, stop = sink.status(ms.START)[0], sink.status(ms.STOP)[0]
        ticks = [t for t in sink.status(ms.CLOCK) if start <= t <= stop]
        expected = (stop - start) / 1e9 * 180 / 60 * 24
        assert abs(len(ticks) - expected) <= 2, (len(ticks), expected)
        assert not [t for t in sink.status(ms.CLOCK) if t > stop + 2_000_000]  # no clock once stopped
        recs, _ = h.records()
        # what jamd recorded as sent is what arrived (one may still be in flight)
        assert abs(int((recs[:, 0] == REC_TICK).sum()) - len(sink.status(ms.CLOCK))) <= 1
        # locate to bar 3 and continue: Song Position Pointer then Continue, then ticks again
        n_ticks = len(sink.status(ms.CLOCK))
        h.send(ControlKind.LOCATE, 8.0)
        h.send(ControlKind.CONTINUE)
        assert wait_for(lambda: sink.status(ms.CONTINUE) and len(sink.status(ms.CLOCK)) > n_ticks + 10, 2)
        spp = [m for _, m in sink.got if m[0] == ms.SONG_POSITION]
        assert spp == [ms.song_position(8 * 24)]
        order = [m[0] for _, m in sink.got if m[0] in (ms.SONG_POSITION, ms.CONTINUE)]
        assert order == [ms.SONG_POSITION, ms.CONTINUE]
        assert h.status().beat >= 8.0


def test_master_tempo_change_keeps_ticking(sink) -> None:
    cfg = engine_cfg(bpm=120.0, clock_out=[PortConfig("clock", "sink:in", api="jack")], autostart=True)
    with EngineHandle(cfg) as h:
        assert wait_for(lambda: len(sink.status(ms.CLOCK)) > 48, 3)
        h.send(ControlKind.TEMPO, 150.0)
        time.sleep(1.5)
        ticks = np.array(sink.status(ms.CLOCK)[-48:])
        period = np.median(np.diff(ticks))
        assert period == pytest.approx(60e9 / 150 / 24, rel=0.05)
        assert h.status().bpm == pytest.approx(150.0)


# ------------------------------------------------------------------------ GMD pattern


def gmd_window() -> DrumPattern:
    from jamd.data.corpus import WindowSettings, cut_windows, file_grid

    files = sorted(GMD.glob("drummer1/session1/*.mid"))
    if not files:
        pytest.skip(f"Groove MIDI Dataset not found under {GMD}")
    settings = WindowSettings()
    for f in files:
        for _, w in cut_windows(file_grid(f, settings), settings):
            if w.n_hits >= 24:
                return w
    pytest.skip("no dense enough GMD window")


def test_gmd_pattern_arrives_on_configured_notes_and_channels(sink) -> None:
    pattern = gmd_window()
    outputs = tuple(VoiceOut(60 + i, channel=3) for i in range(9))  # an unusual drum machine
    bass = long_bass()
    roots = np.full(32, 7, np.int64)  # G
    rng = BassRange(channel=5)
    cfg = engine_cfg(
        bpm=240.0,
        drum_outputs=outputs,
        bass_range=rng,
        autostart=True,
        drums=PortConfig("drums", "sink:in", api="jack"),
        clock_out=[PortConfig("clock", "sink:in", api="jack")],
    )
    h = EngineHandle(cfg)
    h.publish(Window(pattern, bass, roots))
    with h:
        assert wait_for(lambda: sink.status(ms.START), 3)
        start = sink.status(ms.START)[0]
        window_ns = 8 * 60e9 / 240
        assert wait_for(lambda: sink.got[-1][0] > start + window_ns + 0.2e9, 6)
    # every note-on of the first window (before its second pass starts) against the grid's own events
    ons = [m for t, m in sink.notes() if ms.is_note_on(m) and t < start + window_ns - 0.3 * 60e9 / 240]
    expect_d = [e for e in drums_to_events(pattern, outputs) if e.start_beat < 7.7]
    expect_b = [e for e in bass_to_events(bass, roots, rng)]
    got = Counter((ms.channel_of(m[0]), m[1]) for m in ons)
    want = Counter((e.channel, e.note) for e in expect_d + expect_b)
    assert got == want
    assert {c for c, _ in got} == {3, 5}
    vel = {(m[1], m[2]) for m in ons if ms.channel_of(m[0]) == 3}
    assert vel <= {(e.note, e.velocity) for e in expect_d}
    assert not sink.unmatched()


# ------------------------------------------------------------------------ hanging notes


def test_sigterm_ends_every_note(sink) -> None:
    cfg = engine_cfg(bpm=120.0, autostart=True, clock_out=[PortConfig("c", "sink:in", api="jack")])
    h = EngineHandle(cfg)
    h.publish(win(beat_pattern(), long_bass()))
    with h:
        assert wait_for(lambda: any(ms.is_note_on(m) and ms.channel_of(m[0]) == 2 for _, m in sink.got), 3)
        assert sink.unmatched()  # the long bass note sounds right now
        os.kill(h.process.pid, signal.SIGTERM)
        h.process.join(5)
        assert h.process.exitcode == 0
    assert wait_for(lambda: not sink.unmatched(), 2), sink.unmatched()
    assert sink.status(ms.STOP)


def test_killed_engine_notes_ended_by_the_watchdog(sink) -> None:
    cfg = engine_cfg(bpm=120.0, autostart=True)
    h = EngineHandle(cfg)
    h.publish(win(beat_pattern(), long_bass()))
    with h:
        assert wait_for(lambda: any(ms.is_note_on(m) and ms.channel_of(m[0]) == 2 for _, m in sink.got), 3)
        os.kill(h.process.pid, signal.SIGKILL)
        h.process.join(5)
        assert not h.check()  # dead: the parent ended its notes
    assert wait_for(lambda: not sink.unmatched(), 2), sink.unmatched()


CONTROL_SCRIPT = textwrap.dedent("""
    import sys, time, numpy as np
    sys.path.insert(0, {root!r})
    from jamd.engine.handle import EngineHandle
    from jamd.engine.config import RtConfig
    from jamd.midi.ports import PortConfig
    from jamd.music.grid import BassLine, BassRange, DrumPattern
    from jamd.music.window import Window
    b = BassLine.empty(32)
    b.onset[0], b.velocity[0], b.length[0] = 1, 0.8, 32
    d = DrumPattern.empty(32)
    cfg = RtConfig(bpm=120.0, autostart=True, rt_priority=0,
                   drums=PortConfig("drums", "sink:in", api="jack"), bass_range=BassRange(channel=2))
    h = EngineHandle(cfg)
    h.publish(Window(d, b, np.zeros(32, np.int64)))
    h.start()
    print(h.process.pid, flush=True)
    time.sleep(60)
""")


def test_killed_control_process_engine_ends_notes(sink) -> None:
    """The model/control process dies mid-note (SIGKILL): the engine notices and silences."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CONTROL_SCRIPT.format(root=str(ROOT))], stdout=subprocess.PIPE, text=True
    )
    try:
        engine_pid = int(proc.stdout.readline())
        assert wait_for(lambda: sink.unmatched(), 5)
        proc.kill()
        proc.wait(5)
        assert wait_for(lambda: not sink.unmatched(), 3), sink.unmatched()
        assert wait_for(lambda: not _alive(engine_pid), 3)
    finally:
        if proc.poll() is None:
            proc.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


# ----------------------------------------------------------------------------- follower

CLOCK_SCRIPT = textwrap.dedent("""
    import random, sys, time, threading, rtmidi
    out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="extclock")
    out.open_virtual_port("out")
    rng = random.Random(7)
    state = {{"bpm": {bpm}, "cmds": []}}
    def reader():
        for line in sys.stdin:
            state["cmds"].append(line.split())
    threading.Thread(target=reader, daemon=True).start()
    period = 60e9 / state["bpm"] / 24
    anchor, k = time.perf_counter_ns(), 0
    log = open({log!r}, "w")
    while True:
        while state["cmds"]:
            c = state["cmds"].pop(0)
            if c[0] == "bpm":
                anchor, k = anchor + round(k * period), 0
                state["bpm"] = float(c[1]); period = 60e9 / state["bpm"] / 24
            elif c[0] == "start":
                out.send_message([0xFA]); log.write("start %d\\n" % time.perf_counter_ns())
            elif c[0] == "stop":
                out.send_message([0xFC]); log.write("stop %d\\n" % time.perf_counter_ns())
            elif c[0] == "continue":
                out.send_message([0xFB]); log.write("continue %d\\n" % time.perf_counter_ns())
            elif c[0] == "cut":                 # the DIN cable is pulled: the port stays, ticks stop
                state["cut"] = True
            elif c[0] == "quit":                # leave JACK properly: a killed client stalls it
                out.close_port(); out.delete(); sys.exit(0)
        if state.get("cut"):
            time.sleep(0.005)
            continue
        k += 1
        # +-1 ms of jitter around a computed grid (never accumulated)
        target = anchor + round(k * period) + rng.randint(-1_000_000, 1_000_000)
        while time.perf_counter_ns() < target:
            time.sleep(0.0002)
        out.send_message([0xF8])
        log.write("tick %d\\n" % time.perf_counter_ns())
        log.flush()
""")


class ExternalClock:
    def __init__(self, bpm: float, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CLOCK_SCRIPT.format(bpm=bpm, log=str(log))],
            stdin=subprocess.PIPE,
            text=True,
        )
        out = rtmidi.MidiIn(rtapi=J, name="probe")
        try:
            assert wait_for(lambda: "extclock:out" in out.get_ports(), 5)
        finally:
            out.delete()

    def cmd(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def events(self) -> list[tuple[str, int]]:
        return [
            (a, int(b))
            for a, b in (line.split() for line in self.log.read_text().splitlines() if " " in line)
        ]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.cmd("quit")
                self.proc.wait(3)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.proc.wait(5)


def beat_times(events: list[tuple[str, int]], since_kind: str, at: int) -> list[int]:
    """Times of the ticks that are beats (every 24th tick, the first after Start/Continue)."""
    ticks = [t for k, t in events if k == "tick" and t > at]
    return ticks[::24]


def kick_times(sink: Sink) -> list[int]:
    return [t for t, m in sink.notes() if ms.is_note_on(m) and m[1] == 36]


def following_engine() -> EngineHandle:
    """An engine following the external clock, a kick on every beat."""
    cfg = engine_cfg(clock=ClockMode.MIDI, bpm=120.0, clock_in=PortConfig("in", "extclock", api="jack"))
    d = DrumPattern.empty()
    for s in range(0, 32, 4):
        d.place(s, 0, 0.9, 0.0)
    h = EngineHandle(cfg)
    h.publish(win(d))
    return h


def test_follower_locks_to_an_odd_jittery_clock(sink, tmp_path) -> None:
    ext = ExternalClock(97.3, tmp_path / "clock.log")
    h = following_engine()
    try:
        with h:
            # clock before Start: tempo only (locked within a few beats; on a loaded machine
            # the engine may take a while to open its clock input, so a deadline, not 0.8 s)
            assert wait_for(lambda: h.status().bpm == pytest.approx(97.3, abs=0.5), 3.0), h.status().bpm
            assert not kick_times(sink)
            ext.cmd("start")
            time.sleep(3.0)
            start = next(t for k, t in ext.events() if k == "start")
            beats = beat_times(ext.events(), "start", start)
            kicks = kick_times(sink)
            assert len(kicks) >= 4
            _assert_locked(kicks, beats, "97.3 BPM")
            # tempo change: after a beat to settle, locked again
            ext.cmd("bpm 131.7")
            time.sleep(2.5)
            assert wait_for(lambda: h.status().bpm == pytest.approx(131.7, abs=0.7), 2.0), h.status().bpm
            change = next(t for t in reversed(kicks))
            beats = beat_times(ext.events(), "start", start)
            late_kicks = [t for t in kick_times(sink) if t > change + 0.8e9]
            _assert_locked(late_kicks, beats, "131.7 BPM")
            # Stop silences and stops; Continue resumes from where it stopped
            ext.cmd("stop")
            time.sleep(0.5)
            stop = next(t for k, t in ext.events() if k == "stop")
            assert not sink.unmatched()
            n = len(kick_times(sink))
            time.sleep(0.5)
            assert len(kick_times(sink)) == n  # nothing while stopped
            assert [t for t in kick_times(sink) if t > stop + 20_000_000] == []
            ext.cmd("continue")
            time.sleep(2.0)
            cont = next(t for k, t in ext.events() if k == "continue")
            after = [t for t in kick_times(sink) if t > cont]
            assert len(after) >= 3
            ticks_after = [t for k, t in ext.events() if k == "tick" and t > cont]
            # the position continued: a kick lands on a tick (not necessarily the first one)
            _assert_locked(after, ticks_after, "after continue", every_beat=False)
    finally:
        ext.close()


def _assert_locked(kicks: list[int], grid: list[int], what: str, every_beat: bool = True) -> None:
    """The kicks sit within 6 ms of a source tick (JACK period + source jitter + scheduling):
    the median within 3 ms, and at most one in four beyond 6 ms but within 25 — a VM whose cores
    its host takes now and then stalls the source or the engine for a few ms at a time (12 ms
    once here). Not locked, they would fall anywhere around the ticks."""
    grid_a = np.array(grid)
    errs = []
    for k in kicks:
        if grid_a.size == 0 or k > grid_a[-1] + 0.1e9:
            continue
        errs.append(np.min(np.abs(grid_a - k)) / 1e6)
    assert errs, f"{what}: no kicks to compare"
    off = np.array(errs)
    msg = f"{what}: kicks off the beat by {np.round(np.sort(off), 2).tolist()} ms"
    assert np.median(off) < 3.0 and np.mean(off > 6.0) <= 0.25 and off.max() < 25.0, msg


def test_follower_vanished_clock_silences(sink, tmp_path) -> None:
    ext = ExternalClock(110.0, tmp_path / "clock.log")
    cfg = engine_cfg(clock=ClockMode.MIDI, bpm=120.0, clock_in=PortConfig("in", "extclock", api="jack"))
    h = EngineHandle(cfg)
    h.publish(win(beat_pattern(), long_bass()))
    try:
        with h:
            time.sleep(0.3)
            ext.cmd("start")
            assert wait_for(lambda: sink.unmatched(), 3)  # mid-note
            ext.cmd("cut")  # the clock cable is pulled
            assert wait_for(lambda: not h.status().clock_ok, 2)
            assert wait_for(lambda: not sink.unmatched(), 1), sink.unmatched()
    finally:
        ext.close()


# ----------------------------------------------------------------------------- hotplug


def test_port_that_disappears_is_refound(jack_server) -> None:
    first = Sink("synth")
    cfg = engine_cfg(
        bpm=150.0,
        autostart=True,
        drums=PortConfig("drums", "synth", api="jack"),
        housekeeping_ms=100.0,
    )
    h = EngineHandle(cfg)
    h.publish(win(beat_pattern(), long_bass()))
    try:
        with h:
            assert wait_for(lambda: first.unmatched(), 3)
            first.close()  # unplugged mid-note
            assert wait_for(lambda: h.status().ports_lost >= 1, 3)
            time.sleep(0.3)
            second = Sink("synth")  # plugged back in
            try:
                assert wait_for(lambda: len([m for _, m in second.notes() if ms.is_note_on(m)]) >= 3, 4)
                offs_first = [m for _, m in second.got[:3] if ms.is_note_off(m)]
                assert offs_first, "notes left sounding when the port went are ended when it returns"
            finally:
                h.stop()
                second.close()
            assert not second.unmatched() or all(v <= 0 for v in second.unmatched().values())
    finally:
        if h.is_alive():
            h.stop()


def test_unknown_port_lists_existing_ports(sink) -> None:
    from jamd.midi.ports import ManagedOutput

    with pytest.raises(PortError) as e:
        ManagedOutput(PortConfig("drums", "no-such-synth", api="jack")).open()
    assert "sink:in" in str(e.value) and "no-such-synth" in str(e.value)


def test_virtual_ports(jack_server) -> None:
    cfg = engine_cfg(
        bpm=120.0,
        autostart=True,
        drums=PortConfig("drums", virtual=True, api="jack"),
        bass=PortConfig("bass", virtual=True, api="jack"),
    )
    with EngineHandle(cfg):
        probe = rtmidi.MidiIn(rtapi=J, name="probe")
        try:
            names = probe.get_ports()
        finally:
            probe.delete()
        assert "jamd-drums:out" in names and "jamd-bass:out" in names

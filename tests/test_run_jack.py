"""`jamd run` end to end over real JACK MIDI ports.

A separate player process is the drummer (a real GMD test-split performance, played in time
with jamd's clock) and the controller (CC sweeps per the shipped two-knob mapping); JACK sinks
record what jamd sends. Timeline, in jamd's bars (130 BPM, 1.85 s a bar):
  2-7   the drummer plays the file's first 6 bars: the seed follows it
  8.5   OSC: drums.x = 0.5 from 127.0.0.1 (taken), drums.y = 0.9 from another address (refused)
  9.5   OSC: chord Eb -> the bass plays over Eb from bar 10
  10-13 nothing moves: the drums repeat
  12.5  the keyboard holds D F A -> the bass plays over D minor from bar 13
  14    knob 1 sweeps 0 -> 127: pickup holds x at 0.5 until the knob passes it
  16-17 the output differs from bars 12-13
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import mido
import numpy as np
import pytest
from test_daemon import root_playing
from test_osc import osc_bytes, other_address

from jamd.base.paths import default_data_dir
from jamd.data.corpus import WindowSettings, cut_windows, file_grid
from jamd.engine.ipc import REC_NOTE_ON, EngineStatus, unpack_message
from jamd.live.config import DEFAULT_DRUM_MODEL, read_config
from jamd.live.daemon import Daemon
from jamd.midi import spec as ms

Sink = pytest.importorskip("test_rt_jack", reason="the real-time JACK test helpers").Sink

MODEL = Path(os.environ.get("JAMD_TEST_DRUM_MODEL", DEFAULT_DRUM_MODEL)).resolve()
GMD = default_data_dir()
FILE = "drummer1/session1/239_funk-purdieshuffle_130_beat_4-4.mid"
BPM = 130.0
BAR_S = 4 * 60 / BPM
DRUMMER_BARS = (2, 8)  # jamd bars the drummer plays in (file bars 0-5)
SWEEP_BAR, END_BAR = 14, 18
OSC_CHORD_BAR, KEYS_BAR = 9.5, 12.5
EB_MAJOR, D_MINOR = {3, 5, 7, 8, 10, 0, 2}, {2, 4, 5, 7, 9, 10, 0}
pytestmark = [pytest.mark.skipif(GMD is None, reason="Groove MIDI Dataset not found"), pytest.mark.jack]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path: Path, osc_port: int) -> Path:
    path = tmp_path / "jamd.yaml"
    path.write_text(f"""
clock: {{mode: internal, tempo: {BPM}, send_clock: false}}
ports:
  api: jack
  virtual: false
  drummer: "drummer:out"
  controllers: ["ctl:out"]
  keyboard: "keys:out"
  drums: "drums-sink:in"
  bass: "bass-sink:in"
drummer: {{kit: td11}}
drums: {{channel: 11, notes: {{kick: 35}}}}
bass: {{channel: 3}}
seed: {{mode: follow}}
latent: {{slew: 0}}
models: {{drums: "{MODEL}"}}
osc: {{port: {osc_port}, allow: ["127.0.0.1"]}}
mappings: [generic-two-knobs]
""")
    return path


def bar_time(st: EngineStatus, bar: float) -> int:
    """perf_counter_ns at which jamd's clock reaches the start of ``bar`` (0-based)."""
    return int(st.time_at(bar * 4))


def schedule(st: EngineStatus) -> list:
    """The player's events: the file's drums from jamd bar 2, and the knob sweep."""
    mid = mido.MidiFile(Path(GMD) / FILE)
    events, t0 = [], bar_time(st, DRUMMER_BARS[0])
    seconds = 0.0
    for msg in mid:  # merged, times in seconds
        seconds += msg.time
        if seconds >= (DRUMMER_BARS[1] - DRUMMER_BARS[0]) * BAR_S - 0.05:
            break
        if msg.type in ("note_on", "note_off"):
            events.append([t0 + int(seconds * 1e9), "drummer", msg.bytes()])
    sweep0 = bar_time(st, SWEEP_BAR)
    moves = [*range(0, 127, 4), 127]  # 33 moves over one bar, ending fully up
    for i, cc in enumerate(moves):
        events.append([sweep0 + int(i * BAR_S / len(moves) * 1e9), "ctl", [0xB0, 1, cc]])
    keys0 = bar_time(st, KEYS_BAR)
    for note in (50, 53, 57):  # D F A, held to the end
        events.append([keys0, "keys", [0x90, note, 90]])
    return events


def file_windows(steps: int) -> dict[int, np.ndarray]:
    """The hit grids of the file's first 2-bar windows, by their first bar."""
    settings = WindowSettings(steps=steps, hop=16, min_hits=1, table="td11")
    windows = dict(cut_windows(file_grid(Path(GMD) / FILE, settings), settings))
    return {bar: w.hit for bar, w in windows.items() if bar < 5}


def bars_played(sink: Sink, st: EngineStatus, bars: range) -> list:
    """The notes jamd sent during ``bars``, as (step, note) pairs relative to their start."""
    t0 = bar_time(st, bars.start)
    step_ns = 60e9 / st.bpm / 4
    out = []
    for t, m in sink.notes():
        if ms.is_note_on(m) and t0 - step_ns / 2 <= t < bar_time(st, bars.stop) - step_ns / 2:
            out.append((int(round((t - t0) / step_ns)), m[1]))
    return sorted(out)


def test_jamd_run_end_to_end(jack_server, tmp_path):
    drums_sink, bass_sink = Sink("drums-sink"), Sink("bass-sink")
    sched = tmp_path / "schedule.json"
    player = start_player(sched, ["drummer", "ctl", "keys"])
    daemon = None
    try:
        osc_port = free_udp_port()
        daemon = Daemon(read_config(write_config(tmp_path, osc_port)))
        seeds, xs = [], []
        heard = {}  # the window jamd captured for the seed at bar 6's line

        def seeded(t: int) -> None:
            if daemon.seeder.z_seed is None or (seeds and seeds[-1][1] is daemon.seeder.z_seed):
                return
            seeds.append((daemon.beat_now(t), daemon.seeder.z_seed))
            if 6 * 4 <= seeds[-1][0] < 7 * 4 and not heard:
                heard[6] = daemon.capture.window(6 * 4)

        daemon.tickers.append(seeded)
        daemon.tickers.append(lambda t: xs.append((t, daemon.perf.values["drums.x"])))
        planned = Planned(daemon)
        daemon.tickers.append(planned.collect)
        osc_sent, roots = [], []
        daemon.tickers.append(
            lambda t: (
                roots.append(root_playing(daemon, t))
                if daemon.running() and daemon.window is not None
                else None
            )
        )

        def osc_chord(t: int) -> None:
            if len(osc_sent) == 1 and daemon.beat_now(t) >= OSC_CHORD_BAR * 4:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.sendto(osc_bytes("/jamd/chord", "Eb"), ("127.0.0.1", osc_port))
                osc_sent.append("chord")

        daemon.tickers.append(osc_chord)

        def osc_poke(t: int) -> None:
            if not osc_sent and daemon.running() and daemon.beat_now(t) >= 8.5 * 4:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.sendto(osc_bytes("/jamd/drums/x", 0.5), ("127.0.0.1", osc_port))
                ip = other_address()
                if ip:
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                        s.bind((ip, 0))
                        s.sendto(osc_bytes("/jamd/drums/y", 0.9), (ip, osc_port))
                osc_sent.append(ip)

        daemon.tickers.append(osc_poke)
        daemon.tickers.append(
            lambda t: (
                daemon.stop_requested.set()
                if daemon.running() and daemon.beat_now(t) >= END_BAR * 4
                else None
            )
        )
        thread = threading.Thread(target=daemon.run)
        thread.start()
        assert _wait(lambda: daemon.running() and daemon.engine.status().updated_ns, 10)
        st = daemon.engine.status()
        assert st.beat < DRUMMER_BARS[0] * 4 - 1, "jamd took too long to start for this timeline"
        sched.write_text(json.dumps({"ports": ["drummer", "ctl", "keys"], "events": schedule(st)}))
        player.stdin.write("go\n")
        player.stdin.flush()
        thread.join(timeout=END_BAR * BAR_S + 30)
        assert not thread.is_alive()
        time.sleep(0.2)
    finally:
        if daemon is not None:
            daemon.stop_requested.set()
        end_player(player)
        drums_sink.close()
        bass_sink.close()

    # drums on the configured notes and channel, bass on its channel, in range, monophonic
    allowed = {o.note for o in daemon.config.drums.outputs()}
    drum_ons = [m for _, m in drums_sink.notes() if ms.is_note_on(m)]
    assert len(drum_ons) > 100
    assert {ms.channel_of(m[0]) for m in drum_ons} == {11} and {m[1] for m in drum_ons} <= allowed
    assert 35 in {m[1] for m in drum_ons}  # the configured kick
    bass_ons = [m for _, m in bass_sink.notes() if ms.is_note_on(m)]
    assert bass_ons and {ms.channel_of(m[0]) for m in bass_ons} == {3}
    assert all(daemon.config.bass.range().low <= m[1] <= daemon.config.bass.range().high for m in bass_ons)
    assert max(_overlap(bass_sink)) <= 1  # monophonic
    # every note-on ended
    assert drums_sink.unmatched() == Counter() and bass_sink.unmatched() == Counter()

    # the bass follows the harmony from the next bar line: A minor (config), the OSC chord (Eb)
    # from bar 10, the keyboard's D minor from bar 13 -- in the window and in the notes played
    def roots_in(lo: float, hi: float) -> set:
        return {r for b, r in roots if lo * 4 + 0.05 <= b < hi * 4 - 0.05}

    assert roots_in(2, 10) == {9} and roots_in(10, 13) == {3} and roots_in(13, END_BAR) == {2}
    for bars, scale, root in ((range(10, 12), EB_MAJOR, 3), (range(13, 15), D_MINOR, 2)):
        played = bars_played(bass_sink, st, bars)
        pcs = [n % 12 for _, n in played]
        assert pcs and sum(pc in scale for pc in pcs) >= 0.8 * len(pcs), (bars, pcs)
        # the new chord's root on the one of each of its bars, as a bass player marks a change
        # (between, the line walks the chord: over drums-v4 bass-v2 plays Eb G Bb C in bar 10,
        # the root 2 of 5 notes, so "the root among the two most played" no longer tells)
        ones = {step // 16: n % 12 for step, n in played if step % 16 == 0}
        assert ones == dict.fromkeys(range(len(bars)), root), (bars, played)

    # the seed tracked the drummer: at the bar line after file bars 2-3 (jamd bar 6), the seed
    # is the model's code of the two bars jamd heard, and those are the file's bars 2-3: their
    # hits nearer to that window's than to any other (windows 1 and 3, a bar off, differ from it
    # in 20 and 16 cells). Checked on the hits, not on the codes: drums-v4's code holds timing,
    # and with both cores saturated the player plays late enough to move the code of bars 2-3
    # nearer window 3's (1.22 against 1.98) while the hits stay the file's
    at_bar6 = [z for beat, z in seeds if 6 * 4 <= beat < 7 * 4]
    assert at_bar6, f"no seed taken at bar 6; seeds at beats {[round(b, 2) for b, _ in seeds]}"
    np.testing.assert_allclose(at_bar6[0], daemon.drums.encode(heard[6]), atol=1e-5)
    apart = {bar: int((heard[6].hit != hit).sum()) for bar, hit in file_windows(daemon.drums.steps).items()}
    assert apart[2] <= 6 and apart[2] < 0.5 * min(d for bar, d in apart.items() if bar != 2), apart

    # OSC from this machine moved x; from elsewhere it did not move y
    assert daemon.perf.values["drums.y"] == 0.0 or not osc_sent[0]
    # pickup: x stayed at 0.5 while the knob (CC 0..) was below it, then followed to 1
    sweep0 = bar_time(st, SWEEP_BAR)
    during = [x for t, x in xs if sweep0 <= t < sweep0 + 0.5 * BAR_S * 1e9]  # CC 0..60: x < 0
    assert during and all(x == pytest.approx(0.5) for x in during)
    assert xs[-1][1] == pytest.approx(1.0)

    # nothing moved in bars 10-13: the two 2-bar halves are the same; after the sweep they differ
    # (by the engine's own records of when each note was due: arrival times at the sinks carry
    # the load of this shared machine, and a note late by half a step would look moved)
    a, b = planned.bars(st, range(10, 12)), planned.bars(st, range(12, 14))
    assert a and a == b, f"seeds taken at beats {[round(beat, 2) for beat, _ in seeds]}"
    assert planned.bars(st, range(16, 18)) != b


class Planned:
    """The drum notes the engine sent, with the time each was due (its timing records),
    collected while the daemon runs (the records go with the engine when it stops)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon, self.seen, self.next_t = daemon, 0, 0
        self.notes: list[tuple[int, int]] = []  # (due ns, note)

    def collect(self, t: int) -> None:
        if t < self.next_t:
            return
        self.next_t = t + 200_000_000
        records, self.seen = self.daemon.engine.records(self.seen)
        for kind, due, _sent, data in records:
            port, msg = unpack_message(data)
            if kind == REC_NOTE_ON and port == 0 and ms.is_note_on(msg):
                self.notes.append((int(due), msg[1]))

    def bars(self, st: EngineStatus, bars: range) -> list:
        """(step, note) of the notes due in ``bars``, steps counted from their start."""
        t0, step_ns = bar_time(st, bars.start), 60e9 / st.bpm / 4
        end = bar_time(st, bars.stop) - step_ns / 2
        return sorted(
            (int(round((due - t0) / step_ns)), note)
            for due, note in self.notes
            if t0 - step_ns / 2 <= due < end
        )


def _overlap(sink: Sink):
    """How many bass notes sounded at once, after each message."""
    sounding = 0
    for _, m in sink.notes():
        sounding += 1 if ms.is_note_on(m) else -1
        yield sounding


def start_player(sched: Path, ports: list[str]) -> subprocess.Popen:
    """The player process (``_midi_player.py``) with its ``ports`` open, waiting for "go"; it
    plays the events written into ``sched`` by then."""
    sched.write_text(json.dumps({"ports": ports, "events": []}))
    player = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_midi_player.py")), str(sched)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert player.stdout is not None and player.stdout.readline().strip() == "ready"
    return player


def end_player(player: subprocess.Popen) -> None:
    """Tell the player process jamd has stopped (it keeps its ports until then), and end it."""
    try:
        player.stdin.write("bye\n")
        player.stdin.flush()
        player.wait(5)
    except (OSError, subprocess.TimeoutExpired):
        pass
    player.kill()
    player.wait()


def _wait(cond, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False

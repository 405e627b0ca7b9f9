"""The daemon's control side for real: the engine process, seeding from a drummer, OSC over UDP,
the recording. MIDI output is offline here (the JACK end-to-end test covers real ports)."""

import dataclasses
import os
import socket
import threading
import time
from pathlib import Path

import mido
import numpy as np
import pyliblo3 as liblo
import pytest

from jamd.engine.ipc import EngineStatus
from jamd.live.config import DEFAULT_DRUM_MODEL, load_config
from jamd.live.daemon import Daemon
from jamd.live.demo import DemoDrummer, model_groove
from jamd.live.recorder import Recorder
from jamd.music.drumkit import GM
from jamd.music.grid import drums_from_notes

MODEL = Path(os.environ.get("JAMD_TEST_DRUM_MODEL", DEFAULT_DRUM_MODEL))


def free_udp_port() -> int:
    """A UDP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REPORT_PORT = free_udp_port()


def daemon_config(tmp_path, monkeypatch, drums: Path = MODEL):
    """The built-in config at 180 BPM, OSC on a free port, no slew (tests/test_faults.py too)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no user config leaks in
    cfg = load_config(None)
    return dataclasses.replace(
        cfg,
        clock=dataclasses.replace(cfg.clock, tempo=180.0),
        models=dataclasses.replace(cfg.models, drums=drums),
        osc=dataclasses.replace(cfg.osc, port=free_udp_port(), report_to=[f"127.0.0.1:{REPORT_PORT}"]),
        latent=dataclasses.replace(cfg.latent, slew=0.0),
    )


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    d = Daemon(
        daemon_config(tmp_path, monkeypatch), offline=True, recorder=Recorder(tmp_path / "rec.mid", 180.0)
    )
    yield d
    d.stop_requested.set()


def run_for(d: Daemon, bars: float, during=None) -> None:
    """Run the daemon's loop in a thread until the clock has played ``bars`` bars."""
    d.tickers.append(lambda t: d.stop_requested.set() if d.running() and d.beat_now(t) >= bars * 4 else None)
    if during:
        d.tickers.append(during)
    thread = threading.Thread(target=d.run)
    thread.start()
    thread.join(timeout=bars * 4 * 60 / 180 + 20)
    assert not thread.is_alive(), "daemon did not stop"


def test_seed_follows_the_drummer_and_every_note_ends(daemon):
    notes, length = model_groove(daemon.drums)
    drummer = DemoDrummer(notes, length, daemon.capture.add, lambda x, y: None)
    # stop half a bar after an even bar line: the last seed is then the window [16, 24), aligned
    # with the 2-bar loop, and its search (if the model's card asks for one) is done
    run_for(daemon, 6.5, lambda t: drummer.tick(daemon.beat_now(t)) if daemon.running() else None)
    assert not daemon.seeder.searching
    played = drums_from_notes(notes, GM, daemon.drums.steps)
    search = daemon.drums.seed_search  # the model's own (its card): as a user gets it
    expected = (
        daemon.drums.pattern_search(played, search).run()[0] if search.steps else daemon.drums.encode(played)
    )
    assert daemon.seeder.z_seed is not None
    np.testing.assert_allclose(daemon.seeder.z_seed, expected, atol=1e-4)  # same bars, same code
    np.testing.assert_allclose(daemon.perf.center, expected, atol=1e-4)
    assert daemon.latencies.seed_ms and max(daemon.latencies.seed_ms) < 1000

    mid = mido.MidiFile(daemon.recorder.path)
    sounding, ons = {}, 0
    for track in mid.tracks:
        for m in track:
            if m.type == "note_on" and m.velocity > 0:
                ons += 1
                sounding[(m.channel, m.note)] = sounding.get((m.channel, m.note), 0) + 1
            elif m.type in ("note_on", "note_off"):
                sounding[(m.channel, m.note)] -= 1
    assert ons > 20 and all(v == 0 for v in sounding.values())


@pytest.mark.parametrize("steps", [0, 3])
def test_the_seed_is_searched_on_after_the_bar_line(tmp_path, monkeypatch, steps):
    """``seed.search``: the encoder's code at the bar line, then the searched code as the centre
    (0: the encoder's stays)."""
    cfg = daemon_config(tmp_path, monkeypatch)
    d = Daemon(dataclasses.replace(cfg, seed=dataclasses.replace(cfg.seed, search=steps)), offline=True)
    notes, length = model_groove(d.drums)
    drummer = DemoDrummer(notes, length, d.capture.add, lambda x, y: None)
    run_for(d, 4.5, lambda t: drummer.tick(d.beat_now(t)) if d.running() else None)  # half a bar on
    played = drums_from_notes(notes, GM, d.drums.steps)
    encoded = d.drums.encode(played)
    expected = d.drums.pattern_search(played, dataclasses.replace(d.drums.seed_search, steps=steps)).run()[0]
    assert not d.seeder.searching, "the search ends well within a bar"
    np.testing.assert_allclose(d.seeder.z_seed, expected, atol=1e-4)
    np.testing.assert_allclose(d.perf.center, expected, atol=1e-4)
    assert (np.linalg.norm(expected - encoded) > 0.01) == (steps > 0)


def test_the_seed_is_encoded_before_its_bar_line(tmp_path, monkeypatch):
    """Once the window has closed (half a step before the bar line) it is encoded, so the bar
    line itself only decodes: every encoding falls in that last half step, none after it."""
    cfg = daemon_config(tmp_path, monkeypatch)
    d = Daemon(dataclasses.replace(cfg, seed=dataclasses.replace(cfg.seed, search=0)), offline=True)
    notes, length = model_groove(d.drums)
    drummer = DemoDrummer(notes, length, d.capture.add, lambda x, y: None)
    at, encode = [], d.seeder.encode

    def timed(window):
        at.append(d.beat_now())
        return encode(window)

    d.seeder.use_encoder(timed)
    run_for(d, 4.5, lambda t: drummer.tick(d.beat_now(t)) if d.running() else None)
    to_bar = [np.ceil(b / 4) - b / 4 for b in at]  # in bars
    ahead = [x for x in to_bar if 0.0 < x <= 0.125 / 4 + 0.01]
    # (one may fall at its bar line, after the loop stalled over the last half step: 42 ms)
    assert len(at) >= 3 and len(ahead) >= len(at) - 1, to_bar
    played = drums_from_notes(notes, GM, d.drums.steps)
    np.testing.assert_allclose(d.seeder.z_seed, d.drums.encode(played), atol=1e-4)


def test_osc_moves_the_latent_and_output_follows(daemon):
    port = daemon.config.osc.port
    sent = []

    def poke(t):
        if daemon.running() and daemon.beat_now(t) > 4 and not sent:
            liblo.send(("127.0.0.1", port), "/jamd/drums/xy", 0.9, -0.9)
            sent.append(t)

    reports = {}
    listener = liblo.Server(REPORT_PORT)
    listener.add_method(None, None, lambda path, args, *_: reports.__setitem__(path, args))
    daemon.tickers.append(lambda t: listener.recv(0))
    before = {}
    daemon.tickers.append(
        lambda t: (
            before.setdefault("hit", daemon.window.drums.hit.copy()) if daemon.window is not None else None
        )
    )
    run_for(daemon, 4, poke)
    assert daemon.perf.values["drums.x"] == pytest.approx(0.9)
    assert daemon.perf.values["drums.y"] == pytest.approx(-0.9)
    fresh = daemon.drums.decode(daemon.perf.drums_z(0.9, -0.9), daemon.perf.decode_controls()).hit
    # the pad glided there (latent.slew) and the model's memory followed it: at most its lag behind
    assert (daemon.window.drums.hit != fresh).sum() <= daemon.drums.pad.pacing.lag
    assert daemon.latencies.control_ms  # the OSC move was rendered and published
    listener.free()
    assert reports["/jamd/state/tempo"] == [pytest.approx(180.0)]
    assert reports["/jamd/state/drums/xy"] == [pytest.approx(0.9), pytest.approx(-0.9)]
    assert reports["/jamd/state/position"][0] >= 3


def root_playing(d: Daemon, t: int) -> tuple[float, int]:
    """(beat, chord root of the window step playing at that beat)."""
    beat = d.beat_now(t)
    return beat, int(d.window.roots[int(beat * 4) % len(d.window.roots)])


@pytest.mark.parametrize("stopped_in_bar", [4, 5])
def test_a_chord_chosen_while_stopped_plays_from_the_start(daemon, stopped_in_bar):
    """Stopped, no bar plays: a chord chosen then holds for the whole window at once, so the
    first bar after Start has it whatever bar the last run stopped in (the ahead-of-time fill
    read a stale bar: stopped in an even bar, the first bar after Start kept the old chord)."""
    assert not daemon.running()
    daemon.perf.bar = stopped_in_bar  # where the last run stopped
    daemon._control("chord", "Eb", time.perf_counter_ns())
    assert set(daemon.perf.chords.root) == {3} and daemon.perf.pending_chords is None
    daemon.engine.stop()


def test_bass_follows_an_osc_chord_from_the_next_bar_monophonic_and_in_range(daemon):
    assert daemon.bass is not None, "the shipped bass model should be loaded by default"
    port = daemon.config.osc.port
    roots, sent = [], []

    def chord(t):
        if daemon.running() and daemon.beat_now(t) > 5 and not sent:
            liblo.send(("127.0.0.1", port), "/jamd/chord", "Dm7")
            sent.append(daemon.beat_now(t))
        if daemon.window is not None:
            roots.append(root_playing(daemon, t))

    run_for(daemon, 4, chord)
    bar_line = (sent[0] // 4 + 1) * 4
    before_bar = [r for b, r in roots if sent[0] <= b < bar_line - 0.05]
    after_bar = [r for b, r in roots if b >= bar_line + 0.05]
    assert set(before_bar) == {9} and set(after_bar) == {2}  # A minor until the bar line, then D

    rng = daemon.config.bass.range()
    # offline, drums and bass share one port (as on a multitimbral synth): bass is its channel
    sent = [m for t in mido.MidiFile(daemon.recorder.path).tracks if t.name.endswith(" out") for m in t]
    sounding, ons = 0, 0
    for m in (m for m in sent if m.type in ("note_on", "note_off") and m.channel == rng.channel - 1):
        if m.type == "note_on" and m.velocity > 0:
            assert rng.low <= m.note <= rng.high
            sounding += 1
            ons += 1
            assert sounding == 1  # monophonic
        elif m.type in ("note_on", "note_off"):
            sounding -= 1
    assert ons > 4 and sounding == 0


def test_a_jump_back_while_playing_moves_the_bar_the_chord_fill_keeps(daemon):
    """SPP or Link moving the song position back while playing: no bar line was crossed, but
    the bar playing is the new one (a chord then fills the other half of the window)."""

    def at(beat: float) -> None:
        daemon.engine.status = lambda: EngineStatus(running=True, beat=beat, bpm=120.0, updated_ns=0)
        daemon._bar_lines(0)

    for beat in (17.0, 21.0, 1.0):  # bar 4 (first look), bar 5 (a bar line), back to bar 0
        at(beat)
    assert daemon.perf.bar == 0
    daemon.perf.apply("chord", "Eb")
    assert set(daemon.perf.chords.root[:16]) == {9} and set(daemon.perf.chords.root[16:]) == {3}
    at(5.0)  # bar 1: the change holds everywhere
    assert set(daemon.perf.chords.root) == {3}


def test_the_store_holds_the_tempo_the_engine_starts_at(daemon) -> None:
    """A tempo knob picks up from the tempo playing (the config's 180 BPM), not the target's home
    (120): the one store starts where the engine does, and nothing is sent for it."""
    assert daemon.perf.values["tempo"] == 180.0
    assert daemon.perf.take_controls() == []

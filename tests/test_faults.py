"""Faults around the running daemon (issue 9, docs/reliability.md): the model failing, the
real-time engine killed, the disk full under a recording, an OSC flood against the clock.

The daemon runs for real: its loop in a thread of this process, the engine in its own process,
MIDI output offline (null ports). Timing assertions are deliberately loose: these machines are
shared and have two cores; what is asserted is what would be audible (a missing tick, a tick
several milliseconds late), not the figures, which are printed (``pytest -s``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyliblo3 as liblo
import pytest
from test_daemon import MODEL, daemon, daemon_config, run_for  # noqa: F401  (tests/ is on sys.path)

from jamd.engine.ipc import REC_TICK
from jamd.live.daemon import Daemon
from jamd.live.modelguard import BACKOFF_FIRST_S, BACKOFF_MAX_S, ModelGuard
from jamd.live.recorder import Recorder
from jamd.music.window import empty_window

TESTS = Path(__file__).resolve().parent
BPM = 180.0
TICK_NS = 60e9 / BPM / 24


def status_ticks(d: Daemon) -> int:
    return d.engine.status().ticks_sent


def messages(caplog, logger: str, level: int = logging.ERROR) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == level]


# ------------------------------------------------------------------------- the model failing


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_model_guard_backs_off_and_says_each_failure_once(caplog):
    """The guard alone, on a fake clock: a failing restart is retried at 1, 2, 4 ... 30 s, each
    kind of failure is logged once however often it recurs, and a good render ends the outage."""
    clock, attempts, broken = FakeClock(), [], {"file": True}

    def restart() -> None:
        attempts.append(clock.t)
        if broken["file"]:
            raise OSError("checkpoint unreadable")

    def bad_render():
        raise ValueError("cannot convert float NaN to integer")

    guard = ModelGuard(restart, clock)
    caplog.set_level(logging.INFO, logger="jamd.live.modelguard")
    assert guard.render(bad_render) is None and guard.down
    while clock.t < 120:  # housekeeping every 0.5 s for two minutes
        guard.tick()
        clock.t += 0.5
    gaps = np.diff(attempts)
    assert attempts[0] == 0.0  # the first restart at once
    assert list(gaps[:5]) == [BACKOFF_FIRST_S * 2**k for k in range(5)]
    assert max(gaps) == BACKOFF_MAX_S and len(attempts) < 12
    errors = messages(caplog, "jamd.live.modelguard")
    assert len(errors) == 2, errors  # the render's failure, the restart's failure
    assert "ValueError" in errors[0] and "OSError: checkpoint unreadable" in errors[1]

    broken["file"] = False  # someone copied a good checkpoint back
    clock.t += BACKOFF_MAX_S
    guard.tick()
    assert not guard.down and guard.restarts == 1
    assert guard.render(bad_render) is None  # ... but the model fails again at once:
    assert len(messages(caplog, "jamd.live.modelguard")) == 2  # same kind, not said again
    n = len(attempts)
    guard.tick()
    assert len(attempts) == n  # and no restart at once: the back-off holds
    clock.t += BACKOFF_MAX_S
    guard.tick()
    good = empty_window()
    assert guard.render(lambda: good) is good and not guard.down
    assert any("decoding again" in m for m in messages(caplog, "jamd.live.modelguard", logging.INFO))
    assert guard.render(bad_render) is None  # a new outage is said again
    assert len(messages(caplog, "jamd.live.modelguard")) == 3


def test_a_corrupted_weight_restarts_the_model_and_the_clock_plays_on(daemon, caplog):
    """A NaN lands in a decoder weight in memory mid-song: decoding raises; the clock and the
    last good window keep playing; the model is reloaded from its checkpoint file; a knob
    moved during the outage is heard once the model is back."""
    caplog.set_level(logging.INFO)
    seen: dict = {}

    def fault(t: int) -> None:
        if not daemon.running():
            return
        if "broken" not in seen and daemon.beat_now(t) > 4:
            seen["broken"] = (status_ticks(daemon), daemon.engine.windows.latest_id)
            seen["model"] = daemon.drums
            daemon.drums.decoder.out_b[:] = np.nan  # the corruption (every arch has an output bias)
            daemon._control("drums.x", 0.6, t)  # someone turns a knob: a render
        elif (
            "broken" in seen
            and "back" not in seen
            and daemon.drums is not seen["model"]
            and not daemon.model_guard.down
            and not daemon.perf.dirty
        ):
            seen["back"] = status_ticks(daemon)
            daemon.stop_requested.set()

    run_for(daemon, 12, fault)
    assert "back" in seen, "the model was not restarted"
    assert daemon.model_guard.failures >= 1 and daemon.model_guard.restarts == 1
    errors = messages(caplog, "jamd.live.modelguard")
    assert len(errors) == 1 and "ValueError" in errors[0], errors
    infos = messages(caplog, "jamd.live.modelguard", logging.INFO)
    assert any("restarted" in m for m in infos) and any("decoding again" in m for m in infos)
    assert seen["back"] > seen["broken"][0]  # the clock went on meanwhile
    assert np.isfinite(daemon.drums.decoder.out_b).all()  # a fresh model from the file
    expected = daemon.drums.decode(daemon.perf.drums_z(0.6, 0.0), daemon.perf.decode_controls())
    np.testing.assert_array_equal(daemon.window.drums.hit, expected.hit)  # the knob is heard


@pytest.fixture
def damaged_model_daemon(tmp_path, monkeypatch):
    """A daemon whose drum checkpoint is a copy this test may damage and mend."""
    models = tmp_path / "models"
    models.mkdir()
    for suffix in (".json", ".safetensors"):
        shutil.copy(MODEL.with_suffix(suffix), models / (MODEL.name + suffix))
    d = Daemon(
        daemon_config(tmp_path, monkeypatch, drums=models / MODEL.name),
        offline=True,
        recorder=Recorder(tmp_path / "rec.mid", BPM),
    )
    yield d, models / (MODEL.name + ".safetensors")
    d.stop_requested.set()


def test_garbage_output_and_a_damaged_checkpoint_keep_the_last_window(damaged_model_daemon, caplog):
    """The model plays NaN (a corrupted weight with sampling on: no exception, just garbage)
    and its checkpoint file is damaged too, so restarting fails: nothing NaN reaches the
    engine, the last good window keeps playing (notes go on, no new window), restarts are
    retried with a back-off and each failure is logged once; when the file is good again the
    model comes back."""
    daemon, weights = damaged_model_daemon
    good = weights.read_bytes()
    caplog.set_level(logging.INFO)
    attempts: list[float] = []
    restart = daemon.model_guard.restart

    def counted_restart() -> None:
        attempts.append(time.monotonic())
        restart()

    daemon.model_guard.restart = counted_restart
    seen: dict = {}

    def fault(t: int) -> None:
        if not daemon.running():
            return
        st = dataclasses.asdict(daemon.engine.status())
        if "broken" not in seen and daemon.beat_now(t) > 4:
            daemon._control("temperature", 0.5, t)  # sampling: NaN passes silently
            seen["broken"] = dict(
                st, t=time.monotonic(), published=daemon.engine.windows.latest_id, engine=daemon.engine
            )
            weights.write_bytes(good[: len(good) // 2])  # the file is damaged as well
            daemon.drums.decoder.out_b[:] = np.nan
            daemon._control("drums.x", 0.6, t)
        elif "broken" in seen and "mended" not in seen and time.monotonic() - seen["broken"]["t"] > 3.0:
            seen["outage_end"] = dict(st, published=daemon.engine.windows.latest_id)
            weights.write_bytes(good)  # a good copy is put back
            seen["mended"] = time.monotonic()
        elif "mended" in seen and not daemon.model_guard.down and not daemon.perf.dirty:
            seen["back"] = dict(
                st,
                engine=daemon.engine,
                alive=daemon.engine.is_alive(),
                published=daemon.engine.windows.latest_id,
            )
            daemon.stop_requested.set()

    run_for(daemon, 30, fault)
    assert "back" in seen, "the model did not come back after the file was mended"
    before, during = seen["broken"], seen["outage_end"]
    # nothing NaN reached the engine: the same engine process played on throughout
    assert seen["back"]["alive"] and seen["back"]["engine"] is before["engine"]
    assert during["published"] == before["published"]  # nothing new was published ...
    assert during["window_id"] == before["published"]  # ... the engine plays the last good one
    assert during["ticks_sent"] > before["ticks_sent"] + 3 * 0.9 * 1e9 / TICK_NS  # 3 s of clock
    assert during["notes_on"] > before["notes_on"]  # the last good window still plays
    assert seen["back"]["published"] > during["published"]
    assert np.isfinite(daemon.window.drums.velocity).all()

    errors = messages(caplog, "jamd.live.modelguard")
    assert len(errors) == 2, errors  # once per kind, not per attempt
    assert "non-finite" in errors[0] and "CheckpointError" in errors[1]
    assert len(attempts) >= 3  # retried ...
    gaps = np.diff(attempts)
    assert len(attempts) <= 6 and gaps[-1] > 0.9 * BACKOFF_FIRST_S  # ... with a back-off, not every turn


# ---------------------------------------------------------------------- the engine killed


def test_killed_engine_is_restarted_and_the_clock_goes_on(daemon, caplog):
    """SIGKILL to the real-time engine process while the daemon runs: the daemon logs why,
    starts a new engine, the clock ticks again and what it plays is recorded."""
    caplog.set_level(logging.INFO)
    seen: dict = {}

    def kill(t: int) -> None:
        if "old" not in seen and daemon.running() and daemon.beat_now(t) > 8:
            seen["old"], seen["old_ticks"] = daemon.engine, status_ticks(daemon)
            seen["killed_ns"] = time.perf_counter_ns()
            os.kill(daemon.engine.process.pid, signal.SIGKILL)
        elif "old" in seen and daemon.engine is not seen["old"]:
            if status_ticks(daemon) and "first_tick_ns" not in seen:
                seen["first_tick_ns"] = time.perf_counter_ns()
            if status_ticks(daemon) >= 48:
                seen["new_ticks"] = status_ticks(daemon)  # two beats on the new clock
                daemon.stop_requested.set()

    run_for(daemon, 40, kill)
    assert "new_ticks" in seen, "no new engine ticking"
    assert seen["old_ticks"] > 0 and seen["new_ticks"] >= 48
    print(
        f"clock silent for {(seen['first_tick_ns'] - seen['killed_ns']) / 1e6:.0f} ms (kill -> new engine ticking)"
    )
    errors = messages(caplog, "jamd.live.daemon")
    assert any("stopped unexpectedly (killed by SIGKILL); restarting it" in m for m in errors), errors
    # the new engine's notes are recorded (its records are counted from 0 again)
    later = [t for t, _ in daemon.recorder.tracks.get("drums out", []) if t > seen["killed_ns"]]
    assert later, "nothing the new engine played was recorded"


# --------------------------------------------------------------- disk full while recording


def test_disk_full_while_recording_drops_the_recording_and_stops_cleanly(
    tmp_path, monkeypatch, caplog, capsys
):
    """``jamd run --demo --record FILE`` where writing FILE fails with ENOSPC (the file jamd
    writes first is a link to /dev/full, which fails every write as a full disk does): one
    error line, every note still ended, a clean stop, exit code 0."""
    from jamd import cli
    from jamd.base import logsetup

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    # keep pytest's log capture: no handlers or levels from the command line or the config
    monkeypatch.setattr(cli, "setup_logging", lambda verbosity: None)
    monkeypatch.setattr(logsetup, "apply_logging", lambda level, file: None)
    caplog.set_level(logging.INFO)
    target = tmp_path / "show.mid"
    (tmp_path / "show.mid.part").symlink_to("/dev/full")  # Recorder.save writes FILE.part first
    recorders: list[Recorder] = []
    save = Recorder.save

    def keep(self: Recorder) -> bool:
        recorders.append(self)
        return save(self)

    monkeypatch.setattr(Recorder, "save", keep)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        code = cli.main(["run", "--demo", "--bars", "2", "--record", str(target), "--no-status"])
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
    assert code == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "recording dropped" in errors[0] and "No space left on device" in errors[0], (
        errors
    )
    assert "jamd stopped" in [r.getMessage() for r in caplog.records]
    assert not target.exists() and not (tmp_path / "show.mid.part").is_symlink()
    assert "recording:" not in capsys.readouterr().out  # no word of a file that is not there
    # every note the engine sent (the recorder took them from its records) was ended
    sounding: dict = {}
    ons = 0
    for track in ("drums out", "bass out"):
        for _, m in recorders[0].tracks.get(track, []):
            if m.type == "note_on" and m.velocity > 0:
                ons += 1
                sounding[(m.channel, m.note)] = sounding.get((m.channel, m.note), 0) + 1
            elif m.type in ("note_on", "note_off"):
                sounding[(m.channel, m.note)] = sounding.get((m.channel, m.note), 0) - 1
    assert ons > 4 and all(v == 0 for v in sounding.values()), sounding


# ------------------------------------------------------------------ OSC flood vs the clock

FLOOD_SCRIPT = textwrap.dedent("""
    import random, socket, sys, time
    sys.path.insert(0, {tests!r})
    from test_osc import osc_bytes
    port, total, seconds = {port}, {total}, {seconds}
    rng = random.Random(9)
    bad = [osc_bytes("/jamd/nope", 0.5), osc_bytes("/jamd/density", 5.0)]
    local = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.2", 0))               # loopback, but not the allowed 127.0.0.1
    sent = {{"good": 0, "bad": 0, "other": 0}}
    burst = 100
    t0 = time.perf_counter_ns()
    for i in range(total):
        k = i % 10
        if k < 7:
            local.sendto(osc_bytes("/jamd/drums/xy", rng.uniform(-1, 1), rng.uniform(-1, 1)), ("127.0.0.1", port))
            sent["good"] += 1
        elif k < 9:
            local.sendto(bad[k - 7], ("127.0.0.1", port))
            sent["bad"] += 1
        else:
            other.sendto(osc_bytes("/jamd/drums/xy", 0.0, 0.0), ("127.0.0.1", port))
            sent["other"] += 1
        if i % burst == burst - 1:             # paced: `total` messages spread over `seconds`
            ahead = t0 + (i + 1) / total * seconds * 1e9 - time.perf_counter_ns()
            if ahead > 0:
                time.sleep(ahead / 1e9)
    print(t0, time.perf_counter_ns(), sent["good"], sent["bad"], sent["other"], flush=True)
""")


def udp_drops(port: int) -> int:
    """Datagrams the kernel dropped for the sockets bound to ``port`` (receive buffer full)."""
    drops = 0
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port:
                drops += int(f[-1])
    return drops


def tick_error_ms(records: np.ndarray, lo: int, hi: int) -> np.ndarray:
    ticks = records[records[:, 0] == REC_TICK]
    ticks = ticks[(ticks[:, 1] >= lo) & (ticks[:, 1] < hi)]
    return (ticks[:, 2] - ticks[:, 1]) / 1e6


def flood(daemon: Daemon, total: int, seconds: float) -> dict:
    """Run the daemon: a quiet stretch, then ``total`` OSC messages in ``seconds`` from another
    process, then one legitimate message. Returns the figures."""
    port = daemon.config.osc.port
    script = FLOOD_SCRIPT.format(tests=str(TESTS), port=port, total=total, seconds=seconds)
    st: dict = {"phase": "warm"}

    def step(t: int) -> None:
        if not daemon.running():
            return
        now = time.perf_counter_ns()
        if st["phase"] == "warm" and daemon.beat_now(t) >= 2:
            st.update(phase="quiet", quiet0=now)
        elif st["phase"] == "quiet" and now - st["quiet0"] >= seconds * 1e9:
            st.update(
                phase="flood",
                quiet1=now,
                proc=subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True),
            )
        elif st["phase"] == "flood" and st["proc"].poll() is not None:
            t0, t1, *counts = (int(v) for v in st["proc"].stdout.read().split())
            st.update(
                phase="legit",
                flood0=t0,
                flood1=t1,
                sent=dict(zip(("good", "bad", "other"), counts)),
                legit=now,
            )
            liblo.send(("127.0.0.1", port), "/jamd/density", 0.77)
        elif st["phase"] == "legit" and (
            daemon.perf.values["density"] == pytest.approx(0.77) or now - st["legit"] > 3e9
        ):
            st.update(
                phase="done",
                applied=daemon.perf.values["density"] == pytest.approx(0.77),
                applied_ms=(now - st["legit"]) / 1e6,
                drops=udp_drops(port),
                records=daemon.engine.records(0)[0],
                status=daemon.engine.status(),
            )
            daemon.stop_requested.set()

    try:
        run_for(daemon, 4 * seconds * BPM / 60 + 40, step)
    finally:
        if "proc" in st and st["proc"].poll() is None:
            st["proc"].kill()
    assert st["phase"] == "done", st["phase"]
    return st


@pytest.mark.parametrize(
    "total, seconds",
    [
        pytest.param(20_000, 2.0, id="20k-in-2s"),
        pytest.param(300_000, 30.0, id="300k-in-30s", marks=pytest.mark.slow),
    ],
)
def test_osc_flood_does_not_delay_the_clock(daemon, total, seconds):
    """Thousands of OSC messages a second from another process at the daemon's port (most of
    them pad moves that each make a render, some junk, some from a host not allowed) while the
    engine plays master clock: no tick missing, ticks not late, and the daemon still answers."""
    st = flood(daemon, total, seconds)
    rec, stats = st["records"], daemon.osc.stats
    quiet = tick_error_ms(rec, st["quiet0"], st["quiet1"])
    during = tick_error_ms(rec, st["flood0"], st["flood1"])
    for name, err, lo, hi in (
        ("quiet", quiet, st["quiet0"], st["quiet1"]),
        ("flood", during, st["flood0"], st["flood1"]),
    ):
        expected = (hi - lo) / TICK_NS
        print(
            f"{name}: {len(err)} ticks (expected {expected:.1f}), late p50 {np.percentile(err, 50):.3f} "
            f"p99 {np.percentile(err, 99):.3f} max {err.max():.3f} ms"
        )
        assert abs(len(err) - expected) <= 2, f"{name}: ticks missing or extra"
    sent = st["sent"]
    print(
        f"OSC: sent {sum(sent.values())} in {(st['flood1'] - st['flood0']) / 1e9:.2f} s {sent}; "
        f"received {stats.received}, rejected message {stats.rejected_message}, "
        f"rejected source {stats.rejected_source}, kernel drops {st['drops']}; "
        f"legit message applied after {st['applied_ms']:.1f} ms; engine max late "
        f"{st['status'].max_late_ns / 1e6:.2f} ms"
    )
    # the flood must not make the ticks late: its p99 within 5 ms (audible) of the quiet
    # stretch's in the same run, which carries this box's own stalls (a VM whose cores are
    # taken now and then by its host: the quiet p99 has reached 3.4 ms here)
    assert np.percentile(during, 50) <= 1.0
    assert np.percentile(during, 99) <= np.percentile(quiet, 99) + 5.0
    assert st["applied"], "the daemon did not apply a legitimate message after the flood"
    # every message was either handled and counted, or dropped by the kernel (full buffer)
    drops, total_sent = st["drops"], sum(sent.values()) + 1  # + the legitimate one
    assert stats.received <= total_sent <= stats.received + drops
    assert sent["bad"] - drops <= stats.rejected_message <= sent["bad"]
    assert sent["other"] - drops <= stats.rejected_source <= sent["other"]
    assert daemon.perf.values["drums.x"] != 0.0  # the good ones were applied

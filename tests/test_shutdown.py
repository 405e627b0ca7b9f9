"""Shutdown is bounded (issue 17): an engine that does not stop (SIGSTOPped here; on a
synchronous JACK server it deadlocked in ``jack_client_close``) is killed after a deadline and
its notes ended from the shared mirror; ``jamd run``'s exit code says so; a second SIGTERM
ends jamd at once; an engine hung in closing a port ends itself.
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

import pytest

from jamd.commands.run import EXIT_ENGINE_KILLED
from jamd.engine.config import RtConfig
from jamd.engine.entry import CLOSE_BOUND_S
from jamd.engine.handle import KILL_TIMEOUT_S, EngineHandle, EngineStartError, StopOutcome
from jamd.midi.ports import PortConfig

ROOT = Path(__file__).resolve().parents[1]


#: A signal sent at one chosen call inside ``Wakeup.wait`` (every place a real one may land:
#: the handler runs at the next call boundary), for each call in turn.
_SIGNAL_INSIDE_WAIT = """
import os, signal, sys
from jamd.base.signals import Wakeup

wake = Wakeup()
signal.signal(signal.SIGUSR1, lambda signum, frame: wake.set())
calls, at = 0, -1
here = sys._getframe().f_code

def hook(frame, event, arg):
    global calls
    if event == "call" or (event == "c_call" and frame.f_code is not here):
        if calls == at:
            os.kill(os.getpid(), signal.SIGUSR1)
        calls += 1

sys.setprofile(hook)
wake.wait(0.01)
sys.setprofile(None)
woken, places = 0, calls
for at in range(places):
    calls = 0
    sys.setprofile(hook)
    woken += wake.wait(5)
    sys.setprofile(None)
print(places, woken)
"""


def test_a_signal_anywhere_in_the_loops_wait_wakes_it() -> None:
    """The daemon's Ctrl-C/SIGTERM handler wakes its loop. With a ``threading.Event`` a signal
    landing inside ``Event.wait`` (the Event's lock held) hung for good: ``set`` waits for that
    lock (seen in the soak: jamd hung until its 15 s shutdown bound; this script with an Event
    hangs). ``Wakeup`` takes no lock: each place wakes the wait at once."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", _SIGNAL_INSIDE_WAIT], env=env, capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 0, run.stderr
    places, woken = map(int, run.stdout.split())
    assert places >= 3 and woken == places and time.monotonic() - t0 < 5


def test_an_engine_that_cannot_open_its_port_says_why_in_a_line(capfd) -> None:
    """A port the engine cannot open (here an API that does not exist) is its one error line
    and exit code 2, and the control side's error says how the engine ended: before, two
    tracebacks (the engine process's, then the control side's RuntimeError)."""
    h = EngineHandle(RtConfig(rt_priority=0, drums=PortConfig("drums", "synth", api="nowhere")))
    with pytest.raises(EngineStartError, match=r"failed to start \(exit code 2\)"):
        h.start()  # and nothing is left: no process, no shared memory
    assert not h.is_alive() and h.shared.status is None  # released
    err = capfd.readouterr().err
    assert "unknown MIDI API 'nowhere'" in err and "Traceback" not in err, err


def test_a_stuck_engine_is_killed_within_the_deadline() -> None:
    h = EngineHandle(RtConfig(rt_priority=0, autostart=True)).start()
    assert h.process is not None and h.process.pid is not None
    os.kill(h.process.pid, signal.SIGSTOP)  # it cannot answer QUIT, nor SIGTERM
    t0 = time.monotonic()
    outcome = h.stop(timeout=1.0)
    took = time.monotonic() - t0
    assert outcome is StopOutcome.KILLED
    assert not h.is_alive() and h.process.exitcode == -signal.SIGKILL
    assert took < 1.0 + KILL_TIMEOUT_S


def test_a_clean_stop_says_so() -> None:
    h = EngineHandle(RtConfig(rt_priority=0, autostart=True)).start()
    assert h.stop() is StopOutcome.CLEAN


HANG_IN_CLOSE = textwrap.dedent("""
    import multiprocessing as mp, threading, time
    from jamd.engine.config import RtConfig
    from jamd.engine.ipc import Control, ControlKind, RtShared, WindowBuffer
    from jamd.engine.entry import engine_main
    from jamd.midi.null import NullOutput

    NullOutput.close = lambda self: time.sleep(3600)  # a driver call that never returns
    windows, shared = WindowBuffer.create(), RtShared.create(1024)
    rx, tx = mp.Pipe(duplex=False)
    threading.Timer(0.5, lambda: tx.send(Control(ControlKind.QUIT))).start()
    engine_main(RtConfig(rt_priority=0, autostart=True), windows.name, shared.name, 1024, rx)
""")


def test_an_engine_hung_closing_a_port_ends_itself() -> None:
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", HANG_IN_CLOSE], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    took = time.monotonic() - t0
    assert proc.returncode == -signal.SIGALRM, proc.stderr[-2000:]
    assert "in close" in proc.stderr or "<lambda>" in proc.stderr  # faulthandler says where
    assert took < CLOSE_BOUND_S + 10  # interpreter start included


# ------------------------------------------------------------------ jamd run over JACK


def engine_pid(parent: int, timeout: float = 30.0) -> int:
    """The engine process among jamd's children (multiprocessing's spawn, not its tracker)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            kids = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except FileNotFoundError:
            kids = []
        for k in kids:
            try:
                if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes():
                    return int(k)
            except FileNotFoundError:
                continue
        time.sleep(0.05)
    raise AssertionError("no engine process")


@pytest.fixture
def service(jack_server, tmp_path):
    svc_mod = pytest.importorskip("test_service")
    sink = svc_mod.Sink("stop-sink")
    config = svc_mod.write_config(tmp_path / "jamd.yaml", '  drums: "stop-sink:in"')
    svc = svc_mod.Service(tmp_path, config)
    yield svc, sink
    svc.close()
    sink.close()


@pytest.mark.jack
def test_jamd_run_kills_a_stuck_engine_ends_its_notes_and_says_so(service) -> None:
    svc, sink = service
    svc.wait(lambda: svc.seen("READY=1"), 60, "READY=1")
    svc.wait(lambda: sum(1 for _, m in sink.notes() if m[0] & 0xF0 == 0x90 and m[2]) >= 4, 10, "notes")
    engine = engine_pid(svc.proc.pid)
    os.kill(engine, signal.SIGSTOP)  # a note may be sounding: the engine can no longer end it
    t0 = time.monotonic()
    svc.proc.send_signal(signal.SIGTERM)
    rc = svc.proc.wait(20)
    took = time.monotonic() - t0
    assert rc == EXIT_ENGINE_KILLED, svc.log()[-3000:]
    assert took < 3.0 + KILL_TIMEOUT_S + 3.0, took  # QUIT deadline, kill, rescue
    assert "did not stop within" in svc.log()
    time.sleep(0.2)
    assert sink.unmatched() == Counter()


@pytest.mark.jack
def test_a_second_sigterm_ends_jamd_at_once(service) -> None:
    svc, sink = service
    svc.wait(lambda: svc.seen("READY=1"), 60, "READY=1")
    engine = engine_pid(svc.proc.pid)
    os.kill(engine, signal.SIGSTOP)
    svc.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    t0 = time.monotonic()
    svc.proc.send_signal(signal.SIGTERM)
    rc = svc.proc.wait(5)
    assert rc == -signal.SIGTERM and time.monotonic() - t0 < 1.0
    # the orphaned engine, once it runs again, sees its parent gone and ends its notes
    os.kill(engine, signal.SIGCONT)
    end = time.monotonic() + 10
    while time.monotonic() < end and Path(f"/proc/{engine}").exists():
        if Path(f"/proc/{engine}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.05)
    time.sleep(0.2)
    assert sink.unmatched() == Counter()


@pytest.mark.jack
def test_the_last_messages_before_a_close_reach_the_receiver(jack_server) -> None:
    """Note-offs sent just before a port closes (the panic on the way out, the parent's
    rescue) arrive: a JACK port unregistered before its readers' process cycle loses them.
    The sender runs at SCHED_FIFO as the engine does (it gets to the close at once)."""
    from test_rt_jack import Sink, wait_for

    from jamd.midi.ports import ManagedOutput, PortConfig

    sink = Sink("drain-sink")
    cycles, got_all = 30, []

    def sender() -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))  # this thread only
        except PermissionError:
            pass
        for i in range(cycles):
            out = ManagedOutput(PortConfig("drums", "drain-sink:in", False, "jack")).open()
            time.sleep(0.02)
            n = len(sink.got)
            out.send([0x99, 36 + i % 8, 100])
            out.send([0x89, 36 + i % 8, 0])
            out.close()
            # lost at the close they never come; on time they may still be on their way to the
            # sink's poll thread (a loaded machine): wait for them, with a deadline
            wait_for(lambda n=n: len(sink.got) - n >= 2, 2.0)
            got_all.append(len(sink.got) - n)

    t = threading.Thread(target=sender)
    t.start()
    t.join(60)
    sink.close()
    assert got_all.count(2) == cycles, f"messages arriving per close: {got_all}"
    assert sink.unmatched() == Counter()

"""The control side's handle on the real-time engine (:class:`EngineHandle`): it starts the
engine process (:mod:`jamd.engine.process`), publishes windows to it, sends it controls, reads
its status (:class:`jamd.engine.ipc.EngineStatus`) and timing records, ends the notes it left
sounding if it dies, and stops it within a bounded time (:class:`StopOutcome` says how)."""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import NoReturn

import numpy as np

from jamd.engine.clock import Timeline
from jamd.engine.config import RtConfig
from jamd.engine.entry import engine_main, set_realtime
from jamd.engine.ipc import Control, ControlKind, EngineStatus, RtShared, WindowBuffer
from jamd.engine.process import Engine
from jamd.midi import spec as ms
from jamd.midi.null import NULL_API
from jamd.midi.ports import ManagedOutput, PortConfig
from jamd.music.window import Part, Window

log = logging.getLogger(__name__)

#: How long the engine gets to end its notes and close its ports after QUIT (it takes ~0.1 s;
#: a JACK client close can deadlock on a synchronous server, seen for over ten minutes) ...
QUIT_TIMEOUT_S = 3.0
#: ... and to be reaped once SIGKILLed.
KILL_TIMEOUT_S = 2.0


class StopOutcome(Enum):
    """How :meth:`EngineHandle.stop` ended the engine."""

    CLEAN = "clean"  # it ended its notes and exited by itself
    KILLED = "killed"  # it did not exit in time: SIGKILLed, its notes ended from the mirror
    FAILED = "failed"  # it had died already or exited with an error; notes ended from the mirror


class EngineStartError(RuntimeError):
    """The engine ended, or had not come up, before it was running (its log says why)."""

    def __init__(self, message: str, exitcode: int | None) -> None:
        super().__init__(message)
        self.exitcode = exitcode


class EngineLayout(Enum):
    """Where the engine runs (docs/architecture.md measures both)."""

    PROCESS = "process"  # its own process, free of the control side's GIL: what `jamd run` uses
    THREAD = "thread"  # a thread of the control process: only for `jamd.ops.layout`'s comparison


class EngineHandle:
    """The control side's handle on the engine: start it, feed it, watch it, stop it."""

    def __init__(
        self,
        cfg: RtConfig,
        mode: EngineLayout = EngineLayout.PROCESS,
        capacity: int = 1 << 16,
        log_level: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.mode = mode
        self.capacity = capacity
        self.windows = WindowBuffer.create()
        self.shared = RtShared.create(capacity)
        self._conn_rt, self._conn = mp.Pipe(duplex=False)
        self.process: mp.process.BaseProcess | None = None
        self.thread: threading.Thread | None = None
        self._engine: Engine | None = None
        self._log_level = log_level if log_level is not None else logging.getLogger().getEffectiveLevel()
        self._rescued = False

    def start(self, timeout: float = 10.0) -> EngineHandle:
        if self.mode is EngineLayout.PROCESS:
            ctx = mp.get_context("spawn")
            self.process = ctx.Process(
                target=engine_main,
                name="jamd-rt",
                daemon=True,
                args=(
                    self.cfg,
                    self.windows.name,
                    self.shared.name,
                    self.capacity,
                    self._conn_rt,
                    self._log_level,
                ),
            )
            self.process.start()
        else:
            shared = RtShared.attach(self.shared.name, self.capacity)
            engine = self._engine = Engine(
                self.cfg, WindowBuffer.attach(self.windows.name), shared, self._conn_rt
            )

            def run_thread() -> None:
                # on Linux the policy is per thread: this makes only the engine thread FIFO
                engine.rt_priority = set_realtime(self.cfg.rt_priority)
                engine.run()

            self.thread = threading.Thread(target=run_thread, name="jamd-rt", daemon=True)
            self.thread.start()
        deadline = time.monotonic() + timeout
        while self.shared.get("alive") != 1:
            if not self.is_alive():
                self._give_up(f"the real-time engine failed to start ({self.ended_why()})")
            if time.monotonic() > deadline:
                self._give_up(f"the real-time engine did not start within {timeout:g} s")
            time.sleep(0.005)
        return self

    def _give_up(self, message: str) -> NoReturn:
        """The engine did not come up: none is left running, its shared memory is freed."""
        proc = self.process
        if proc is not None and proc.is_alive():
            proc.kill()
            proc.join(KILL_TIMEOUT_S)
        self._release()
        raise EngineStartError(message, proc.exitcode if proc is not None else None)

    def is_alive(self) -> bool:
        if self.process is not None:
            return self.process.is_alive()
        return self.thread is not None and self.thread.is_alive()

    def ended_why(self) -> str:
        """How the engine process ended, for the log: a signal's name or the exit code."""
        code = self.process.exitcode if self.process is not None else None
        if code is None:
            return "its thread ended" if self.process is None else "no exit code"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def send(
        self,
        kind: ControlKind,
        value: float = 0.0,
        part: Part | None = None,
        timeline: Timeline | None = None,
    ) -> None:
        self._conn.send(Control(kind, value, part, timeline))

    def publish(self, window: Window) -> int:
        return self.windows.publish(window)

    def status(self) -> EngineStatus:
        return self.shared.read_status()

    def records(self, since: int = 0) -> tuple[np.ndarray, int]:
        """The timing records since count ``since``, and the new count (see ``RtShared``)."""
        return self.shared.read_records(since)

    def check(self) -> bool:
        """Watchdog, for the parent to call now and then: True while the engine runs. If it
        died without ending its notes (SIGKILL, a crash), end them from here."""
        if self.is_alive():
            return True
        if not self._rescued:
            self._rescued = True
            self.rescue_notes()
        return False

    def rescue_notes(self) -> int:
        """Send note-offs for the notes the engine's mirror says are sounding, through fresh
        connections to the same ports (virtual ports died with the engine: nothing to do)."""
        sounding = self.shared.sounding
        sent = 0
        for port, pcfg in enumerate(self.cfg.note_ports()):
            hits = np.argwhere(sounding[port] > 0)
            if not len(hits) or pcfg.virtual or pcfg.api == NULL_API:
                continue
            out = ManagedOutput(PortConfig(f"{pcfg.role}-rescue", pcfg.pattern, False, pcfg.api))
            try:
                out.open()
                for ch, note in hits:
                    out.send(ms.note_off(int(ch) + 1, int(note)))
                    sent += 1
                sounding[port] = 0
            except Exception as e:
                log.error("could not end %d hanging notes on %s: %s", len(hits), pcfg.pattern, e)
            finally:
                out.close()
        if sent:
            log.warning("engine died: ended %d notes it left sounding", sent)
        return sent

    def stop(
        self, timeout: float = QUIT_TIMEOUT_S, before_release: Callable[[], None] | None = None
    ) -> StopOutcome:
        """Ask the engine to quit (it ends its notes, then closes its ports); if it is not gone
        within ``timeout``, SIGKILL it and end its notes from the shared mirror. Then release
        the shared memory. ``before_release`` runs once the engine is gone and its records are
        final (a recording collects the last note-offs there). Bounded: never waits for an
        engine stuck in a driver call."""
        try:
            outcome = self._end(timeout)
            self.check()  # gone: end what its mirror says is still sounding
            if before_release is not None:
                before_release()
            return outcome
        finally:
            self._release()

    def _release(self) -> None:
        if self._engine is not None:
            self._engine.windows.close()
            self._engine.shared.close()
        self._conn.close()
        self.windows.close()
        self.shared.close()

    def _end(self, timeout: float) -> StopOutcome:
        was_alive = self.is_alive()
        if was_alive:
            try:
                self._conn.send(Control(ControlKind.QUIT))
            except (BrokenPipeError, OSError):
                pass
        if self.thread is not None:  # the measurement layout: a thread cannot be killed
            self.thread.join(timeout)
            if self.thread.is_alive():
                log.error("the engine thread did not stop within %.1f s", timeout)
                return StopOutcome.FAILED
            return StopOutcome.CLEAN
        proc = self.process
        if proc is None:
            return StopOutcome.CLEAN
        proc.join(timeout)
        if proc.is_alive():
            log.error("the real-time engine did not stop within %.1f s: killing it", timeout)
            proc.kill()
            proc.join(KILL_TIMEOUT_S)
            return StopOutcome.KILLED
        if proc.exitcode == -signal.SIGALRM:
            log.error("the real-time engine hung closing its ports: its own bound ended it")
            return StopOutcome.KILLED
        if proc.exitcode != 0 or not was_alive:
            log.error("the real-time engine ended with exit code %s", proc.exitcode)
            return StopOutcome.FAILED
        return StopOutcome.CLEAN

    def __enter__(self) -> EngineHandle:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

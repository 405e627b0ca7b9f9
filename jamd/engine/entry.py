"""The engine process's entry point: its signals, its real-time priority, and the bound on its
shutdown. Started by :class:`jamd.engine.handle.EngineHandle` with ``spawn``."""

from __future__ import annotations

import logging
import os
import signal
import sys

from jamd.base.errors import UserError
from jamd.base.logsetup import setup_child_logging
from jamd.base.signals import enable_crash_traces, restart_interrupted_calls
from jamd.engine.config import RtConfig
from jamd.engine.ipc import RtShared, WindowBuffer
from jamd.engine.process import Engine

log = logging.getLogger(__name__)

#: The engine process's bound on closing its ports, once its notes are off (s): SIGALRM
#: ends it after this (the parent waits ``QUIT_TIMEOUT_S``, longer, before it kills).
CLOSE_BOUND_S = 2.0
#: The engine's exit code when the config cannot work here (a port or MIDI API it cannot
#: open: its one log line says why); `jamd run` then exits with it too, as for a bad config.
EXIT_BAD_INPUT = 2


def set_realtime(priority: int) -> int:
    """Ask for SCHED_FIFO; fail soft (not root, no LimitRTPRIO, not Linux). Returns what we got."""
    if priority <= 0 or not hasattr(os, "sched_setscheduler"):
        return 0
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError) as e:
        log.info("real-time priority not granted (%s): running at normal priority", e)
        return 0
    log.info("running with SCHED_FIFO priority %d", priority)
    return priority


def engine_main(
    cfg: RtConfig,
    windows_name: str,
    shared_name: str,
    capacity: int,
    control,
    log_level: int = logging.WARNING,
) -> None:
    """Entry point of the engine process."""
    setup_child_logging(log_level, "[rt]")
    enable_crash_traces()
    windows = WindowBuffer.attach(windows_name)
    shared = RtShared.attach(shared_name, capacity)
    engine = Engine(cfg, windows, shared, control)
    engine.close_bound_s = CLOSE_BOUND_S

    def on_term(signum, _frame) -> None:
        log.info("signal %d: stopping", signum)
        engine.quit = True

    signal.signal(signal.SIGTERM, on_term)
    restart_interrupted_calls(signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    engine.rt_priority = set_realtime(cfg.rt_priority)
    sys.setswitchinterval(cfg.switch_interval_s)
    try:
        engine.run()
    except UserError as e:  # a port that cannot be opened: one line, not a traceback
        log.error("%s", e)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        windows.close()
        shared.close()

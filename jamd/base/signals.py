"""What a jamd process does with signals and crashes, the same in the control and the engine
process."""

from __future__ import annotations

import faulthandler
import signal


def enable_crash_traces() -> None:
    """A crash (SIGSEGV in a MIDI driver) or a time bound running out (SIGALRM: see
    ``CLOSE_BOUND_S``) prints every thread's Python stack to stderr, not a bare exit code.
    Skipped when stderr is not a file (captured by a test runner)."""
    try:
        faulthandler.enable()
        faulthandler.register(signal.SIGALRM, chain=True)
    except (OSError, ValueError):
        pass


def restart_interrupted_calls(*signals: signal.Signals) -> None:
    """A Python handler makes a system call it interrupts fail with EINTR; Python retries its
    own, libjack does not: a SIGINT arriving while a JACK client opened left a broken client
    ("Cannot read socket ... Interrupted system call") whose close then took 13 s (seen in the
    start/stop soak). With SA_RESTART the call resumes; the handler runs when it returns."""
    for s in signals:
        signal.siginterrupt(s, False)

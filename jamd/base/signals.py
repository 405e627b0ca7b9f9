"""What a jamd process does with signals and crashes, the same in the control and the engine
process."""

from __future__ import annotations

import faulthandler
import os
import select
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


class Wakeup:
    """Wakes a loop sleeping in :meth:`wait`, from any thread and from a signal handler.

    A ``threading.Event`` cannot be set from a signal handler: the handler runs in the main
    thread between two bytecodes, possibly inside that same Event's ``wait`` or ``clear``
    while it holds the Event's lock, and ``set`` then waits for that lock forever (seen in the
    start/stop soak: a SIGTERM arriving there hung jamd until its 15 s shutdown bound killed
    it). Here :meth:`set` writes a byte to a pipe (a system call: no lock), :meth:`wait`
    selects on it and empties it."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)

    def set(self) -> None:
        try:
            os.write(self._w, b"\0")
        except BlockingIOError:  # the pipe is full: the loop has wake-ups waiting already
            pass

    def wait(self, timeout: float) -> bool:
        """Sleep until :meth:`set` or ``timeout`` s; True when woken. Every wake-up so far is
        taken: one that comes later wakes the next wait."""
        ready, _, _ = select.select([self._r], [], [], max(timeout, 0.0))
        if not ready:
            return False
        try:
            while os.read(self._r, 4096):
                pass
        except BlockingIOError:
            pass
        return True

    def __del__(self) -> None:  # not before: another thread may still call set()
        os.close(self._r)
        os.close(self._w)

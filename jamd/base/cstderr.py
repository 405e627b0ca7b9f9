"""What C libraries print straight to file descriptor 2, moved to the DEBUG log."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def c_stderr_to_log(log: logging.Logger, library: str) -> Iterator[None]:
    """libjack, alsa-lib and FluidSynth print their own failures to fd 2 (five lines of "Cannot
    connect to server socket" when no JACK server runs, "ALSA lib ... Unknown PCM default"
    without a sound card), before the one line jamd reports. Whatever C code writes to fd 2
    meanwhile goes to ``log`` at DEBUG instead (a Python thread's line in those milliseconds
    goes there too)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as said:
        os.dup2(said.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            said.seek(0)
            text = " | ".join(said.read().decode(errors="replace").split("\n")).strip(" |")
            if text:
                log.debug("the %s library said: %s", library, text)

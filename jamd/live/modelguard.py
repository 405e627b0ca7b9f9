"""The model failing on stage: decoding raises or plays garbage, and the show goes on.

The model runs in the control process (`jamd.live.daemon`), the clock and the notes in the real-time
process (`jamd.engine.process`), which keeps looping the last window it was given. So when decoding fails —
an exception from `Performance.render`, or a window with NaN/inf in it (a corrupted weight) —
the daemon only has to stop publishing: the last good window keeps playing in time. This guard
says why once, then restarts the model (loads it again from its checkpoint files); a restart
that fails, or a model that fails again at once, is retried with a growing back-off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from jamd.music.window import Window

log = logging.getLogger(__name__)

#: First retry of a failed restart after this long, doubling up to ``BACKOFF_MAX_S``: a damaged
#: checkpoint file is not going to mend itself every half second, but someone may copy a good one
#: back while the band plays on.
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
NON_FINITE = "non-finite output"


def window_problem(window: Window) -> str | None:
    """Why a rendered window must not be played, or None. NaN velocities or offsets would
    reach the engine's note arithmetic (and NaN * 0 is NaN, so even silent cells carry it)."""
    arrays = {
        "drum hit": window.drums.hit,
        "drum velocity": window.drums.velocity,
        "drum offset": window.drums.offset,
        "bass onset": window.bass.onset,
        "bass pitch": window.bass.pitch,
        "bass velocity": window.bass.velocity,
        "bass length": window.bass.length,
    }
    bad = [name for name, a in arrays.items() if not np.isfinite(np.asarray(a, np.float64)).all()]
    return f"{NON_FINITE} in {', '.join(bad)}" if bad else None


class ModelGuard:
    """Renders through ``render`` and, when that fails, restarts the model through ``restart``
    (which raises if it cannot). ``down`` while the model is not to be used; the daemon then
    publishes nothing and the engine keeps its last window."""

    def __init__(self, restart: Callable[[], None], clock: Callable[[], float] = time.monotonic):
        self.restart = restart
        self.clock = clock
        self.down = False
        self.failures = 0  # failed renders, ever (for tests and status)
        self.restarts = 0  # successful restarts, ever
        self._attempts = 0  # restarts since the last good render
        self._next_try = 0.0
        self._down_since = 0.0
        self._logged: set[str] = set()  # failure kinds said in this outage: said once each

    def render(self, render: Callable[[], Window]) -> Window | None:
        """The rendered window, or None if the model failed (then ``down`` is set)."""
        try:
            window = render()
            problem, kind = window_problem(window), NON_FINITE
        except Exception as e:  # anything the model raises: it must not end the show
            window, problem, kind = None, f"{type(e).__name__}: {e}", type(e).__name__
        if problem is None:
            if self._attempts:
                log.info(
                    "model decoding again after %.1f s (%d restart%s)",
                    self.clock() - self._down_since,
                    self._attempts,
                    "" if self._attempts == 1 else "s",
                )
            self._attempts = 0
            self._logged.clear()
            return window
        self.failures += 1
        if not self._attempts:
            self._down_since = self.clock()
        self._fail(
            kind,
            f"model failed ({problem}): the last good window keeps playing; "
            "restarting the model from its checkpoint",
        )
        return None

    def tick(self) -> None:
        """Housekeeping: restart the model when it is down and the back-off has passed."""
        now = self.clock()
        if not self.down or now < self._next_try:
            return
        self._attempts += 1
        try:
            self.restart()
        except Exception as e:  # a damaged or missing checkpoint, anything: retry later
            self._fail(
                type(e).__name__,
                f"restarting the model failed ({type(e).__name__}: {e}): "
                "keeping the last window, retrying with a back-off",
            )
            return
        self.restarts += 1
        self.down = False
        log.info("model restarted from its checkpoint (attempt %d)", self._attempts)

    def _fail(self, kind: str, message: str) -> None:
        self.down = True
        delay = 0.0 if not self._attempts else min(BACKOFF_FIRST_S * 2 ** (self._attempts - 1), BACKOFF_MAX_S)
        self._next_try = self.clock() + delay
        if kind not in self._logged:
            self._logged.add(kind)
            log.error(message)
        else:
            log.debug("%s (next try in %.0f s)", message, delay)

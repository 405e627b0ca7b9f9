"""Stop then Continue while following MIDI clock, over real JACK ports (issue 17): the notes
after Continue are on the sender's beat grid, not one tick late.

MIDI 1.0: after Continue the first tick is the one after the last tick played. A follower
that counted that tick as the last one again was one tick late for the rest of the set
(+19 ms at 131.7 BPM, measured against the sender's grid); this measures the same.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_rt_jack import ExternalClock, following_engine, kick_times, sink  # noqa: F401 (sink: a fixture)

pytestmark = [pytest.mark.jack]
BPM = 131.7


def beat_ticks(events: list[tuple[str, int]]) -> tuple[list[int], int]:
    """The sender's ticks that are beats, counting positions as MIDI 1.0 does (Start: the
    first tick is 0; Stop keeps the position; Continue: the first tick is the next one), and
    the time of the Continue."""
    pos: int | None = None
    running, beats, cont = False, [], 0
    for kind, t in events:
        if kind == "start":
            pos, running = 0, True
        elif kind == "stop":
            running = False
        elif kind == "continue":
            running, cont = True, t
        elif kind == "tick" and running and pos is not None:
            if pos % 24 == 0:
                beats.append(t)
            pos += 1
    return beats, cont


def test_notes_after_continue_are_on_the_senders_beats(sink, tmp_path) -> None:
    ext = ExternalClock(BPM, tmp_path / "clock.log")
    h = following_engine()
    try:
        with h:
            time.sleep(0.8)  # tempo lock before Start
            ext.cmd("start")
            time.sleep(2.1)
            ext.cmd("stop")
            time.sleep(0.6)
            ext.cmd("continue")
            time.sleep(3.0)
            beats, cont = beat_ticks(ext.events())
    finally:
        ext.close()
    kicks = [k for k in kick_times(sink) if k > cont]
    grid = np.array([b for b in beats if b > cont])
    assert len(kicks) >= 4 and grid.size >= 4
    # each kick against the beat tick nearest to it (signed: late is positive)
    errs = [float(k - grid[np.argmin(np.abs(grid - k))]) / 1e6 for k in kicks if k < grid[-1] + 0.1e9]
    assert abs(float(np.median(errs))) < 4.0 and max(map(abs, errs)) < 8.0, (
        f"kicks after Continue off the sender's beats by {[round(e, 1) for e in errs]} ms"
    )

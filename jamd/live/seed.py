"""Drummer seeding: the drummer's notes, placed on the step grid at the clock position, become a
window that the encoder turns into ``z_seed`` at every bar line.

The capture is hardware-free: it is given each note's position in beats (the real-time side
timestamps a note on arrival and converts the timestamp with the clock), and is asked for the
window that ends at a bar line. Notes keep their velocity and micro-timing offset.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from jamd.model.seed_search import CodeSearch
from jamd.music.grid import STEPS_PER_BEAT, DrumPattern, NoteIn, drums_from_notes


class SeedMode(str, enum.Enum):
    FOLLOW = "follow"  # every full bar replaces the seed
    BLEND = "blend"  # every full bar moves the seed part of the way
    HOLD = "hold"  # the seed stays where it is (the drummer solos, the band holds)


@dataclass(frozen=True)
class SeedSettings:
    mode: SeedMode = SeedMode.FOLLOW
    min_hits: int = 8  # as the corpus rule: fewer hits is noodling, not a groove
    blend: float = 0.5  # share of the new encoding taken per bar in BLEND mode
    window_steps: int = 32  # the model's window (2 bars)


class SeedCapture:
    """Keeps the drummer's recent notes and cuts the window that ends at a bar line."""

    def __init__(self, table: Mapping[int, int], settings: SeedSettings = SeedSettings()):
        self.table = table
        self.settings = settings
        self.window_beats = settings.window_steps / STEPS_PER_BEAT
        # Enough for a very busy drummer (32 notes a beat) over a window; older notes fall off.
        self._notes: deque[NoteIn] = deque(maxlen=int(self.window_beats * 32 * 2))

    def add(self, beat: float, note: int, velocity: int) -> None:
        """A note-on at ``beat`` (absolute clock position). Velocity 0 is a note-off: ignored."""
        if velocity > 0 and note in self.table:
            self._notes.append(NoteIn(beat, note, velocity))

    def window(self, end_beat: float) -> DrumPattern:
        """The grid of the ``window_steps`` ending at ``end_beat``. A note up to half a step
        before the window start is on its first step (played early), as the quantiser says."""
        start = end_beat - self.window_beats
        half_step = 0.5 / STEPS_PER_BEAT
        notes = [
            NoteIn(n.beat - start, n.note, n.velocity)
            for n in self._notes
            if start - half_step <= n.beat < end_beat - half_step
        ]
        return drums_from_notes(notes, self.table, self.settings.window_steps)


class Seeder:
    """Turns the captured window into ``z_seed`` at each bar line, per the mode: the encoder's code
    at once, then, with a ``search``, the searched code when the search is done
    (`jamd.model.seed_search`; the daemon runs it a step at a time, :meth:`search_step`)."""

    def __init__(
        self,
        capture: SeedCapture,
        encode: Callable[[DrumPattern], np.ndarray],
        search: Callable[[DrumPattern], CodeSearch] | None = None,
    ):
        self.capture = capture
        self.encode = encode
        self.search = search
        self.z_seed: np.ndarray | None = None
        self._window: DrumPattern | None = None  # the window whose search is due
        self._search: CodeSearch | None = None
        self._before: np.ndarray | None = None  # the seed the last bar line blended from

    def bar_line(self, end_beat: float) -> np.ndarray | None:
        """Called at each bar line; returns the new seed when it changed, else None."""
        s = self.capture.settings
        if s.mode is SeedMode.HOLD:
            return None
        window = self.capture.window(end_beat)
        if window.n_hits < s.min_hits:
            return None
        self._before = self.z_seed
        self.z_seed = self._blend(np.asarray(self.encode(window), np.float32))
        # a newer window replaces a search still running: it is of a groove already gone
        self._window, self._search = (window, None) if self.search is not None else (None, None)
        return self.z_seed

    def drop_search(self) -> None:
        """Forget a search under way (the model it runs on was replaced)."""
        self._window = self._search = None

    @property
    def searching(self) -> bool:
        return self._window is not None

    def search_step(self) -> np.ndarray | None:
        """One step of the seed search (the first encodes the window again, kept out of the bar
        line's time); the new seed when the search is done, else None."""
        if self._window is None or self.search is None:
            return None
        if self._search is None:
            self._search = self.search(self._window)
        else:
            self._search.step()
        if not self._search.done:
            return None
        z = self._search.z[0].astype(np.float32)
        self.drop_search()
        self.z_seed = self._blend(z)
        return self.z_seed

    def _blend(self, z: np.ndarray) -> np.ndarray:
        s = self.capture.settings
        if s.mode is SeedMode.BLEND and self._before is not None:
            return (1.0 - s.blend) * self._before + s.blend * z
        return z

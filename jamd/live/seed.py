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
        notes = [
            NoteIn(n.beat - start, n.note, n.velocity)
            for n in self._notes
            if start - HALF_STEP_BEATS <= n.beat < closes_at(end_beat)
        ]
        return drums_from_notes(notes, self.table, self.settings.window_steps)


HALF_STEP_BEATS = 0.5 / STEPS_PER_BEAT


def closes_at(end_beat: float) -> float:
    """When the window ending at ``end_beat`` takes no more notes: half a step before its end
    (a later note is the next window's first step, played early). From then on its code can
    be computed, ahead of the bar line."""
    return end_beat - HALF_STEP_BEATS


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
        # computed ahead of the bar line: (window, its code, the search started from that code)
        self._early: tuple[DrumPattern, np.ndarray, CodeSearch | None] | None = None

    def ahead(self, end_beat: float) -> None:
        """Encode the window ending at ``end_beat`` before its bar line (once it has closed,
        :func:`closes_at`), so that the bar line only has to check it is still the same. With
        a search, the search is started here: it encodes the window, so it is encoded once."""
        s = self.capture.settings
        window = self.capture.window(end_beat)
        if s.mode is SeedMode.HOLD or window.n_hits < s.min_hits:
            self._early = None
        elif self.search is None:
            self._early = (window, np.asarray(self.encode(window), np.float32), None)
        else:
            search = self.search(window)
            self._early = (window, search.z[0].astype(np.float32), search)

    def bar_line(self, end_beat: float) -> np.ndarray | None:
        """Called at each bar line; returns the new seed when it changed, else None."""
        s = self.capture.settings
        if s.mode is SeedMode.HOLD:
            return None
        window = self.capture.window(end_beat)
        if window.n_hits < s.min_hits:
            return None
        early, self._early = self._early, None
        # a note stamped before the close but taken in after :meth:`ahead` changes the window;
        # then the bar line only encodes, and the search's first step starts it (as without)
        if early is None or not early[0].same_as(window):
            early = (window, np.asarray(self.encode(window), np.float32), None)
        _, z, search = early
        self._before = self.z_seed
        self.z_seed = self._blend(z)
        # a newer window replaces a search still running: it is of a groove already gone
        self._window, self._search = (window, search) if self.search is not None else (None, None)
        return self.z_seed

    def use_encoder(self, encode: Callable[[DrumPattern], np.ndarray]) -> None:
        """A new model's encoder (the old one was replaced): what was computed with the old
        one, a search under way or a code ahead of the bar line, is forgotten."""
        self.encode = encode
        self.drop_search()
        self._early = None

    def drop_search(self) -> None:
        """Forget a search under way (done, or its model replaced)."""
        self._window = self._search = None

    @property
    def searching(self) -> bool:
        return self._window is not None

    def search_step(self) -> np.ndarray | None:
        """One step of the seed search (when the bar line did not have it started ahead, the
        first starts it, which encodes the window again, kept out of the bar line's time); the
        new seed when the search is done, else None."""
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

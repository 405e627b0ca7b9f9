"""The :class:`Window`: what the model side hands the engine, one 2-bar window of drums, bass
and chord roots. The model side renders and checks it (``jamd.live``), the engine carries it
through shared memory (``jamd.engine.ipc``) and plays it (``jamd.engine.scheduler``), each
:class:`Part` to its own port or channel."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from jamd.music.drumkit import VOICES
from jamd.music.grid import DEFAULT_STEPS, BassLine, DrumPattern


class Part(Enum):
    """The parts of a window (each muted on its own)."""

    DRUMS = "drums"
    BASS = "bass"

    def __str__(self) -> str:
        return self.value


@dataclass
class Window:
    """One 2-bar window. ``roots`` are chord-root pitch classes (0-11) per step, for the bass.
    ``window_id`` increases with every publish."""

    drums: DrumPattern
    bass: BassLine
    roots: np.ndarray
    window_id: int = 0

    @property
    def steps(self) -> int:
        return self.drums.steps


def empty_window(steps: int = DEFAULT_STEPS, voices: int = len(VOICES)) -> Window:
    """A window that plays nothing."""
    return Window(DrumPattern.empty(steps, voices), BassLine.empty(steps), np.zeros(steps, np.int64))

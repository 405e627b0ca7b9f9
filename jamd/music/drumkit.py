"""Drum voices and the note tables that fold a kit's notes into them.

Everything here is data: the representation (`jamd.music.grid`) and the configuration read these
tables, nothing else in jamd knows a drum note number.

Two input layouts are shipped, and they disagree on purpose:

* ``TD11`` is the Roland TD-11 layout the Groove MIDI Dataset was recorded with (table 1 of
  Gillick et al. 2019). Its three toms are 48/50 (tom 1 head/rim), 45/47 (tom 2) and 43/58
  (floor tom), so 45 is the *mid* tom, 48 the *high* tom and 58 a tom rim.
* ``GM`` is General MIDI folded the way Magenta's GrooVAE folds it (``drums_encoder_decoder``),
  which is what drum machines and most e-kits in GM mode send: 45 "Low Tom" is a *low* tom,
  48 "Hi-Mid Tom" a *mid* tom, and 58 (Vibraslap) a crash-like accent.

The training corpus is read with ``TD11`` so that the drummer's toms land where they were played;
a live kit in GM mode is read with ``GM``. Both fold every note the dataset uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: The 9 GrooVAE voice classes, in the order of the grid's voice axis.
VOICES: tuple[str, ...] = (
    "kick",
    "snare",
    "closed_hat",
    "open_hat",
    "low_tom",
    "mid_tom",
    "high_tom",
    "crash",
    "ride",
)
VOICE_INDEX: Mapping[str, int] = {name: i for i, name in enumerate(VOICES)}

#: General MIDI drum channel (10 in the 1-16 numbering musicians use).
GM_DRUM_CHANNEL = 10


def _fold(groups: Mapping[str, tuple[int, ...]]) -> dict[int, int]:
    """Turn ``voice -> notes`` into ``note -> voice index``, refusing a note in two voices."""
    table: dict[int, int] = {}
    for voice, notes in groups.items():
        for note in notes:
            if note in table:
                raise ValueError(f"note {note} is in two voices")
            table[note] = VOICE_INDEX[voice]
    return table


TD11: dict[int, int] = _fold(
    {
        "kick": (35, 36),
        "snare": (37, 38, 40),  # x-stick, head, rim
        "closed_hat": (22, 42, 44),  # closed edge, closed bow, pedal
        "open_hat": (26, 46),  # open edge, open bow
        "low_tom": (43, 58),  # floor tom head, rim
        "mid_tom": (45, 47),  # tom 2 head, rim
        "high_tom": (48, 50),  # tom 1 head, rim
        "crash": (49, 52, 55, 57),  # crash 1 bow/edge, crash 2 edge/bow
        "ride": (51, 53, 59),  # bow, bell, edge
    }
)

GM: dict[int, int] = _fold(
    {
        "kick": (35, 36),
        "snare": (27, 28, 31, 32, 33, 34, 37, 38, 39, 40, 56, 65, 66, 75, 85),
        "closed_hat": (22, 42, 44, 54, 68, 69, 70, 71, 73, 78, 80),
        "open_hat": (26, 46, 67, 72, 74, 79, 81),
        "low_tom": (29, 41, 43, 45, 61, 64, 84),
        "mid_tom": (47, 48, 60, 63, 77, 86, 87),
        "high_tom": (30, 50, 62, 76, 83),
        "crash": (49, 52, 55, 57, 58),
        "ride": (51, 53, 59, 82),
    }
)

INPUT_TABLES: Mapping[str, dict[int, int]] = {"td11": TD11, "gm": GM}


@dataclass(frozen=True)
class VoiceOut:
    """Where one voice is played: a MIDI note on a channel (1-16, as printed on gear)."""

    note: int
    channel: int = GM_DRUM_CHANNEL


#: Default voice -> output note: General MIDI, which most drum machines accept on channel 10.
GM_OUTPUT: tuple[VoiceOut, ...] = tuple(VoiceOut(n) for n in (36, 38, 42, 46, 43, 47, 50, 49, 51))

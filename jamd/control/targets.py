"""What a control can move: the names controller mappings (and OSC) use, with their kinds,
limits and home values. The engine gives these names their meaning; this table is the contract.
:class:`TargetValues` is the contract of the one store of their current values.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from jamd.control.scenes import scene_targets
from jamd.music.drumkit import VOICES


class Kind(enum.Enum):
    CONTINUOUS = "continuous"  # a value in [lo, hi] (knobs, faders, pads, encoders)
    SWITCH = "switch"  # 0.0 off / 1.0 on (buttons: toggle, hold, press)
    TRIGGER = "trigger"  # an action, sent as 1.0 on each press


@dataclass(frozen=True)
class Target:
    name: str
    kind: Kind
    lo: float = 0.0
    hi: float = 1.0
    home: float = 0.0  # the value before anything moved it, and where `return-home` goes
    doc: str = ""

    def clamp(self, value: float) -> float:
        return min(max(value, self.lo), self.hi)

    def accepts(self, value: object) -> bool:
        """Whether a remote sender's ``value`` (OSC, the web page) is a number in range.
        Out of range (or NaN) is refused, not clamped: a sender that sends 500 for a pad
        position is broken, and guessing would move the music."""
        return (
            not isinstance(value, bool)
            and isinstance(value, (int, float))
            and math.isfinite(value)
            and self.lo <= value <= self.hi
        )


def _continuous(name: str, lo: float, hi: float, home: float, doc: str) -> Target:
    return Target(name, Kind.CONTINUOUS, float(lo), float(hi), float(home), doc)


_ALL = [
    _continuous("drums.x", -1, 1, 0, "drums latent plane, x"),
    _continuous("drums.y", -1, 1, 0, "drums latent plane, y"),
    _continuous("bass.x", -1, 1, 0, "bass latent plane, x"),
    _continuous("bass.y", -1, 1, 0, "bass latent plane, y"),
    _continuous("density", 0, 1, 0.5, "how many of the model's hits are played (0 sparse, 1 all)"),
    _continuous("temperature", 0, 4, 0, "randomness of the decoded pattern (0 = the decoder mean)"),
    _continuous("timing", 0, 2, 1, "micro-timing amount (0 quantised, 1 as decoded, 2 exaggerated)"),
    _continuous("tempo", 20, 400, 120, "BPM of the internal clock"),
    Target("hold", Kind.SWITCH, doc="freeze: keep playing the current pattern, ignore the latent"),
    Target(
        "tempo.lock",
        Kind.SWITCH,
        doc="clock.mode drummer: freeze the tempo where it is (the phase still follows)",
    ),
    Target("mute.drums", Kind.SWITCH, doc="mute the machine's drums"),
    Target("mute.bass", Kind.SWITCH, doc="mute the bass"),
    *(Target(f"mute.{v}", Kind.SWITCH, doc=f"mute the {v.replace('_', ' ')} voice") for v in VOICES),
    Target("tap", Kind.TRIGGER, doc="tap tempo (internal clock)"),
    Target("reseed", Kind.TRIGGER, doc="take the drummer's last window as the new seed now"),
    Target("transport.play", Kind.TRIGGER, doc="start (internal clock: sends MIDI Start)"),
    Target("transport.stop", Kind.TRIGGER, doc="stop (all notes end)"),
    Target("panic", Kind.TRIGGER, doc="note-off for every sounding note"),
    *(Target(name, Kind.TRIGGER, doc=doc) for name, doc in scene_targets()),
]

TARGETS: dict[str, Target] = {t.name: t for t in _ALL}

#: The pseudo-target a chord goes to (an OSC chord symbol, a keyboard's held chord); not in
#: :data:`TARGETS`, whose values are numbers.
CHORD_TARGET = "chord"


def home_values() -> dict[str, float]:
    """Every target that holds a value (all but the triggers), at its home."""
    return {name: t.home for name, t in TARGETS.items() if t.kind is not Kind.TRIGGER}


class TargetValues(Protocol):
    """The one store of the targets' current values (``jamd run``'s is
    :class:`jamd.live.performance.Performance`). A :class:`jamd.control.mapper.Mapper` reads it
    and writes what its controls set there; whatever else moves a value (OSC, a reseed, a scene
    glide, another controller) moves it there too, so a knob sees the move and takes the value
    over again by its takeover rule."""

    @property
    def values(self) -> Mapping[str, float]:
        """The value of every target :func:`home_values` names."""
        ...

    def set(self, target: str, value: float) -> None:
        """A control moved ``target`` to ``value`` (within the target's limits)."""
        ...

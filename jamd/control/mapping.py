"""Controller mappings: YAML files in ``mappings/`` that say which knob moves what.

The file format is documented field by field in ``docs/mappings.md``; the classes below are that
format, read and checked by :mod:`jamd.base.yamlload` (so a bad file is one ``file:line: message``).
The run-time side, which turns MIDI into control events, is :class:`jamd.control.mapper.Mapper`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from jamd.base.paths import MAPPINGS_DIR
from jamd.base.yamlload import Between, Channel, ConfigError, Data7, Node, load
from jamd.control.ctlparse import Source
from jamd.control.targets import TARGETS, Kind, Target
from jamd.midi.portmatch import PortPattern

# The words a mapping file chooses from (docs/mappings.md says what each does).
Relative = Literal["twos_complement", "offset64", "sign_magnitude"]
Curve = Literal["linear", "exp", "log"]
Takeover = Literal["pickup", "scale", "jump"]
ButtonMode = Literal["press", "toggle", "hold"]
Release = Literal["hold", "home", "glide"]


class TargetName(str):
    """A target name from :data:`jamd.control.targets.TARGETS`, checked where it is written."""

    @classmethod
    def from_yaml(cls, node: Node, what: str) -> TargetName:
        if isinstance(node.value, str) and node.value in TARGETS:
            return cls(node.value)
        names = ", ".join(TARGETS)
        raise node.error(f"unknown target {node.value!r}; targets: {names}")

    @property
    def spec(self) -> Target:
        return TARGETS[self]


@dataclass
class ControlSpec:
    """One knob, fader, pad axis, encoder or button."""

    target: TargetName
    channel: Channel | None = None  # default: the mapping's channel
    # the source: exactly one of these
    cc: Data7 | None = None
    cc14: Annotated[int, Between(0, 31, "the MSB controller of a 14-bit pair")] | None = None
    nrpn: Annotated[int, Between(0, 16383)] | None = None
    note: Data7 | None = None
    lsb: Data7 | None = None  # a 14-bit pair's LSB controller if not cc14 + 32
    bits: Literal[7, 14] | None = None  # NRPN value resolution (default 14: CC 6 + CC 38)
    # how a value is read
    relative: Relative | None = None  # an endless encoder sending steps, not positions
    step: Annotated[float, Between(0.0001, 1)] = 0.01  # share of the range per encoder step
    range: list[float] | None = None  # [lo, hi] in target units (default: the target's)
    curve: Curve = "linear"
    curve_amount: Annotated[float, Between(0.1, 20)] = 3.0
    invert: bool = False
    deadzone: Annotated[float, Between(0, 0.5)] = 0.0
    takeover: Takeover | None = None  # default: see takeover_mode
    smoothing: Annotated[float, Between(0, 10, "seconds")] = 0.0
    # buttons
    button: ButtonMode | None = None
    value: float | None = None  # what `press` sets (default 1 = on)
    # XY pads
    gate: str | None = None  # name of a gate in `gates:`; values pass while it is open
    home: float | None = None  # where `release: home/glide` goes (default the target's)

    @property
    def source(self) -> Source:
        return next(s for s in Source if getattr(self, s.value) is not None)

    @property
    def number(self) -> int:
        """The source's CC, MSB CC, NRPN parameter or note."""
        return getattr(self, self.source.value)

    @property
    def lsb_cc(self) -> int:
        """A 14-bit pair's LSB controller."""
        return self.lsb if self.lsb is not None else self.number + 32

    @property
    def is_button(self) -> bool:
        return self.button is not None or self.target.spec.kind is not Kind.CONTINUOUS

    @property
    def button_mode(self) -> ButtonMode:
        if self.button is not None:
            return self.button
        return "toggle" if self.target.spec.kind is Kind.SWITCH else "press"

    @property
    def takeover_mode(self) -> Takeover:
        """``pickup`` for knobs and faders; ``jump`` for what reports a position each time it is
        touched (an XY pad behind a gate, a pad's velocity)."""
        if self.takeover is not None:
            return self.takeover
        return "jump" if self.gate is not None or self.source is Source.NOTE else "pickup"

    @property
    def lo_hi(self) -> tuple[float, float]:
        t = self.target.spec
        return (self.range[0], self.range[1]) if self.range else (t.lo, t.hi)

    def check(self, node: Node) -> None:
        given = [s for s in Source if getattr(self, s.value) is not None]
        if len(given) != 1:
            raise node.error(
                f"a control needs exactly one source of: {', '.join(Source)}"
                + (f" (it has {', '.join(given)})" if given else "")
            )
        src, t = given[0], self.target.spec
        if self.lsb is not None and src is not Source.CC14:
            raise node.error("'lsb' goes with 'cc14'", "lsb")
        if self.bits is not None and src is not Source.NRPN:
            raise node.error("'bits' goes with 'nrpn'", "bits")
        if self.relative is not None and src is not Source.CC:
            raise node.error("'relative' encoders send plain 7-bit CCs: use 'cc'", "relative")
        if self.is_button:
            if src not in (Source.CC, Source.NOTE):
                raise node.error(f"a button ({t.name} is a {t.kind.value}) needs 'cc' or 'note'", src.value)
            if self.relative is not None:
                raise node.error(
                    f"{t.name} is a {t.kind.value}: it cannot take a relative encoder", "relative"
                )
            if t.kind is Kind.TRIGGER and self.button_mode != "press":
                raise node.error(f"{t.name} is a trigger: button must be 'press'", "button")
            if t.kind is Kind.CONTINUOUS and self.value is None:
                raise node.error(f"a button on {t.name} needs the 'value' it sets", "button")
        if self.range is not None:
            if len(self.range) != 2 or self.range[0] == self.range[1]:
                raise node.error("range must be [lo, hi] with lo != hi", "range")
            self._within(node, "range", *self.range)
        for key in ("home", "value"):
            if getattr(self, key) is not None:
                self._within(node, key, getattr(self, key))

    def _within(self, node: Node, key: str, *values: float) -> None:
        t = self.target.spec
        if any(not t.lo <= v <= t.hi for v in values):
            raise node.error(f"{key} must lie within {t.name}'s limits {t.lo:g}..{t.hi:g}", key)


@dataclass
class GateSpec:
    """A touch sensor (an XY pad's "finger down" CC or note) that opens and closes the controls
    naming it, and what those controls' targets do when the finger lifts."""

    channel: Channel | None = None
    cc: Data7 | None = None
    note: Data7 | None = None
    release: Release = "hold"
    glide: Annotated[float, Between(0.01, 30, "seconds")] = 0.5

    def check(self, node: Node) -> None:
        if (self.cc is None) == (self.note is None):
            raise node.error("a gate needs exactly one of: cc, note")

    @property
    def source(self) -> Source:
        return Source.CC if self.cc is not None else Source.NOTE

    @property
    def number(self) -> int:
        return getattr(self, self.source.value)


@dataclass
class Mapping:
    """One controller's mapping file."""

    controls: dict[str, ControlSpec]
    device: str = ""  # what it is, for people and logs
    match: PortPattern | None = None  # which ports it is for (none: any port not matched)
    channel: Channel = 1  # default channel of its controls and gates
    gates: dict[str, GateSpec] = field(default_factory=dict)
    path: str = field(default="", init=False)

    def check(self, node: Node) -> None:
        controls = node.get("controls")
        for name, c in self.controls.items():
            if c.gate is not None and c.gate not in self.gates:
                line_node = controls.value[name] if controls else node
                known = ", ".join(self.gates) or "none defined"
                raise line_node.error(f"gate {c.gate!r} is not in gates: ({known})", "gate")

    def channel_of(self, spec: ControlSpec | GateSpec) -> int:
        return spec.channel if spec.channel is not None else self.channel

    @property
    def name(self) -> str:
        return Path(self.path).stem


def load_mapping(path: Path | str) -> Mapping:
    mapping = load(Mapping, path)
    mapping.path = str(path)
    return mapping


def user_mappings_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "jamd" / "mappings"


def mapping_dirs() -> list[Path]:
    """Where mapping names are looked up: the user's own first, then the shipped ones."""
    return [user_mappings_dir(), MAPPINGS_DIR]


def find_mapping(ref: str, relative_to: Path | None = None) -> Path:
    """A mapping by name (``korg-nanokontrol2``, looked up in :func:`mapping_dirs`) or by path
    (anything with a slash or ending in .yaml; relative to ``relative_to``)."""
    if "/" in ref or ref.endswith((".yaml", ".yml")):
        path = Path(ref).expanduser()
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        return path
    for d in mapping_dirs():
        candidate = d / f"{ref}.yaml"
        if candidate.is_file():
            return candidate
    names = sorted({p.stem for d in mapping_dirs() if d.is_dir() for p in d.glob("*.yaml")})
    raise ConfigError(f"no mapping named {ref!r}; known: {', '.join(names)}")


def all_mapping_paths() -> list[Path]:
    """Every mapping in :func:`mapping_dirs`; a user's file hides a shipped one of that name."""
    seen: dict[str, Path] = {}
    for d in mapping_dirs():
        for p in sorted(d.glob("*.yaml")) if d.is_dir() else ():
            seen.setdefault(p.stem, p)
    return list(seen.values())


def select_mapping(mappings: list[Mapping], port_name: str) -> Mapping | None:
    """The mapping for a controller port: the first whose ``match`` fits the name, else the
    first without a ``match`` (a generic mapping), else None."""
    for m in mappings:
        if m.match is not None and m.match.matches(port_name):
            return m
    return next((m for m in mappings if m.match is None), None)

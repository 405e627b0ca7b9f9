"""MIDI learn: what kind of control a burst of MIDI came from, and the mapping file it makes.

Hardware-free: :func:`detect` reads the messages one control sent while the performer moved it
(raw ``[status, d1, d2]`` bytes or mido messages) and says what it is; :func:`mapping_yaml`
writes the learned controls in the schema of ``mappings/*.yaml`` (``docs/mappings.md``), which
:func:`jamd.control.mapping.load_mapping` reads. ``jamd learn`` (``jamd.commands.learn``) does the
listening.

How the kinds are told apart:

* NRPN: the controller selects a parameter (CC 99/98) and sends data (CC 6, and CC 38 for the
  fine half); seven-bit NRPN sends no CC 38.
* 14-bit CC: CC n (0-31) and its LSB CC n+32 arrive together.
* Relative encoder: an absolute knob sends a value only when it changes, so it never repeats
  one; an encoder sends the same small step again and again, around 64 (``offset64``) or
  around 0 (1, 2 up; 127, 126 down: ``twos_complement``; 65, 66 down: ``sign_magnitude``).
* Note: a pad or a key (buttons, or a velocity-sensitive pad on a continuous target).
* Anything else is a plain absolute CC (a knob, a fader, or a button sending 127/0).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from jamd.control.ctlparse import (
    DATA_LSB,
    NRPN_CCS,
    NRPN_LSB,
    NRPN_MSB,
    ChannelParser,
    Raw,
    RawKind,
    Source,
    normalize,
)
from jamd.control.mapping import Relative
from jamd.control.targets import TARGETS, Kind

#: the targets `jamd learn` asks for when not told: the pads, the feel, the transport
DEFAULT_TARGETS = (
    "drums.x",
    "drums.y",
    "bass.x",
    "bass.y",
    "density",
    "temperature",
    "timing",
    "tempo",
    "hold",
    "reseed",
    "tap",
    "mute.drums",
    "mute.bass",
    "transport.play",
    "transport.stop",
    "scene.store.1",
    "scene.recall.1",
)
#: a range narrower than the target's, as the shipped mappings give these (a knob over
#: 20..400 BPM or the whole temperature scale is hard to play)
ABSOLUTE_RANGES = {"tempo": [60, 180], "temperature": [0, 2]}
#: an encoder's steps are small: values further than this from their centre are positions
STEP_SPAN = 15
#: the share of repeated consecutive values above which a CC is read as an encoder
REPEAT_SHARE = 0.5


@dataclass(frozen=True)
class Detected:
    """One learned control."""

    source: Source
    channel: int  # 1-16
    number: int  # CC, MSB CC, NRPN parameter or note
    relative: Relative | None = None  # a relative encoder's encoding
    bits: int | None = None  # 7 for an NRPN that sends no fine half

    @property
    def key(self) -> tuple[Source, int, int]:
        return self.source, self.channel, self.number

    def describe(self) -> str:
        kind = (
            f"relative encoder ({self.relative})"
            if self.relative
            else {
                Source.CC: "absolute CC",
                Source.CC14: f"14-bit CC {self.number}/{self.number + 32}",
                Source.NRPN: "NRPN" + (" (7-bit)" if self.bits == 7 else ""),
                Source.NOTE: "note",
            }[self.source]
        )
        return f"{self.source} {self.number} on channel {self.channel}: {kind}"

    def fits(self, target: str) -> str | None:
        """Why this control cannot drive ``target`` (None when it can): buttons need CC or note."""
        spec = TARGETS[target]
        if spec.kind is Kind.CONTINUOUS:
            return None
        if self.source not in (Source.CC, Source.NOTE) or self.relative is not None:
            return (
                f"{target} is a {spec.kind.value}: it needs a button (a CC or a note), not {self.describe()}"
            )
        return None

    def control(self, target: str) -> dict[str, Any]:
        """The control's entry in a mapping file."""
        entry: dict[str, Any] = {str(self.source): self.number, "target": target}
        if self.relative is not None:
            entry["relative"] = self.relative
        if self.bits is not None:
            entry["bits"] = self.bits
        if self.relative is None and self.source is not Source.NOTE and target in ABSOLUTE_RANGES:
            entry["range"] = ABSOLUTE_RANGES[target]
        return entry


def detect(messages: Iterable[Any], exclude: Sequence[tuple[Source, int, int]] = ()) -> Detected | None:
    """The control that sent most of ``messages`` (controls in ``exclude``, already learned
    ones still being touched, do not count); None when nothing usable arrived."""
    raws = [r for r in map(normalize, messages) if r is not None]
    groups = _groups(raws)
    for key in exclude:
        groups.pop(key, None)
    if not groups:
        return None
    key = max(groups, key=lambda k: len(groups[k]))  # ties: the first control touched
    source, channel, number = key
    msgs = groups[key]
    if source is Source.NRPN:
        bits = None if any(r.number == DATA_LSB for r in msgs) else 7
        return Detected(source, channel, number, bits=bits)
    if source is Source.CC:
        return Detected(source, channel, number, relative=relative_encoding([r.value for r in msgs]))
    return Detected(source, channel, number)


def _groups(raws: list[Raw]) -> dict[tuple[Source, int, int], list[Raw]]:
    """Messages per control, in order of first appearance: NRPN traffic under its parameter,
    a 14-bit pair's LSB under its MSB, notes (on and off) under the note."""
    nrpn_channels = {r.channel for r in raws if r.kind is RawKind.CC and r.number in (NRPN_MSB, NRPN_LSB)}
    ccs = {(r.channel, r.number) for r in raws if r.kind is RawKind.CC}
    pairs = {(ch, n) for ch, n in ccs if n < 32 and (ch, n + 32) in ccs and ch not in nrpn_channels}
    parsers = {ch: ChannelParser(nrpn=True) for ch in nrpn_channels}
    groups: dict[tuple[Source, int, int], list[Raw]] = {}
    for r in raws:
        key = _key(r, pairs, parsers)
        if key is not None:
            groups.setdefault(key, []).append(r)
    return groups


def _key(
    r: Raw, pairs: set[tuple[int, int]], parsers: dict[int, ChannelParser]
) -> tuple[Source, int, int] | None:
    if r.kind is not RawKind.CC:
        return Source.NOTE, r.channel, r.number
    if r.channel in parsers and r.number in NRPN_CCS:
        value = parsers[r.channel].cc(r.number, r.value)  # None for the parameter selects
        return None if value is None else (Source.NRPN, r.channel, value.number)
    if (r.channel, r.number) in pairs or (r.channel, r.number - 32) in pairs:
        return Source.CC14, r.channel, r.number if r.number < 32 else r.number - 32
    return Source.CC, r.channel, r.number


def relative_encoding(values: Sequence[int]) -> Relative | None:
    """The relative encoding a CC's values look like, or None for an absolute control."""
    if len(values) < 3:
        return None
    repeats = sum(a == b for a, b in zip(values, values[1:]))
    if repeats < REPEAT_SHARE * (len(values) - 1):
        return None
    up = [v for v in values if 0 < v <= STEP_SPAN]
    down_twos = [v for v in values if v >= 128 - STEP_SPAN]
    down_sign = [v for v in values if 64 < v <= 64 + STEP_SPAN]
    around_64 = [v for v in values if abs(v - 64) <= STEP_SPAN]
    if len(around_64) == len(values) and not up:
        return "offset64"
    if len(up) + len(down_twos) == len(values):
        return "twos_complement"
    if up and len(up) + len(down_sign) == len(values):
        return "sign_magnitude"
    return None


def mapping_yaml(
    learned: dict[str, Detected], device: str = "", match: str | None = None, comment: str = ""
) -> str:
    """A mapping file for the learned controls (target -> control), one control a line as the
    shipped mappings are written. Strings are JSON-quoted: valid YAML whatever they hold."""
    channel = Counter(d.channel for d in learned.values()).most_common(1)[0][0] if learned else 1
    lines = [f"# {line}" for line in comment.splitlines()]
    if device:
        lines.append(f"device: {json.dumps(device)}")
    if match:
        lines.append(f"match: {json.dumps(match)}")
    lines += [f"channel: {channel}", "controls:" if learned else "controls: {}"]
    for target, d in learned.items():
        entry = d.control(target)
        if d.channel != channel:
            entry["channel"] = d.channel
        fields = ", ".join(f"{k}: {_scalar(v)}" for k, v in entry.items())
        lines.append(f"  {_scalar(target)}: {{{fields}}}")
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    """Names (targets, encodings) bare as people write them; anything else JSON-quoted."""
    if isinstance(value, str) and _BARE.fullmatch(value) and value not in _YAML_WORDS:
        return value
    return json.dumps(value)


_BARE = re.compile(r"[a-z][a-z0-9_.]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}

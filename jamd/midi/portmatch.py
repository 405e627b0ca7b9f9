"""MIDI port name patterns, as written in the config and in controller mappings.

Ports are found by name, never by index (an index changes when a device is plugged in), and the
names differ per OS and API ("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0" on ALSA, "nanoKONTROL2
SLIDER/KNOB" on CoreMIDI), so a pattern is, case-insensitively:

* the exact name, if a port has it; else
* a part of the name (``TD-17``), or a glob when it has ``*``, ``?`` or ``[`` (``TR-8S*MIDI 1``),
  as :func:`jamd.midi.ports.match_port` reads it; or
* written between slashes, a Python regular expression searched anywhere in the name
  (``/^TD-17.*MIDI 1/``).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from jamd.base.yamlload import Node, build


@dataclass(frozen=True)
class PortPattern:
    text: str

    def __post_init__(self) -> None:
        if self.is_regex:
            re.compile(self.text[1:-1], re.IGNORECASE)  # raises re.error when bad

    @property
    def is_regex(self) -> bool:
        return len(self.text) >= 2 and self.text.startswith("/") and self.text.endswith("/")

    def matches(self, port_name: str) -> bool:
        if self.is_regex:
            return re.search(self.text[1:-1], port_name, re.IGNORECASE) is not None
        low, name = self.text.lower(), port_name.lower()
        glob = any(c in self.text for c in "*?[")
        return low in name or (glob and fnmatch.fnmatch(name, low))

    def match(self, port_names: list[str]) -> list[str]:
        """The ports this pattern names: the exact name alone if present, else every match
        (the caller decides what several matches mean; the engine refuses to guess)."""
        if self.text in port_names:
            return [self.text]
        return [n for n in port_names if self.matches(n)]

    @classmethod
    def from_yaml(cls, node: Node, what: str) -> PortPattern:
        text = build(str, node, what)
        if not text.strip():
            raise node.error(f"{what} must be a port name pattern (text, or /regex/), not empty")
        try:
            return cls(text)
        except re.error as e:
            raise node.error(f"{what}: bad regular expression {node.value}: {e}") from None

    def __str__(self) -> str:
        return self.text

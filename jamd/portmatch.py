"""MIDI port name patterns, as written in the config and in controller mappings.

Ports are found by name, never by index (an index changes when a device is plugged in), and the
names differ per OS and API ("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0" on ALSA, "nanoKONTROL2
SLIDER/KNOB" on CoreMIDI), so a pattern is by default a case-insensitive *substring*. Written
between slashes (``/^TD-17.*MIDI 1/``) it is a case-insensitive Python regular expression,
searched anywhere in the name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from jamd.yamlload import Node, build


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
        return self.text.casefold() in port_name.casefold()

    def first(self, port_names: list[str]) -> str | None:
        """The first port whose name matches, in the order the system lists them."""
        return next((n for n in port_names if self.matches(n)), None)

    @classmethod
    def from_yaml(cls, node: Node, what: str) -> "PortPattern":
        text = build(str, node, what)
        if not text.strip():
            raise node.error(f"{what} must be a port name pattern (text, or /regex/), not empty")
        try:
            return cls(text)
        except re.error as e:
            raise node.error(f"{what}: bad regular expression {node.value}: {e}") from None

    def __str__(self) -> str:
        return self.text

"""The control side's MIDI inputs: the ports, opened by name and polled from the daemon's loop,
the controllers' mappings (a :class:`jamd.control.mapper.Mapper` per controller port) and the
keyboard's chords.

Hardware is never trusted to stay: ports that vanish are re-found by name, ports absent at the
start are waited for the same way, and a controller gets its mapping whenever its port opens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from jamd.control.mapper import ControlEvent, Mapper
from jamd.control.mapping import Mapping, select_mapping
from jamd.control.targets import TargetValues
from jamd.live.config import PortsConfig
from jamd.midi.ports import ManagedInput, PortChange, PortConfig
from jamd.music.harmony import NOTE_NAMES, QUALITIES, Chords, HeldChord

log = logging.getLogger(__name__)


class InputPort(Protocol):
    """What :class:`Inputs` needs of a port: a :class:`jamd.midi.ports.ManagedInput`, or a
    stand-in without MIDI (the bench's feeder queues)."""

    @property
    def name(self) -> str | None: ...

    @property
    def lost(self) -> bool: ...

    def poll(self, now_ns: int) -> list[tuple[list[int], int]]:
        """(message, arrival ns) of everything received up to ``now_ns``."""
        ...

    def check(self) -> PortChange | None:
        """:attr:`PortChange.BACK` when a lost port was re-opened (see ManagedInput.check)."""
        ...

    def close(self) -> None: ...


class Inputs:
    """The MIDI inputs by role ("drummer", "keyboard", "controller"). rtmidi stamps each
    message's arrival in its own thread (see `jamd.midi.ports.ManagedInput`); ``drain`` hands
    them over in the loop."""

    def __init__(self) -> None:
        self.ports: list[tuple[str, InputPort]] = []
        #: called with (role, port name) when a port opens: at once, or later when it appears
        self.on_found: Callable[[str, str], None] = lambda role, name: None

    def open(self, ports: PortsConfig, api: str) -> None:
        """The drummer's, the keyboard's and the controllers' ports, as ``ports`` names them
        (the drummer on jamd's own virtual port if it names none and ``virtual`` is on)."""
        if ports.drummer is not None:
            self.add("drummer", PortConfig("drummer", str(ports.drummer), False, api))
        elif ports.virtual:
            self.add("drummer", PortConfig("in", None, True, api))
        if ports.keyboard is not None:
            self.add("keyboard", PortConfig("keyboard", str(ports.keyboard), False, api))
        for i, pattern in enumerate(ports.controllers):
            self.add("controller", PortConfig(f"controller{i + 1}", str(pattern), False, api))

    def add(self, role: str, cfg: PortConfig) -> ManagedInput:
        port = ManagedInput(cfg).open(wait=True)
        self.ports.append((role, port))
        self._found(role, port)
        return port

    def drain(self, now: int) -> Iterator[tuple[str, InputPort, Any, int]]:
        """(role, port, message, arrival ns) of everything received up to ``now``."""
        for role, port in self.ports:
            for msg, t in port.poll(now):
                yield role, port, msg, t

    def check(self) -> None:
        for role, port in self.ports:
            if port.check() is PortChange.BACK:
                self._found(role, port)

    def close(self) -> None:
        for _, port in self.ports:
            port.close()
        self.ports.clear()

    def _found(self, role: str, port: InputPort) -> None:
        if not port.lost and port.name is not None:
            self.on_found(role, port.name)


class Controllers:
    """A :class:`Mapper` per controller port, chosen by the port's name, all on the one store
    of control values: a knob on one device hands over to a knob on another, and every knob
    sees what OSC, a reseed or a scene glide moved."""

    def __init__(self, store: TargetValues) -> None:
        self.store = store
        self.mappers: dict[str, Mapper] = {}

    def attach(self, port_name: str, mappings: list[Mapping]) -> None:
        """A controller port opened: it gets the first of ``mappings`` that fits its name."""
        mapping = select_mapping(mappings, port_name)
        if mapping is None:
            log.warning("no mapping fits controller %s: it is ignored", port_name)
            return
        self.mappers[port_name] = Mapper(mapping, self.store)
        log.info("controller %s: mapping %s", port_name, mapping.name)

    def reload(self, mappings: list[Mapping]) -> None:
        """The mapping files again (SIGHUP): each port takes the one that fits it now, or keeps
        its own; the values stay and the knobs take them over again."""
        self.mappers = {
            name: Mapper(select_mapping(mappings, name) or m.mapping, self.store)
            for name, m in self.mappers.items()
        }

    def feed(self, port_name: str | None, msg: Any, now_s: float) -> list[ControlEvent]:
        """One message from a controller port (one without a mapping is ignored)."""
        mapper = self.mappers.get(port_name) if port_name is not None else None
        return mapper.feed(msg, now_s) if mapper is not None else []

    def tick(self, now_s: float) -> list[ControlEvent]:
        """What moves by itself: smoothing, pads gliding home."""
        return [ev for m in self.mappers.values() for ev in m.tick(now_s)]


class Keyboard:
    """A keyboard player's hands: the chord held (:class:`jamd.music.harmony.HeldChord`), as the
    chords of a window of ``steps`` when it changes."""

    def __init__(self, steps: int) -> None:
        self.held = HeldChord()
        self.steps = steps

    def feed(self, msg: Sequence[int]) -> Chords | None:
        """One message from the keyboard's port: the new chord, or None when it did not change."""
        chord = self.held.feed(msg)
        if chord is None:
            return None
        log.info("keyboard chord %s%s", NOTE_NAMES[chord[0]], QUALITIES[chord[1]])
        return Chords.constant(*chord, self.steps)

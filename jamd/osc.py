"""OSC control and state reports (pyliblo3), the same controls as the controller mappings.

liblo binds every interface, so who may talk to jamd is decided here, per message, from its
source address: by default only this machine. Messages from elsewhere, with unknown addresses or
with bad arguments are dropped and counted (``stats``), never raised.
"""
from __future__ import annotations

import ipaddress
import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import pyliblo3 as liblo

from jamd.drumkit import VOICES
from jamd.targets import TARGETS

log = logging.getLogger(__name__)

#: address -> the control targets its arguments set, in order (see docs/osc.md). Targets are
#: the names the controller mappings use. Addresses without arguments are triggers (value 1.0).
CONTROLS: dict[str, tuple[str, ...]] = {
    "/jamd/drums/xy": ("drums.x", "drums.y"),
    "/jamd/drums/x": ("drums.x",),
    "/jamd/drums/y": ("drums.y",),
    "/jamd/bass/xy": ("bass.x", "bass.y"),
    "/jamd/bass/x": ("bass.x",),
    "/jamd/bass/y": ("bass.y",),
    "/jamd/density": ("density",),
    "/jamd/temperature": ("temperature",),
    "/jamd/timing": ("timing",),
    "/jamd/tempo": ("tempo",),
    "/jamd/tap": ("tap",),
    "/jamd/reseed": ("reseed",),
    "/jamd/hold": ("hold",),
    "/jamd/play": ("transport.play",),
    "/jamd/stop": ("transport.stop",),
    "/jamd/panic": ("panic",),
    "/jamd/mute/drums": ("mute.drums",),
    "/jamd/mute/bass": ("mute.bass",),
    **{f"/jamd/mute/{v}": (f"mute.{v}",) for v in VOICES},
}
#: ``/jamd/chord s`` sets the harmony for the bass ("Am7", "F#", "Bb maj7").
CHORD_ADDRESS = "/jamd/chord"

ControlSink = Callable[[str, float | str], None]


@dataclass
class OscSettings:
    port: int = 9000
    allow: Sequence[str] = ("127.0.0.1/32", "::1/128")   # networks allowed to send controls
    report_to: Sequence[str] = ()                          # "host:port" targets for state


@dataclass
class OscStats:
    received: int = 0
    rejected_source: int = 0
    rejected_message: int = 0
    last_rejected_source: str = ""


@dataclass
class OscControl:
    settings: OscSettings
    sink: ControlSink
    stats: OscStats = field(default_factory=OscStats)

    def __post_init__(self) -> None:
        self._allowed = [ipaddress.ip_network(a, strict=False) for a in self.settings.allow]
        try:
            self.server = liblo.Server(self.settings.port)
        except liblo.ServerError as e:
            raise OSError(f"cannot listen for OSC on UDP port {self.settings.port}: {e}") from e
        self.server.add_method(None, None, self._on_message)
        self._targets = [_address(t) for t in self.settings.report_to]

    def allowed(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self._allowed)

    def poll(self, timeout_ms: int = 0) -> None:
        """Handle what has arrived (waiting up to ``timeout_ms`` for the first message)."""
        while self.server.recv(timeout_ms):
            timeout_ms = 0

    def close(self) -> None:
        self.server.free()

    def report(self, path: str, *args: float | int | str) -> None:
        """Send one state message to every report target (UDP: fire and forget)."""
        for target in self._targets:
            liblo.send(target, path, *args)

    def _on_message(self, path: str, args: list, types: str, src: liblo.Address) -> None:
        self.stats.received += 1
        if not self.allowed(src.hostname):
            self.stats.rejected_source += 1
            self.stats.last_rejected_source = src.hostname
            log.debug("OSC from %s refused (not in allow list)", src.hostname)
            return
        if path == CHORD_ADDRESS and types == "s":
            self.sink("chord", args[0])
            return
        targets = CONTROLS.get(path)
        values = _values(targets, args) if targets else None
        if values is None:
            self.stats.rejected_message += 1
            log.debug("OSC message refused: %s %s", path, types)
            return
        for target, value in zip(targets, values):
            self.sink(target, value)


def _values(targets: tuple[str, ...], args: list) -> list[float] | None:
    """The arguments as floats in range, or None when they do not fit the address."""
    if not args and len(targets) == 1:
        return [1.0]                      # a trigger, or a switch sent without a value: on
    if len(args) != len(targets):
        return None
    values = []
    for target, a in zip(targets, args):
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not math.isfinite(a):
            return None
        # Out of range (or NaN) is dropped, not clamped: a sender that sends 500 for a pad
        # position is broken, and guessing would move the music.
        spec = TARGETS[target]
        if not spec.lo <= a <= spec.hi:
            return None
        values.append(float(a))
    return values


def _address(target: str) -> liblo.Address:
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"OSC report target must be host:port, got {target!r}")
    return liblo.Address(host, int(port))

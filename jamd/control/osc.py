"""OSC control and state reports (pyliblo3), the same controls as the controller mappings.

liblo binds every interface, so who may talk to jamd is decided here, per message, from its
source address: by default only this machine. Messages from elsewhere, with unknown addresses or
with bad arguments are dropped and counted (``stats``), never raised.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyliblo3 as liblo

from jamd.base.errors import UserError
from jamd.control.scenes import COUNT as SCENE_COUNT
from jamd.control.scenes import GLIDE_TARGET, MAX_GLIDE_S
from jamd.control.targets import CHORD_TARGET, TARGETS
from jamd.music.drumkit import VOICES

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
#: ``/jamd/scene/store i`` and ``/jamd/scene/recall i [f glide_s]``: scene slots 1..8.
SCENE_ADDRESSES = ("/jamd/scene/store", "/jamd/scene/recall")

ControlSink = Callable[[str, float | str], None]


@dataclass
class OscSettings:
    port: int = 9000
    allow: Sequence[str] = ("127.0.0.1/32", "::1/128")  # networks allowed to send controls
    report_to: Sequence[str] = ()  # "host:port" targets for state


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
        self.server = _listen(self.settings.port)
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
            self.sink(CHORD_TARGET, args[0])
            return
        events = _scene_events(path, args) if path in SCENE_ADDRESSES else _control_events(path, args)
        if events is None:
            self.stats.rejected_message += 1
            log.debug("OSC message refused: %s %s", path, types)
            return
        for target, value in events:
            self.sink(target, value)


class OscPortBusy(UserError):
    """The UDP port is taken (another jamd, or one of the many tools that use 9000)."""


def _listen(port: int) -> liblo.Server:
    try:
        return liblo.Server(port)
    except liblo.ServerError:
        # liblo's own text ("cannot find free port") says less than this
        raise OscPortBusy(
            f"cannot listen for OSC on UDP port {port}: another program uses it "
            "(choose another osc.port in the config, or osc.enabled: false)"
        ) from None


def port_free(port: int) -> bool:
    """Whether OSC could listen on ``port`` now (liblo's own bind, released at once)."""
    try:
        _listen(port).free()
    except OscPortBusy:
        return False
    return True


def _number(a) -> bool:
    return not isinstance(a, bool) and isinstance(a, (int, float)) and math.isfinite(a)


def _control_events(path: str, args: list) -> list[tuple[str, float]] | None:
    targets = CONTROLS.get(path)
    if targets is None:
        return None
    values = _values(targets, args)
    return None if values is None else list(zip(targets, values))


def _scene_events(path: str, args: list) -> list[tuple[str, float]] | None:
    """A scene store or recall (with a one-off glide time, if given) as control events; None
    when the arguments do not fit (no slot number, a slot out of 1..8, a bad glide time)."""
    action = path.rsplit("/", 1)[1]
    if not 1 <= len(args) <= (2 if action == "recall" else 1):
        return None
    n = args[0]
    if not _number(n) or n != int(n) or not 1 <= n <= SCENE_COUNT:
        return None
    events = [(f"scene.{action}.{int(n)}", 1.0)]
    if len(args) == 2:
        if not _number(args[1]) or not 0 <= args[1] <= MAX_GLIDE_S:
            return None
        events.insert(0, (GLIDE_TARGET, float(args[1])))
    return events


def _values(targets: tuple[str, ...], args: list) -> list[float] | None:
    """The arguments as floats in range, or None when they do not fit the address."""
    if not args and len(targets) == 1:
        return [1.0]  # a trigger, or a switch sent without a value: on
    if len(args) != len(targets):
        return None
    values = []
    for target, a in zip(targets, args):
        if not TARGETS[target].accepts(a):
            return None
        values.append(float(a))
    return values


def _address(target: str) -> liblo.Address:
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"OSC report target must be host:port, got {target!r}")
    return liblo.Address(host, int(port))

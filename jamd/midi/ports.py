"""MIDI ports by name, never by index, with the MIDI API chosen explicitly.

python-rtmidi defaults to ALSA on Linux and does not fall back to JACK, and neither it nor mido
says anything when a device is unplugged. So jamd

* names the API (``alsa``, ``jack``, ``coremidi``, ``winmm``) and fails with a clear message
  when it is not there;
* finds a port by a pattern (exact name, else a case-insensitive substring or a glob) and, when
  nothing matches, raises an error that lists the ports that do exist;
* polls the port list (:meth:`ManagedOutput.check`, a ~0.1 ms call on JACK, run by the engine
  at a quiet moment) to notice that a port went away, and re-opens it by the same pattern when
  it comes back (JACK may give the returning client a new suffix, e.g. ``synth-01:in``);
* can open its own virtual ports instead (ALSA/JACK/CoreMIDI): ``jamd:drums``, ``jamd:bass``,
  ``jamd:in``. rtmidi makes one client per port; JACK needs unique client names, so there the
  names are ``jamd-drums:out``, ``jamd-bass:out``, ``jamd-in:in`` (see :func:`virtual_name`).
"""

from __future__ import annotations

import importlib.metadata
import logging
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

# A daemon must not start a JACK server behind the user's back (libjack does by default).
os.environ.setdefault("JACK_NO_START_SERVER", "1")

import rtmidi  # noqa: E402

from jamd.base.cstderr import c_stderr_to_log  # noqa: E402
from jamd.base.errors import UserError  # noqa: E402
from jamd.midi.portmatch import PortPattern  # noqa: E402

log = logging.getLogger(__name__)

APIS: dict[str, int] = {
    "alsa": rtmidi.API_LINUX_ALSA,
    "jack": rtmidi.API_UNIX_JACK,
    "coremidi": rtmidi.API_MACOSX_CORE,
    "winmm": rtmidi.API_WINDOWS_MM,
}
CLIENT = "jamd"


class PortError(UserError):
    """A port could not be found or opened: the message says which ports exist."""


#: The local version label scripts/bootstrap gives python-rtmidi built with jamd's JACK fixes
#: (requirements/patches/python-rtmidi-jack.patch; docs/reliability.md).
JACK_FIX_LABEL = "+jamd3"


def rtmidi_version() -> str:
    return importlib.metadata.version("python-rtmidi")


def compiled_apis() -> list[str]:
    have = set(rtmidi.get_compiled_api())
    return [name for name, code in APIS.items() if code in have]


def default_api() -> str:
    """The platform's own API; on Linux ALSA when its sequencer exists, else JACK."""
    if sys.platform == "darwin":
        return "coremidi"
    if sys.platform.startswith("win"):
        return "winmm"
    return "alsa" if os.path.exists("/dev/snd/seq") else "jack"


def api_code(api: str) -> int:
    if api not in APIS:
        raise PortError(f"unknown MIDI API {api!r} (choose from {', '.join(APIS)})")
    if api not in compiled_apis():
        raise PortError(
            f"MIDI API {api!r} is not available in this python-rtmidi "
            f"(available: {', '.join(compiled_apis()) or 'none'})"
        )
    return APIS[api]


def _make(kind: str, api: str, client: str) -> rtmidi.MidiIn | rtmidi.MidiOut:
    cls = rtmidi.MidiIn if kind == "input" else rtmidi.MidiOut
    try:
        with c_stderr_to_log(log, "MIDI"):
            return cls(rtapi=api_code(api), name=client)
    except rtmidi.SystemError as e:
        hint = " (start jackd first)" if api == "jack" else ""
        raise PortError(f"cannot use MIDI API {api}: {e}{hint}") from e


#: How often a port list is read again when it changed while being read (next function).
LIST_TRIES = 3


def port_names(dev: rtmidi.MidiIn | rtmidi.MidiOut) -> list[str]:
    """The ports ``dev`` can connect to. rtmidi counts them, then asks each one's name: a port
    that goes away in between raises ``InvalidPortError`` (seen over JACK: 11 in 74,000
    listings while another client registered and closed ports; for jamd, a device unplugged
    at the moment it polls, and the exception ended the engine's loop or the daemon's). So a
    list that changed is read again."""
    for _ in range(LIST_TRIES - 1):
        try:
            return dev.get_ports()
        except rtmidi.InvalidPortError:
            log.debug("the port list changed while it was read; reading it again")
    return dev.get_ports()


@dataclass
class PortList:
    api: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    error: str | None = None


def list_ports(api: str) -> PortList:
    """Inputs (ports jamd can read from) and outputs (ports jamd can send to) of one API."""
    out = PortList(api)
    try:
        midi_in = _make("input", api, f"{CLIENT}-list")
        midi_out = _make("output", api, f"{CLIENT}-list")
    except PortError as e:
        out.error = str(e)
        return out
    try:
        out.inputs = port_names(midi_in)
        out.outputs = port_names(midi_out)
    finally:
        midi_in.delete()
        midi_out.delete()
    return out


def match_port(names: Sequence[str], pattern: str) -> list[str]:
    """Ports a pattern names, read as the config reads it (:mod:`jamd.midi.portmatch`): the exact
    name if present, else every port that contains it (case-insensitive), matches it as a
    glob, or, written ``/between slashes/``, matches it as a regular expression."""
    try:
        return PortPattern(pattern).match(list(names))
    except re.error as e:  # the config checks its patterns; `jamd learn --port` does not
        raise PortError(f"port {pattern!r}: bad regular expression: {e}") from None


def find_port(names: Sequence[str], pattern: str, kind: str, api: str) -> str:
    """The one port a pattern names, or a :class:`PortError` listing what exists."""
    found = match_port(names, pattern)
    if len(found) == 1:
        return found[0]
    listing = ", ".join(repr(n) for n in names) or "none"
    if not found:
        raise PortError(f"no MIDI {kind} port matches {pattern!r} on {api}; {kind} ports: {listing}")
    raise PortError(
        f"{pattern!r} matches several MIDI {kind} ports on {api}: "
        f"{', '.join(repr(n) for n in found)}; give more of the name"
    )


def virtual_name(api: str, role: str, kind: str = "output") -> tuple[str, str]:
    """(client name, port name) of jamd's own virtual port for a role ("drums", "bass", "in")."""
    if api == "jack":
        return f"{CLIENT}-{role}", "in" if kind == "input" else "out"
    return CLIENT, role


def virtual_full_name(api: str, role: str, kind: str = "output") -> str:
    client, port = virtual_name(api, role, kind)
    return f"{client}:{port}"


@dataclass
class PortConfig:
    """One logical port: a pattern to find an existing port, or ``virtual`` to offer one."""

    role: str  # "drums", "bass", "clock", "in", ...
    pattern: str | None = None
    virtual: bool = False
    api: str = field(default_factory=default_api)


class PortChange(Enum):
    """What :meth:`ManagedOutput.check` / :meth:`ManagedInput.check` found in the port list."""

    LOST = "lost"  # our port went away: nothing is sent to it until it is back
    BACK = "back"  # re-found by its pattern and re-opened (or, waited for since start, appeared)


_M = TypeVar("_M", bound="_Managed")


class _Managed:
    kind = "output"

    def __init__(self, cfg: PortConfig) -> None:
        if not cfg.virtual and not cfg.pattern:
            raise PortError(f"{cfg.role}: give a port name pattern or ask for a virtual port")
        self.cfg = cfg
        self.name: str | None = None  # the port we are connected to (None while lost)
        self.lost = False
        self._dev: rtmidi.MidiIn | rtmidi.MidiOut | None = None

    @property
    def client_name(self) -> str:
        return (
            virtual_name(self.cfg.api, self.cfg.role, self.kind)[0]
            if self.cfg.virtual
            else f"{CLIENT}-{self.cfg.role}"
        )

    def _new_device(self) -> rtmidi.MidiIn | rtmidi.MidiOut:
        return _make(self.kind, self.cfg.api, self.client_name)

    def _configure(self, dev) -> None:  # for inputs
        pass

    def open(self: _M, wait: bool = False) -> _M:
        """Open now; an unknown name raises :class:`PortError` listing the ports that exist.

        ``wait``: a name that matches nothing yet is not an error but a port to wait for
        (a Pi boots before its USB devices are enumerated): the port starts out ``lost``, one
        warning names it and the ports that do exist, and :meth:`check` opens it when it
        appears. A name matching several ports still raises: waiting would not fix it."""
        dev = self._new_device()
        try:
            self._configure(dev)
            if self.cfg.virtual:
                port = virtual_name(self.cfg.api, self.cfg.role, self.kind)[1]
                dev.open_virtual_port(port)
                self.name = f"{self.client_name}:{port}"
            else:
                names = port_names(dev)
                if wait and not match_port(names, self.cfg.pattern or ""):
                    return self._wait_for(dev, names)
                self.name = find_port(names, self.cfg.pattern or "", self.kind, self.cfg.api)
                dev.open_port(names.index(self.name), self.cfg.role)
        except BaseException:
            dev.delete()
            raise
        self._dev = dev
        self.lost = False
        log.info("%s %s: %s (%s)", self.kind, self.cfg.role, self.name, self.cfg.api)
        return self

    def _wait_for(self: _M, dev: rtmidi.MidiIn | rtmidi.MidiOut, names: Sequence[str]) -> _M:
        """Keep the device (its port list is what :meth:`check` polls) with no port open."""
        self._dev, self.name, self.lost = dev, None, True
        listing = ", ".join(repr(n) for n in names) or "none"
        log.warning(
            "%s %s: no port matches %r on %s yet; waiting for it (%s ports now: %s)",
            self.kind,
            self.cfg.role,
            self.cfg.pattern,
            self.cfg.api,
            self.kind,
            listing,
        )
        return self

    def check(self) -> PortChange | None:
        """Poll the port list: :attr:`PortChange.LOST` when our port went away,
        :attr:`PortChange.BACK` when it was re-found and re-opened, else None. Virtual ports
        are ours and never go away."""
        if self.cfg.virtual or self._dev is None:
            return None
        names = port_names(self._dev)
        if not self.lost:
            if self.name in names:
                return None
            self.lost = True
            log.warning(
                "%s %s: %s went away; waiting for %r to return",
                self.kind,
                self.cfg.role,
                self.name,
                self.cfg.pattern,
            )
            return PortChange.LOST
        found = match_port(names, self.cfg.pattern or "")
        if len(found) != 1:
            return None
        try:
            self._dev.close_port()
            self._dev.open_port(names.index(found[0]), self.cfg.role)
        except (rtmidi.RtMidiError, ValueError) as e:  # it went again between list and open
            log.info("%s %s: reopening %s failed: %s", self.kind, self.cfg.role, found[0], e)
            return None
        first = self.name is None  # waited for since start (``open(wait=True)``)
        self.name, self.lost = found[0], False
        log.info("%s %s: %s %s", self.kind, self.cfg.role, self.name, "appeared" if first else "is back")
        return PortChange.BACK

    def close(self) -> None:
        if self._dev is not None:
            try:
                self._dev.close_port()
            finally:
                self._dev.delete()
                self._dev = None


#: JACK delivers what a client sent during the process cycle that takes it from rtmidi's
#: buffer (asynchronous mode: the next one); a port unregistered before its readers ran loses
#: those messages - the note-offs sent on the way out (seen: 2 notes left sounding in 1 stop
#: in 7 on `jackd -S`). So closing waits this long after the last message: two periods of
#: 2048 frames at 48 kHz.
JACK_DRAIN_S = 0.1


class ManagedOutput(_Managed):
    kind = "output"

    def __init__(self, cfg: PortConfig) -> None:
        super().__init__(cfg)
        self._last_sent = -math.inf  # time.monotonic() of the last message

    def send(self, msg: list[int]) -> bool:
        """Send unless the port is known lost; False when nothing was sent."""
        if self.lost or self._dev is None:
            return False
        self._dev.send_message(msg)
        self._last_sent = time.monotonic()
        return True

    def close(self) -> None:
        if self.cfg.api == "jack" and self._dev is not None:
            rest = self._last_sent + JACK_DRAIN_S - time.monotonic()
            if rest > 0:
                time.sleep(rest)
        super().close()


class ManagedInput(_Managed):
    """An input read by polling (:meth:`poll`) from the engine's own loop.

    Not a callback: python-rtmidi runs callbacks in the MIDI API's thread, which must take the
    GIL; on JACK that thread is the client's process thread, and a process thread waiting for
    a spinning Python loop to let go of the GIL stalls the JACK server for every client (seen
    here: clients failing to (de)activate, "Could not read result"). Timestamps come from
    rtmidi's per-message delta times, measured in the MIDI thread, anchored on the monotonic
    clock and never allowed to run ahead of the time the message was read."""

    kind = "input"

    def __init__(self, cfg: PortConfig, max_age_ns: int = 5_000_000) -> None:
        super().__init__(cfg)
        self._last_ns: int | None = None
        self.max_age_ns = max_age_ns

    def _configure(self, dev) -> None:
        dev.ignore_types(sysex=True, timing=False, active_sense=True)

    def poll(self, now_ns: int) -> list[tuple[list[int], int]]:
        """Every message waiting, with its arrival time (ns, perf_counter_ns clock)."""
        if self._dev is None:
            return []
        out: list[tuple[list[int], int]] = []
        get = self._dev.get_message
        while True:
            ev = get()
            if ev is None:
                return out
            msg, delta = ev
            t = now_ns if self._last_ns is None else self._last_ns + int(delta * 1e9)
            if t > now_ns or t < now_ns - self.max_age_ns:
                t = now_ns  # first message, or the delta chain drifted: re-anchor
            self._last_ns = t
            out.append((msg, t))


def open_output(cfg: PortConfig) -> ManagedOutput:
    return ManagedOutput(cfg).open()

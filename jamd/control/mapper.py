"""The run-time side of a controller mapping: raw MIDI in, ``(target, value)`` control events out.

Pure logic, no ports and no clock: the daemon calls

* ``feed(msg, now)`` for each message from the controller's port (a ``mido.Message`` or raw
  ``[status, data1, data2]`` bytes as python-rtmidi delivers them), and
* ``tick(now)`` often (every few ms, or at least once a step) for what moves by itself: smoothing
  and an XY pad gliding home after release,

and acts on the :class:`ControlEvent` s both return. ``now`` is seconds on any monotonic clock.

The values live in one store, a :class:`jamd.control.targets.TargetValues` (``jamd run``'s is its
``Performance``): a Mapper writes what its controls set there as it goes, and its events repeat
those values for whoever acts on changes (applying them again changes nothing); a trigger holds
no value and only comes as an event.

Takeover: the engine moves targets on its own (a reseed moves the latent; OSC moves anything),
and a knob does not move with it. The store holds the new value, and a knob that last set
something else no longer drives it: one in ``pickup`` does nothing until it passes the new
value, one in ``scale`` closes the gap as it moves. A smoothing or a glide under way ends when
anything else moves its target. Several Mappers (one per controller port) share the store, so a
knob on one device also hands over correctly to a knob on another. To reload a mapping, load
the file first (a bad file raises and the running Mapper stays), then ``Mapper(new_mapping,
store)``: the values stay where they are and the knobs pick them up again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from jamd.control.ctlparse import MAX7, ChannelParser, Raw, RawKind, Source, Value, normalize
from jamd.control.mapping import ControlSpec, Curve, GateSpec, Mapping, Relative
from jamd.control.targets import Kind, TargetValues

#: How close (share of the control's travel) a knob must come to the value to pick it up.
PICKUP_TOLERANCE = 0.02
#: Changes smaller than this are not worth an event (well below a 14-bit step).
EPSILON = 1e-6


class ControlEvent(NamedTuple):
    target: str
    value: float


# ------------------------------------------------------------------------- value shaping


def _exp(u: float, k: float) -> float:
    return math.expm1(k * u) / math.expm1(k)


def _exp_inv(u: float, k: float) -> float:
    return math.log1p(u * math.expm1(k)) / k


#: curve -> (forward, inverse) on [0, 1]. `exp` is fine at the bottom (tempo, frequencies);
#: `log` is its mirror, fine at the top. The inverse serves relative encoders.
CURVES: dict[Curve, tuple[Callable[[float, float], float], Callable[[float, float], float]]] = {
    "linear": (lambda u, k: u, lambda u, k: u),
    "exp": (_exp, _exp_inv),
    "log": (lambda u, k: 1 - _exp(1 - u, k), lambda u, k: 1 - _exp_inv(1 - u, k)),
}


def deadzone(u: float, width: float) -> float:
    """A detent of ``width`` (share of the travel) around the centre that reads as the centre;
    the rest is stretched so both ends are still reached."""
    if width <= 0:
        return u
    half = width / 2
    if abs(u - 0.5) <= half:
        return 0.5
    return u / (1 - width) if u < 0.5 else (u - width) / (1 - width)


def decode_relative(value: int, encoding: Relative) -> int:
    """Steps from one relative-encoder CC value (positive = clockwise).

    * ``twos_complement``: 1..63 up, 127..65 = -1..-63 (Ableton "Relative (2's Comp.)")
    * ``offset64`` (binary offset): 65..127 = +1..+63, 63..0 = -1..-64
    * ``sign_magnitude``: 1..63 up, 65..127 = -1..-63 (bit 6 is the sign)
    """
    if encoding == "twos_complement":
        return value - 128 if value >= 64 else value
    if encoding == "offset64":
        return value - 64
    if encoding == "sign_magnitude":
        return -(value - 64) if value >= 64 else value
    raise ValueError(f"unknown relative encoding {encoding!r}")


@dataclass
class _Motion:
    """A target moving by itself: exponential smoothing towards ``goal`` (``tau`` seconds), or a
    linear glide from ``start`` reaching ``goal`` after ``duration`` seconds."""

    goal: float
    value: float
    last: float  # time of the last step
    tau: float = 0.0
    start: float = 0.0
    t0: float = 0.0
    duration: float = 0.0

    def step(self, now: float) -> float:
        if self.duration > 0:
            a = min(max((now - self.t0) / self.duration, 0.0), 1.0)
            self.value = self.start + (self.goal - self.start) * a
        elif now > self.last:
            self.value += (self.goal - self.value) * (1 - math.exp(-(now - self.last) / self.tau))
        self.last = now
        if abs(self.goal - self.value) < 1e-4:
            self.value = self.goal
        return self.value

    @property
    def done(self) -> bool:
        return self.value == self.goal


@dataclass
class _Control:
    """One control's run-time state."""

    name: str
    spec: ControlSpec
    engaged: bool = False  # takeover: the knob drives the value
    prev_u: float | None = None  # the knob's last position (0..1, after the curve)
    last_sent: float | None = None  # the last value this control set
    pressed: bool = False
    pending: float | None = None  # a gated position received while the gate was shut

    def to_u(self, value: float) -> float:
        lo, hi = self.spec.lo_hi
        return min(max((value - lo) / (hi - lo), 0.0), 1.0)

    def from_u(self, u: float) -> float:
        lo, hi = self.spec.lo_hi
        return self.spec.target.spec.clamp(lo + (hi - lo) * u)


@dataclass
class _Gate:
    name: str
    spec: GateSpec
    open: bool = False
    controls: list[_Control] = field(default_factory=list)


class Mapper:
    """Turns one controller's messages into control events, per its :class:`Mapping`."""

    def __init__(self, mapping: Mapping, store: TargetValues) -> None:
        self.mapping = mapping
        self.store = store
        self._by_key: dict[tuple[Source, int, int], list[_Control]] = {}
        self._gates_by_key: dict[tuple[Source, int, int], list[_Gate]] = {}
        self._gates: dict[str, _Gate] = {n: _Gate(n, g) for n, g in mapping.gates.items()}
        self._motions: dict[str, _Motion] = {}
        pairs: dict[int, dict[int, int]] = {}
        nrpn_channels: set[int] = set()
        for name, spec in mapping.controls.items():
            c = _Control(name, spec)
            ch, src = mapping.channel_of(spec), spec.source
            self._by_key.setdefault((src, ch, spec.number), []).append(c)
            if src is Source.CC14:
                pairs.setdefault(ch, {})[spec.number] = spec.lsb_cc
            elif src is Source.NRPN:
                nrpn_channels.add(ch)
            if spec.gate is not None:
                self._gates[spec.gate].controls.append(c)
        for g in self._gates.values():
            key = (g.spec.source, mapping.channel_of(g.spec), g.spec.number)
            self._gates_by_key.setdefault(key, []).append(g)
        self._parsers = {
            ch: ChannelParser(pairs.get(ch, {}), ch in nrpn_channels) for ch in set(pairs) | nrpn_channels
        }
        self._plain = ChannelParser()  # channels without 14-bit or NRPN controls
        self.received = 0  # messages fed (for status and OSC reports)
        self.ignored = 0  # of those, not a channel CC or note, or malformed

    # ------------------------------------------------------------------------- public

    def feed(self, msg: Any, now: float | None = None) -> list[ControlEvent]:
        now = time.monotonic() if now is None else now
        self.received += 1
        raw = normalize(msg)
        if raw is None:
            self.ignored += 1
            return []
        out: list[ControlEvent] = []
        for gate in self._gate_hits(raw):
            self._gate_change(gate, self._is_press(raw), now, out)
        if raw.kind is RawKind.CC:
            parsed = self._parsers.get(raw.channel, self._plain).cc(raw.number, raw.value)
            if parsed is not None:
                for c in self._by_key.get((parsed.kind, raw.channel, parsed.number), ()):
                    self._value(c, parsed, raw, now, out)
        else:
            for c in self._by_key.get((Source.NOTE, raw.channel, raw.number), ()):
                self._value(c, Value(Source.NOTE, raw.number, raw.value, MAX7), raw, now, out)
        return out

    def tick(self, now: float | None = None) -> list[ControlEvent]:
        now = time.monotonic() if now is None else now
        out: list[ControlEvent] = []
        for target in list(self._motions):
            m = self._motion(target)
            if m is None:
                continue
            before = self.store.values[target]
            value = m.step(now)
            if abs(value - before) > EPSILON:
                self._set(target, value, out)
            if m.done:
                del self._motions[target]
        return out

    # ---------------------------------------------------------------------- internals

    def _gate_hits(self, raw: Raw) -> list[_Gate]:
        source = Source.CC if raw.kind is RawKind.CC else Source.NOTE
        return self._gates_by_key.get((source, raw.channel, raw.number), [])

    @staticmethod
    def _is_press(raw: Raw) -> bool:
        return raw.kind is RawKind.NOTE_ON or (raw.kind is RawKind.CC and raw.value >= 64)

    def _motion(self, target: str) -> _Motion | None:
        """The target's smoothing or glide under way, while the store still holds the value it
        last set: a move from anywhere else (OSC, a reseed, a scene glide, another controller)
        ends it."""
        m = self._motions.get(target)
        if m is not None and abs(self.store.values[target] - m.value) > EPSILON:
            del self._motions[target]
            return None
        return m

    def _intended(self, target: str) -> float:
        """Where a target is going: the goal of its smoothing or glide, else its value."""
        m = self._motion(target)
        return m.goal if m is not None else self.store.values[target]

    def _set(self, target: str, value: float, out: list[ControlEvent], by: _Control | None = None) -> None:
        self.store.set(target, value)
        if by is not None:
            by.last_sent = value
        out.append(ControlEvent(target, value))

    def _emit(self, c: _Control, value: float, now: float, out: list[ControlEvent]) -> None:
        """Set a continuous target now, or start smoothing towards it."""
        target = c.spec.target
        c.last_sent = value
        if c.spec.smoothing > 0:
            m = self._motion(target)
            if m is None or m.duration > 0:
                m = _Motion(value, self.store.values[target], now, tau=c.spec.smoothing)
                self._motions[target] = m
            m.goal = value
            return
        self._motions.pop(target, None)
        if abs(value - self.store.values[target]) > EPSILON:
            self._set(target, value, out, c)

    def _value(self, c: _Control, v: Value, raw: Raw, now: float, out: list[ControlEvent]) -> None:
        spec = c.spec
        if spec.is_button:
            self._button(c, raw, out)
        elif v.step:
            self._relative(c, v.step, now, out)
        elif spec.relative is not None:
            self._relative(c, decode_relative(v.value, spec.relative), now, out)
        elif raw.kind is not RawKind.NOTE_OFF:  # a pad's release is not a position
            self._absolute(c, self._unit(c, v), now, out)

    @staticmethod
    def _unit(c: _Control, v: Value) -> float:
        """Raw value -> position in [0, 1] after invert, deadzone and curve."""
        if c.spec.bits == 7:
            u = (v.value >> 7) / MAX7
        else:
            u = v.value / v.full
        if c.spec.invert:
            u = 1.0 - u
        u = deadzone(u, c.spec.deadzone)
        return CURVES[c.spec.curve][0](u, c.spec.curve_amount)

    def _absolute(self, c: _Control, u: float, now: float, out: list[ControlEvent]) -> None:
        gate = self._gates.get(c.spec.gate) if c.spec.gate is not None else None
        if gate is not None and not gate.open:
            c.pending = u
            return
        taken = self._takeover(c, u)
        if taken is not None:
            self._emit(c, c.from_u(taken), now, out)

    def _takeover(self, c: _Control, u: float) -> float | None:
        """The position to apply, or None while the knob has not taken over."""
        mode = c.spec.takeover_mode
        if mode == "jump":
            return u
        current = self._intended(c.spec.target)
        if c.last_sent is None or abs(current - c.last_sent) > EPSILON:
            c.engaged = False  # someone else moved the value since this knob did
        if c.engaged:
            c.prev_u = u
            return u
        cur_u, prev = c.to_u(current), c.prev_u
        c.prev_u = u
        if abs(u - cur_u) <= PICKUP_TOLERANCE or (prev is not None and (prev - cur_u) * (u - cur_u) <= 0):
            c.engaged = True
            return u
        if mode == "pickup" or prev is None or u == prev:
            return None
        # scale: move the value by the knob's move, scaled so both reach the end together
        if u > prev:
            return cur_u + (u - prev) * (1 - cur_u) / (1 - prev)
        return cur_u - (prev - u) * cur_u / prev

    def _relative(self, c: _Control, steps: int, now: float, out: list[ControlEvent]) -> None:
        if steps == 0:
            return
        fwd, inv = CURVES[c.spec.curve]
        k = c.spec.curve_amount
        base = self._intended(c.spec.target)
        direction = -1 if c.spec.invert else 1
        pre = inv(c.to_u(base), k) + direction * steps * c.spec.step
        self._emit(c, c.from_u(fwd(min(max(pre, 0.0), 1.0), k)), now, out)

    def _button(self, c: _Control, raw: Raw, out: list[ControlEvent]) -> None:
        if raw.kind is RawKind.CC:
            pressed = raw.value >= 64
        else:
            pressed = raw.kind is RawKind.NOTE_ON
        was, c.pressed = c.pressed, pressed
        if pressed == was:
            return  # repeated press/release messages change nothing
        spec, target = c.spec, c.spec.target
        mode = spec.button_mode
        if mode == "hold":
            value = 1.0 if pressed else 0.0
        elif not pressed:
            return
        elif mode == "toggle":
            value = 0.0 if self.store.values[target] >= 0.5 else 1.0
        else:
            value = spec.value if spec.value is not None else 1.0
        if target.spec.kind is Kind.TRIGGER:
            out.append(ControlEvent(target, 1.0))
        else:
            self._motions.pop(target, None)
            self._set(target, value, out, c)

    def _gate_change(self, gate: _Gate, opened: bool, now: float, out: list[ControlEvent]) -> None:
        if opened == gate.open:
            return
        gate.open = opened
        if opened:
            for c in gate.controls:
                self._motions.pop(c.spec.target, None)
                if c.pending is not None:
                    u, c.pending = c.pending, None
                    self._absolute(c, u, now, out)
            return
        release = gate.spec.release
        if release == "hold":
            return
        for c in gate.controls:
            target = c.spec.target
            if target.spec.kind is Kind.TRIGGER:
                continue  # a trigger holds no value to send home
            home = c.spec.home if c.spec.home is not None else target.spec.home
            if release == "home":
                self._motions.pop(target, None)
                if abs(home - self.store.values[target]) > EPSILON:
                    self._set(target, home, out, c)
            else:
                start = self.store.values[target]
                self._motions[target] = _Motion(
                    home, start, now, start=start, t0=now, duration=gate.spec.glide
                )
                c.last_sent = home

"""Controller input, from raw MIDI to values: the per-channel 14-bit CC and NRPN state machine.

Incoming messages are ``mido.Message`` objects or raw byte sequences (``[status, data1, data2]``
as python-rtmidi delivers them). Anything that is not a channel CC or note, or is malformed
(short, data byte > 127, SysEx, clock), is ignored: a controller is never trusted to be sane.

14-bit CC (MIDI 1.0, "Control Change"): controllers 0-31 are the MSB of a value whose LSB is
controller n+32. A receiver resets its LSB to 0 when an MSB arrives, so a value is produced on
both: the coarse one on the MSB, the fine one on the LSB.

NRPN: CC 99/98 select the parameter (MSB/LSB), CC 6/38 carry the value (MSB/LSB); RPN (101/100)
selects a registered parameter instead, and NRPN 127/127 ("null") selects none. CC 96/97 (data
increment/decrement) step the selected parameter by one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from jamd.midi.spec import CONTROL_CHANGE, NOTE_OFF, NOTE_ON, channel_of, kind_of

# Controller numbers of the NRPN/RPN protocol (MIDI 1.0 specification, table of CCs); they
# belong in jamd.midi.spec beside the channel mode controllers.
DATA_MSB, DATA_LSB = 6, 38
DATA_INC, DATA_DEC = 96, 97
NRPN_LSB, NRPN_MSB = 98, 99
RPN_LSB, RPN_MSB = 100, 101
NRPN_CCS = frozenset({DATA_MSB, DATA_LSB, DATA_INC, DATA_DEC, NRPN_LSB, NRPN_MSB, RPN_LSB, RPN_MSB})
NULL_PARAM = 0x3FFF
MAX7, MAX14 = 127, 16383


class Name(str, enum.Enum):
    """Names that are compared and written as the strings they are (in files, in messages)."""

    def __str__(self) -> str:
        return str(self.value)


class RawKind(Name):
    """The channel messages controls are made of (a note-on with velocity 0 is a note-off)."""

    CC = "cc"
    NOTE_ON = "note_on"
    NOTE_OFF = "note_off"


class Source(Name):
    """Where a control's value comes from: the source keys of a mapping file's controls, and
    what :class:`ChannelParser` makes of a controller's messages."""

    CC = "cc"  # a 7-bit controller
    CC14 = "cc14"  # a 14-bit pair: MSB controller 0-31 and its LSB controller
    NRPN = "nrpn"  # a non-registered parameter (CC 99/98 select, CC 6/38 carry the value)
    NOTE = "note"  # a key or a pad: its velocity


class Raw(NamedTuple):
    """One channel message, 1-16 channel numbering."""

    kind: RawKind
    channel: int
    number: int
    value: int


def normalize(msg: Any) -> Raw | None:
    """A mido message or ``[status, d1, d2]`` -> :class:`Raw`; None for anything else."""
    if hasattr(msg, "type"):
        kind = msg.type
        if kind == "control_change":
            return Raw(RawKind.CC, msg.channel + 1, msg.control, msg.value)
        if kind == "note_on":
            on = RawKind.NOTE_ON if msg.velocity else RawKind.NOTE_OFF
            return Raw(on, msg.channel + 1, msg.note, msg.velocity)
        if kind == "note_off":
            return Raw(RawKind.NOTE_OFF, msg.channel + 1, msg.note, 0)
        return None
    try:
        status, d1, d2 = (int(b) for b in msg[:3])  # fewer than three: ValueError
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        return None
    if not (0 <= status <= 0xFF and 0 <= d1 <= MAX7 and 0 <= d2 <= MAX7):
        return None
    kind, channel = kind_of(status), channel_of(status)
    if kind == CONTROL_CHANGE:
        return Raw(RawKind.CC, channel, d1, d2)
    if kind == NOTE_ON:
        return Raw(RawKind.NOTE_ON if d2 else RawKind.NOTE_OFF, channel, d1, d2)
    if kind == NOTE_OFF:
        return Raw(RawKind.NOTE_OFF, channel, d1, 0)
    return None


class Value(NamedTuple):
    """A parsed controller value. kind: any :class:`Source` but a note; number is the CC (MSB CC
    for 14-bit) or the NRPN parameter; ``full`` is the largest value (127 or 16383). ``step`` is
    +1/-1 for NRPN data increment/decrement (then ``value`` is meaningless), else 0."""

    kind: Source
    number: int
    value: int
    full: int
    step: int = 0


@dataclass
class ChannelParser:
    """State of one MIDI channel of one port. ``pairs`` maps the MSB CC of each 14-bit control
    to its LSB CC; ``nrpn`` says whether this channel's CC 6/38/96-101 are NRPN traffic (a
    mapping with no NRPN controls on the channel keeps them as plain CCs)."""

    pairs: dict[int, int] = field(default_factory=dict)
    nrpn: bool = False
    _lsb_of: dict[int, int] = field(default_factory=dict)  # LSB cc -> MSB cc
    _msb: dict[int, int] = field(default_factory=dict)  # MSB cc -> last MSB value
    _param_msb: int = 0x7F
    _param_lsb: int = 0x7F
    _registered: bool = False  # RPN selected, not NRPN
    _data_msb: int = 0

    def __post_init__(self) -> None:
        self._lsb_of = {lsb: msb for msb, lsb in self.pairs.items()}

    @property
    def param(self) -> int | None:
        """The selected NRPN parameter, None when an RPN or the null parameter is selected."""
        p = (self._param_msb << 7) | self._param_lsb
        return None if self._registered or p == NULL_PARAM else p

    def cc(self, number: int, value: int) -> Value | None:
        if self.nrpn and number in NRPN_CCS:
            return self._nrpn(number, value)
        if number in self.pairs:
            self._msb[number] = value
            return Value(Source.CC14, number, value << 7, MAX14)
        msb = self._lsb_of.get(number)
        if msb is not None:
            return Value(Source.CC14, msb, (self._msb.get(msb, 0) << 7) | value, MAX14)
        return Value(Source.CC, number, value, MAX7)

    def _nrpn(self, number: int, value: int) -> Value | None:
        if number == NRPN_MSB:
            self._param_msb, self._registered = value, False
        elif number == NRPN_LSB:
            self._param_lsb, self._registered = value, False
        elif number in (RPN_MSB, RPN_LSB):
            self._registered = True
        param = self.param
        if param is None or number in (NRPN_MSB, NRPN_LSB, RPN_MSB, RPN_LSB):
            return None
        if number == DATA_MSB:
            self._data_msb = value
            return Value(Source.NRPN, param, value << 7, MAX14)
        if number == DATA_LSB:
            return Value(Source.NRPN, param, (self._data_msb << 7) | value, MAX14)
        return Value(Source.NRPN, param, 0, MAX14, 1 if number == DATA_INC else -1)

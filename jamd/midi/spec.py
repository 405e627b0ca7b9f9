"""MIDI 1.0 protocol facts as data: status bytes, message lengths, clock resolution.

The real-time engine builds raw byte lists (python-rtmidi sends a list in about 1 µs, a mido
``Message`` costs 7 µs), so it needs the numbers; they live here and nowhere else.
Channels are 1-16 everywhere in jamd's API (as printed on gear); the wire uses 0-15.
"""

from __future__ import annotations

from collections.abc import Sequence

#: MIDI clock resolution: timing clock messages per quarter note.
PPQN = 24
#: Song Position Pointer counts MIDI beats = 16th notes = 6 clocks.
CLOCKS_PER_SPP_UNIT = PPQN // 4
SPP_MAX = 0x3FFF

# Channel voice messages (high nibble; the low nibble is the channel 0-15).
NOTE_OFF = 0x80
NOTE_ON = 0x90
POLY_AFTERTOUCH = 0xA0
CONTROL_CHANGE = 0xB0
PROGRAM_CHANGE = 0xC0
CHANNEL_AFTERTOUCH = 0xD0
PITCH_BEND = 0xE0

# System common / real-time.
SYSEX = 0xF0
MTC_QUARTER_FRAME = 0xF1
SONG_POSITION = 0xF2
SONG_SELECT = 0xF3
TUNE_REQUEST = 0xF6
SYSEX_END = 0xF7
CLOCK = 0xF8
START = 0xFA
CONTINUE = 0xFB
STOP = 0xFC
ACTIVE_SENSING = 0xFE
RESET = 0xFF

# Channel mode controllers (CC numbers).
CC_ALL_SOUND_OFF = 120
CC_RESET_ALL_CONTROLLERS = 121
CC_ALL_NOTES_OFF = 123


#: Real-time messages a clock follower reacts to.
TRANSPORT = frozenset((CLOCK, START, CONTINUE, STOP))


def kind_of(status: int) -> int:
    """The message type of a channel message's status byte (its high nibble: ``NOTE_ON`` ...)."""
    return status & 0xF0


def channel_of(status: int) -> int:
    """The channel (1-16) of a channel message's status byte."""
    return (status & 0x0F) + 1


def _check_channel(channel: int) -> int:
    if not 1 <= channel <= 16:
        raise ValueError(f"MIDI channel must be 1-16, not {channel}")
    return channel - 1


def note_on(channel: int, note: int, velocity: int) -> list[int]:
    return [NOTE_ON | _check_channel(channel), note & 0x7F, velocity & 0x7F]


def note_off(channel: int, note: int, velocity: int = 0) -> list[int]:
    """A real note-off (0x80), not note-on with velocity 0: unambiguous in every receiver's log."""
    return [NOTE_OFF | _check_channel(channel), note & 0x7F, velocity & 0x7F]


def control_change(channel: int, control: int, value: int) -> list[int]:
    return [CONTROL_CHANGE | _check_channel(channel), control & 0x7F, value & 0x7F]


def song_position(clocks: int) -> list[int]:
    """SPP for a position in MIDI clocks; it can only say 16ths, so ``clocks`` is floored to one."""
    units = min(max(clocks // CLOCKS_PER_SPP_UNIT, 0), SPP_MAX)
    return [SONG_POSITION, units & 0x7F, (units >> 7) & 0x7F]


def parse_song_position(data1: int, data2: int) -> int:
    """SPP data bytes -> position in MIDI clocks."""
    return ((data2 & 0x7F) << 7 | (data1 & 0x7F)) * CLOCKS_PER_SPP_UNIT


def is_note_on(msg: Sequence[int]) -> bool:
    return len(msg) == 3 and kind_of(msg[0]) == NOTE_ON and msg[2] > 0


def is_note_off(msg: Sequence[int]) -> bool:
    """A note-off, or a note-on with velocity 0 (which means the same)."""
    return len(msg) == 3 and (kind_of(msg[0]) == NOTE_OFF or (kind_of(msg[0]) == NOTE_ON and msg[2] == 0))

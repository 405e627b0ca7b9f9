"""Checks on message streams the tests share."""

from __future__ import annotations

from collections.abc import Iterable

from jamd.engine.scheduler import Key, Msg
from jamd.midi import spec as ms


def pairs_ok(messages: Iterable[Msg]) -> bool:
    """Every note-on is ended by exactly one note-off, and no note-off is unmatched."""
    sounding: set[Key] = set()
    for port, m in messages:
        if ms.is_note_on(m):
            key = (port, ms.channel_of(m[0]), m[1])
            if key in sounding:
                return False
            sounding.add(key)
        elif ms.is_note_off(m):
            key = (port, ms.channel_of(m[0]), m[1])
            if key not in sounding:
                return False
            sounding.remove(key)
    return not sounding

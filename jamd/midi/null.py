"""An output that discards: where notes go when there is no MIDI (``api: null``: the offline
demo, benchmarks, tests). It behaves as a :class:`jamd.midi.ports.ManagedOutput` that is
always there."""

from __future__ import annotations

from jamd.midi.ports import PortConfig

#: The ``PortConfig.api`` of a port that discards.
NULL_API = "null"


def null_port(role: str) -> PortConfig:
    """The config of a port that discards."""
    return PortConfig(role, NULL_API, api=NULL_API)


class NullOutput:
    """An output that discards everything sent to it."""

    def __init__(self, role: str) -> None:
        self.cfg = null_port(role)
        self.name, self.lost = f"null:{role}", False

    def open(self) -> NullOutput:
        return self

    def send(self, msg: list[int]) -> bool:
        return True

    def check(self) -> None:
        return None

    def close(self) -> None:
        pass

"""A plain store of target values for the Mapper on its own: ``jamd run``'s store is
:class:`jamd.live.performance.Performance`, which needs a model (tests/test_scenes.py runs the
Mapper on it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from jamd.control.targets import home_values


@dataclass
class Values:
    values: dict[str, float] = field(default_factory=home_values)

    def set(self, target: str, value: float) -> None:
        self.values[target] = value

"""``clock.mode: drummer`` on the control side: the drummer's notes go to the beat tracker
(:mod:`jamd.tempo.tracker`), the grid it hears goes to the engine (its :class:`DrummerClock
<jamd.engine.drummer.DrummerClock>` steers the MIDI clock towards it), and when the drummer has
been gone for the held bars the engine is told to stop."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping

from jamd.engine.clock import NS_PER_S, ClockMode, Timeline
from jamd.engine.handle import EngineHandle
from jamd.engine.ipc import ControlKind
from jamd.live.config import Config
from jamd.tempo.tracker import BeatTracker, Estimate, TrackerConfig, TrackState

log = logging.getLogger(__name__)


def grid_timeline(est: Estimate) -> Timeline:
    """The tracker's estimate as the engine's timeline (ns of the monotonic clock)."""
    return Timeline.of_seconds(est.anchor_s, est.anchor_beat, est.period_s)


class DrummerLead:
    """The tracker between the drummer's port and the engine. ``send_grid(timeline)`` and
    ``send_stop()`` reach the engine."""

    def __init__(
        self,
        cfg: TrackerConfig,
        table: dict[int, int],
        send_grid: Callable[[Timeline], None],
        send_stop: Callable[[], None],
        values: Mapping[str, float] | None = None,
    ) -> None:
        self.tracker = BeatTracker(cfg, table)
        self.send_grid = send_grid
        self.send_stop = send_stop
        self.values = values or {}

    @classmethod
    def on(cls, engine: EngineHandle, cfg: Config, values: Mapping[str, float]) -> DrummerLead | None:
        """In ``clock.mode: drummer``, a lead that tells ``engine`` and reads ``tempo.lock`` in
        ``values`` (the one store of control values); else None."""
        if cfg.clock.mode is not ClockMode.DRUMMER:
            return None
        send_grid = functools.partial(engine.send, ControlKind.GRID, 0.0, None)
        send_stop = functools.partial(engine.send, ControlKind.STOP)
        return cls(cfg.drummer.tracker(), cfg.drummer.table, send_grid, send_stop, values)

    @property
    def state(self) -> TrackState:
        return self.tracker.state

    def note(self, note: int, velocity: int, t_ns: int) -> None:
        """A note-on from the drummer, stamped on arrival."""
        est = self.tracker.onset(t_ns / NS_PER_S, note, velocity)
        if est is not None:
            self.send_grid(grid_timeline(est))

    def tick(self, now_ns: int) -> None:
        """Once a loop turn: the drummer's silence (holding, then gone: Stop)."""
        self.tracker.lock_tempo(self.values.get("tempo.lock", 0.0) > 0.5)
        before = self.tracker.state
        est = self.tracker.update(now_ns / NS_PER_S)
        if est is not None:
            self.send_grid(grid_timeline(est))
        if before is not TrackState.SEARCHING and self.tracker.state is TrackState.SEARCHING:
            self.send_stop()

    def report(self) -> tuple[str, float, float]:
        """For OSC: state, tempo (0 while searching) and confidence."""
        est = self.tracker.estimate
        if est is None:
            return (str(TrackState.SEARCHING), 0.0, 0.0)
        return (str(est.state), est.bpm, est.confidence)

    def status(self) -> str:
        """For the terminal status: state, tempo and confidence."""
        est = self.tracker.estimate
        if est is None:
            how = "count in" if self.tracker.auto is None else "play: locking from the first bars"
            return f"drummer: searching ({how})"
        return f"drummer: {est.state} {est.bpm:.1f} BPM, confidence {est.confidence:.2f}"

"""The jamd phase: the real daemon and its engine process at the bench's tempo, while the rig plays
the CC sweep and the drummer into it; returns the engine's timing records and the daemon's
latency stamps."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jamd.engine.clock import Timeline, ns_per_beat
from jamd.engine.ipc import EngineStatus
from jamd.engine.scheduler import SchedulerConfig
from jamd.live.config import read_config
from jamd.live.daemon import Daemon, Latencies
from jamd.live.demo import model_groove
from jamd.music.grid import BEATS_PER_BAR
from jamd.ops.bench.conditions import SETTLE_S, now_ns
from jamd.ops.bench.rig import Event, FeederRig, JackRig, cc_events, drummer_events
from jamd.sound.synth import SoundSettings

if TYPE_CHECKING:
    from jamd.live.performance import Performance


@dataclass
class StampedLatencies(Latencies):
    """The daemon's latency series, each entry also stamped with when it was added - the
    daemon adds it right after the publish it measures, so stamp = publish time and
    stamp - ms = the control's arrival (or the bar line) - and kept whole for the run."""

    stamps: list[tuple[str, int, float]] = field(default_factory=list)

    def add(self, kind: str, ms_: float) -> None:
        self.stamps.append((kind, now_ns(), ms_))
        super().add(kind, ms_)


@dataclass
class JamdRun:
    records: np.ndarray
    stamps: list[tuple[str, int, float]]
    timeline: Timeline
    span_ns: tuple[int, int]
    windows: int
    status: EngineStatus
    events_sent: int
    sched_cfg: SchedulerConfig
    perf: Performance


def run_jamd(
    config_path: Path,
    jack: bool,
    seconds: float,
    beside: Callable[[Daemon], AbstractContextManager[object]] | None = None,
    sound: SoundSettings | None = None,
) -> JamdRun:
    """The real daemon for ``SETTLE_S + seconds``, with the CC stream and the drummer (and
    whatever ``beside`` runs on the daemon meanwhile: the page's clients; and its engine feeding
    FluidSynth, with ``sound``)."""
    config = read_config(config_path)
    rig: JackRig | FeederRig = JackRig() if jack else FeederRig()
    try:
        daemon = Daemon(config, offline=not jack, sound=sound)
        rig.attach(daemon, config)
        with beside(daemon) if beside is not None else nullcontext():
            run = _drive(daemon, rig, seconds)
    finally:
        rig.close()
    run.events_sent = rig.sent  # known once the rig has stopped
    return run


def _drive(daemon: Daemon, rig: JackRig | FeederRig, seconds: float) -> JamdRun:
    """Start the daemon, let the rig play, read the engine's records over the measured span."""
    lat = StampedLatencies()
    daemon.latencies = lat
    loop = threading.Thread(target=daemon.loop, name="jamd-bench-daemon", daemon=True)
    started = False
    try:
        daemon.start()
        started = True
        loop.start()
        tl = _running_timeline(daemon)
        t_begin = now_ns() + 100_000_000
        t_end = t_begin + int((SETTLE_S + seconds) * 1e9)
        rig.play(_rig_events(daemon, tl, t_begin, t_end), daemon.stop_requested.is_set)
        _sleep_until(t_begin + int(SETTLE_S * 1e9))
        _, since = daemon.engine.records()
        span0, win0 = now_ns(), daemon.engine.windows.latest_id
        _sleep_until(t_end)
        records, _ = daemon.engine.records(since)
        span1, win1 = now_ns(), daemon.engine.windows.latest_id
        status = daemon.engine.status()
    finally:
        daemon.stop_requested.set()
        daemon.wake.set()
        if loop.is_alive():
            loop.join(10)
        if started:
            daemon.shutdown()
    cfg = daemon.engine.cfg
    sched_cfg = SchedulerConfig(cfg.drum_outputs, cfg.bass_range, 0, 0)
    return JamdRun(records, lat.stamps, tl, (span0, span1), win1 - win0, status, 0, sched_cfg, daemon.perf)


def _running_timeline(daemon: Daemon) -> Timeline:
    """Wait for the engine's clock to run (5 s at most); its beat timeline from then on."""
    deadline = time.monotonic() + 5
    while not daemon.engine.status().running:
        if time.monotonic() > deadline:
            raise RuntimeError("jamd's clock did not start")
        time.sleep(0.01)
    st = daemon.engine.status()
    return Timeline(st.updated_ns, st.beat, ns_per_beat(st.bpm), True)


def _rig_events(daemon: Daemon, tl: Timeline, t_begin: int, t_end: int) -> list[Event]:
    """The CC sweep from ``t_begin`` and the model's groove from the next bar line, by time."""
    notes, loop_beats = model_groove(daemon.drums)
    first_bar = math.ceil(tl.beat_at(t_begin) / BEATS_PER_BAR) * BEATS_PER_BAR
    events = cc_events(t_begin, t_end) + drummer_events(notes, loop_beats, tl, first_bar, t_end)
    return sorted(events, key=lambda e: e[0])


def _sleep_until(t_ns: int) -> None:
    while (left := t_ns - now_ns()) > 0:
        time.sleep(min(left / 1e9, 0.1))

"""Drift, simulated: the clock follower against minutes of a jittery external MIDI clock."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jamd.engine.clock import tick_ns
from jamd.engine.follow import ClockFollower
from jamd.midi import spec as ms
from jamd.ops.bench.conditions import DRIFT_MINUTES


@dataclass
class Drift:
    """A follower's position against the master's, in MIDI clock ticks (24 per beat)."""

    end_ticks: float  # at the end, half-way between the last two ticks
    max_abs_ticks: float  # worst seen at any beat on the way
    ticks: int  # ticks followed


def follow_drift(
    minutes: float = DRIFT_MINUTES,
    bpm: float = 120.0,
    jitter_us: float = 300.0,
    spike_rate: float = 0.01,
    spike_ms: float = 3.0,
    ppm: float = 80.0,
    seed: int = 0,
) -> Drift:
    """Simulated: feed :class:`ClockFollower` ``minutes`` of a master's ticks (its crystal
    ``ppm`` off, each tick's arrival jittered by N(0, ``jitter_us``) and a share ``spike_rate``
    late by up to ``spike_ms``: a USB interface's bursts) and compare the follower's song
    position with the master's, half-way between ticks (where the follower extrapolates)."""
    rng = np.random.default_rng(seed)
    period = tick_ns(bpm) * (1 + ppm * 1e-6)
    n = int(minutes * 60e9 / period)
    t0 = 1_000_000_000
    late = rng.normal(0.0, jitter_us * 1e3, n)
    late += np.where(rng.random(n) < spike_rate, rng.uniform(0.0, spike_ms * 1e6, n), 0.0)
    arrival = (t0 + np.arange(n) * period + late).astype(np.int64)
    arrival = np.maximum.accumulate(arrival)  # MIDI is a serial line: no overtaking
    follower = ClockFollower()
    follower.on_midi([ms.START], t0 - int(period / 2))
    worst, err = 0.0, 0.0
    for k in range(n):
        a = int(arrival[k])
        follower.update(a)
        follower.on_midi([ms.CLOCK], a)
        if k % ms.PPQN == 0 or k == n - 1:
            # the master is at tick k + 0.5 half-way to its next tick (tick 0 = beat 0)
            mid = t0 + (k + 0.5) * period
            err = follower.timeline.beat_at(int(mid)) * ms.PPQN - (k + 0.5)
            worst = max(worst, abs(err))
    return Drift(float(err), float(worst), n)

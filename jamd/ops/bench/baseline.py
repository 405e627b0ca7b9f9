"""The naive baseline: the loop a first attempt would be, and a decoder thread sharing its GIL,
run to the same kind of port under the same load as jamd."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np
import rtmidi

from jamd.engine.clock import ns_per_beat, tick_deadline, tick_ns
from jamd.engine.ipc import REC_NOTE_ON, REC_TICK
from jamd.engine.scheduler import SchedulerConfig, StepScheduler
from jamd.live.daemon import IDLE_TICK_S
from jamd.midi import spec as ms
from jamd.ops.bench.conditions import BPM, RIG_SINK, SETTLE_S, now_ns, sweep_value
from jamd.ops.bench.rig import close_port, jack_sink


def naive_clock(out, bpm: float, seconds: float, latest: list, sched_cfg: SchedulerConfig) -> np.ndarray:
    """The loop a first attempt would be: one thread, ``time.sleep`` until each absolute
    deadline (tick or note), then send; no spin, no process of its own, no real-time priority.
    Absolute deadlines, so its figures are jitter, not drift (relative sleeps would add up).
    Notes come from the real :class:`StepScheduler` fed with ``latest[0]`` (the newest window
    a decoder thread made). Returns timing records in the engine's layout (kind, due, sent, 0)
    for :func:`jamd.engine.ipc.jitter_stats`."""
    sched = StepScheduler(sched_cfg)
    nspb = ns_per_beat(bpm)
    tick = tick_ns(bpm)
    t0 = now_ns() + 10_000_000
    end = t0 + int(seconds * 1e9)
    recs: list[tuple[int, int, int, int]] = []
    k, seen = 0, None
    while True:
        t_tick = tick_deadline(t0, tick, k)
        nb = sched.next_event_beat()
        t_note = t0 + round(nb * nspb) if nb is not None else math.inf
        due = min(t_tick, t_note)
        if due >= end:
            break
        rest = due - now_ns()
        if rest > 0:
            time.sleep(rest / 1e9)
        if nb is None or t_tick <= t_note:
            out.send([ms.CLOCK])
            recs.append((REC_TICK, t_tick, now_ns(), 0))
            w = latest[0]
            if w is not None and w is not seen:
                sched.set_window(w)
                seen = w
            # fix every step whose commit time comes before the next tick
            sched.commit_until((k + 1) / ms.PPQN)
            k += 1
        else:
            for p in sched.due(nb):
                for _port, msg in sched.play(p):  # no late drop: every note is measured
                    out.send(msg)
                    if ms.is_note_on(msg):
                        recs.append((REC_NOTE_ON, t0 + round(p.beat * nspb), now_ns(), 0))
    return np.array(recs, np.int64).reshape(-1, 4)


def decode_pacer(perf, stop: threading.Event, latest: list, x_of: Callable[[int], float]) -> int:
    """The baseline's decoder: the daemon's Performance rendering a moving x, then waiting an
    idle tick, as the daemon's loop does under a 1 kHz CC stream. Returns windows made."""
    i = 0
    while not stop.is_set():
        perf.set("drums.x", x_of(i))
        latest[0] = perf.render()
        i += 1
        time.sleep(IDLE_TICK_S)
    return i


def run_baseline(perf, sched_cfg: SchedulerConfig, jack: bool, seconds: float) -> tuple[np.ndarray, int]:
    """The naive loop and a decoder thread in this process (one GIL), to the same kind of port."""
    from jamd.midi.null import NullOutput
    from jamd.midi.ports import ManagedOutput, PortConfig, open_output

    sink: rtmidi.MidiIn | None = None
    out: ManagedOutput | NullOutput
    if jack:
        # a sink of our own for the baseline: the rig is gone, and nothing here may block
        sink = jack_sink(RIG_SINK, clock=False, queue=8192)
        out = open_output(PortConfig("baseline", RIG_SINK, False, "jack"))
    else:
        out = NullOutput("baseline")
    latest: list = [None]
    stop = threading.Event()
    made = [0]

    def decode() -> None:
        made[0] = decode_pacer(perf, stop, latest, lambda i: sweep_value(i) / 63.5 - 1.0)

    dec = threading.Thread(target=decode, name="jamd-bench-decoder", daemon=True)
    try:
        dec.start()
        time.sleep(SETTLE_S)
        records = naive_clock(out, BPM, seconds, latest, sched_cfg)
    finally:
        stop.set()
        dec.join(5)
        out.close()
        if sink is not None:
            close_port(sink)
    return records, made[0]

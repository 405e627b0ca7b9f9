"""Measure where the real-time engine should live: clock jitter per process layout, under load.

``measure_layout(EngineLayout.PROCESS | EngineLayout.THREAD, ...)`` runs the real engine
(master clock, a 2-bar pattern) for a while with a numpy "decoder" running flat out in the
control process and a pure-Python busy loop on the other core, then reads the engine's own timing records: for every
clock tick and note, the time it was due vs the time the send call returned ("where jamd
sends"). ``jamd bench`` can call it; the figures in docs/architecture.md come from
:func:`compare_layouts`.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from jamd.engine.config import RtConfig
from jamd.engine.handle import EngineHandle, EngineLayout
from jamd.engine.ipc import REC_NOTE_ON, REC_TICK, jitter_stats
from jamd.midi.null import null_port
from jamd.midi.ports import PortConfig
from jamd.music.grid import BassLine, DrumPattern
from jamd.music.window import Window

log = logging.getLogger(__name__)


@dataclass
class LayoutResult:
    layout: EngineLayout
    detail: str
    ticks: dict
    notes: dict

    def line(self) -> str:
        t, n = self.ticks, self.notes
        return (
            f"{self.layout.value:8s} {self.detail:36s} clock p50 {t['p50_ms']:.3f} p99 {t['p99_ms']:.3f} "
            f"max {t['max_ms']:.3f} ms (n={t['n']}) | notes p50 {n['p50_ms']:.3f} p99 {n['p99_ms']:.3f} "
            f"max {n['max_ms']:.3f} ms (n={n['n']})"
        )


def busy_loop(stop_at: float) -> None:
    """The other core: plain Python, never sleeping (until the monotonic time ``stop_at``)."""
    x = 0
    while time.monotonic() < stop_at:
        x += 1


def start_busy(seconds: float) -> mp.process.BaseProcess:
    """A process that keeps one core busy for ``seconds`` (or until terminated by its PID).
    ``spawn``: a fresh interpreter, so it shares nothing (no GIL, no fds) with the caller."""
    busy = mp.get_context("spawn").Process(
        target=busy_loop, args=(time.monotonic() + seconds,), name="jamd-bench-busy", daemon=True
    )
    busy.start()
    return busy


def decoder_load(stop: threading.Event, units: int = 256, steps: int = 32) -> int:
    """A GRU-sized numpy decode loop run flat out (Python per step + small matmuls)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3 * units, units)).astype(np.float32) * 0.05
    u = rng.standard_normal((3 * units, units)).astype(np.float32) * 0.05
    n = 0
    while not stop.is_set():
        h: np.ndarray = np.zeros(units, np.float32)
        x = rng.standard_normal(units).astype(np.float32)
        for _ in range(steps):
            g = w @ x + u @ h
            z = 1 / (1 + np.exp(-g[:units]))
            r = 1 / (1 + np.exp(-g[units : 2 * units]))
            c = np.tanh(g[2 * units :] * r)
            h = (1 - z) * h + z * c
        n += 1
    return n


def _pattern() -> Window:
    d = DrumPattern.empty()
    for s in range(32):
        d.place(s, 2, 0.6, 0.0)
    for s in range(0, 32, 4):
        d.place(s, 0, 0.9, 0.0)
    return Window(d, BassLine.empty(), np.zeros(32, np.int64))


def measure_layout(
    layout: EngineLayout,
    bpm: float = 180.0,
    seconds: float = 10.0,
    load: bool = True,
    switch_interval: float | None = None,
    rt_priority: int = 50,
    port: PortConfig | None = None,
) -> LayoutResult:
    """Run the engine in ``layout`` and return its send jitter."""
    port = port or null_port("drums")
    cfg = RtConfig(bpm=bpm, drums=port, clock_out=[port], autostart=True, rt_priority=rt_priority)
    old_si = sys.getswitchinterval()
    if switch_interval is not None and layout is EngineLayout.THREAD:
        sys.setswitchinterval(switch_interval)
    busy = None
    stop = threading.Event()
    try:
        h = EngineHandle(cfg, mode=layout, log_level=logging.WARNING)
        h.publish(_pattern())
        with h:
            if load:
                busy = start_busy(seconds + 5)
            time.sleep(0.5)  # settle: engine started, load running
            _, since = h.records()
            end = time.monotonic() + seconds
            if load:
                t = threading.Thread(target=decoder_load, args=(stop,), daemon=True)
                if layout is EngineLayout.THREAD:
                    t.start()  # same process as the engine: the GIL is shared
                    while time.monotonic() < end:
                        time.sleep(0.05)
                    stop.set()
                    t.join()
                else:
                    timer = threading.Timer(seconds, stop.set)
                    timer.start()
                    decoder_load(stop)  # the control process decodes flat out
            else:
                time.sleep(seconds)
            recs, _ = h.records(since)
            prio = h.status().rt_priority
    finally:
        stop.set()
        sys.setswitchinterval(old_si)
        if busy is not None:
            busy.terminate()
            busy.join(5)
    detail = (
        f"switch {sys.getswitchinterval() * 1e3 if switch_interval is None else switch_interval * 1e3:.1f} ms, "
        if layout is EngineLayout.THREAD
        else ""
    )
    detail += f"SCHED_FIFO {int(prio)}" if prio else "normal priority"
    detail += ", loaded" if load else ", idle"
    return LayoutResult(layout, detail, jitter_stats(recs, REC_TICK), jitter_stats(recs, REC_NOTE_ON))


def compare_layouts(
    seconds: float = 10.0, bpm: float = 180.0, port: PortConfig | None = None
) -> list[LayoutResult]:
    """The candidates of docs/architecture.md, each under the same load."""
    thread, process = EngineLayout.THREAD, EngineLayout.PROCESS
    runs: list[tuple[EngineLayout, float | None, int]] = [  # layout, switch interval, priority
        (thread, 0.005, 0),
        (thread, 0.001, 0),
        (thread, 0.0002, 0),
        (thread, 0.001, 50),
        (process, None, 0),
        (process, None, 50),
    ]
    out = []
    for layout, switch, prio in runs:
        r = measure_layout(layout, bpm, seconds, switch_interval=switch, rt_priority=prio, port=port)
        log.info("%s", r.line())
        out.append(r)
    return out


if __name__ == "__main__":  # python -m jamd.ops.layout [seconds] [jack]
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    use_port = PortConfig("drums", virtual=True, api="jack") if "jack" in sys.argv[2:] else None
    for res in compare_layouts(secs, port=use_port):
        print(res.line(), flush=True)

"""``jamd bench``: the figures of DESIGN.md's "Numbers it must reach", measured the same way on
every machine, in one process tree.

What runs, in order (with ``--load`` a busy process keeps the other core occupied throughout;
the bench starts it and stops it by its PID):

1. **Cold start**: a real ``python -m jamd -v run --demo`` subprocess, timed from ``Popen`` to its
   first MIDI clock tick (over JACK: the tick's arrival at a bench sink port; without JACK: the
   engine's "transport: start" log line plus one tick period, an upper bound). While it plays,
   the resident memory of it and every process it started (the engine, multiprocessing's
   resource tracker) is summed from ``/proc/PID/status``.
2. **Decode**: the drum and bass models' own timing helpers (``jamd.lab.drum_eval`` /
   ``jamd.lab.bass_eval``), each in a fresh process pinned to one BLAS thread.
3. **jamd**: the real :class:`jamd.live.daemon.Daemon` (its engine process, its inputs, mappings,
   seeding and decoding) at 180 BPM, sending MIDI clock. Controller CCs arrive at 1 kHz (a knob
   sweeping ``drums.x``: every CC is a new latent, so the daemon decodes continuously) and a
   drummer plays a 2-bar groove (so each bar line seeds). The engine's timing records give the
   clock and note errors; the daemon's :class:`jamd.live.daemon.Latencies` the control and seed
   latencies (see :func:`control_excess_ms` for what exactly is measured).
4. **Naive baseline**, same process tree, same load: one ``time.sleep`` loop (absolute
   deadlines, no spinning, no real-time priority) in a thread of this process, sending the
   same clock and the same scheduler's notes while a thread decodes the same model at the same
   pace as the daemon. The jamd/baseline ratios make figures comparable across noisy machines.
5. **Drift**: :class:`jamd.engine.follow.ClockFollower` following 10 *simulated* minutes of an external
   clock (synthetic tick times with jitter, late spikes and a crystal error).

Ports: the same port layer as ``jamd run`` (`jamd.midi.ports`), over JACK when a JACK server is
reachable (``JACK_DEFAULT_SERVER`` or the default server; the bench never starts one): then a
separate "rig" process plays the controller and the drummer into real JACK MIDI ports and
sinks what jamd sends. Without JACK, outputs are in-process null ports and the CCs and drummer
notes are handed to the daemon's input polling directly (a feeder thread), which the output says.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import multiprocessing as mp
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jamd.engine.clock import Timeline, ns_per_beat, tick_deadline, tick_ns
from jamd.engine.follow import ClockFollower
from jamd.engine.ipc import REC_NOTE_ON, REC_SWAP, REC_TICK, EngineStatus, jitter_stats
from jamd.engine.scheduler import SchedulerConfig, StepScheduler
from jamd.live.daemon import IDLE_TICK_S, Latencies
from jamd.midi import spec as ms
from jamd.music.grid import STEPS_PER_BEAT
from jamd.ops.layout import start_busy

log = logging.getLogger(__name__)

now_ns = time.perf_counter_ns

BPM = 180.0
SECONDS, QUICK_SECONDS = 30.0, 5.0
CC_HZ = 1000.0
#: Engine, inputs and load running before the measured span starts (the first windows, the
#: first JACK connections and the busy process's start-up are not what a musician hears).
SETTLE_S = 0.5
DRIFT_MINUTES = 10.0
#: A JACK client name prefix the tests' and other sessions' clients never use.
RIG_CTL, RIG_DRUMMER, RIG_SINK, START_SINK = (
    "jamd-bench-ctl",
    "jamd-bench-drummer",
    "jamd-bench-sink",
    "jamd-bench-start",
)
CC_KNOB = 1  # generic-two-knobs: CC 1 on channel 1 moves drums.x
DRUMMER_CHANNEL = 10


# ------------------------------------------------------------------------ statistics


def stats(values: Iterable[float], keys: Sequence[str] = ("p50", "p99", "max")) -> dict[str, float]:
    """Percentiles of a series, plus its size ``n``; NaN figures for an empty series (the
    caller decides whether that is an error)."""
    a = np.asarray(list(values), np.float64)
    out: dict[str, float] = {"n": int(a.size)}
    for k in keys:
        if not a.size:
            out[k] = float("nan")
        elif k == "max":
            out[k] = float(a.max())
        else:
            out[k] = float(np.percentile(a, float(k[1:])))
    return out


def error_us(records: np.ndarray, kind: int) -> dict[str, float]:
    """|sent - due| of one timing-record kind in µs (``jitter_stats`` gives ms), and how many
    were more than 1 ms off (one stall or many: the max alone does not say)."""
    s = jitter_stats(records, kind)
    sel = records[records[:, 0] == kind]
    over = int(np.sum(np.abs(sel[:, 2] - sel[:, 1]) > 1_000_000))
    return {
        "p50": s["p50_ms"] * 1e3,
        "p99": s["p99_ms"] * 1e3,
        "max": s["max_ms"] * 1e3,
        "n": s["n"],
        "over_1ms": over,
    }


def ratios(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """jamd / baseline per statistic (< 1: jamd is tighter). A baseline figure of 0 would only
    come from a broken clock; it is floored at 1 ns so the ratio stays a number."""
    return {k: a[k] / max(b[k], 1e-3) for k in ("p50", "p99", "max")}  # not over_1ms: a count


# --------------------------------------------------------------------- control latency


def control_excess_ms(
    arrival_ns: np.ndarray, published_ns: np.ndarray, records: np.ndarray, timeline: Timeline
) -> np.ndarray:
    """For each control: how much later than the next 16th-step boundary the first step that
    plays it sounds (ms; 0 = it made the very next step).

    ``arrival_ns``: when the CC arrived (rtmidi's arrival stamp, as the daemon saw it);
    ``published_ns``: when the first window rendered after it reached the engine's double
    buffer (both from :class:`jamd.live.daemon.Latencies`). The engine's own ``REC_SWAP`` records
    say when it took a window in (the loop turn that read it) and the grid time of the first
    step that plays it: the first swap read at or after the publish carries the control. That
    step's grid time minus the next step boundary after the arrival is the figure: the target
    is "the next 16th step + 2 ms", the wait for that boundary being the only delay it allows."""
    swaps = records[records[:, 0] == REC_SWAP]
    read_ns, first_step_ns = swaps[:, 2].astype(np.float64), swaps[:, 1].astype(np.float64)
    arrival = np.asarray(arrival_ns, np.float64)
    i = np.searchsorted(read_ns, np.asarray(published_ns, np.float64), side="left")
    heard = i < len(read_ns)  # a publish after the last swap: unknown
    step_ns = timeline.ns_per_beat / STEPS_PER_BEAT
    beat0 = timeline.anchor_ns - timeline.anchor_beat * timeline.ns_per_beat  # when beat 0 was
    next_boundary = beat0 + np.ceil((arrival[heard] - beat0) / step_ns - 1e-9) * step_ns
    return np.maximum(first_step_ns[i[heard]] - next_boundary, 0.0) / 1e6


# ------------------------------------------------------------------------------ drift


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


# ------------------------------------------------------------------ the naive baseline


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
        if t_tick <= t_note:
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


def sweep_value(i: int) -> int:
    """A triangle 127 -> 0 -> 127 over 254 CCs: every CC differs from the one before."""
    return abs(i % 254 - 127)


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


# ------------------------------------------------------------------------ MIDI events

Event = tuple[int, str, list[int]]  # (perf_counter_ns, "ctl" | "drummer", bytes)


def cc_events(t_begin: int, t_end: int, hz: float = CC_HZ) -> list[Event]:
    period = 1e9 / hz
    n = int((t_end - t_begin) / period)
    return [(t_begin + round(i * period), "ctl", [0xB0, CC_KNOB, sweep_value(i)]) for i in range(n)]


def drummer_events(
    notes, loop_beats: float, timeline: Timeline, first_beat: float, t_end: int
) -> list[Event]:
    """A looped groove (``jamd.music.grid.NoteIn``s) as note-ons on the drummer's channel, from
    ``first_beat`` on, until ``t_end``."""
    out: list[Event] = []
    base = first_beat
    while timeline.time_at(base) < t_end:
        for n in notes:
            t = timeline.time_at(base + n.beat)
            if t < t_end and base + n.beat >= first_beat:
                out.append((t, "drummer", [0x90 | (DRUMMER_CHANNEL - 1), n.note, max(1, int(n.velocity))]))
        base += loop_beats
    return out


def play_events(
    events: Sequence[Event],
    send: Callable[[str, list[int]], None],
    idle: Callable[[], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Send each event at its time: sleep only (a spinning feeder would take a core, or the
    GIL, from what is measured; a late CC is simply a later arrival). Returns events sent."""
    sent = 0
    for t_ns, port, msg in events:
        left = t_ns - now_ns()
        if left > 0:
            time.sleep(left / 1e9)
        send(port, msg)
        sent += 1
        if sent % 64 == 0:
            if idle is not None:
                idle()
            if should_stop is not None and should_stop():
                break
    return sent


# ---------------------------------------------------------------------- ports and rig


def jack_reachable() -> bool:
    """A JACK server this process may use (``JACK_DEFAULT_SERVER`` or the default one)."""
    from jamd.midi.ports import compiled_apis, list_ports

    return "jack" in compiled_apis() and list_ports("jack").error is None


def rig_main(conn) -> None:
    """The bench's rig over JACK, in its own process (as a real controller and drummer are
    outside jamd): virtual outputs for the controller and the drummer, and a sink for what
    jamd sends, drained so its queue never fills. Commands over ``conn``: ("play", events) ->
    ("played", n); ("quit",)."""
    import rtmidi

    jack = rtmidi.API_UNIX_JACK
    outs, sink = {}, None
    try:
        for role, client in (("ctl", RIG_CTL), ("drummer", RIG_DRUMMER)):
            outs[role] = rtmidi.MidiOut(rtapi=jack, name=client)
            outs[role].open_virtual_port("out")
        sink = rtmidi.MidiIn(rtapi=jack, name=RIG_SINK, queue_size_limit=8192)
        sink.ignore_types(sysex=True, timing=False, active_sense=True)
        sink.open_virtual_port("in")
        received = [0]

        def drain() -> None:
            while sink.get_message() is not None:
                received[0] += 1

        conn.send(("ready",))
        while True:
            if conn.poll(0.005):
                cmd = conn.recv()
                if cmd[0] == "quit":
                    break
                if cmd[0] == "play":
                    n = play_events(
                        cmd[1], lambda port, msg: outs[port].send_message(msg), drain, lambda: conn.poll(0)
                    )
                    conn.send(("played", n, received[0]))
            drain()
    finally:
        for p in [*outs.values(), sink]:
            if p is not None:
                p.close_port()
                p.delete()


class QueueInput:
    """Without JACK: stands in for a :class:`jamd.midi.ports.ManagedInput` in the daemon's input
    list. The feeder thread pushes messages; each is stamped on arrival, as rtmidi does."""

    def __init__(self, name: str) -> None:
        self.name, self.lost = name, False
        self._q: collections.deque = collections.deque()

    def push(self, msg: list[int]) -> None:
        self._q.append((msg, now_ns()))

    def poll(self, now: int) -> list[tuple[list[int], int]]:
        # as many as are queued now: the feeder thread may append meanwhile
        return [self._q.popleft() for _ in range(len(self._q))]

    def check(self) -> None:
        return None

    def close(self) -> None:
        self._q.clear()


@dataclass
class StampedLatencies(Latencies):
    """The daemon's latency series, each entry also stamped with when it was added - the
    daemon adds it right after the publish it measures, so stamp = publish time and
    stamp - ms = the control's arrival (or the bar line) - and kept whole for the run."""

    stamps: list[tuple[str, int, float]] = field(default_factory=list)

    def add(self, kind: str, ms_: float) -> None:
        self.stamps.append((kind, now_ns(), ms_))
        super().add(kind, ms_)


# ------------------------------------------------------------------------ processes


def rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, RssShmem) of a process in kB: resident memory, and the part of it that is
    shared memory (JACK's segments, mapped into every JACK client; jamd's own IPC blocks)."""
    got = {"VmRSS:": 0, "RssShmem:": 0}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key = line.split(None, 1)[0] if line.strip() else ""
                if key in got:
                    got[key] = int(line.split()[1])
    except OSError:
        pass
    return got["VmRSS:"], got["RssShmem:"]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc/*/stat's parent field)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children[ppid].append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def bench_config_text(ports_api: str, clock_out: str, rig: bool) -> str:
    """A complete config (nothing read from the user's files). ``rig``: the main run's inputs
    and outputs on the bench's ports; otherwise the cold-start ``run --demo`` config."""
    ports = f"{{api: {ports_api}, virtual: {str(not rig).lower()}, clock_out: {clock_out}"
    if rig:
        ports += f", drummer: {RIG_DRUMMER}, controllers: [{RIG_CTL}], drums: {RIG_SINK}, bass: {RIG_SINK}"
    return (
        f"clock: {{mode: internal, tempo: {BPM:g}, send_clock: true}}\n"
        f"ports: {ports}}}\n"
        "drummer: {kit: gm}\n"
        "osc: {enabled: false}\n"  # no UDP port to collide with anyone's
        "latent: {slew: 0}\n"  # a move is the new latent at once, not a glide
        "mappings: [generic-two-knobs]\n"
    )


@dataclass
class ColdStart:
    seconds: float
    rss_mb: float  # VmRSS summed over the processes
    shm_mb: float  # of which shared memory (RssShmem)
    processes: list[str]
    how: str


def cold_start(tmp: Path, jack: bool, bars: int) -> ColdStart:
    """Time ``python -m jamd run --demo`` from Popen to its first clock tick; sum the RSS of
    it and its children while it plays (their peak)."""
    cfg = tmp / "start.yaml"
    cfg.write_text(bench_config_text("jack", START_SINK, rig=False))
    logf = tmp / "start.log"
    sink = None
    if jack:
        import rtmidi

        sink = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=START_SINK)
        sink.ignore_types(sysex=True, timing=False, active_sense=True)
        sink.open_virtual_port("in")
    cmd = [
        sys.executable,
        "-m",
        "jamd",
        "-v",
        "run",
        "--demo",
        "--config",
        str(cfg),
        "--bars",
        str(bars),
        "--no-status",
        "--record",
        str(tmp / "start.mid"),
    ]
    first: int | None = None
    peak, shm, names = 0, 0, []
    try:
        with open(logf, "wb") as out:  # a file, never an unread pipe
            t0 = now_ns()
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp
            )
        deadline = time.monotonic() + bars * 4 * 60 / BPM + 60
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if first is None:
                    if sink is not None:
                        while (m := sink.get_message()) is not None:
                            if m[0][0] == ms.CLOCK and first is None:
                                first = now_ns()
                    elif b"transport: start" in logf.read_bytes():
                        # logged as the engine handles Start, before the first tick: add a tick
                        first = now_ns() + round(tick_ns(BPM))
                    time.sleep(0.0005)
                    continue
                if sink is not None:
                    while sink.get_message() is not None:
                        pass
                pids = [proc.pid, *descendants(proc.pid)]
                sizes = [rss_kb(p) for p in pids]
                total = sum(r for r, _ in sizes)
                if total > peak:
                    peak, shm = total, sum(s for _, s in sizes)
                    names = [_comm(p) for p in pids]
                time.sleep(0.1)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # jamd stops cleanly on SIGINT
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
    finally:
        if sink is not None:
            sink.close_port()
            sink.delete()
    if first is None:
        tail = logf.read_text(errors="replace")[-600:]
        raise RuntimeError(f"the cold-start jamd run never ticked; its log ends: {tail}")
    how = (
        "first MIDI clock tick at a JACK sink"
        if jack
        else "engine's 'transport: start' log line + 1 tick (no MIDI here)"
    )
    return ColdStart((first - t0) / 1e9, peak / 1024, shm / 1024, names, how)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return str(pid)
    text = " ".join(a.decode(errors="replace") for a in args if a)
    return re.sub(r"\s+", " ", text)[:80]


# ------------------------------------------------------------------------ the main run


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
    perf: object


def run_jamd(config_path: Path, jack: bool, seconds: float) -> JamdRun:
    """The real daemon for ``SETTLE_S + seconds``, with the CC stream and the drummer."""
    from jamd.live.config import read_config
    from jamd.live.daemon import Daemon
    from jamd.live.demo import model_groove

    config = read_config(config_path)
    rig = rig_conn = None
    if jack:
        rig_conn, child = mp.get_context("spawn").Pipe()
        rig = mp.get_context("spawn").Process(
            target=rig_main, args=(child,), name="jamd-bench-rig", daemon=True
        )
        rig.start()
        if not rig_conn.poll(20) or rig_conn.recv()[0] != "ready":
            raise RuntimeError("the bench's JACK rig did not come up")
    daemon = Daemon(config, offline=not jack)
    lat = StampedLatencies()
    daemon.latencies = lat
    queues: dict[str, QueueInput] = {}
    if not jack:
        # no MIDI here: the CCs and the drummer's notes enter where the daemon polls its inputs
        queues = {"ctl": QueueInput(RIG_CTL), "drummer": QueueInput(RIG_DRUMMER)}
        daemon.inputs.ports += [("controller", queues["ctl"]), ("drummer", queues["drummer"])]
        daemon.controllers.attach(RIG_CTL, config.controller_mappings())
    feeder = None
    loop = threading.Thread(target=daemon.loop, name="jamd-bench-daemon", daemon=True)
    started = False
    try:
        daemon.start()
        started = True
        loop.start()
        deadline = time.monotonic() + 5
        while not daemon.engine.status().running:
            if time.monotonic() > deadline:
                raise RuntimeError("jamd's clock did not start")
            time.sleep(0.01)
        st = daemon.engine.status()
        tl = Timeline(st.updated_ns, st.beat, ns_per_beat(st.bpm), True)
        t_begin = now_ns() + 100_000_000
        t_end = t_begin + int((SETTLE_S + seconds) * 1e9)
        notes, loop_beats = model_groove(daemon.drums)
        bar = 4.0
        first_bar = math.ceil(tl.beat_at(t_begin) / bar) * bar
        events = sorted(
            cc_events(t_begin, t_end) + drummer_events(notes, loop_beats, tl, first_bar, t_end),
            key=lambda e: e[0],
        )
        sent = [0]
        if rig_conn is not None:
            rig_conn.send(("play", events))
        else:

            def feed() -> None:
                sent[0] = play_events(
                    events, lambda port, msg: queues[port].push(msg), should_stop=daemon.stop_requested.is_set
                )

            feeder = threading.Thread(target=feed, name="jamd-bench-feeder", daemon=True)
            feeder.start()
        _sleep_until(t_begin + int(SETTLE_S * 1e9))
        _, since = daemon.engine.records()
        span0, win0 = now_ns(), daemon.engine.windows.latest_id
        _sleep_until(t_end)
        records, _ = daemon.engine.records(since)
        span1, win1 = now_ns(), daemon.engine.windows.latest_id
        status = daemon.engine.status()
        if rig_conn is not None and rig_conn.poll(5):
            sent[0] = rig_conn.recv()[1]
    finally:
        daemon.stop_requested.set()
        daemon.wake.set()
        if loop.is_alive():
            loop.join(10)
        if feeder is not None:
            feeder.join(5)
        if started:
            daemon.shutdown()
        if rig_conn is not None:
            rig_conn.send(("quit",))
            rig.join(10)
            if rig.is_alive():
                os.kill(rig.pid, signal.SIGTERM)
                rig.join(5)
    cfg = daemon.engine.cfg
    sched_cfg = SchedulerConfig(cfg.drum_outputs, cfg.bass_range, 0, 0)
    return JamdRun(
        records, lat.stamps, tl, (span0, span1), win1 - win0, status, sent[0], sched_cfg, daemon.perf
    )


def _sleep_until(t_ns: int) -> None:
    while (left := t_ns - now_ns()) > 0:
        time.sleep(min(left / 1e9, 0.1))


def run_baseline(perf, sched_cfg: SchedulerConfig, jack: bool, seconds: float) -> tuple[np.ndarray, int]:
    """The naive loop and a decoder thread in this process (one GIL), to the same kind of port."""
    from jamd.midi.null import NullOutput
    from jamd.midi.ports import ManagedOutput, PortConfig

    if jack:
        # a sink of our own for the baseline: the rig is gone, and nothing here may block
        import rtmidi

        sink = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=RIG_SINK, queue_size_limit=8192)
        sink.ignore_types(sysex=True, timing=True, active_sense=True)
        sink.open_virtual_port("in")
        out = ManagedOutput(PortConfig("baseline", RIG_SINK, False, "jack")).open()
    else:
        sink, out = None, NullOutput("baseline")
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
            sink.close_port()
            sink.delete()
    return records, made[0]


# ------------------------------------------------------------------------------ bench


@dataclass(frozen=True)
class Target:
    figure: str
    stat: str | None  # None: the figure is a single number
    limit: float
    text: str  # as DESIGN.md says it


TARGETS = (
    Target("clock_jitter_us", "p99", 250.0, "clock jitter p99 <= 0.25 ms"),
    Target("clock_jitter_us", "max", 1000.0, "clock jitter max <= 1 ms"),
    Target("note_error_us", "p99", 500.0, "note error p99 <= 0.5 ms"),
    Target("control_latency_ms", "max", 2.0, "control -> first note <= next 16th step + 2 ms"),
    Target("seed_latency_ms", "max", 10.0, "bar line -> new z_seed <= 10 ms"),
    Target("decode_window_us", "p50", 1000.0, "drum + bass decode median <= 1 ms"),
    Target("decode_window_us", "p99", 3000.0, "drum + bass decode p99 <= 3 ms"),
    Target("cold_start_s", None, 2.0, "cold start <= 2 s"),
    Target("rss_mb", None, 150.0, "resident memory <= 150 MB"),
    Target("drift_ticks", "max_abs", 0.5, "drift 0 ticks (|error| < half a tick)"),
)


def check_targets(figures: dict) -> list[dict]:
    out = []
    for t in TARGETS:
        v = figures[t.figure] if t.stat is None else figures[t.figure][t.stat]
        out.append(
            {
                "figure": t.figure,
                "stat": t.stat or "",
                "target": t.text,
                "limit": t.limit,
                "value": v,
                "ok": bool(v <= t.limit),
            }
        )
    return out


@dataclass
class BenchOptions:
    seconds: float = SECONDS
    quick: bool = False
    load: bool = False
    command: str = "jamd bench"


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    # the load average says how noisy the figures are: other work shares these cores
    return {
        "cores": os.cpu_count() or 0,
        "cpu": cpu,
        "python": platform.python_version(),
        "loadavg_1m": os.getloadavg()[0],
        "system": f"{platform.system()} {platform.release()}",
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
    }


def run_bench(opts: BenchOptions, progress: Callable[[str], None] = lambda s: None) -> dict:
    """Every phase (module doc); returns the result as one JSON-able dict."""
    from jamd.lab.bass_eval import decode_timing
    from jamd.lab.drum_eval import decode_timings
    from jamd.live.config import read_config

    mach = machine()  # before the bench's own load: the others' load
    jack = jack_reachable()
    server = os.environ.get("JACK_DEFAULT_SERVER", "default")
    n_decode = 300 if opts.quick else 1000
    busy = None
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="jamd-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            if opts.load:
                busy = start_busy(2 * opts.seconds + 300)
                progress(f"load: busy process {busy.pid} on the other core")
            progress("cold start: python -m jamd run --demo")
            cold = cold_start(tmp, jack, 1 if opts.quick else 4)
            progress("decode timings (one BLAS thread, fresh processes)")
            cfg_path = tmp / "bench.yaml"
            cfg_path.write_text(bench_config_text("jack", RIG_SINK, rig=True))
            models = read_config(cfg_path).models
            drum_t = decode_timings(str(models.drums_path), n_decode)
            bass_t = (
                decode_timing(str(models.bass_path), n_decode)
                if models.bass_path
                else {"decode_ms_p50": 0.0, "decode_ms_p99": 0.0}
            )
            progress(f"jamd: {opts.seconds:g} s at {BPM:g} BPM, CCs at {CC_HZ:g} Hz, a drummer playing")
            run = run_jamd(cfg_path, jack, opts.seconds)
            progress(f"naive baseline: {opts.seconds:g} s")
            base_recs, base_windows = run_baseline(run.perf, run.sched_cfg, jack, opts.seconds)
        finally:
            if busy is not None:
                os.kill(busy.pid, signal.SIGTERM)  # ours, by its PID
                busy.join(5)
    progress(f"drift: {DRIFT_MINUTES:g} simulated minutes following a MIDI clock")
    drift = follow_drift()

    clock, note = error_us(run.records, REC_TICK), error_us(run.records, REC_NOTE_ON)
    b_clock, b_note = error_us(base_recs, REC_TICK), error_us(base_recs, REC_NOTE_ON)
    span0, span1 = run.span_ns
    ctl = [(t, m) for kind, t, m in run.stamps if kind == "control_ms" and span0 <= t <= span1]
    ctl_t = np.array([t for t, _ in ctl], np.float64)
    ctl_ms = np.array([m for _, m in ctl], np.float64)
    excess = control_excess_ms(ctl_t - ctl_ms * 1e6, ctl_t, run.records, run.timeline)
    seeds = [m for kind, _, m in run.stamps if kind == "seed_ms"]
    step_ms = run.timeline.ns_per_beat / STEPS_PER_BEAT / 1e6
    figures = {
        "clock_jitter_us": clock,
        "note_error_us": note,
        "control_latency_ms": stats(excess, ("p50", "max")),
        "control_publish_ms": stats(ctl_ms, ("p50", "max")),
        "control_next_step_share": float(np.mean(excess < 1e-6)) if excess.size else float("nan"),
        "step_ms": step_ms,
        "seed_latency_ms": stats(seeds, ("p50", "max")),
        "decode_drums_us": {"p50": drum_t["decode_ms_p50"] * 1e3, "p99": drum_t["decode_ms_p99"] * 1e3},
        "decode_bass_us": {"p50": bass_t["decode_ms_p50"] * 1e3, "p99": bass_t["decode_ms_p99"] * 1e3},
        "decode_window_us": {
            k: (drum_t[f"decode_ms_{k}"] + bass_t[f"decode_ms_{k}"]) * 1e3 for k in ("p50", "p99")
        },
        "cold_start_s": cold.seconds,
        "rss_mb": cold.rss_mb,
        "rss_shared_memory_mb": cold.shm_mb,
        "drift_ticks": {"end": drift.end_ticks, "max_abs": drift.max_abs_ticks, "ticks": drift.ticks},
        "windows_per_s": run.windows / ((span1 - span0) / 1e9),
        "baseline_clock_jitter_us": b_clock,
        "baseline_note_error_us": b_note,
        "baseline_windows_per_s": base_windows / (opts.seconds + SETTLE_S),
        "ratio_clock_jitter": ratios(clock, b_clock),
        "ratio_note_error": ratios(note, b_note),
    }
    prio = run.status.rt_priority
    notes.append(
        "ports: "
        + (
            f"JACK server {server!r}: controller, drummer and sink are JACK MIDI ports "
            "of a separate rig process"
            if jack
            else "null (no JACK server reachable): outputs discard, the CCs and drummer "
            "notes are handed to the daemon's input polling by a feeder thread"
        )
    )
    notes.append(
        f"engine: {'SCHED_FIFO ' + str(prio) if prio else 'normal priority (no real-time priority granted)'}"
    )
    notes.append(
        "control_latency_ms: grid time of the first step playing a window rendered after the CC, "
        "minus the next step boundary after the CC's arrival (0 = the next step); per published "
        "window, from the earliest CC in it; control_publish_ms: CC arrival -> window published"
    )
    notes.append("seed_latency_ms: bar line -> seeded window published to the engine (Latencies.seed_ms)")
    notes.append(
        "cold_start_s: "
        + cold.how
        + "; rss_mb: VmRSS summed over "
        + str(len(cold.processes))
        + " processes (jamd run, its engine, multiprocessing's resource tracker), at its peak; "
        "rss_shared_memory_mb: the part of it that is shared memory (JACK's segments, which "
        "every JACK client maps, and jamd's IPC blocks)"
    )
    notes.append(
        f"drift_ticks: simulated ({drift.ticks} ticks at 120 BPM, 80 ppm off, 0.3 ms jitter, "
        "1% up to 3 ms late)"
    )
    notes.append(
        "baseline: time.sleep to absolute deadlines in a thread of one process, a decoder thread "
        "sharing its GIL; ratio = jamd / baseline (< 1: jamd tighter)"
    )
    result = {
        "command": opts.command,
        "machine": mach,
        "ports": "jack" if jack else "null",
        "seconds": opts.seconds,
        "bpm": BPM,
        "load": opts.load,
        "rt_priority": prio,
        "cc_hz": CC_HZ,
        "controls_sent": run.events_sent,
        "figures": figures,
        "targets": check_targets(figures),
        "notes": notes,
    }
    return result


# ---------------------------------------------------------------------------- output


def _fmt(v: float) -> str:
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1000):
        return f"{int(v)}"
    a = abs(v)
    return f"{v:.3f}" if a < 10 else f"{v:.1f}" if a < 10000 else f"{v:.0f}"


def format_table(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"$ {result['command']}",
        f"machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}, {m['system']}, "
        f"load average {m['loadavg_1m']:.2f} at the start",
        f"ports: {result['ports']}; {result['seconds']:g} s at {result['bpm']:g} BPM; "
        f"load: {'other core busy' if result['load'] else 'none added'}; "
        f"engine priority: {result['rt_priority'] or 'normal'}",
        "",
        f"{'figure':28s} {'p50':>9s} {'p99':>9s} {'max':>9s} {'n':>7s}",
    ]
    for name, v in result["figures"].items():
        if isinstance(v, dict):
            cols = [v.get("p50"), v.get("p99"), v.get("max")]
            extra = {k: x for k, x in v.items() if k not in ("p50", "p99", "max", "n")}
            row = f"{name:28s} " + " ".join(f"{_fmt(c) if c is not None else '':>9s}" for c in cols)
            row += f" {_fmt(v['n']) if 'n' in v else '':>7s}"
            if extra:
                row += "  " + ", ".join(f"{k} {_fmt(x)}" for k, x in extra.items())
        else:
            row = f"{name:28s} {_fmt(v):>9s}"
        lines.append(row)
    lines.append("")
    for t in result["targets"]:
        lines.append(
            f"{'ok  ' if t['ok'] else 'MISS'} {t['target']:50s} "
            f"{t['figure']}{' ' + t['stat'] if t['stat'] else ''} = {_fmt(t['value'])}"
        )
    lines.append("")
    lines += [f"- {n}" for n in result["notes"]]
    return "\n".join(lines)


def to_json(result: dict) -> str:
    return json.dumps(result, indent=2)

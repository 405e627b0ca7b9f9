"""Cold start and memory: a real ``python -m jamd run --demo``, timed to its first clock tick,
its processes' resident memory summed from ``/proc`` while it plays."""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import rtmidi

from jamd.engine.clock import tick_ns
from jamd.midi import spec as ms
from jamd.music.grid import BEATS_PER_BAR
from jamd.ops.bench.conditions import BPM, START_SINK, bench_config_text, now_ns
from jamd.ops.bench.rig import close_port, jack_sink


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
    cmd = [sys.executable, "-m", "jamd", "-v", "run", "--demo", "--config", str(cfg), "--bars", str(bars)]
    cmd += ["--no-status", "--record", str(tmp / "start.mid")]
    first: int | None = None
    peak = _Peak()
    sink = jack_sink(START_SINK, clock=True) if jack else None
    try:
        with open(logf, "wb") as out:  # a file, never an unread pipe
            t0 = now_ns()
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp
            )
        deadline = time.monotonic() + bars * BEATS_PER_BAR * 60 / BPM + 60
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if first is None:
                    first = _first_tick(sink, logf)
                    time.sleep(0.0005)
                    continue
                if sink is not None:
                    while sink.get_message() is not None:
                        pass
                peak.sample(proc.pid)
                time.sleep(0.1)
        finally:
            _stop(proc)
    finally:
        if sink is not None:
            close_port(sink)
    if first is None:
        tail = logf.read_text(errors="replace")[-600:]
        raise RuntimeError(f"the cold-start jamd run never ticked; its log ends: {tail}")
    how = (
        "first MIDI clock tick at a JACK sink"
        if jack
        else "engine's 'transport: start' log line + 1 tick (no MIDI here)"
    )
    return ColdStart((first - t0) / 1e9, peak.kb / 1024, peak.shm_kb / 1024, peak.processes, how)


@dataclass
class _Peak:
    """The largest resident memory seen of a process tree."""

    kb: int = 0
    shm_kb: int = 0
    processes: list[str] = field(default_factory=list)

    def sample(self, pid: int) -> None:
        pids = [pid, *descendants(pid)]
        sizes = [rss_kb(p) for p in pids]
        total = sum(r for r, _ in sizes)
        if total > self.kb:
            self.kb, self.shm_kb = total, sum(s for _, s in sizes)
            self.processes = [_comm(p) for p in pids]


def _first_tick(sink: rtmidi.MidiIn | None, logf: Path) -> int | None:
    """When the first clock tick came, if it has: at the sink, or from the engine's log."""
    if sink is None:
        if b"transport: start" in logf.read_bytes():
            # logged as the engine handles Start, before the first tick: add a tick
            return now_ns() + round(tick_ns(BPM))
        return None
    first = None
    while (m := sink.get_message()) is not None:
        if m[0][0] == ms.CLOCK and first is None:
            first = now_ns()
    return first


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # jamd stops cleanly on SIGINT
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return str(pid)
    text = " ".join(a.decode(errors="replace") for a in args if a)
    return re.sub(r"\s+", " ", text)[:80]

"""The real-time engine: clock + scheduler + MIDI I/O, in a process of its own.

Why a process: with busy Python code in the same process, a clock thread is delayed by the
GIL's switch interval (see ``docs/architecture.md``, "Real-time process layout", for the
figures measured here). So :class:`EngineHandle` starts :func:`engine_main` in a separate
process (``spawn``: a fresh interpreter that imports only numpy, rtmidi and jamd's real-time
modules, never torch) and talks to it through ``jamd.engine.ipc``: a shared-memory window buffer,
a control pipe, and a shared status/timing block. Only this process asks for ``SCHED_FIFO``.

The loop: one thread, absolute deadlines on ``perf_counter_ns``. Each turn it takes in MIDI
input and control messages, lets the position source update, commits grid steps (pulling a
new window from the buffer first), and then waits for the earliest of: the next clock tick,
the next note, the next step commit - sleeping until ~1 ms before, then spinning - and does
exactly that. It never sleeps more than ``max_sleep_ms`` so controls and inputs stay live.

On the way out - quit, SIGTERM, the parent going away, an exception - every sounding note is
ended and, as master, Stop is sent; ports are closed in ``finally``. If the engine process is
killed outright (SIGKILL), :meth:`EngineHandle.check` in the parent sees it and ends the notes
the engine had sounding (mirrored in shared memory) from the parent.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from jamd.engine.clock import ClockEvent, ClockFollower, LinkClock, MasterClock, PositionSource, make_source
from jamd.engine.ipc import (
    REC_NOTE_OFF,
    REC_NOTE_ON,
    REC_SWAP,
    REC_TICK,
    REC_TRANSPORT,
    Control,
    RtShared,
    WindowBuffer,
    pack_message,
)
from jamd.engine.scheduler import SchedulerConfig, StepScheduler
from jamd.midi import spec as ms
from jamd.midi.null import NULL_API, NullOutput, null_port
from jamd.midi.ports import ManagedInput, ManagedOutput, PortConfig
from jamd.music.drumkit import GM_OUTPUT, VoiceOut
from jamd.music.grid import STEPS_PER_BEAT, BassRange

log = logging.getLogger(__name__)

now_ns = time.perf_counter_ns
#: transport record codes (data field of REC_TRANSPORT records made by the engine)
_EVENT_CODES = {
    "start": ms.START,
    "continue": ms.CONTINUE,
    "stop": ms.STOP,
    "locate": ms.SONG_POSITION,
    "lost": 1,
    "found": 2,
}


@dataclass
class RtConfig:
    """Everything the engine process needs (picklable: it crosses the process boundary)."""

    source: str = "master"  # "master" | "follow" | "link"
    bpm: float = 120.0
    drums: PortConfig | None = None
    bass: PortConfig | None = None  # None: bass goes to the drums port
    clock_out: list[PortConfig] = field(default_factory=list)
    clock_in: PortConfig | None = None  # follower: where the clock comes from
    drum_outputs: tuple[VoiceOut, ...] = GM_OUTPUT
    bass_range: BassRange = BassRange(channel=1)
    autostart: bool = False  # master/Link: start the transport at once
    clock_when_stopped: bool = True
    spin_us: int = 1000  # spin this long before each deadline
    max_sleep_ms: float = 2.0  # longest sleep: how often controls/inputs are looked at
    commit_lead_ms: float = 2.0  # commit a step this much (+ the recent swap cost) early
    housekeeping_ms: float = 500.0  # port-list polls (hotplug) this often
    status_ms: float = 20.0
    rt_priority: int = 50  # SCHED_FIFO priority to ask for (0: don't)
    switch_interval_s: float = 0.0005  # only the rtmidi input thread competes for the GIL here


def _same_port(a: PortConfig, b: PortConfig) -> bool:
    """Two roles that name one port share one connection (a virtual port is one per role)."""
    if a.api != b.api or a.virtual != b.virtual:
        return False
    return a.role == b.role if a.virtual else a.pattern == b.pattern


def _open_output(cfg: PortConfig):
    # wait=True: a device not plugged in yet is waited for, the clock runs meanwhile
    return NullOutput(cfg.role) if cfg.api == NULL_API else ManagedOutput(cfg).open(wait=True)


def set_realtime(priority: int) -> int:
    """Ask for SCHED_FIFO; fail soft (not root, no LimitRTPRIO, not Linux). Returns what we got."""
    if priority <= 0 or not hasattr(os, "sched_setscheduler"):
        return 0
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError) as e:
        log.info("real-time priority not granted (%s): running at normal priority", e)
        return 0
    log.info("running with SCHED_FIFO priority %d", priority)
    return priority


class Engine:
    """The loop. ``control`` is anything with ``poll()``/``recv()`` (a pipe end)."""

    def __init__(
        self,
        cfg: RtConfig,
        windows: WindowBuffer,
        shared: RtShared,
        control,
        clock: Callable[[], int] = now_ns,
    ) -> None:
        self.cfg = cfg
        self.windows = windows
        self.shared = shared
        self.control = control
        self.clock = clock
        self.quit = False
        self.outputs: list = []
        self.clock_outs: list = []
        self.inputs: list[ManagedInput] = []
        self.source: PositionSource | None = None
        self.sched: StepScheduler | None = None
        self._ppid = os.getppid()
        self._next_house = 0
        self._house_i = 0
        self._next_status = 0
        self.rt_priority = 0
        self.max_late_ns = 0

    # ------------------------------------------------------------------------- setup
    def _setup(self) -> None:
        cfg = self.cfg
        drum_cfg = cfg.drums or null_port("drums")
        self.outputs.append(_open_output(drum_cfg))
        bass_port = 0
        if cfg.bass is not None and not _same_port(cfg.bass, drum_cfg):
            self.outputs.append(_open_output(cfg.bass))
            bass_port = 1
        for c in cfg.clock_out:
            same = [o for o in self.outputs if _same_port(o.cfg, c)]
            self.clock_outs.append(same[0] if same else _open_output(c))
        if cfg.clock_in is not None:
            self.inputs.append(ManagedInput(cfg.clock_in).open(wait=True))
        self.sched = StepScheduler(SchedulerConfig(cfg.drum_outputs, cfg.bass_range, 0, bass_port))
        for idx, out in enumerate(self.outputs):
            if out.lost:  # waited for: nothing goes to it until it appears
                self.sched.port_lost(idx)
        self.source = make_source(cfg.source, cfg.bpm, self.clock())
        if isinstance(self.source, MasterClock):
            self.source.clock_when_stopped = cfg.clock_when_stopped
        if cfg.autostart:
            self.source.start(self.clock())

    # ----------------------------------------------------------------------- sending
    def _send(self, port: int, msg: list[int], target_ns: int) -> None:
        out = self.outputs[port]
        sent = out.send(msg)
        t = self.clock()
        kind = ms.kind_of(msg[0])
        if kind == ms.NOTE_ON:
            self.shared.record(REC_NOTE_ON, target_ns, t, pack_message(port, msg))
            if sent:
                self.shared.sounding[port, ms.channel_of(msg[0]) - 1, msg[1]] = 1
            log.debug("on %s %s", port, msg)
        elif kind == ms.NOTE_OFF:
            self.shared.record(REC_NOTE_OFF, target_ns, t, pack_message(port, msg))
            self.shared.sounding[port, ms.channel_of(msg[0]) - 1, msg[1]] = 0
            log.debug("off %s %s", port, msg)
        late = t - target_ns
        if late > self.max_late_ns:
            self.max_late_ns = late

    def _send_clock(self, msg: list[int], target_ns: int) -> None:
        for out in self.clock_outs:
            out.send(msg)
        t = self.clock()
        self.shared.record(REC_TICK if msg[0] == ms.CLOCK else REC_TRANSPORT, target_ns, t, msg[0])

    def _send_all(self, msgs, target_ns: int) -> None:
        for port, m in msgs:
            self._send(port, m, target_ns)

    # ---------------------------------------------------------------------- handling
    def _on_clock_event(self, ev: ClockEvent, t: int) -> None:
        sched = self.sched
        assert sched is not None
        if ev.kind in ("start", "continue", "locate"):
            self._send_all(sched.locate(ev.beat), t)
        elif ev.kind in ("stop", "lost"):
            self._send_all(sched.stop(), t)
        if ev.kind in ("start", "continue", "stop", "lost", "found", "locate"):
            log.info("transport: %s at beat %.2f", ev.kind, ev.beat)
            self.shared.record(REC_TRANSPORT, t, t, _EVENT_CODES.get(ev.kind, 0))
        if ev.kind == "lost":
            self.shared.set("clock_ok", 0)
        elif ev.kind == "found":
            self.shared.set("clock_ok", 1)

    def _on_control(self, c: Control, t: int) -> None:
        src, sched = self.source, self.sched
        assert src is not None and sched is not None
        log.info("control: %s %s %s", c.kind, c.value, c.part)
        if c.kind == "quit":
            self.quit = True
        elif c.kind == "panic":
            self._send_all(sched.panic(), t)
        elif c.kind == "density":
            sched.set_density(c.value)
        elif c.kind == "mute":
            self._send_all(sched.set_mute(c.part, bool(c.value)), t)
        elif isinstance(src, ClockFollower) and c.kind in ("tempo", "start", "stop", "continue", "locate"):
            log.info("following MIDI clock: %s is up to the clock master", c.kind)
        elif c.kind == "tempo":
            src.set_tempo(c.value, t)
        elif c.kind == "start":
            src.start(t)
        elif c.kind == "stop":
            src.stop(t)
        elif c.kind == "continue":
            src.cont(t)
        elif c.kind == "locate":
            src.locate(c.value, t)

    def _poll_control(self, t: int) -> None:
        try:
            while self.control.poll(0):
                self._on_control(self.control.recv(), t)
        except (EOFError, OSError):
            log.warning("control side went away: stopping")
            self.quit = True

    def _housekeeping(self, t: int) -> None:
        """Hotplug polls, one port per turn (each costs ~0.1 ms; a re-open ~10-25 ms, only
        when a port came back), and the parent check."""
        if os.getppid() != self._ppid:
            log.warning("parent process gone: stopping")
            self.quit = True
        ports = self.outputs + [o for o in self.clock_outs if o not in self.outputs] + self.inputs
        if not ports:
            return
        self._house_i = (self._house_i + 1) % len(ports)
        p = ports[self._house_i]
        change = p.check()
        if change is None or p not in self.outputs:
            return
        idx = self.outputs.index(p)
        assert self.sched is not None
        if change == "lost":
            self.sched.port_lost(idx)
            self.shared.sounding[idx] = 0
            self.shared.set("ports_lost", self.shared.get("ports_lost") + 1)
        elif change == "back":
            self._send_all(self.sched.port_back(idx), t)

    def _status(self, t: int) -> None:
        src, sched, sh = self.source, self.sched, self.shared
        assert src is not None and sched is not None
        tl = src.timeline
        sh.set("bpm", tl.bpm)
        sh.set("beat", tl.beat_at(t) if tl.running else tl.anchor_beat)
        sh.set("running", float(tl.running))
        sh.set("ticks_sent", getattr(src, "ticks_sent", getattr(src, "ticks_seen", 0)))
        sh.set("notes_on", sched.ledger.ons)
        sh.set("notes_off", sched.ledger.offs)
        sh.set("sounding", len(sched.ledger))
        sh.set("dropped_late", sched.dropped_late)
        sh.set("dropped_input", getattr(src, "ignored", 0))  # clock-in messages not acted on
        sh.set("window_id", sched.active_id)
        sh.set("swaps", sched.swaps)
        sh.set("max_late_ns", self.max_late_ns)
        if isinstance(src, LinkClock):
            sh.set("peers", src.peers)
        sh.set("updated_ns", t)

    def _sleep(self, ns: int) -> None:
        time.sleep(ns / 1e9)

    # -------------------------------------------------------------------------- loop
    def run(self) -> None:
        cfg = self.cfg
        spin = cfg.spin_us * 1000
        max_sleep = int(cfg.max_sleep_ms * 1e6)
        base_lead = lead = int(cfg.commit_lead_ms * 1e6)
        swap_cost = 0
        house_every = int(cfg.housekeeping_ms * 1e6)
        status_every = int(cfg.status_ms * 1e6)
        clock = self.clock
        try:
            self._setup()
            src, sched = self.source, self.sched
            assert src is not None and sched is not None
            self.shared.set("alive", 1)
            self.shared.set("rt_priority", self.rt_priority)
            self.shared.set("clock_ok", 0 if isinstance(src, ClockFollower) else 1)
            inputs = self.inputs
            if inputs:
                # inputs are polled: look at them at least every 1 ms
                max_sleep = min(max_sleep, 1_000_000)
            while not self.quit:
                t = clock()
                for inp in inputs:
                    for m, ts in inp.poll(t):
                        src.on_midi(m, ts)
                self._poll_control(t)
                for ev in src.update(t):
                    self._on_clock_event(ev, t)
                tl = src.timeline
                horizon = tl.horizon_beat
                if tl.running:
                    commit_to = min(tl.beat_at(t + lead), horizon)
                    if sched.next_commit_beat() <= commit_to:
                        w = self.windows.read()
                        if w is not None:
                            sched.set_window(w)
                            sched.commit_until(commit_to)  # the swap: the window becomes notes
                            # that costs ~0.6 ms here, ~5x on a Pi 4, and a step is committed only
                            # ``lead`` before its first note: commit earlier by the worst cost seen
                            # lately (decaying), so the swap never makes that note late
                            swap_cost = max(clock() - t, swap_cost * 15 // 16)
                            lead = base_lead + swap_cost
                            self.shared.record(
                                REC_SWAP, tl.time_at(sched.swap_step / STEPS_PER_BEAT), t, sched.active_id
                            )
                    play_to = min(tl.beat_at(t), horizon)
                    for p, msgs in sched.advance(commit_to, play_to):
                        self._send_all(msgs, tl.time_at(p.beat))
                # what comes next, and when: precise deadlines (tick, note) are spun for;
                # loose ones (step commit, polls) only bound the sleep
                precise, action = None, 0
                d_src = src.next_deadline()
                if d_src is not None:
                    precise, action = d_src, 1
                loose = t + max_sleep
                if tl.running:
                    nb = sched.next_event_beat()
                    if nb is not None and nb <= horizon:
                        d = tl.time_at(nb)
                        if precise is None or d < precise:
                            precise, action = d, 2
                    cb = sched.next_commit_beat()
                    if cb <= horizon:
                        loose = min(loose, tl.time_at(cb) - lead)
                if t >= self._next_status:
                    self._next_status = t + status_every
                    self._status(t)
                slack = (precise if precise is not None else loose) - t
                if slack > 3_000_000 and t >= self._next_house:
                    # only with >= 3 ms of slack: a port poll never makes a tick late
                    self._next_house = t + house_every
                    self._housekeeping(t)
                    continue
                if precise is None or precise - clock() > spin:
                    wake = loose if precise is None else min(loose, precise - spin)
                    rest = wake - clock()
                    if rest > 0:
                        self._sleep(rest)
                    continue
                t = clock()
                while t < precise:
                    t = clock()
                if action == 1:
                    src.fire(t, self._send_clock)
                else:
                    tl = src.timeline
                    play_to = min(tl.beat_at(t), tl.horizon_beat)
                    for p in sched.due(play_to):
                        self._send_all(sched.play(p, play_to), tl.time_at(p.beat))
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        t = self.clock()
        try:
            if self.sched is not None:
                self._send_all(self.sched.panic(), t)
            if isinstance(self.source, MasterClock) and self.source.timeline.running:
                self._send_clock([ms.STOP], t)
            if self.source is not None:
                self.source.close()
        finally:
            for p in self.outputs + self.clock_outs + self.inputs:
                try:
                    p.close()
                except Exception as e:  # pragma: no cover - closing must not hide the cause
                    log.warning("closing %s: %s", getattr(p, "name", p), e)
            self.shared.set("alive", 0)
            self.shared.set("sounding", 0 if self.sched is None else len(self.sched.ledger))
            log.info("engine stopped")


# ----------------------------------------------------------------------- process side


def engine_main(
    cfg: RtConfig,
    windows_name: str,
    shared_name: str,
    capacity: int,
    control,
    log_level: int = logging.WARNING,
) -> None:
    """Entry point of the engine process."""
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s[rt]: %(message)s")
    windows = WindowBuffer.attach(windows_name)
    shared = RtShared.attach(shared_name, capacity)
    engine = Engine(cfg, windows, shared, control)

    def on_term(signum, _frame) -> None:
        log.info("signal %d: stopping", signum)
        engine.quit = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    engine.rt_priority = set_realtime(cfg.rt_priority)
    sys.setswitchinterval(cfg.switch_interval_s)
    try:
        engine.run()
    finally:
        windows.close()
        shared.close()


class EngineHandle:
    """The control side's handle on the engine: start it, feed it, watch it, stop it.

    ``mode="process"`` (the default, what ``jamd run`` uses) or ``"thread"`` (only for the
    layout measurement in ``jamd.ops.layout``).
    """

    def __init__(
        self, cfg: RtConfig, mode: str = "process", capacity: int = 1 << 16, log_level: int | None = None
    ) -> None:
        self.cfg = cfg
        self.mode = mode
        self.capacity = capacity
        self.windows = WindowBuffer.create()
        self.shared = RtShared.create(capacity)
        self._conn_rt, self._conn = mp.Pipe(duplex=False)
        self.process: mp.process.BaseProcess | None = None
        self.thread: threading.Thread | None = None
        self._engine: Engine | None = None
        self._log_level = log_level if log_level is not None else logging.getLogger().getEffectiveLevel()
        self._rescued = False

    def start(self, timeout: float = 10.0) -> EngineHandle:
        if self.mode == "process":
            ctx = mp.get_context("spawn")
            self.process = ctx.Process(
                target=engine_main,
                name="jamd-rt",
                daemon=True,
                args=(
                    self.cfg,
                    self.windows.name,
                    self.shared.name,
                    self.capacity,
                    self._conn_rt,
                    self._log_level,
                ),
            )
            self.process.start()
        else:
            shared = RtShared.attach(self.shared.name, self.capacity)
            engine = self._engine = Engine(
                self.cfg, WindowBuffer.attach(self.windows.name), shared, self._conn_rt
            )

            def run_thread() -> None:
                # on Linux the policy is per thread: this makes only the engine thread FIFO
                engine.rt_priority = set_realtime(self.cfg.rt_priority)
                engine.run()

            self.thread = threading.Thread(target=run_thread, name="jamd-rt", daemon=True)
            self.thread.start()
        deadline = time.monotonic() + timeout
        while self.shared.get("alive") != 1:
            if not self.is_alive():
                raise RuntimeError("the real-time engine failed to start (see its log above)")
            if time.monotonic() > deadline:
                raise RuntimeError("the real-time engine did not start in time")
            time.sleep(0.005)
        return self

    def is_alive(self) -> bool:
        if self.process is not None:
            return self.process.is_alive()
        return self.thread is not None and self.thread.is_alive()

    def send(self, kind: str, value: float = 0.0, part: str = "") -> None:
        self._conn.send(Control(kind, value, part))

    def publish(self, window) -> int:
        return self.windows.publish(window)

    def status(self) -> dict[str, float]:
        return self.shared.status_dict()

    def records(self, since: int = 0):
        return self.shared.read_records(since)

    def check(self) -> bool:
        """Watchdog, for the parent to call now and then: True while the engine runs. If it
        died without ending its notes (SIGKILL, a crash), end them from here."""
        if self.is_alive():
            return True
        if not self._rescued:
            self._rescued = True
            self.rescue_notes()
        return False

    def rescue_notes(self) -> int:
        """Send note-offs for the notes the engine's mirror says are sounding, through fresh
        connections to the same ports (virtual ports died with the engine: nothing to do)."""
        import numpy as np

        sounding = self.shared.sounding
        cfgs = [self.cfg.drums or null_port("drums")]
        if self.cfg.bass is not None and not _same_port(self.cfg.bass, cfgs[0]):
            cfgs.append(self.cfg.bass)
        sent = 0
        for port, pcfg in enumerate(cfgs):
            hits = np.argwhere(sounding[port] > 0)
            if not len(hits) or pcfg.virtual or pcfg.api == NULL_API:
                continue
            out = ManagedOutput(PortConfig(f"{pcfg.role}-rescue", pcfg.pattern, False, pcfg.api))
            try:
                out.open()
                for ch, note in hits:
                    out.send(ms.note_off(int(ch) + 1, int(note)))
                    sent += 1
                sounding[port] = 0
            except Exception as e:
                log.error("could not end %d hanging notes on %s: %s", len(hits), pcfg.pattern, e)
            finally:
                out.close()
        if sent:
            log.warning("engine died: ended %d notes it left sounding", sent)
        return sent

    def stop(self, timeout: float = 5.0, before_release: Callable[[], None] | None = None) -> None:
        """Ask the engine to quit (it ends its notes), wait, and release the shared memory.
        ``before_release`` runs once the engine is gone and its records are final (a
        recording collects the last note-offs there)."""
        try:
            if self.is_alive():
                try:
                    self._conn.send(Control("quit"))
                except (BrokenPipeError, OSError):
                    pass
                if self.process is not None:
                    self.process.join(timeout)
                    if self.process.is_alive():
                        self.process.terminate()
                        self.process.join(timeout)
                elif self.thread is not None:
                    self.thread.join(timeout)
            self.check()
            if before_release is not None:
                before_release()
        finally:
            if self._engine is not None:
                self._engine.windows.close()
                self._engine.shared.close()
            self._conn.close()
            self.windows.close()
            self.shared.close()

    def __enter__(self) -> EngineHandle:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = [
    "Engine",
    "EngineHandle",
    "RtConfig",
    "engine_main",
    "set_realtime",
    "STEPS_PER_BEAT",
]

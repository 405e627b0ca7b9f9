"""The real-time engine: clock + scheduler + MIDI I/O, in a process of its own.

Why a process: with busy Python code in the same process, a clock thread is delayed by the
GIL's switch interval (see ``docs/architecture.md``, "Real-time process layout", for the
figures measured here). So :class:`jamd.engine.handle.EngineHandle` starts :func:`engine_main`
in a separate process (``spawn``: a fresh interpreter that imports only numpy, rtmidi and
jamd's real-time modules, never torch) and talks to it through ``jamd.engine.ipc``: a
shared-memory window buffer, a control pipe, and a shared status/timing block. Only this
process asks for ``SCHED_FIFO``.

The loop (:meth:`Engine.run`): one thread, absolute deadlines on ``perf_counter_ns``. Each turn
it takes in MIDI input and control messages and lets the position source update
(:meth:`Engine._take_in`), commits grid steps, pulling a new window from the buffer first, and
plays what is due (:meth:`Engine._commit_and_play`); then it works out the earliest of the next
clock tick, the next note and the next step commit (:meth:`Engine._deadlines`), sleeps until
~1 ms before it, spins (:meth:`Engine._wait`) and does exactly that (:meth:`Engine._fire`). It
never sleeps more than ``max_sleep_ms`` so controls and inputs stay live.

On the way out - quit, SIGTERM, the parent going away, an exception - every sounding note is
ended and, as master, Stop is sent; ports are closed in ``finally``. Closing is bounded: a
JACK client close can deadlock on a synchronous server (``jackd -S``), so the engine process
arms ``alarm(CLOSE_BOUND_S)`` first and SIGALRM ends it if the close hangs (its notes are
already off); the parent kills it too after its own deadline
(:meth:`jamd.engine.handle.EngineHandle.stop`). If the engine process is killed outright
(SIGKILL), :meth:`EngineHandle.check` in the parent sees it and ends the notes the engine had
sounding (mirrored in shared memory) from the parent.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import time
from collections.abc import Callable
from enum import Enum
from typing import NamedTuple

from jamd.engine.clock import (
    LOCATING_EVENTS,
    STOPPING_EVENTS,
    ClockEvent,
    ClockEventKind,
    ClockMode,
    MasterClock,
    PositionSource,
    Timeline,
)
from jamd.engine.config import RtConfig, same_port
from jamd.engine.drummer import DrummerClock
from jamd.engine.follow import ClockFollower, FollowerConfig
from jamd.engine.ipc import (
    REC_NOTE_OFF,
    REC_NOTE_ON,
    REC_SWAP,
    REC_TICK,
    REC_TRANSPORT,
    TRANSPORT_CONTROLS,
    Control,
    ControlKind,
    RtShared,
    WindowBuffer,
    pack_message,
)
from jamd.engine.link import LinkClock
from jamd.engine.scheduler import Msg, SchedulerConfig, StepScheduler
from jamd.midi import spec as ms
from jamd.midi.null import NULL_API, NullOutput
from jamd.midi.ports import ManagedInput, ManagedOutput, PortChange, PortConfig
from jamd.music.grid import STEPS_PER_BEAT
from jamd.sound.output import SoundOutput
from jamd.sound.synth import SoundSettings, SoundUnavailable

log = logging.getLogger(__name__)

now_ns = time.perf_counter_ns
#: transport record codes (data field of REC_TRANSPORT records made by the engine)
_EVENT_CODES = {
    ClockEventKind.START: ms.START,
    ClockEventKind.CONTINUE: ms.CONTINUE,
    ClockEventKind.STOP: ms.STOP,
    ClockEventKind.LOCATE: ms.SONG_POSITION,
    ClockEventKind.LOST: 1,
    ClockEventKind.FOUND: 2,
}
#: Ports are polled (hotplug) only with this much slack before the next precise deadline (a
#: tick or a note): a poll never makes either late ...
HOUSEKEEPING_SLACK_NS = 3_000_000
#: ... and a poll overdue by half a period takes the first gap long enough for one poll
#: (~0.1 ms on JACK; a re-open, ~10-25 ms, happens once, when the port appears).
HOUSEKEEPING_MIN_SLACK_NS = 500_000
#: With inputs (MIDI clock in), which are polled, the loop looks at them at least this often.
INPUT_POLL_NS = 1_000_000

Output = ManagedOutput | NullOutput


def _open_output(cfg: PortConfig) -> Output:
    # wait=True: a device not plugged in yet is waited for, the clock runs meanwhile
    return NullOutput(cfg.role) if cfg.api == NULL_API else ManagedOutput(cfg).open(wait=True)


def _open_sound(settings: SoundSettings, engine_priority: int) -> SoundOutput | None:
    """The synth, or None when it cannot start here: the MIDI ports play on without it."""
    try:
        return SoundOutput(settings).open(engine_priority)
    except SoundUnavailable as e:
        log.error("%s: playing without sound", e)
        return None


def make_source(mode: ClockMode, bpm: float = 120.0, now_ns: int | None = None) -> PositionSource:
    """The position source of a clock mode."""
    now = time.perf_counter_ns() if now_ns is None else now_ns
    if mode is ClockMode.INTERNAL:
        return MasterClock(bpm, now)
    if mode is ClockMode.MIDI:
        return ClockFollower(FollowerConfig(default_bpm=bpm))
    if mode is ClockMode.LINK:
        return LinkClock(bpm)
    if mode is ClockMode.DRUMMER:
        return DrummerClock()
    raise ValueError(f"unknown clock mode {mode!r} (one of {', '.join(m.value for m in ClockMode)})")


class Next(Enum):
    """What the loop waits for with a precise deadline (spinning the last stretch)."""

    SOURCE = "source"  # the position source's deadline: a tick to send, a lost clock to notice
    NOTE = "note"  # the next queued note


class Deadlines(NamedTuple):
    """When the loop must act next. ``precise`` is met exactly (``action`` is what is due
    then); ``loose`` only bounds the sleep: the next step commit, the next look at controls
    and inputs."""

    precise: int | None
    action: Next | None
    loose: int


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
        #: > 0: arm ``alarm()`` for this long before closing the ports (the engine process
        #: only: SIGALRM ends the whole process)
        self.close_bound_s = 0.0
        self.outputs: list[Output] = []
        self.clock_outs: list[Output] = []
        self.inputs: list[ManagedInput] = []
        self.sound: SoundOutput | None = None  # FluidSynth, fed every note the ports get
        #: a source that never runs until :meth:`_setup` makes the configured one
        self.source = PositionSource()
        bass_port = len(cfg.note_ports()) - 1
        self.sched = StepScheduler(SchedulerConfig(cfg.drum_outputs, cfg.bass_range, 0, bass_port))
        self._ppid = os.getppid()
        self._next_house = 0
        self._house_i = 0
        self._next_status = 0
        self.rt_priority = 0
        self.max_late_ns = 0
        # pacing (ns)
        self._spin = cfg.spin_us * 1000
        self._max_sleep = int(cfg.max_sleep_ms * 1e6)
        self._base_lead = self._lead = int(cfg.commit_lead_ms * 1e6)
        self._swap_cost = 0
        self._house_every = int(cfg.housekeeping_ms * 1e6)
        self._status_every = int(cfg.status_ms * 1e6)

    # ------------------------------------------------------------------------- setup
    def _setup(self) -> None:
        cfg = self.cfg
        self.outputs.extend(_open_output(p) for p in cfg.note_ports())
        for c in cfg.clock_out:
            same = [o for o in self.outputs if same_port(o.cfg, c)]
            self.clock_outs.append(same[0] if same else _open_output(c))
        if cfg.clock_in is not None:
            self.inputs.append(ManagedInput(cfg.clock_in).open(wait=True))
        if cfg.sound is not None:
            self.sound = _open_sound(cfg.sound, self.rt_priority)
        for idx, out in enumerate(self.outputs):
            if out.lost:  # waited for: nothing goes to it until it appears
                self.sched.port_lost(idx)
        self.source = make_source(cfg.clock, cfg.bpm, self.clock())
        if isinstance(self.source, MasterClock):
            self.source.clock_when_stopped = cfg.clock_when_stopped
        if cfg.autostart:
            self.source.start(self.clock())
        if self.inputs:
            self._max_sleep = min(self._max_sleep, INPUT_POLL_NS)
        self.shared.set("alive", 1)
        self.shared.set("rt_priority", self.rt_priority)
        self.shared.set("clock_ok", 0 if isinstance(self.source, ClockFollower) else 1)

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

    def _send_all(self, msgs: list[Msg], target_ns: int) -> None:
        for port, m in msgs:
            self._send(port, m, target_ns)
        if self.sound is not None:  # after the ports: handing notes to the synth never delays them
            for _, m in msgs:
                self.sound.send(m)

    # ---------------------------------------------------------------------- handling
    def _on_clock_event(self, ev: ClockEvent, t: int) -> None:
        if ev.kind in LOCATING_EVENTS:
            self._send_all(self.sched.locate(ev.beat), t)
        elif ev.kind in STOPPING_EVENTS:
            self._send_all(self.sched.stop(), t)
        code = _EVENT_CODES.get(ev.kind)
        if code is not None:
            log.info("transport: %s at beat %.2f", ev.kind.value, ev.beat)
            self.shared.record(REC_TRANSPORT, t, t, code)
        if ev.kind is ClockEventKind.LOST:
            self.shared.set("clock_ok", 0)
        elif ev.kind is ClockEventKind.FOUND:
            self.shared.set("clock_ok", 1)

    def _on_control(self, c: Control, t: int) -> None:
        src, sched = self.source, self.sched
        log.info("control: %s %s %s", c.kind.value, c.value, c.part or "")
        if c.kind in TRANSPORT_CONTROLS and isinstance(src, ClockFollower):
            log.info("following MIDI clock: %s is up to the clock master", c.kind.value)
            return
        match c.kind:
            case ControlKind.QUIT:
                self.quit = True
            case ControlKind.PANIC:
                self._send_all(sched.panic(), t)
            case ControlKind.DENSITY:
                sched.set_density(c.value)
            case ControlKind.MUTE:
                assert c.part is not None  # Control checks it
                self._send_all(sched.set_mute(c.part, bool(c.value)), t)
            case ControlKind.TEMPO:
                src.set_tempo(c.value, t)
            case ControlKind.START:
                src.start(t)
            case ControlKind.STOP:
                src.stop(t)
            case ControlKind.CONTINUE:
                src.cont(t)
            case ControlKind.LOCATE:
                src.locate(c.value, t)
            case ControlKind.GRID:
                if isinstance(src, DrummerClock) and c.timeline is not None:
                    src.follow(c.timeline, t)

    def _poll_control(self, t: int) -> None:
        try:
            while self.control.poll(0):
                self._on_control(self.control.recv(), t)
        except (EOFError, OSError):
            log.warning("control side went away: stopping")
            self.quit = True

    def _ports(self) -> list[Output | ManagedInput]:
        return [*self.outputs, *(o for o in self.clock_outs if o not in self.outputs), *self.inputs]

    def _housekeeping(self, t: int) -> None:
        """Hotplug polls, one port per turn, each port every ``housekeeping_ms`` (a poll
        costs ~0.1 ms; a re-open ~10-25 ms, only when a port came back), and the parent
        check."""
        if os.getppid() != self._ppid:
            log.warning("parent process gone: stopping")
            self.quit = True
        ports = self._ports()
        if not ports:
            return
        self._house_i = (self._house_i + 1) % len(ports)
        p = ports[self._house_i]
        change = p.check()
        if change is None or p not in self.outputs:
            return
        idx = self.outputs.index(p)
        if change is PortChange.LOST:
            self.sched.port_lost(idx)
            self.shared.sounding[idx] = 0
            self.shared.set("ports_lost", self.shared.get("ports_lost") + 1)
        elif change is PortChange.BACK:
            self._send_all(self.sched.port_back(idx), t)

    def _status(self, t: int) -> None:
        src, sched, sh = self.source, self.sched, self.shared
        tl = src.timeline
        sh.set("bpm", tl.bpm)
        sh.set("beat", tl.beat_at(t) if tl.running else tl.anchor_beat)
        sh.set("running", float(tl.running))
        sh.set("ticks_sent", src.ticks)
        sh.set("notes_on", sched.ledger.ons)
        sh.set("notes_off", sched.ledger.offs)
        sh.set("sounding", len(sched.ledger))
        sh.set("dropped_late", sched.dropped_late)
        sh.set("dropped_input", src.ignored)
        sh.set("window_id", sched.active_id)
        sh.set("swaps", sched.swaps)
        sh.set("max_late_ns", self.max_late_ns)
        sh.set("peers", src.peers)
        sh.set("updated_ns", t)

    def _sleep(self, ns: int) -> None:
        time.sleep(ns / 1e9)

    # -------------------------------------------------------------------------- loop
    def run(self) -> None:
        try:
            self._setup()
            while not self.quit:
                self._turn()
        finally:
            self._shutdown()

    def _turn(self) -> None:
        """One turn of the loop: take in what arrived, commit and play what is due, then
        housekeep if there is time, or wait for the next deadline and meet it."""
        t = self.clock()
        self._take_in(t)
        tl = self.source.timeline
        if tl.running:
            self._commit_and_play(t, tl)
        due = self._deadlines(t, tl)
        if t >= self._next_status:
            self._next_status = t + self._status_every
            self._status(t)
        if self._house_due(t, due):
            self._next_house = t + self._house_every // max(len(self._ports()), 1)
            self._housekeeping(t)
            return
        reached = self._wait(due)
        if reached is not None:
            self._fire(due.action, reached)

    def _house_due(self, t: int, due: Deadlines) -> bool:
        """Housekeeping is due and fits before the next precise deadline. Loose deadlines
        (input polls, step commits) only bound the sleep: measured against them, a follower
        waiting for its clock (inputs looked at every 1 ms) never had the slack, and a port
        plugged in late was never opened."""
        if t < self._next_house:
            return False
        if due.precise is None:
            return True
        slack = due.precise - t
        overdue = t - self._next_house > self._house_every // 2
        return slack > (HOUSEKEEPING_MIN_SLACK_NS if overdue else HOUSEKEEPING_SLACK_NS)

    def _take_in(self, t: int) -> None:
        """MIDI input to the position source, control messages, and the transport events the
        source has for the scheduler."""
        src = self.source
        for inp in self.inputs:
            for m, ts in inp.poll(t):
                src.on_midi(m, ts)
        self._poll_control(t)
        for ev in src.update(t):
            self._on_clock_event(ev, t)

    def _commit_and_play(self, t: int, tl: Timeline) -> None:
        """Commit the steps due within the lead (swapping in a new window first) and play
        what is due by now."""
        sched = self.sched
        commit_to = min(tl.beat_at(t + self._lead), tl.horizon_beat)
        if sched.next_commit_beat() <= commit_to:
            self._swap_in(t, tl, commit_to)
        play_to = min(tl.beat_at(t), tl.horizon_beat)
        for p, msgs in sched.advance(commit_to, play_to):
            self._send_all(msgs, tl.time_at(p.beat))

    def _swap_in(self, t: int, tl: Timeline, commit_to: float) -> None:
        """A new window, if one was published, becomes notes up to ``commit_to``."""
        w = self.windows.read()
        if w is None:
            return
        sched = self.sched
        sched.set_window(w)
        sched.commit_until(commit_to)  # the swap: the window becomes notes
        # that costs ~0.6 ms here, ~5x on a Pi 4, and a step is committed only ``lead`` before
        # its first note: commit earlier by the worst cost seen lately (decaying), so the swap
        # never makes that note late
        self._swap_cost = max(self.clock() - t, self._swap_cost * 15 // 16)
        self._lead = self._base_lead + self._swap_cost
        self.shared.record(REC_SWAP, tl.time_at(sched.swap_step / STEPS_PER_BEAT), t, sched.active_id)

    def _deadlines(self, t: int, tl: Timeline) -> Deadlines:
        """What comes next, and when: precise deadlines (tick, note) are spun for; loose ones
        (step commit, polls) only bound the sleep."""
        sched = self.sched
        precise, action = self.source.next_deadline(), Next.SOURCE
        loose = t + self._max_sleep
        if tl.running:
            nb = sched.next_event_beat()
            if nb is not None and nb <= tl.horizon_beat:
                d = tl.time_at(nb)
                if precise is None or d < precise:
                    precise, action = d, Next.NOTE
            cb = sched.next_commit_beat()
            if cb <= tl.horizon_beat:
                loose = min(loose, tl.time_at(cb) - self._lead)
        return Deadlines(precise, action if precise is not None else None, loose)

    def _wait(self, due: Deadlines) -> int | None:
        """Sleep towards the next deadline. Far from the precise one (or with none) sleep until
        the loose one or ``spin`` before the precise one, and return None: the loop goes round
        again. Within ``spin`` of it, spin until it and return the time reached."""
        clock, precise = self.clock, due.precise
        if precise is None or precise - clock() > self._spin:
            wake = due.loose if precise is None else min(due.loose, precise - self._spin)
            rest = wake - clock()
            if rest > 0:
                self._sleep(rest)
            return None
        t = clock()
        while t < precise:
            t = clock()
        return t

    def _fire(self, action: Next | None, t: int) -> None:
        """Do what was due at the precise deadline, now (``t``)."""
        src = self.source
        if action is Next.SOURCE:
            src.fire(t, self._send_clock)
            return
        tl = src.timeline
        play_to = min(tl.beat_at(t), tl.horizon_beat)
        for p in self.sched.due(play_to):
            self._send_all(self.sched.play(p, play_to), tl.time_at(p.beat))

    def _shutdown(self) -> None:
        t = self.clock()
        try:
            self._send_all(self.sched.panic(), t)
            if isinstance(self.source, MasterClock) and self.source.timeline.running:
                self._send_clock([ms.STOP], t)
            self.source.close()
        finally:
            if self.close_bound_s > 0:
                signal.alarm(math.ceil(self.close_bound_s))
            if self.sound is not None:
                self.sound.close()
            for p in [*self.outputs, *self.clock_outs, *self.inputs]:
                try:
                    p.close()
                except Exception as e:  # pragma: no cover - closing must not hide the cause
                    log.warning("closing %s: %s", getattr(p, "name", p), e)
            if self.close_bound_s > 0:
                signal.alarm(0)
            self.shared.set("alive", 0)
            self.shared.set("sounding", len(self.sched.ledger))
            log.info("engine stopped")


__all__ = ["Deadlines", "Engine", "Next", "make_source"]

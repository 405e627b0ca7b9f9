"""Note ownership, proven: what the gear hears is exactly what the scheduler believes sounds.

``tests/test_scheduler.py`` checks that the *message stream* pairs up at the end (beat-driven,
no clock). This goes further, as a hypothesis state machine over the real position sources:

* time is a fake ``perf_counter_ns``; the position comes from a real :class:`MasterClock`, or a
  real :class:`ClockFollower` listening to an external :class:`MasterClock` (the "drum machine")
  whose ticks can stop mid-bar (a pulled cable) and come back;
* a small rig plays the role of ``jamd.engine.process.Engine``'s loop: it turns clock events into
  ``locate``/``stop`` exactly as the engine does, commits with the engine's lead, plays up to the
  clock's horizon, and hands every message to fake ports;
* each fake port's far end is a strict device model: it keeps the notes it holds, and flags a
  second note-on for a sounding note, a note-off for a silent one, or anything sent while it is
  unplugged;
* rules interleave time passing, window swaps (empty, dense, random, legato bass, repeated
  notes, 16/32/64 steps), density, mutes, Start/Stop/Continue, SPP locates, tempo changes,
  a port lost and returned, panic, and a shutdown-and-restart of the scheduler.

After every rule: on each connected port the device holds exactly the ledger's notes for that
port; an unplugged port's device holds exactly the ledger's orphans for it; a stopped transport
is silent; no device saw a protocol violation. At the end (ports back, shutdown) nothing sounds.

Mapping reloads are not a rule: a mapping lives in the control process (``jamd.control.mapper``) and
never reaches the scheduler, which sees only its outcome (density, mute, transport).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from jamd.engine.clock import LOCATING_EVENTS, STOPPING_EVENTS, ClockEvent, ClockMode, MasterClock
from jamd.engine.follow import ClockFollower, FollowerConfig
from jamd.engine.scheduler import SchedulerConfig, StepScheduler
from jamd.midi import spec as ms
from jamd.music.grid import BassLine, DrumPattern
from jamd.music.window import Part, Window

SCALE = max(1, int(os.environ.get("JAMD_FUZZ_EXAMPLES", "1")))
LEAD_NS = 2_000_000  # the engine's commit_lead_ms
T0 = 10**9


# ---------------------------------------------------------------------------- the gear


class Device:
    """The far end of one output port: a strict receiver."""

    def __init__(self) -> None:
        self.sounding: set[tuple[int, int]] = set()  # (channel 1-16, note)
        self.connected = True
        self.violations: list[str] = []
        self.ons = self.offs = 0

    def receive(self, msg: list[int]) -> None:
        if not self.connected:
            self.violations.append(f"sent to an unplugged port: {msg}")
            return
        key = (ms.channel_of(msg[0]), msg[1])
        if ms.is_note_on(msg):
            self.ons += 1
            if key in self.sounding:
                self.violations.append(f"second note-on for sounding {key}")
            self.sounding.add(key)
        elif ms.is_note_off(msg):
            self.offs += 1
            if key not in self.sounding:
                self.violations.append(f"note-off for silent {key}")
            self.sounding.discard(key)


# ----------------------------------------------------------------------------- windows

WINDOW_KINDS = ("empty", "dense", "random", "legato", "repeat", "edges")


def make_window(kind: str, steps: int, seed: int, wid: int) -> Window:
    rng = np.random.default_rng(seed)
    v = 9
    hit = np.zeros((steps, v), np.float32)
    vel = rng.random((steps, v)).astype(np.float32)
    off = ((rng.random((steps, v)) - 0.5) * 0.999).astype(np.float32)
    bass = BassLine.empty(steps)
    if kind == "dense":
        hit[:] = 1
        on = np.ones(steps, bool)
    elif kind == "random":
        hit[:] = rng.random((steps, v)) < 0.3
        on = rng.random(steps) < 0.4
    elif kind == "legato":  # long bass notes running into the next and past the end
        hit[::4, 0] = 1
        on = rng.random(steps) < 0.3
        on[0] = on[-1] = True
    elif kind == "repeat":  # the same notes on consecutive steps
        hit[:, 1] = 1
        on = np.ones(steps, bool)
    elif kind == "edges":  # hits as early and as late as a step allows
        hit[:] = rng.random((steps, v)) < 0.5
        off[:] = np.where(rng.random((steps, v)) < 0.5, -0.5, 0.4999)
        on = rng.random(steps) < 0.5
    else:
        on = np.zeros(steps, bool)
    bass.onset[on] = 1
    bass.pitch[on] = 0 if kind == "repeat" else rng.integers(-12, 13, int(on.sum()))
    bass.velocity[on] = rng.random(int(on.sum())).astype(np.float32) * 0.9 + 0.1
    bass.length[on] = rng.integers(1, 2 * steps if kind == "legato" else 6, int(on.sum()))
    return Window(DrumPattern(hit, vel, off), bass, rng.integers(0, 12, steps), wid)


# --------------------------------------------------------------------------------- rig


class Rig:
    """The engine's loop over a pure scheduler, a real position source and fake ports."""

    def __init__(self, mode: ClockMode, bpm: float, shared_port: bool = False) -> None:
        self.t = T0
        self.mode = mode
        self.devices = [Device(), Device()]
        self.shared_port = shared_port
        self._new_scheduler()
        self.silent_until = 0  # follower: the external clock is silent until then
        self.external: MasterClock | None = None
        if mode is ClockMode.INTERNAL:
            self.src = MasterClock(bpm, self.t)
        else:
            self.src = ClockFollower(FollowerConfig(lost_min_ns=100_000_000))
            self.external = MasterClock(bpm, self.t)

    def _new_scheduler(self) -> None:
        self.sched = StepScheduler(SchedulerConfig(drum_port=0, bass_port=0 if self.shared_port else 1))
        self.next_window_id = 1

    # the engine's _send_all / _on_clock_event
    def send(self, msgs) -> None:
        for port, m in msgs:
            self.devices[port].receive(m)

    def on_event(self, ev: ClockEvent) -> None:
        if ev.kind in LOCATING_EVENTS:
            self.send(self.sched.locate(ev.beat))
        elif ev.kind in STOPPING_EVENTS:
            self.send(self.sched.stop())

    # one turn of the engine loop at self.t
    def turn(self) -> None:
        src, sched, t = self.src, self.sched, self.t
        for ev in src.update(t):
            self.on_event(ev)
        tl = src.timeline
        if tl.running:
            commit_to = min(tl.beat_at(t + LEAD_NS), tl.horizon_beat)
            play_to = min(tl.beat_at(t), tl.horizon_beat)
            for _, msgs in sched.advance(commit_to, play_to):
                self.send(msgs)

    def _fire_external(self, now: int) -> None:
        assert self.external is not None
        if now < self.silent_until:
            # the cable is out: the external master keeps time, nothing arrives
            self.external.fire(now, lambda m, _t: None)
        else:
            self.external.fire(now, lambda m, _t: self.src.on_midi(m, now))

    def _fire_due(self) -> None:
        for _ in range(4):  # an urgent Stop, then a tick, may both be due
            fired = False
            d = self.src.next_deadline()
            if d is not None and d <= self.t and not isinstance(self.src, ClockFollower):
                self.src.fire(self.t, lambda m, _t: None)
                fired = True
            if self.external is not None:
                d = self.external.next_deadline()
                if d is not None and d <= self.t:
                    self._fire_external(self.t)
                    fired = True
            if not fired:
                return

    def run_for(self, ns: int) -> None:
        """Advance fake time by ``ns``, stopping at every deadline the engine would wake for."""
        end = self.t + ns
        while True:
            self._fire_due()
            self.turn()
            if self.t >= end:
                return
            cands = [
                d
                for d in (self.src.next_deadline(), self.external.next_deadline() if self.external else None)
                if d is not None
            ]
            tl = self.src.timeline
            if tl.running:
                nb = self.sched.next_event_beat()
                if nb is not None and nb <= tl.horizon_beat:
                    cands.append(tl.time_at(nb))
                cb = self.sched.next_commit_beat()
                if cb <= tl.horizon_beat:
                    cands.append(tl.time_at(cb) - LEAD_NS)
            self.t = min([c for c in cands if c > self.t] + [end])

    # transport requests go to whoever is the master
    @property
    def master(self) -> MasterClock:
        return self.src if isinstance(self.src, MasterClock) else self.external  # type: ignore[return-value]

    # ------------------------------------------------------------------------ checking
    def check(self) -> None:
        for p, dev in enumerate(self.devices):
            assert not dev.violations, (p, dev.violations[:5])
            believed = {(ch, n) for (pp, ch, n) in self.sched.ledger.sounding if pp == p}
            orphans = {(ch, n) for (pp, ch, n) in self.sched.ledger.orphaned.get(p, ())}
            if dev.connected:
                assert dev.sounding == believed, (p, sorted(dev.sounding ^ believed))
                assert not orphans
            else:
                assert not believed, (p, "the ledger believes notes sound on an unplugged port")
                assert dev.sounding == orphans, (p, sorted(dev.sounding ^ orphans))
        if not self.src.timeline.running:
            assert not self.sched.ledger.sounding, "stopped, yet notes sound"
        # nothing can hang: every sounding note's own note-off is still queued
        queued_offs = {p.note_id for p in self.sched._queue if p.order == 0}
        hanging = [k for k, nid in self.sched.ledger.sounding.items() if nid not in queued_offs]
        assert not hanging, f"sounding with no note-off to come: {hanging}"


# ----------------------------------------------------------------------- state machine


class Ownership(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rig: Rig | None = None

    @initialize(
        mode=st.sampled_from([ClockMode.INTERNAL, ClockMode.MIDI]),
        bpm=st.floats(40, 300),
        shared=st.booleans(),
        kind=st.sampled_from(WINDOW_KINDS),
        seed=st.integers(0, 2**31),
        warmup=st.floats(0.3, 4.0),
    )
    def setup(self, mode, bpm, shared, kind, seed, warmup) -> None:
        """Every run starts with music playing (hypothesis likes short runs: make them count)."""
        self.rig = Rig(mode, bpm, shared)
        self.rig.sched.set_window(make_window(kind, 32, seed, 0))
        self.rig.master.start(self.rig.t)
        self._play(warmup)

    def ready(self) -> bool:
        return self.rig is not None

    def _play(self, beats: float) -> None:
        rig = self.rig
        rig.run_for(int(beats * rig.master._tick_len * ms.PPQN))

    # time passing is most of what happens on stage: three rules, so it is drawn more often
    @precondition(ready)
    @rule(beats=st.floats(0.01, 3.0))
    def play(self, beats) -> None:
        self._play(beats)

    @precondition(ready)
    @rule(beats=st.floats(0.01, 0.5))
    def play_a_little(self, beats) -> None:
        self._play(beats)

    @precondition(ready)
    @rule(steps=st.integers(1, 8))
    def play_steps(self, steps) -> None:
        self._play(steps / 4)

    @precondition(ready)
    @rule(
        kind=st.sampled_from(WINDOW_KINDS),
        steps=st.sampled_from([16, 32, 32, 64]),
        seed=st.integers(0, 2**31),
    )
    def new_window(self, kind, steps, seed) -> None:
        """A latent jump or a model swap: the model publishes a new window."""
        rig = self.rig
        rig.sched.set_window(make_window(kind, steps, seed, rig.next_window_id))
        rig.next_window_id += 1

    @precondition(ready)
    @rule(density=st.floats(0, 1))
    def density(self, density) -> None:
        self.rig.sched.set_density(density)

    @precondition(ready)
    @rule(part=st.sampled_from(Part), muted=st.booleans())
    def mute(self, part, muted) -> None:
        self.rig.send(self.rig.sched.set_mute(part, muted))

    @precondition(ready)
    @rule(what=st.sampled_from(["start", "stop", "continue"]))
    def transport(self, what) -> None:
        rig = self.rig
        getattr(rig.master, {"continue": "cont"}.get(what, what))(rig.t)
        rig.run_for(1)

    @precondition(ready)
    @rule(beat=st.floats(0, 200))
    def locate(self, beat) -> None:
        """SPP: a running master locates as Stop/SPP/Continue (MIDI allows SPP only stopped)."""
        rig = self.rig
        rig.master.locate(beat, rig.t)
        rig.run_for(1)

    @precondition(ready)
    @rule(bpm=st.floats(40, 300))
    def tempo(self, bpm) -> None:
        rig = self.rig
        rig.master.set_tempo(bpm, rig.t)
        rig.run_for(1)

    @precondition(lambda self: self.rig is not None and self.rig.mode is ClockMode.MIDI)
    @rule(beats=st.floats(0.1, 4.0))
    def clock_cable_out(self, beats) -> None:
        """The external clock stops arriving mid-bar for a while (long enough to be 'lost' or not)."""
        rig = self.rig
        rig.silent_until = rig.t + int(beats * rig.master._tick_len * ms.PPQN)

    @precondition(ready)
    @rule(port=st.sampled_from([0, 1]))
    def port_lost(self, port) -> None:
        rig = self.rig
        if rig.devices[port].connected:
            rig.devices[port].connected = False
            event(
                f"port lost with notes sounding on it: {any(k[0] == port for k in rig.sched.ledger.sounding)}"
            )
            rig.sched.port_lost(port)

    @precondition(ready)
    @rule(port=st.sampled_from([0, 1]))
    def port_back(self, port) -> None:
        rig = self.rig
        if not rig.devices[port].connected:
            rig.devices[port].connected = True
            rig.send(rig.sched.port_back(port))

    @precondition(ready)
    @rule()
    def panic(self) -> None:
        self.rig.send(self.rig.sched.panic())
        assert not any(d.sounding for d in self.rig.devices if d.connected)

    @precondition(lambda self: self.rig is not None and all(d.connected for d in self.rig.devices))
    @rule(kind=st.sampled_from(WINDOW_KINDS), seed=st.integers(0, 2**31))
    def shutdown_and_restart(self, kind, seed) -> None:
        """SIGTERM: the engine's _shutdown sends the panic; then jamd starts again."""
        rig = self.rig
        event(f"shutdown with notes sounding: {bool(rig.sched.ledger.sounding)}")
        rig.send(rig.sched.panic())
        assert not any(d.sounding for d in rig.devices)
        rig._new_scheduler()
        rig.sched.set_window(make_window(kind, 32, seed, 0))
        rig.send(rig.sched.locate(rig.src.timeline.anchor_beat))

    @invariant()
    def gear_hears_what_the_ledger_believes(self) -> None:
        if self.rig is not None:
            self.rig.check()

    def teardown(self) -> None:
        rig = self.rig
        if rig is None:
            return
        for port, dev in enumerate(rig.devices):
            if not dev.connected:
                dev.connected = True
                rig.send(rig.sched.port_back(port))
        rig.send(rig.sched.panic())
        rig.check()
        assert not any(d.sounding for d in rig.devices), "notes left hanging at the end"
        assert not rig.sched.ledger.sounding and not rig.sched.ledger.orphaned
        for d in rig.devices:
            assert d.ons == d.offs
        event(
            f"notes played in the run: {'0' if not rig.devices[0].ons else '1-50' if rig.devices[0].ons <= 50 else '>50'}"
        )


Ownership.TestCase.settings = settings(
    max_examples=150 * SCALE,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_note_ownership_state_machine = Ownership.TestCase


# ------------------------------------------------------------------ targeted scenarios


def _rig_playing(mode: ClockMode, kind: str = "dense", shared: bool = False, bpm: float = 120.0) -> Rig:
    rig = Rig(mode, bpm, shared)
    rig.sched.set_window(make_window(kind, 32, 1, 0))
    rig.master.start(rig.t)
    rig.run_for(int(2.3 * 60e9 / bpm))
    rig.check()
    return rig


def test_the_external_clock_stopping_mid_bar_ends_the_notes_and_relocks() -> None:
    rig = _rig_playing(ClockMode.MIDI, "legato")
    assert rig.sched.ledger.sounding, "the scenario needs notes sounding when the cable is pulled"
    rig.silent_until = rig.t + 2 * 10**9
    rig.run_for(500_000_000)
    rig.check()
    assert not rig.src.timeline.running and not rig.sched.ledger.sounding
    assert not any(d.sounding for d in rig.devices)
    rig.run_for(2 * 10**9)  # ticks are back: the master kept running
    ons_before = sum(d.ons for d in rig.devices)
    rig.master.stop(rig.t)
    rig.master.cont(rig.t)  # the drum machine's Continue: jamd joins in again
    rig.run_for(2 * 10**9)
    rig.check()
    assert rig.src.timeline.running and sum(d.ons for d in rig.devices) > ons_before


def test_port_lost_mid_note_ends_the_note_when_it_returns() -> None:
    rig = _rig_playing(ClockMode.INTERNAL, "legato")
    held = {k for k in rig.sched.ledger.sounding if k[0] == 1}
    assert held
    rig.devices[1].connected = False
    rig.sched.port_lost(1)
    rig.run_for(3 * 10**9)
    rig.check()
    assert rig.devices[1].sounding >= {(ch, n) for _, ch, n in held}
    rig.devices[1].connected = True
    rig.send(rig.sched.port_back(1))
    rig.check()
    assert not rig.sched.ledger.orphaned


@pytest.mark.parametrize("mode", [ClockMode.INTERNAL, ClockMode.MIDI])
def test_tempo_changes_and_locates_while_notes_sound(mode) -> None:
    rig = _rig_playing(mode, "random")
    for i, bpm in enumerate([60, 240, 97.5, 180, 300, 41]):
        rig.master.set_tempo(bpm, rig.t)
        rig.run_for(int(0.7 * 60e9 / bpm))
        rig.check()
        rig.master.locate(7.25 * i, rig.t)
        rig.run_for(int(1.3 * 60e9 / bpm))
        rig.check()
    rig.send(rig.sched.panic())
    rig.check()
    assert all(d.ons == d.offs and not d.sounding for d in rig.devices)


def test_bass_on_the_drums_port_does_not_cut_the_drums() -> None:
    """One output for drums and bass (no bass port configured, as ``jamd.engine.process`` then sets
    bass_port = drum_port): the bass is monophonic on its own channel; a hat on the drum
    channel must not end the kick that started with it."""
    s = StepScheduler(SchedulerConfig(drum_port=0, bass_port=0))
    hit = np.zeros((32, 9), np.float32)
    hit[0, 0] = hit[0, 2] = 1  # kick + closed hat on step 0
    bass = BassLine.empty(32)
    bass.onset[0], bass.length[0], bass.velocity[0] = 1, 8, 0.8
    s.set_window(
        Window(DrumPattern(hit, np.ones_like(hit), np.zeros_like(hit)), bass, np.zeros(32, np.int64), 1)
    )
    s.locate(0.0)
    out = []
    for _, msgs in s.advance(0.01, 0.01):
        out += msgs
    kick, hat = s.cfg.drum_outputs[0], s.cfg.drum_outputs[2]
    assert (0, kick.channel, kick.note) in s.ledger.sounding
    assert (0, hat.channel, hat.note) in s.ledger.sounding
    assert [m for _, m in out if ms.is_note_off(m)] == []

"""``jamd run``'s control side: inputs, controls, seeding and the model, feeding the real-time
process (`jamd.engine.process`) with windows.

Two processes (see docs/architecture.md): this one does everything that may take time — MIDI
input from the drummer and the controllers (time-stamped on arrival in rtmidi's thread), OSC,
the mappings, seeding at bar lines, decoding — and publishes each new window into the engine's
double buffer; the engine process owns the clock and every note. Nothing here can make a note
late: the worst this side can do is publish a window a step later.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from jamd.base.logsetup import apply_logging
from jamd.base.signals import Wakeup, restart_interrupted_calls
from jamd.control.targets import CHORD_TARGET
from jamd.engine.handle import EngineHandle, EngineLayout, StopOutcome
from jamd.engine.ipc import sent_messages
from jamd.live.config import Config, load_config
from jamd.live.inputs import Controllers, Inputs, Keyboard
from jamd.live.lead import DrummerLead
from jamd.live.modelguard import ModelGuard
from jamd.live.notify import Notifier, watchdog_interval_s
from jamd.live.performance import Performance
from jamd.live.recorder import Recorder
from jamd.live.rtplan import rt_config
from jamd.live.seed import SeedCapture, Seeder, closes_at
from jamd.midi.ports import default_api
from jamd.midi.spec import channel_of, is_note_on
from jamd.model.plane import Slew
from jamd.music.grid import BEATS_PER_BAR
from jamd.music.harmony import Chords
from jamd.music.window import Window
from jamd.sound.synth import SoundSettings

if TYPE_CHECKING:
    from jamd.control.osc import OscControl  # imported only when OSC is on (liblo)
    from jamd.model.seed_search import CodeSearch
    from jamd.music.grid import DrumPattern

log = logging.getLogger(__name__)

now_ns = time.perf_counter_ns
#: How often the loop polls its inputs: a knob turned just before a step's commit time must
#: still make that step (the control-to-note budget is the next step + 2 ms).
IDLE_TICK_S = 0.0015
# a note is stamped on arrival by the input thread and queued: one stamped before the window
# closed is in the queue this long after, when the code ahead of the bar line is computed
AHEAD_SLACK_NS = 2_000_000
HOUSEKEEPING_S = 0.5
REPORT_S = 0.1  # OSC state reports: often enough for a display, cheap on UDP
#: The engine's status is stale (the real-time loop stuck) after this long: stop feeding the
#: systemd watchdog, so systemd restarts jamd.
RT_STALE_S = 1.0
#: After a stop signal, the whole shutdown (engine stop, rescue, ports) gets this long; then
#: SIGALRM ends the process, printing every thread's stack (a call stuck in a MIDI driver).
SHUTDOWN_BOUND_S = 15
#: A slew-only move (no control changed) re-renders at most this often: the engine takes a
#: new window once per step, so rendering more often only burns the core the clock shares.
SLEW_RENDER_S = 0.010
#: A drummer who played this recently is "playing" (for ducking the machine's drums).
DRUMMER_ACTIVE_S = 2.0
#: A chord change this soon after a bar line applies to that bar (a 16th note).
CHORD_GRACE_BEATS = 0.25


@dataclass
class Latencies:
    """What `jamd bench` and the status report read: how quickly this side reacts."""

    control_ms: list[float] = field(default_factory=list)  # control arrival -> window published
    seed_ms: list[float] = field(default_factory=list)  # bar line -> seeded window published
    search_ms: list[float] = field(default_factory=list)  # bar line -> searched seed published

    def add(self, kind: str, ms: float) -> None:
        series = getattr(self, kind)
        series.append(ms)
        del series[:-1000]  # bounded: a daemon runs for days


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        engine_mode: EngineLayout = EngineLayout.PROCESS,
        offline: bool = False,
        recorder: Recorder | None = None,
        sound: SoundSettings | None = None,
    ):
        self.config = config
        self.offline = offline
        self.wake = Wakeup()
        self.stop_requested = threading.Event()
        # what a signal handler asked: plain flags, as a handler must take no lock (Wakeup)
        self._stop_signal = self._reload_signal = False
        self.latencies = Latencies()
        self.recorder = recorder
        self.tickers: list[Callable[[int], None]] = []  # called once per loop turn (demo, screen)
        self.window: Window | None = None  # the last published window
        self.notifier = Notifier()
        self._load_models(config)
        self.model_guard = ModelGuard(self._restart_model)
        self.engine = EngineHandle(rt_config(config, offline, sound), mode=engine_mode)
        self._records_seen = 0
        self._published_t, self._published_xy = 0, np.full(2, np.nan, np.float32)
        self.inputs = Inputs()
        self.controllers = Controllers(self.perf)
        self.osc: OscControl | None = None
        self._last_bar: int | None = None
        self._drummer_t = 0
        self.lead = DrummerLead.on(self.engine, config, self.perf.values)
        self.tickers += [self.lead.tick] if self.lead is not None else []
        self._pending_control_t: int | None = None
        #: control events from other threads (the web page's server), applied by the loop
        self._posted: queue.SimpleQueue[tuple[str, float | str]] = queue.SimpleQueue()
        self.keyboard = Keyboard(self.drums.steps)
        #: how the engine was stopped at the end (``jamd run``'s exit code says it)
        self.stop_outcome: StopOutcome | None = None
        self._alarm_armed = False  # the shutdown bound (a stop signal arms it)
        self._seed_bar_t = 0.0  # when the seed's window ended (ns): its search is timed from there
        self._ahead_bar: int | None = None  # the bar line whose seed was encoded ahead

    # --------------------------------------------------------------------------- set-up
    def _load_models(self, config: Config) -> None:
        self.drums, self.bass = config.models.load()
        self.perf = Performance(
            self.drums,
            self.drums.plane(config.latent.radius),
            self.bass,
            config.bass.progression(self.drums.steps),
            config.latent.scene_glide,
            config.clock.tempo,
        )
        self.capture = SeedCapture(config.drummer.table, config.seed.settings(self.drums.steps))
        self.seeder = Seeder(self.capture, self.drums.encode, self._seed_search(config))
        self.slew = Slew(config.latent.slew, np.zeros(2, np.float32))

    def _seed_search(self, config: Config) -> Callable[[DrumPattern], CodeSearch] | None:
        """How the seeder searches on from the encoder's code: ``seed.search`` steps, else the
        model card's (`jamd.model.seed_search`); None when neither asks for any."""
        settings = self.drums.seed_search
        if config.seed.search is not None:
            settings = replace(settings, steps=config.seed.search)
        if not settings.steps:
            return None
        return lambda window: self.drums.pattern_search(window, settings)

    def start(self) -> None:
        self.engine.start()
        try:
            self._publish(now_ns())
            if not self.offline:
                self._open_inputs()
            self._open_osc()
        except BaseException:
            self.engine.stop()
            raise
        self.notifier.ready("clock running")
        log.info("jamd running: %s clock at %.1f BPM", self.config.clock.mode, self.config.clock.tempo)

    def _open_inputs(self) -> None:
        def found(role: str, name: str) -> None:
            # a controller gets its mapping (chosen by port name) when its port opens: later
            # for one plugged in after the start, again for one back under a new name
            if role == "controller" and name not in self.controllers.mappers:
                self.controllers.attach(name, self.config.controller_mappings())

        self.inputs.on_found = found
        self.inputs.open(
            self.config.ports, self.engine.cfg.drums.api if self.engine.cfg.drums else default_api()
        )

    def _open_osc(self) -> None:
        if not self.config.osc.enabled:
            return
        from jamd.control.osc import OscControl

        self.osc = OscControl(
            self.config.osc.settings(), lambda target, value: self._control(target, value, now_ns())
        )

    # ---------------------------------------------------------------------------- loop
    def run(self) -> None:
        self.start()
        try:
            self.loop()
        finally:
            self.shutdown()

    def loop(self) -> None:
        next_house = next_report = 0.0
        watchdog = watchdog_interval_s()
        next_dog = 0.0
        last = now_ns()
        while not (self._stop_signal or self.stop_requested.is_set()):
            t = now_ns()
            self._handle_inputs(t)
            if self.osc is not None:
                self.osc.poll(0)
            while not self._posted.empty():
                self._control(*self._posted.get_nowait(), t)
            for ev in self.controllers.tick(t / 1e9):
                self._control(ev.target, ev.value, t)
            self.perf.tick(t / 1e9)  # a scene recall gliding
            self._bar_lines(t)
            self._seed_ahead(t)
            self._search_seed(t)
            self._render_if_needed(t, (t - last) / 1e9)
            last = t
            for tick in self.tickers:
                tick(t)
            if t / 1e9 >= next_house:
                next_house = t / 1e9 + HOUSEKEEPING_S
                self._housekeeping()
            if self.osc is not None and t / 1e9 >= next_report:
                next_report = t / 1e9 + REPORT_S
                self._report(self.osc, t)
            if watchdog and t / 1e9 >= next_dog and self._engine_fresh(t):
                next_dog = t / 1e9 + watchdog
                self.notifier.watchdog()
            if self._reload_signal:
                self._reload_signal = False
                self.reload()
            # (a seed search runs a step a turn: at most an idle tick apart, which leaves the
            # core to JACK and the engine between steps)
            self.wake.wait(self._wait_s(t))

    def _wait_s(self, t: int) -> float:
        """Until the next bar line, but never longer than an idle tick."""
        st = self.engine.status()
        if not st.running:
            return IDLE_TICK_S
        beat = st.beat_at(t)
        to_bar = (np.floor(beat / BEATS_PER_BAR + 1) * BEATS_PER_BAR - beat) * 60.0 / max(st.bpm, 1.0)
        return float(min(max(to_bar, 0.0), IDLE_TICK_S))

    def running(self) -> bool:
        return self.engine.status().running

    def beat_now(self, t: int | None = None) -> float:
        return self.engine.status().beat_at(now_ns() if t is None else t)

    def seed_xy(self) -> tuple[float, float] | None:
        """Where the drummer's seed sits on the plane (None before anyone played)."""
        z = self.seeder.z_seed
        return None if z is None else self.perf.plane.project(z)

    def _engine_fresh(self, t: int) -> bool:
        return self.engine.is_alive() and t - self.engine.status().updated_ns < RT_STALE_S * 1e9

    # --------------------------------------------------------------------------- inputs
    def _handle_inputs(self, now: int) -> None:
        for role, port, msg, t in self.inputs.drain(now):
            if self.recorder is not None:
                self.recorder.message(f"{role} in", msg, t)
            if role == "drummer":
                self._on_drummer(msg, t)
            elif role == "keyboard" and (chords := self.keyboard.feed(msg)) is not None:
                self._control(CHORD_TARGET, chords, t)
            elif role == "controller":
                for ev in self.controllers.feed(port.name, msg, t / 1e9):
                    self._control(ev.target, ev.value, t)

    def _on_drummer(self, msg: list[int], t: int) -> None:
        if is_note_on(msg):
            channel = self.config.drummer.channel
            if channel is None or channel_of(msg[0]) == channel:
                self.capture.add(self.engine.status().beat_at(t), msg[1], msg[2])
                self._drummer_t = t
                log.debug("drummer note %d vel %d", msg[1], msg[2])
                if self.lead is not None:
                    self.lead.note(msg[1], msg[2], t)

    def post_control(self, target: str, value: float | str) -> None:
        """A control event from another thread (the web page's server): the loop applies it
        on its next turn, in order, on the path OSC's events take (:meth:`_control`)."""
        self._posted.put((target, value))
        self.wake.set()

    def _control(self, target: str, value: float | str | Chords, t: int) -> None:
        """One control event, from OSC, the keyboard or a mapping (a mapping has put its values
        into perf already: applied again they change nothing, and its triggers act)."""
        try:
            self.perf.apply(target, value, t / 1e9)
        except (KeyError, ValueError) as e:
            log.warning("control %s=%r refused: %s", target, value, e)
            return
        for c in self.perf.take_controls():
            self.engine.send(c.kind, c.value, c.part)
        if self.perf.take_reseed():
            self._reseed_now(t)
        if target == CHORD_TARGET and self._chord_holds_now(t):
            self.perf.bar_line(self.perf.bar)
        if self.perf.dirty and self._pending_control_t is None:
            self._pending_control_t = t
        log.debug("control %s = %s", target, value)

    def _chord_holds_now(self, t: int) -> bool:
        """A chord played on the one lands a few ms after the bar line: it still counts for
        that bar (players push or lay back; nobody means the bar after). Stopped, no bar plays
        (the bar the fill would keep is a stale one): the chord holds from the start."""
        st = self.engine.status()
        return not st.running or st.beat_at(t) % BEATS_PER_BAR < CHORD_GRACE_BEATS

    def _reseed_now(self, t: int) -> None:
        """The reseed button: the drummer's last two bars become the centre now, and the pad's
        position is home again (knobs pick it up from there)."""
        z = self.seeder.bar_line(self.engine.status().beat_at(t))
        if z is None:
            log.info("reseed: the drummer played too little to seed from")
            return
        self._seed_bar_t = t
        self.perf.reseed(z)

    # ---------------------------------------------------------------------- bars, windows
    def _bar_lines(self, t: int) -> None:
        st = self.engine.status()
        if not st.running:
            self._last_bar = None
            return
        beat = st.beat_at(t)
        bar = int(np.floor(beat / BEATS_PER_BAR))
        if self._last_bar is None or bar < self._last_bar:
            # first look after a start, or the song position jumped back (SPP, Link) while
            # playing: no bar line crossed, but the bar playing is this one
            self._last_bar = bar
            self.perf.locate(bar)
            return
        if bar == self._last_bar:
            return
        self._last_bar = bar
        self.perf.bar_line(bar)
        z = self.seeder.bar_line(bar * BEATS_PER_BAR)
        if z is not None:
            self.perf.set_center(z)
            self._seed_bar_t = st.time_at(bar * BEATS_PER_BAR)
            self._publish(t)
            self.latencies.add("seed_ms", (now_ns() - self._seed_bar_t) / 1e6)

    def _seed_ahead(self, t: int) -> None:
        """Once the window ending at the coming bar line has closed (half a step before it),
        encode it: the bar line then only checks it and decodes (bar line -> new seed)."""
        st = self.engine.status()
        if not st.running or self._last_bar is None or self._ahead_bar == self._last_bar + 1:
            return
        end = (self._last_bar + 1) * BEATS_PER_BAR
        if st.beat_at(t - AHEAD_SLACK_NS) >= closes_at(end):
            self._ahead_bar = self._last_bar + 1
            self.seeder.ahead(end)

    def _search_seed(self, t: int) -> None:
        """One step of the seed search after a bar line; its code becomes the centre when done."""
        z = self.seeder.search_step()
        if z is not None:
            self.perf.set_center(z)
            self._publish(t)
            self.latencies.add("search_ms", (now_ns() - self._seed_bar_t) / 1e6)
            log.debug("seed searched on: %s", z)

    def _render_if_needed(self, t: int, dt: float) -> None:
        target = np.array([self.perf.values["drums.x"], self.perf.values["drums.y"]], np.float32)
        self.slew.step(target, dt)
        moved = not np.array_equal(self._published_xy, self.slew.value)
        if self.perf.dirty or (moved and t - self._published_t >= SLEW_RENDER_S * 1e9):
            self._publish(t)

    def _publish(self, t: int) -> None:
        if self.perf.held:
            return  # the window playing stays
        if self.model_guard.down:
            return  # the engine keeps its last good window; perf stays dirty for the restart
        x, y = (float(v) for v in self.slew.value)
        window = self.model_guard.render(lambda: self.perf.render((x, y)))
        if window is None:
            return
        duck = self.config.seed.duck
        if duck > 0 and now_ns() - self._drummer_t < DRUMMER_ACTIVE_S * 1e9:
            window.drums.velocity *= 1.0 - duck
        self.engine.publish(window)
        if self._pending_control_t is not None:
            self.latencies.add("control_ms", (now_ns() - self._pending_control_t) / 1e6)
            self._pending_control_t = None
        self.window = window
        self._published_t, self._published_xy = t, self.slew.value.copy()
        if self.recorder is not None:
            self.recorder.walk(x, y, t)

    def _restart_model(self) -> None:
        """The model failed (`ModelGuard`): load it again from its checkpoint files, so a weight
        corrupted in memory is gone; a damaged file raises and the guard retries later."""
        self.drums, self.bass = self.config.models.load(bass=self.bass is not None)
        self.perf.swap_models(self.drums, self.bass)
        self.seeder.use_encoder(self.drums.encode)
        if not np.isfinite(self.perf.center).all():  # a seed the broken encoder made
            self.seeder.z_seed = None
            self.perf.set_center(self.perf.plane.center)

    # --------------------------------------------------------------------- housekeeping
    def _housekeeping(self) -> None:
        self.inputs.check()
        self._record_sent()
        self.model_guard.tick()
        if not self.engine.check():
            log.error(
                "the real-time engine stopped unexpectedly (%s); restarting it", self.engine.ended_why()
            )
            self.engine.stop()
            self.engine = EngineHandle(self.engine.cfg, mode=self.engine.mode)
            self.engine.start()
            # a new engine: new records (counted from 0) and a clock from beat 0
            self._records_seen, self._last_bar = 0, None
            if self.model_guard.down and self.window is not None:
                self.engine.publish(self.window)  # no model now: the last good window again
            else:
                self._publish(now_ns())

    def _report(self, osc: OscControl, t: int) -> None:
        """State to the OSC report targets (see docs/osc.md)."""
        st = self.engine.status()
        beat = st.beat_at(t)
        bar, beat_in_bar = divmod(int(beat), BEATS_PER_BAR)
        dropped = (
            sum(m.ignored for m in self.controllers.mappers.values())
            + osc.stats.rejected_message
            + osc.stats.rejected_source
        )
        osc.report("/jamd/state/tempo", st.bpm)
        osc.report("/jamd/state/position", bar + 1, beat_in_bar + 1)
        osc.report("/jamd/state/drums/xy", *(float(v) for v in self.slew.value))
        osc.report("/jamd/state/bass/xy", self.perf.values["bass.x"], self.perf.values["bass.y"])
        z = self.seeder.z_seed
        if z is not None:
            osc.report("/jamd/state/seed", *self.perf.plane.project(z))
            osc.report("/jamd/state/seed/z", *(float(v) for v in z))
        osc.report("/jamd/state/dropped", int(dropped))
        if self.lead is not None:
            osc.report("/jamd/state/drummer", *self.lead.report())

    def _record_sent(self) -> None:
        """Copy the notes the engine sent (its timing records) into the recording."""
        if self.recorder is None:
            return
        records, self._records_seen = self.engine.records(self._records_seen)
        for port, msg, sent_ns in sent_messages(records):
            self.recorder.message(("drums out", "bass out")[min(port, 1)], msg, sent_ns)

    def reload(self) -> None:
        """SIGHUP: read the config and mappings again. A bad file is refused and the old
        state kept; controls, seeding and latent settings change at once, ports and clock
        settings only with a restart (they would drop the clock)."""
        try:
            new = load_config(self.config.path or None)
            mappings = new.controller_mappings()
            apply_logging(new.logging.level, new.logging.file)  # the engine's from its next start
        except Exception as e:  # a UserError with file:line, or an unreadable file
            log.error("reload refused, keeping the running config: %s", e)
            return
        self.controllers.reload(mappings)
        self.capture.settings = new.seed.settings(self.drums.steps)
        self.seeder.search = self._seed_search(new)
        self.slew.rate = new.latent.slew
        self.perf.set_latent(self.drums.plane(new.latent.radius), new.latent.scene_glide)
        if new.bass.chords != self.config.bass.chords:
            self.perf.apply(CHORD_TARGET, new.bass.progression(self.drums.steps))  # from the next bar
        if rt_config(new, sound=self.engine.cfg.sound) != self.engine.cfg:
            log.warning("reload: port and clock changes take effect at the next restart")
        self.config = new
        log.info("reloaded %s", new.path or "the built-in defaults")

    def shutdown(self) -> None:
        """Inputs close first (see docs/reliability.md, crashes), the engine ends every note, exits."""
        self.notifier.stopping()
        self.inputs.close()
        try:
            self.stop_outcome = self.engine.stop(before_release=self._record_sent)
        finally:
            if self.recorder is not None:
                self.recorder.save()
            if self.osc is not None:
                self.osc.close()
            if self._alarm_armed:  # done in time: the bound must not fire later
                signal.alarm(0)
            log.info("jamd stopped")

    # -------------------------------------------------------------------------- signals
    def install_signal_handlers(self) -> None:
        def stop(signum, _frame) -> None:
            log.info("signal %s: stopping (again: stop at once)", signal.Signals(signum).name)
            # a second Ctrl-C or SIGTERM ends the process at once, whatever call the loop is
            # stuck in (the kernel's default action needs no Python code to run); the engine
            # sees its parent gone and ends its notes itself. And the shutdown is bounded.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.alarm(SHUTDOWN_BOUND_S)
            self._alarm_armed = True
            self._stop_signal = True
            self.wake.set()

        def hup(_signum, _frame) -> None:
            self._reload_signal = True
            self.wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, hup)
        restart_interrupted_calls(signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

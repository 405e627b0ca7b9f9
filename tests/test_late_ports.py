"""Ports that appear after jamd started (a rack powers its drum machine after the Pi) are opened
within 2 s, for every role, in every clock mode, over real JACK ports.

One daemon per clock mode (its engine in its own process, as `jamd run` runs it) with every
port absent at start: the drums and bass outputs, the clock output (internal mode: the only
one that sends clock), the clock input (midi mode: a sender process sending real MIDI clock
and Start), the drummer and a controller. Then all of them appear at once, and each must be in
use within 2 s: notes at the drums and bass sinks, ticks at the clock sink, notes in time after
the sender's Start, the inputs open (and the controller mapped).

Before the fix the engine's port search never ran in midi mode with no clock (the loop woke
every 1 ms and polled ports only with 3 ms of slack to its loose deadline).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from test_rt_jack import ExternalClock, Sink, wait_for

from jamd.engine.config import RtConfig
from jamd.engine.process import HOUSEKEEPING_MIN_SLACK_NS, HOUSEKEEPING_SLACK_NS, Deadlines, Engine, Next
from jamd.live.config import DEFAULT_DRUM_MODEL, load_config
from jamd.live.daemon import Daemon
from jamd.midi import spec as ms

rtmidi = pytest.importorskip("rtmidi")

MODEL = Path(os.environ.get("JAMD_TEST_DRUM_MODEL", DEFAULT_DRUM_MODEL)).resolve()
APPEAR_S = 2.0  # what the issue asks: in use within 2 s of appearing


def config(tmp_path: Path, mode: str, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    clock_in = '  clock_in: "extclock:out"\n' if mode == "midi" else ""
    path = tmp_path / "jamd.yaml"
    path.write_text(f"""
clock: {{mode: {mode}, tempo: 180, send_clock: true}}
ports:
  api: jack
  virtual: false
  drums: "late-drums:in"
  bass: "late-bass:in"
  clock_out: "late-clock:in"
{clock_in}  drummer: "late-kit:out"
  controllers: ["late-knobs:out"]
models: {{drums: "{MODEL}"}}
osc: {{enabled: false}}
latent: {{slew: 0}}
mappings: [generic-two-knobs]
""")
    return load_config(path)


def first_after(sink: Sink, t0: int, want) -> float | None:
    """Seconds from ``t0`` to the first message ``want`` accepts, or None."""
    times = [t for t, m in list(sink.got) if t >= t0 and want(m)]
    return (times[0] - t0) / 1e9 if times else None


def test_port_polls_fit_before_the_next_tick_or_note_and_loose_deadlines_do_not_block_them() -> None:
    e = Engine(RtConfig(), None, None, None)  # the rule only: no ports, no shared memory
    t, period = 10**12, e._house_every
    e._next_house = t
    loose = t + 1_000_000  # inputs looked at every 1 ms: no room before it, and no matter
    assert e._house_due(t, Deadlines(None, None, loose))
    assert e._house_due(t, Deadlines(t + HOUSEKEEPING_SLACK_NS + 1, Next.SOURCE, loose))
    assert not e._house_due(t, Deadlines(t + HOUSEKEEPING_SLACK_NS, Next.NOTE, loose))
    assert not e._house_due(t - 1, Deadlines(None, None, loose))  # not due yet
    # overdue by more than half a period: any gap that fits one poll will do
    late = t + period
    assert e._house_due(late, Deadlines(late + HOUSEKEEPING_MIN_SLACK_NS + 1, Next.NOTE, loose))
    assert not e._house_due(late, Deadlines(late + HOUSEKEEPING_MIN_SLACK_NS, Next.NOTE, loose))


@pytest.mark.jack
@pytest.mark.parametrize("mode", ["internal", "midi", "link"])
def test_every_port_that_appears_late_is_used_within_2_s(mode, jack_server, tmp_path, monkeypatch) -> None:
    if mode == "link":
        pytest.importorskip("aalink")
    d = Daemon(config(tmp_path, mode, monkeypatch))
    thread = threading.Thread(target=d.run, daemon=True)
    thread.start()
    made: list = []
    ext = None
    try:
        assert wait_for(lambda: d.engine.is_alive() and d.engine.status().alive, 30)
        assert wait_for(lambda: len(d.inputs.ports) == 2, 30)  # both waited for (slow under load)
        assert all(p.lost for _, p in d.inputs.ports)
        time.sleep(1.0)  # the loop runs a while with nothing there
        t0 = time.perf_counter_ns()
        sinks = {role: Sink(f"late-{role}") for role in ("drums", "bass", "clock")}
        made.extend(sinks.values())
        for name in ("late-kit", "late-knobs"):
            dev = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=name)
            dev.open_virtual_port("out")
            made.append(dev)
        t_clock = t0
        if mode == "midi":  # a process of its own: it is there once ExternalClock returns
            ext = ExternalClock(180.0, tmp_path / "clock.log")
            t_clock = time.perf_counter_ns()
        followed = None
        while time.perf_counter_ns() - t_clock < (APPEAR_S + 0.5) * 1e9:
            if followed is None and d.engine.status().clock_ok:
                followed = (time.perf_counter_ns() - t_clock) / 1e9
            time.sleep(0.01)
        late = {
            "drums": first_after(sinks["drums"], t0, ms.is_note_on),
            "bass": first_after(sinks["bass"], t0, ms.is_note_on),
        }
        if mode == "internal":  # only the master sends clock
            late["clock out"] = first_after(sinks["clock"], t0, lambda m: m[0] == ms.CLOCK)
        if mode == "midi":  # the clock is followed, and Start starts the notes
            late["clock in"] = followed
            late.pop("drums"), late.pop("bass")
            ext.cmd("start")

            def after_start(role: str) -> float | None:
                start = next((t for k, t in ext.events() if k == "start"), None)
                return None if start is None else first_after(sinks[role], start, ms.is_note_on)

            # the first notes after Start, waited for up to the budget (not a fixed sleep:
            # on a loaded machine the sender may log its Start late)
            wait_for(lambda: after_start("drums") is not None and after_start("bass") is not None, APPEAR_S)
            late["drums"], late["bass"] = after_start("drums"), after_start("bass")
        assert all(v is not None and v < APPEAR_S for v in late.values()), late
        assert all(not p.lost for _, p in d.inputs.ports), "drummer/controller not opened"
        assert "late-knobs:out" in d.controllers.mappers, "the controller got no mapping"
    finally:
        d.stop_requested.set()
        d.wake.set()
        thread.join(20)
        if ext is not None:
            ext.close()
        for dev in made:
            if isinstance(dev, Sink):
                dev.close()
            else:
                dev.close_port()
                dev.delete()
    assert not thread.is_alive()
    for s in made[:3]:
        assert not s.unmatched()

"""`clock.mode: drummer` end to end over real JACK MIDI ports (issue 16).

A player process is the drummer: a one-bar hi-hat pedal count-in, then 8 bars of a GMD
test-split performance warped by the eval's drift curve (``jamd.lab.tempo_eval``), into jamd's
drummer port; then silence. jamd follows: JACK sinks record its MIDI clock and its drums. The
clock's beats must sit on the drummer's true beats, the drums on jamd's own clock, every note
must end, and the drummer's silence (2 beats, then ``hold_bars``) must Stop the rig.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from jamd.base.paths import MODELS_DIR, default_data_dir
from jamd.engine.ipc import REC_TICK
from jamd.engine.steer import SteerConfig
from jamd.lab.tempo_eval import Curve, Performance, load_performances, play, run_tracker
from jamd.live.config import read_config
from jamd.live.daemon import Daemon
from jamd.midi import spec as ms
from jamd.tempo.tracker import TrackerConfig

Sink = pytest.importorskip("test_rt_jack", reason="the real-time JACK test helpers").Sink
run_jack = pytest.importorskip("test_run_jack", reason="the end-to-end JACK test helpers")
start_player, end_player, _wait = run_jack.start_player, run_jack.end_player, run_jack._wait

GMD = default_data_dir()
FILE = "drummer1/session2/35_punk_128_beat_4-4.mid"
BARS = 8
HOLD_BARS = 1
pytestmark = [pytest.mark.skipif(GMD is None, reason="Groove MIDI Dataset not found"), pytest.mark.jack]


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "jamd.yaml"
    path.write_text(f"""
clock: {{mode: drummer, send_clock: true}}
ports:
  api: jack
  virtual: false
  drummer: "drummer:out"
  drums: "drums-sink:in"
  clock_out: "clock-sink:in"
drummer: {{kit: td11, hold_bars: {HOLD_BARS}}}
seed: {{mode: follow}}
models: {{drums: "{MODELS_DIR / "drums-flat"}"}}
""")
    return path


def drummer() -> Performance:
    """The performance's first bars (played through the drift curve by ``play``)."""
    perfs = {p.name: p for p in load_performances(Path(GMD))}
    perf = perfs[FILE]
    return dataclasses.replace(
        perf, notes=tuple(n for n in perf.notes if n.beat < BARS * 4 - 0.25), beats=BARS * 4
    )


class Ticks:
    """The clock ticks' due times from the engine's timing records (they go with the engine)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon, self.seen = daemon, 0
        self.due: list[int] = []
        self.late_us: list[float] = []  # sent - due: the engine's clock jitter (jamd bench's figure)

    def collect(self, t: int) -> None:
        records, self.seen = self.daemon.engine.records(self.seen)
        for kind, due, sent, _d in records:
            if kind == REC_TICK:
                self.due.append(int(due))
                self.late_us.append((int(sent) - int(due)) / 1e3)


def test_jamd_follows_the_drummer_end_to_end(jack_server, tmp_path):
    perf = drummer()
    played = play(perf, Curve.DRIFT, 0)
    drums_sink, clock_sink = Sink("drums-sink"), Sink("clock-sink")
    sched = tmp_path / "schedule.json"
    player = start_player(sched, ["drummer"])
    daemon = None
    try:
        daemon = Daemon(read_config(write_config(tmp_path)))
        daemon.perf.apply("timing", 0.0)  # quantised: every drum note due on a 16th of jamd's grid
        ticks = Ticks(daemon)
        daemon.tickers.append(ticks.collect)
        thread = threading.Thread(target=daemon.run)
        thread.start()
        assert _wait(lambda: daemon.engine.status().updated_ns, 10)
        assert not daemon.running(), "drummer mode waits for the count-in"
        one_ns = time.perf_counter_ns() + 3_000_000_000  # the one, after a bar of count-in
        events = []
        for t, note, vel in played.onsets:
            at = one_ns + int(t * 1e9)
            events += [[at, "drummer", [0x99, note, vel]], [at + 30_000_000, "drummer", [0x89, note, 0]]]
        sched.write_text(json.dumps({"ports": ["drummer"], "events": events}))
        player.stdin.write("go\n")
        player.stdin.flush()
        last_hit = one_ns + int(played.onsets[-1][0] * 1e9)
        beat_ns = 60e9 / played.warp.bpm
        # silence: holding after 2 beats, Stop after hold_bars more
        stop_due = last_hit + (2 + HOLD_BARS * 4) * beat_ns * 1.15
        assert _wait(lambda: clock_sink.status(ms.STOP), (stop_due - time.perf_counter_ns()) / 1e9 + 5)
        time.sleep(0.5)
        daemon.stop_requested.set()
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        if daemon is not None:
            daemon.stop_requested.set()
        end_player(player)
        drums_sink.close()
        clock_sink.close()

    # the clock: Start, then ticks whose beats sit on the drummer's true beats
    (start,) = clock_sink.status(ms.START)
    due = np.array(ticks.due, float)
    due = due[due >= start - 5e6]
    beats = due[:: ms.PPQN]
    true = one_ns + played.true_beats * 1e9
    n = min(len(beats), len(true))
    err = np.abs(beats[:n] - true[:n]) / 1e6
    assert n >= BARS * 4 - 1
    # The same input through ``jamd eval tempo``'s tracker and clock, offline: this drummer's
    # feel moves +-20 ms around the click over these bars and the clock follows the drummer, so
    # the figures to hold the live path to are the eval's for this input (p50 13, p95 31 ms),
    # not zero. The live path may add what JACK's stalls on a busy box add to a hit's arrival.
    offline = np.abs(run_tracker(perf, Curve.DRIFT, 0, TrackerConfig(), SteerConfig()).beat_error_ms)
    assert np.percentile(offline, 50) < 20 and np.percentile(offline, 95) < 45
    assert np.percentile(err, 50) < np.percentile(offline, 50) + 10, (
        f"clock beats off the drummer's by {np.round(err, 1).tolist()} ms, offline "
        f"{np.round(offline, 1).tolist()} ms"
    )
    assert np.percentile(err, 95) < np.percentile(offline, 95) + 20 and err.max() < offline.max() + 30
    iv = np.diff(due)
    assert np.max(np.abs(iv[1:] / iv[:-1] - 1)) <= 0.02 + 2e-5  # (ns rounding)
    # the steered ticks leave on time as the master clock's do (docs/performance.md: p99 <= 250
    # us, max <= 1 ms with SCHED_FIFO, held by `jamd bench`; here only bounds a loaded test
    # machine keeps: its JACK server runs without real-time priority and stalls now and then for
    # up to ~10 ms, seen in the bench and in this test, 10.5 ms once with the other core busy;
    # on a VM whose cores its host takes now and then, the p99 has reached 1.25 ms, so only the
    # median is held to a real-time figure here)
    late = np.array(ticks.late_us)
    print(
        f"clock jitter: p50 {np.percentile(late, 50):.1f} p99 {np.percentile(late, 99):.1f} max {late.max():.1f} us"
    )
    assert np.percentile(late, 50) < 500 and np.percentile(late, 99) < 5000 and late.max() < 25_000
    # the Stop came from the silence policy, and no tick after it
    (stop,) = clock_sink.status(ms.STOP)
    assert last_hit + 2 * beat_ns < stop < stop_due
    assert not [t for t in clock_sink.status(ms.CLOCK) if t > stop + 5e6]
    # the drums on jamd's own grid: each on a 16th of the clock it sent (to the sink's ~1 ms, and
    # the few ms a VM's stalled core adds to a note or a tick now and then; off the grid is tens)
    ons = np.array([t for t, m in drums_sink.notes() if ms.is_note_on(m)], float)
    assert len(ons) > 40
    sixteenths = np.array([t for t in clock_sink.status(ms.CLOCK) if t >= start])[:: ms.PPQN // 4]
    nearest = np.abs(ons[:, None] - sixteenths[None, :]).min(axis=1) / 1e6
    off = f"drums off jamd's grid by {np.round(nearest, 1).tolist()} ms"
    assert np.percentile(nearest, 50) < 1 and np.percentile(nearest, 95) < 6, off
    assert drums_sink.unmatched() == Counter()

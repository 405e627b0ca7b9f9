"""`jamd bench`: the shape of its JSON and every figure a finite number. No timing assertions:
the figures are the bench's output, not pass/fail criteria (docs/performance.md: "measured by
`jamd bench`, never by a timed unit test"). The helpers are checked on synthetic input."""

import json
import math
import subprocess
import sys

import numpy as np

from jamd.engine.clock import Timeline, ns_per_beat
from jamd.engine.ipc import REC_NOTE_ON, REC_SWAP, REC_TICK
from jamd.engine.scheduler import SchedulerConfig
from jamd.midi.null import NullOutput
from jamd.music.grid import BassLine, DrumPattern
from jamd.music.window import Window
from jamd.ops.bench.baseline import naive_clock
from jamd.ops.bench.conditions import sweep_value
from jamd.ops.bench.drift import follow_drift
from jamd.ops.bench.report import TARGETS
from jamd.ops.bench.stats import control_excess_ms, stats

STEP_NS = ns_per_beat(180.0) / 4


def leaves(x, path=""):
    """Every number below a figure, with where it is."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield from leaves(v, f"{path}.{k}")
    else:
        yield path, x


def test_quick_json_has_every_figure_as_a_finite_number():
    out = subprocess.run(
        [sys.executable, "-m", "jamd", "bench", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["command"] == "jamd bench --json --quick"
    assert result["ports"] in ("jack", "null")
    assert result["machine"]["cores"] >= 1
    figures = result["figures"]
    for name in (
        "clock_jitter_us",
        "note_error_us",
        "baseline_clock_jitter_us",
        "baseline_note_error_us",
        "ratio_clock_jitter",
        "ratio_note_error",
        "web_clock_jitter_us",
        "web_note_error_us",
        "drummer_clock_jitter_us",
        "drummer_note_error_us",
    ):
        assert {"p50", "p99", "max"} <= set(figures[name]), name
    for name in ("control_latency_ms", "seed_latency_ms", "seed_search_ms"):
        assert {"p50", "max", "n"} <= set(figures[name]), name
    for name in ("decode_drums_us", "decode_bass_us", "decode_window_us"):
        assert {"p50", "p99"} <= set(figures[name]), name
    for name in ("step_ms", "cold_start_s", "rss_mb"):
        assert isinstance(figures[name], (int, float)), name
    assert {"end", "max_abs"} <= set(figures["drift_ticks"])
    for path, v in leaves(figures):
        assert isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), (path, v)
    assert figures["clock_jitter_us"]["n"] > 0 and figures["note_error_us"]["n"] > 0
    # the run with the page's clients: its own records, and the clients were served and moved the pad
    assert figures["web_clock_jitter_us"]["n"] > 0 and figures["web_note_error_us"]["n"] > 0
    assert figures["web_states_per_s"] > 0 and figures["web_pad_moves_per_s"] > 0
    # the run with the drummer leading: the count-in started the clock, which sent ticks
    assert figures["drummer_clock_jitter_us"]["n"] > 0
    assert figures["control_latency_ms"]["n"] > 0 and figures["seed_latency_ms"]["n"] > 0
    # the shipped drum model searches its seeds on: each search ended within the bar it began in
    assert figures["seed_search_ms"]["n"] > 0 and figures["seed_search_ms"]["max"] < 4 * 60e3 / 180
    assert [t["target"] for t in result["targets"]] == [t.text for t in TARGETS]
    assert all(isinstance(t["ok"], bool) for t in result["targets"])


def test_control_excess_counts_steps_beyond_the_next_boundary():
    tl = Timeline(0, 0.0, ns_per_beat(180.0), True)
    # the engine took windows in at 80 ms (playing from step 1) and at 120 ms (from step 2)
    records = np.array(
        [[REC_SWAP, STEP_NS, 80e6, 1], [REC_TICK, 0, 90e6, 0], [REC_SWAP, 2 * STEP_NS, 120e6, 2]]
    )
    arrival = np.array([10e6, 10e6, 50e6, 0.0, 100e6])
    published = np.array([75e6, 81e6, 51e6, 1e6, 130e6])
    got = control_excess_ms(arrival, published, records, tl)
    # read in time for step 1; missed that read by 1 ms (one step late); in time for step 1;
    # on a boundary (the next step is step 0 itself, heard on step 1: one step late);
    # published after the last swap: not counted
    np.testing.assert_allclose(got, [0.0, STEP_NS / 1e6, 0.0, STEP_NS / 1e6])


def test_follow_drift_counts_every_tick():
    d = follow_drift(minutes=0.5)
    assert d.ticks == int(0.5 * 60 * 120 * 24 / 60 / (1 + 80e-6))
    assert abs(d.end_ticks) < 0.5 and d.max_abs_ticks < 0.5


def test_naive_clock_records_ticks_and_notes():
    d = DrumPattern.empty()
    for s in range(0, 32, 2):
        d.place(s, 0, 0.8, 0.0)
    window = Window(d, BassLine.empty(), np.zeros(32, np.int64))
    recs = naive_clock(NullOutput("t"), 180.0, 0.4, [window], SchedulerConfig())
    ticks, notes = recs[recs[:, 0] == REC_TICK], recs[recs[:, 0] == REC_NOTE_ON]
    assert 20 <= len(ticks) <= 30 and len(notes) >= 2
    assert (np.diff(ticks[:, 1]) > 0).all()  # due times on the grid


def test_stats_and_sweep():
    assert stats([])["n"] == 0 and math.isnan(stats([])["p50"])
    assert stats([1.0, 3.0], ("p50", "max")) == {"n": 2, "p50": 2.0, "max": 3.0}
    vals = [sweep_value(i) for i in range(600)]
    assert min(vals) == 0 and max(vals) == 127 and all(a != b for a, b in zip(vals, vals[1:]))

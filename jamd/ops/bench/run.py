"""``jamd bench``'s phases in order (the package doc), gathered into one JSON-able result."""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jamd.engine.ipc import REC_NOTE_ON, REC_TICK
from jamd.lab.timing import decode_timing
from jamd.live.config import read_config
from jamd.music.grid import STEPS_PER_BEAT
from jamd.ops.bench.baseline import run_baseline
from jamd.ops.bench.coldstart import ColdStart, cold_start
from jamd.ops.bench.conditions import (
    BPM,
    CC_HZ,
    DRIFT_MINUTES,
    RIG_SINK,
    SECONDS,
    SETTLE_S,
    bench_config_text,
)
from jamd.ops.bench.daemon_run import JamdRun, run_jamd
from jamd.ops.bench.drift import Drift, follow_drift
from jamd.ops.bench.report import TARGETS, check_targets
from jamd.ops.bench.rig import jack_reachable
from jamd.ops.bench.sound import SOUND_TARGETS, bench_sound
from jamd.ops.bench.stats import control_excess_ms, error_us, ratios, stats
from jamd.ops.bench.web_load import PAD_HZ, WEB_CLIENTS, WebLoad, page_clients
from jamd.ops.layout import start_busy


@dataclass
class BenchOptions:
    seconds: float = SECONDS
    quick: bool = False
    load: bool = False
    sound: bool = False  # the jamd phase again with FluidSynth playing (jamd.ops.bench.sound)
    command: str = "jamd bench"


@dataclass
class Measured:
    """What the phases that run under the bench's load gave."""

    cold: ColdStart
    decode_drums: dict[str, float]  # decode_ms_p50, decode_ms_p99
    decode_bass: dict[str, float]
    run: JamdRun
    web_run: JamdRun  # the same, with the page's clients (``web_load``)
    web_load: WebLoad
    drummer_run: JamdRun  # the same, the drummer leading (clock.mode drummer)
    baseline_records: np.ndarray
    baseline_windows: int
    sound_run: JamdRun | None = None
    sound_how: str = ""


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
    """Every phase (package doc); returns the result as one JSON-able dict."""
    mach = machine()  # before the bench's own load: the others' load
    jack = jack_reachable()
    busy = None
    try:
        if opts.load:
            busy = start_busy(2 * opts.seconds + 300)
            progress(f"load: busy process {busy.pid} on the other core")
        measured = measure(opts, jack, progress)
    finally:
        if busy is not None:
            busy.terminate()  # SIGTERM to ours, by its PID
            busy.join(5)
    progress(f"drift: {DRIFT_MINUTES:g} simulated minutes following a MIDI clock")
    drift = follow_drift()
    figures = figures_of(measured, drift, opts.seconds)
    prio = measured.run.status.rt_priority
    return {
        "command": opts.command,
        "machine": mach,
        "ports": "jack" if jack else "null",
        "seconds": opts.seconds,
        "bpm": BPM,
        "load": opts.load,
        "rt_priority": prio,
        "cc_hz": CC_HZ,
        "controls_sent": measured.run.events_sent,
        "figures": figures,
        "targets": check_targets(figures, TARGETS + (SOUND_TARGETS if opts.sound else ())),
        "notes": notes_of(jack, prio, measured.cold, drift)
        + ([f"sound_*: the jamd phase again, its engine feeding {measured.sound_how}"] if opts.sound else []),
    }


def measure(opts: BenchOptions, jack: bool, progress: Callable[[str], None]) -> Measured:
    """Cold start, decode timings, jamd and the baseline, in that order (phases 1-4)."""
    n_decode = 300 if opts.quick else 1000
    with tempfile.TemporaryDirectory(prefix="jamd-bench-") as tmpdir:
        tmp = Path(tmpdir)
        progress("cold start: python -m jamd run --demo")
        cold = cold_start(tmp, jack, 1 if opts.quick else 4)
        progress("decode timings (one BLAS thread, fresh processes)")
        cfg_path = tmp / "bench.yaml"
        cfg_path.write_text(bench_config_text("jack", RIG_SINK, rig=True))
        models = read_config(cfg_path).models
        drum_t = decode_timing("drums", str(models.drums_path), n_decode)
        bass_t = (
            decode_timing("bass", str(models.bass_path), n_decode)
            if models.bass_path
            else {"decode_ms_p50": 0.0, "decode_ms_p99": 0.0}
        )
        progress(f"jamd: {opts.seconds:g} s at {BPM:g} BPM, CCs at {CC_HZ:g} Hz, a drummer playing")
        run = run_jamd(cfg_path, jack, opts.seconds)
        progress(f"jamd again with {WEB_CLIENTS} page clients, one moving the pad at {PAD_HZ:g} Hz")
        loads: list[WebLoad] = []
        web_run = run_jamd(cfg_path, jack, opts.seconds, beside=lambda d: _kept(page_clients(d), loads))
        progress(f"jamd again, the drummer leading: a bar of count-in, then {opts.seconds:g} s of groove")
        drummer_path = tmp / "bench-drummer.yaml"
        drummer_path.write_text(bench_config_text("jack", RIG_SINK, rig=True, clock_mode="drummer"))
        drummer_run = run_jamd(drummer_path, jack, opts.seconds, drummer_leads=True)
        sound_run, sound_how = None, ""
        if opts.sound:
            sound, sound_how = bench_sound(read_config(cfg_path), tmp)
            progress(f"jamd again with sound ({sound_how}): {opts.seconds:g} s")
            sound_run = run_jamd(cfg_path, jack, opts.seconds, sound=sound)
    progress(f"naive baseline: {opts.seconds:g} s")
    base_recs, base_windows = run_baseline(run.perf, run.sched_cfg, jack, opts.seconds)
    return Measured(
        cold,
        drum_t,
        bass_t,
        run,
        web_run,
        loads[0],
        drummer_run,
        base_recs,
        base_windows,
        sound_run,
        sound_how,
    )


@contextmanager
def _kept(clients: AbstractContextManager[WebLoad], into: list[WebLoad]) -> Iterator[WebLoad]:
    """``clients``, with what they saw kept in ``into`` for after the run."""
    with clients as load:
        into.append(load)
        yield load


def figures_of(m: Measured, drift: Drift, seconds: float) -> dict:
    """Every figure of the result, by name (the names are the JSON's and the targets')."""
    run = m.run
    clock, note = error_us(run.records, REC_TICK), error_us(run.records, REC_NOTE_ON)
    b_clock, b_note = error_us(m.baseline_records, REC_TICK), error_us(m.baseline_records, REC_NOTE_ON)
    span0, span1 = run.span_ns
    ctl = [(t, ms_) for kind, t, ms_ in run.stamps if kind == "control_ms" and span0 <= t <= span1]
    ctl_t = np.array([t for t, _ in ctl], np.float64)
    ctl_ms = np.array([ms_ for _, ms_ in ctl], np.float64)
    excess = control_excess_ms(ctl_t - ctl_ms * 1e6, ctl_t, run.records, run.timeline)
    seeds = [ms_ for kind, _, ms_ in run.stamps if kind == "seed_ms"]
    searched = [ms_ for kind, _, ms_ in run.stamps if kind == "search_ms"]
    drums, bass = m.decode_drums, m.decode_bass
    # beside each timing figure: the same run again with the page's clients connected
    # (web_load) and, with --sound, with the synth playing
    again = {"web_": m.web_run, **({"sound_": m.sound_run} if m.sound_run is not None else {})}
    return {
        "clock_jitter_us": clock,
        **{f"{p}clock_jitter_us": error_us(r.records, REC_TICK) for p, r in again.items()},
        "note_error_us": note,
        **{f"{p}note_error_us": error_us(r.records, REC_NOTE_ON) for p, r in again.items()},
        # and the same run with the drummer leading: ticks steered to the drummer's grid
        "drummer_clock_jitter_us": error_us(m.drummer_run.records, REC_TICK),
        "drummer_note_error_us": error_us(m.drummer_run.records, REC_NOTE_ON),
        "control_latency_ms": stats(excess, ("p50", "max")),
        "control_publish_ms": stats(ctl_ms, ("p50", "max")),
        "control_next_step_share": float(np.mean(excess < 1e-6)) if excess.size else float("nan"),
        "step_ms": run.timeline.ns_per_beat / STEPS_PER_BEAT / 1e6,
        "seed_latency_ms": stats(seeds, ("p50", "max")),
        "seed_search_ms": stats(searched, ("p50", "max")),
        "decode_drums_us": {"p50": drums["decode_ms_p50"] * 1e3, "p99": drums["decode_ms_p99"] * 1e3},
        "decode_bass_us": {"p50": bass["decode_ms_p50"] * 1e3, "p99": bass["decode_ms_p99"] * 1e3},
        "decode_window_us": {
            k: (drums[f"decode_ms_{k}"] + bass[f"decode_ms_{k}"]) * 1e3 for k in ("p50", "p99")
        },
        "cold_start_s": m.cold.seconds,
        "rss_mb": m.cold.rss_mb,
        "rss_shared_memory_mb": m.cold.shm_mb,
        "drift_ticks": {"end": drift.end_ticks, "max_abs": drift.max_abs_ticks, "ticks": drift.ticks},
        "windows_per_s": run.windows / ((span1 - span0) / 1e9),
        "baseline_clock_jitter_us": b_clock,
        "baseline_note_error_us": b_note,
        "baseline_windows_per_s": m.baseline_windows / (seconds + SETTLE_S),
        "ratio_clock_jitter": ratios(clock, b_clock),
        "ratio_note_error": ratios(note, b_note),
        "web_states_per_s": m.web_load.states_per_s,
        "web_pad_moves_per_s": m.web_load.pad_moves / max(m.web_load.seconds, 1e-9),
    }


def notes_of(jack: bool, prio: int, cold: ColdStart, drift: Drift) -> list[str]:
    """How each figure was measured, as the output says it."""
    server = os.environ.get("JACK_DEFAULT_SERVER", "default")
    ports = (
        f"JACK server {server!r}: controller, drummer and sink are JACK MIDI ports of a separate rig process"
        if jack
        else "null (no JACK server reachable): outputs discard, the CCs and drummer "
        "notes are handed to the daemon's input polling by a feeder thread"
    )
    engine = f"SCHED_FIFO {prio}" if prio else "normal priority (no real-time priority granted)"
    return [
        f"ports: {ports}",
        f"engine: {engine}",
        "control_latency_ms: grid time of the first step playing a window rendered after the CC, "
        "minus the next step boundary after the CC's arrival (0 = the next step); per published "
        "window, from the earliest CC in it; control_publish_ms: CC arrival -> window published",
        "seed_latency_ms: bar line -> seeded window published to the engine (Latencies.seed_ms); "
        "seed_search_ms: bar line -> the searched seed's window published (Latencies.search_ms)",
        f"cold_start_s: {cold.how}; rss_mb: VmRSS summed over {len(cold.processes)} processes "
        "(jamd run, its engine, multiprocessing's resource tracker), at its peak; "
        "rss_shared_memory_mb: the part of it that is shared memory (JACK's segments, which "
        "every JACK client maps, and jamd's IPC blocks)",
        f"drift_ticks: simulated ({drift.ticks} ticks at 120 BPM, 80 ppm off, 0.3 ms jitter, "
        "1% up to 3 ms late)",
        "baseline: time.sleep to absolute deadlines in a thread of one process, a decoder thread "
        "sharing its GIL; ratio = jamd / baseline (< 1: jamd tighter)",
        f"web_*: the jamd run again, with the page's server on the daemon and {WEB_CLIENTS} WebSocket "
        f"clients (aiohttp, a thread of this process), one moving the drums pad at {PAD_HZ:g} Hz; "
        "web_states_per_s: the slowest client's state updates",
        "drummer_*: the jamd run again in clock.mode drummer: the rig's drummer counts in a bar on "
        "the hi-hat pedal, then plays the groove; the clock is steered to the drummer's grid",
    ]

"""``jamd eval tempo``: how well the drummer-mode clock follows a drummer, measured.

Groove MIDI Dataset test performances (4/4 beats, at least 16 bars) were played to a click, so
where their beats are is known. Each is played through four tempo curves (constant at the
file's tempo; a linear drift of 10 % over 32 bars, up for every other file and down for the
rest; a +8 % step at the bar nearest halfway; a slow +-4 % sinusoid over 32 bars) after a one-bar
count-in on the hi-hat pedal, into the beat tracker (:mod:`jamd.tempo.tracker`), whose estimates
reach the tick steering (:mod:`jamd.engine.steer`) a little later, as in ``jamd run``. The beats
of the clock it would send are set against the true beats, shifted by the file's mean hit offset
(the drummer's own feel: GMD drummers play a little ahead of their click). A baseline in the
same run keeps the count-in's tempo fixed. With ``start: auto`` (:mod:`jamd.tempo.autostart`)
no count-in is played: the tracker locks from the first bars of the performance, jamd's beat 0
is set against the performance's bar line nearest it (one placed a beat or two off the
drummer's one shows as that much beat error, and in ``one_right_share``), and the baseline
still takes its count-in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import mido
import numpy as np

from jamd.data.corpus import gmd_files
from jamd.engine.clock import NS_PER_S, Timeline
from jamd.engine.steer import SteerConfig, TickSteer
from jamd.midi import spec as ms
from jamd.music.drumkit import TD11
from jamd.music.grid import BEATS_PER_BAR, STEPS_PER_BEAT, NoteIn, quantize, read_midi
from jamd.tempo.autostart import Start
from jamd.tempo.countin import CountIn
from jamd.tempo.particles import GridFilter
from jamd.tempo.tracker import BeatTracker, Estimate, TrackerConfig

MIN_BARS = 16
DRIFT, DRIFT_BARS = 0.10, 32
STEP = 0.08
SINE, SINE_BARS = 0.04, 32
#: one bar of hi-hat pedal (GM/TD-11 note 44) counts in, with a little human scatter (s)
COUNT_IN_NOTE, COUNT_IN_VELOCITY, COUNT_IN_SCATTER_S = 44, 90, 0.005
#: from a hit's arrival to the engine steering by it: the control loop's poll and the pipe
LATENCY_S = 0.005
_WARP_RES = 48  # integration steps per beat of the tempo curve
FIT_BEATS = 16.0  # the memory of the causal line fit the figures are set beside (4 bars)


class Curve(Enum):
    CONSTANT = "constant"
    DRIFT = "drift"
    STEP = "step"
    SINE = "sine"


@dataclass(frozen=True)
class Performance:
    """One GMD file from its first played bar: notes in beats from that bar's one."""

    name: str
    bpm: float
    notes: tuple[NoteIn, ...]
    beats: int  # the last whole beat played
    feel_beats: float  # the mean hit offset from the 16th grid, in beats

    @property
    def bars(self) -> int:
        return self.beats // BEATS_PER_BAR


def load_performances(root: Path) -> list[Performance]:
    """The test split's 4/4 beats (not fills) of at least :data:`MIN_BARS` bars."""
    out = []
    for f in gmd_files(root):
        if f.split != "test" or not re.search(r"_beat_", f.path):
            continue
        perf = performance(f.path, f.bpm, read_midi(mido.MidiFile(root / f.path)).drums)
        if perf is not None and perf.bars >= MIN_BARS:
            out.append(perf)
    return out


def performance(name: str, bpm: float, drums: Sequence[NoteIn]) -> Performance | None:
    notes = [n for n in drums if n.note in TD11 and n.velocity > 0]
    if not notes:
        return None
    # the first bar played (a pickup up to half a beat early still belongs to it)
    start = BEATS_PER_BAR * math.floor((notes[0].beat + 0.5) / BEATS_PER_BAR)
    moved = tuple(NoteIn(n.beat - start, n.note, n.velocity) for n in notes)
    feel = float(np.mean([quantize(n.beat)[1] for n in moved])) / STEPS_PER_BEAT
    return Performance(name, bpm, moved, int(math.floor(moved[-1].beat)), feel)


def feel_wander_ms(perf: Performance, half_beats: float = 2.0) -> np.ndarray:
    """How far the drummer's own feel wanders around the click, per beat: the mean offset from
    the 16th grid of the hits within ``half_beats`` of the beat (centred: not causal) less the
    file's mean, in ms at the file's tempo. A clock that followed the drummer perfectly within
    a bar would be this far from the shifted click."""
    beats = np.array([n.beat for n in perf.notes])
    offs = np.array([quantize(b)[1] for b in beats]) / STEPS_PER_BEAT
    out = []
    for n in range(perf.beats + 1):
        near = np.abs(beats - n) < half_beats
        if near.any():
            out.append((float(np.mean(offs[near])) - perf.feel_beats) * 60_000.0 / perf.bpm)
    return np.array(out)


def trailing_fit_ms(perf: Performance, window_beats: float = FIT_BEATS) -> np.ndarray:
    """How far a causal line through the last ``window_beats`` of the drummer's hits, each on
    its true 16th and all weighing alike, puts each beat from the shifted click, in ms at the
    file's tempo (no tempo curve). A tracker that follows the drummer with that much memory,
    never misplacing a hit, would be this far off: a floor under the beat error."""
    beats = np.array([n.beat for n in perf.notes])
    steps = np.array([quantize(b)[0] for b in beats]) / STEPS_PER_BEAT
    offs = beats - steps - perf.feel_beats
    out = []
    for n in range(int(window_beats), perf.beats + 1):
        near = (steps >= n - window_beats) & (steps < n)
        if np.count_nonzero(near) >= 4 and np.ptp(steps[near]) > 0:
            at_n = np.polyfit(steps[near] - n, offs[near], 1)[1]
            out.append(at_n * 60_000.0 / perf.bpm)
    return np.array(out)


def tempo_factor(curve: Curve, perf: Performance, sign: float) -> Callable[[np.ndarray], np.ndarray]:
    """The curve as a tempo factor over beats from the one."""
    if curve is Curve.DRIFT:
        span = DRIFT_BARS * BEATS_PER_BAR
        return lambda x: 1.0 + sign * DRIFT * np.clip(x / span, 0.0, 1.0)
    if curve is Curve.STEP:
        at = step_beat(perf)
        return lambda x: np.where(x >= at, 1.0 + STEP, 1.0)
    if curve is Curve.SINE:
        span = SINE_BARS * BEATS_PER_BAR
        return lambda x: 1.0 + SINE * np.sin(2 * np.pi * np.clip(x, 0.0, None) / span)
    return lambda x: np.ones_like(x)


def step_beat(perf: Performance) -> int:
    return BEATS_PER_BAR * round(perf.bars / 2)


class Warp:
    """Beats -> seconds through a tempo curve (before the one: the starting tempo)."""

    def __init__(self, bpm: float, factor: Callable[[np.ndarray], np.ndarray], beats: float) -> None:
        self.lead = 2 * BEATS_PER_BAR
        self.grid = np.arange(-self.lead * _WARP_RES, (beats + self.lead) * _WARP_RES + 1) / _WARP_RES
        sec = 60.0 / (bpm * factor(self.grid[:-1] + 0.5 / _WARP_RES)) / _WARP_RES
        self.times = np.concatenate([[0.0], np.cumsum(sec)])
        self.times -= np.interp(0.0, self.grid, self.times)
        self.bpm = bpm
        self.factor = factor

    def time(self, beats: np.ndarray | float) -> np.ndarray:
        return np.interp(beats, self.grid, self.times)


@dataclass
class RunResult:
    file: str
    curve: Curve
    locked_by_bar2: bool
    beat_error_ms: np.ndarray  # signed, per beat after lock
    tempo_error_pct: np.ndarray  # per bar: the clock's tempo against the true
    bars_lost_or_gained: int
    max_tick_interval_change: float
    step_tempo_error_pct: float | None = None  # step curve: the bar two bars after the step
    one_right: bool | None = None  # start: auto: jamd's one on the drummer's (None: count-in)


@dataclass
class Played:
    """A performance through a curve: what the tracker hears and where the true beats are."""

    onsets: list[tuple[float, int, int]]  # (s, note, velocity) in time order
    true_beats: np.ndarray  # s of beats 0..perf.beats, shifted by the drummer's feel
    warp: Warp
    count_in: list[float] = field(default_factory=list)


def play(perf: Performance, curve: Curve, index: int, counts_in: bool = True) -> Played:
    """``counts_in``: the drummer counts in (else the count-in's times are kept for the
    baseline but not played)."""
    sign = 1.0 if index % 2 == 0 else -1.0
    warp = Warp(perf.bpm, tempo_factor(curve, perf, sign), perf.beats + 1)
    rng = np.random.default_rng(index)
    count_beats = np.arange(-BEATS_PER_BAR, 0) + perf.feel_beats
    count_in = list(warp.time(count_beats) + rng.normal(0, COUNT_IN_SCATTER_S, BEATS_PER_BAR))
    hits = warp.time(np.array([n.beat for n in perf.notes]))
    onsets = [(t, COUNT_IN_NOTE, COUNT_IN_VELOCITY) for t in count_in] if counts_in else []
    onsets += [(float(t), n.note, n.velocity) for t, n in zip(hits, perf.notes)]
    onsets.sort(key=lambda o: o[0])
    true_beats = warp.time(np.arange(perf.beats + 1) + perf.feel_beats)
    return Played(onsets, true_beats, warp, count_in)


Estimates = list[tuple[float, Estimate]]
#: what turns a played performance into the estimates the clock steers by (the tracker by
#: default; :mod:`jamd.lab.tempo_smooth` tries others)
Tracker = Callable[[Played, Performance, TrackerConfig], Estimates]


def track(played: Played, cfg: TrackerConfig, grid_filter: type[GridFilter] = GridFilter) -> Estimates:
    """The tracker's estimates (on ``grid_filter``), each with when the engine would have it."""
    tracker = BeatTracker(cfg, TD11, grid_filter)
    out = []
    for t, note, vel in played.onsets:
        for est in (tracker.update(t), tracker.onset(t, note, vel)):
            if est is not None:
                out.append((t + LATENCY_S, est))
    return out


def clock_ticks(estimates: Estimates, until_s: float, steer_cfg: SteerConfig) -> np.ndarray:
    """The tick times (s) of the clock steered by the estimates as they arrive, from the one."""
    steer = TickSteer(steer_cfg)
    grids = [Timeline.of_seconds(e.anchor_s, e.anchor_beat, e.period_s) for _, e in estimates]
    target = grids[0]
    i = 1
    due = steer.begin(target)
    ticks = []
    while due / NS_PER_S < until_s:
        while i < len(estimates) and estimates[i][0] * NS_PER_S <= due:
            target = grids[i]
            i += 1
            due = steer.plan(target)
        ticks.append(steer.advance(target) / NS_PER_S)
        due = steer.plan(target)
    return np.array(ticks)


def measure(
    played: Played,
    perf: Performance,
    curve: Curve,
    beat_times: np.ndarray,
    lock_s: float,
    ticks: np.ndarray | None,
    first_beat: int = 0,
) -> RunResult:
    """``beat_times[k]`` against the drummer's beat ``first_beat + k``."""
    true = played.true_beats[first_beat:]
    n = min(len(beat_times), len(true))
    after = true[:n] >= lock_s
    err = (beat_times[:n] - true[:n])[after] * 1000.0
    clock_bpm = 60.0 * BEATS_PER_BAR / np.diff(beat_times[:n:BEATS_PER_BAR])
    true_bpm = 60.0 * BEATS_PER_BAR / np.diff(true[:n:BEATS_PER_BAR])
    tempo_err = np.abs(clock_bpm / true_bpm - 1.0) * 100.0
    # where the clock is when the drummer plays the last beat, against where the drummer is
    pos = np.interp(true[-1], beat_times, np.arange(len(beat_times)))
    lost = abs(round((pos - (perf.beats - first_beat)) / BEATS_PER_BAR))
    change = 0.0
    if ticks is not None and len(ticks) > 2:
        iv = np.diff(ticks)
        change = float(np.max(np.abs(iv[1:] / iv[:-1] - 1.0)))
    step_err = None
    if curve is Curve.STEP:
        bar = (step_beat(perf) - first_beat) // BEATS_PER_BAR + 2
        step_err = float(tempo_err[bar]) if 2 <= bar < len(tempo_err) else None
    locked = lock_s <= played.true_beats[2 * BEATS_PER_BAR]
    return RunResult(perf.name, curve, locked, err, tempo_err, lost, change, step_err)


def _tracker(played: Played, perf: Performance, cfg: TrackerConfig) -> Estimates:
    return track(played, cfg)


def run_tracker(
    perf: Performance,
    curve: Curve,
    index: int,
    cfg: TrackerConfig,
    steer: SteerConfig,
    tracker: Tracker = _tracker,
) -> RunResult:
    auto = cfg.start is Start.AUTO
    played = play(perf, curve, index, counts_in=not auto)
    estimates = tracker(played, perf, cfg)
    # auto: the drummer's beat where jamd put its one (beat 0), and the bar line nearest it
    at = first = 0.0
    if auto and estimates:
        at = float(np.interp(estimates[0][1].time_at(0.0), played.true_beats, np.arange(perf.beats + 1)))
        first = BEATS_PER_BAR * round(at / BEATS_PER_BAR)
    one_right = abs(at - first) < 0.5 if auto else None
    if not estimates or first + 2 * BEATS_PER_BAR > perf.beats:
        lost = np.array([])
        return RunResult(perf.name, curve, False, lost, lost, perf.bars, 0.0, None, False if auto else None)
    until = played.true_beats[-1] + 60.0 / perf.bpm
    ticks = clock_ticks(estimates, until, steer)
    run = measure(played, perf, curve, ticks[:: ms.PPQN], estimates[0][0], ticks, int(first))
    run.one_right = one_right
    return run


def run_baseline(perf: Performance, curve: Curve, index: int, cfg: TrackerConfig) -> RunResult:
    """A fixed tempo taken from the count-in."""
    played = play(perf, curve, index)
    count_in = CountIn(cfg.count_in, 1.0, 1000.0)
    found = None
    for t in played.count_in:
        found = count_in.feed(t, COUNT_IN_NOTE) or found
    assert found is not None, "the eval's own count-in is always steady"
    beats = found.one_s + found.period_s * np.arange(perf.beats + 2)
    return measure(played, perf, curve, beats, played.count_in[-1], None)


def figures(runs: Sequence[RunResult]) -> dict[str, float | int | None]:
    """The JSON figures of a set of runs (pooled beats and bars)."""
    err = np.abs(np.concatenate([r.beat_error_ms for r in runs] or [np.zeros(0)]))
    tempo = np.concatenate([r.tempo_error_pct for r in runs] or [np.zeros(0)])
    steps = [r.step_tempo_error_pct for r in runs if r.step_tempo_error_pct is not None]

    def stat(a: np.ndarray, f: Callable[[np.ndarray], float]) -> float | None:
        return round(float(f(a)), 2) if len(a) else None

    out: dict[str, float | int | None] = {
        "runs": len(runs),
        "locked_by_bar2_share": round(sum(r.locked_by_bar2 for r in runs) / max(len(runs), 1), 4),
        "beat_error_ms_p50": stat(err, lambda a: np.percentile(a, 50)),
        "beat_error_ms_p95": stat(err, lambda a: np.percentile(a, 95)),
        "beat_error_ms_max": stat(err, np.max),
        "tempo_error_pct": stat(tempo, np.median),
        # the bar-to-bar wobble, step or none: what the step's one bar is to be read against
        "tempo_error_pct_p95": stat(tempo, lambda a: np.percentile(a, 95)),
        "bars_over_1pct_share": stat(tempo, lambda a: float(np.mean(a > 1.0))),
        "bars_lost_or_gained": int(sum(r.bars_lost_or_gained for r in runs)),
        "runs_with_bars_lost_or_gained": int(sum(r.bars_lost_or_gained > 0 for r in runs)),
        "max_tick_interval_change": round(max((r.max_tick_interval_change for r in runs), default=0.0), 5),
    }
    if steps:
        out["step_tempo_error_pct_max"] = round(max(steps), 3)
    ones = [r.one_right for r in runs if r.one_right is not None]
    if ones:
        out["one_right_share"] = round(sum(ones) / len(runs), 4)
    return out


def run_figures(run: RunResult) -> dict[str, str | float | int | None]:
    """One run's own figures, to see where the pooled ones come from: ``beat_error_ms_mean`` is
    signed (negative: jamd's beats come early)."""
    err = run.beat_error_ms
    return {
        "file": run.file,
        "curve": run.curve.value,
        "beat_error_ms_p50": round(float(np.percentile(np.abs(err), 50)), 2) if len(err) else None,
        "beat_error_ms_p95": round(float(np.percentile(np.abs(err), 95)), 2) if len(err) else None,
        "beat_error_ms_mean": round(float(np.mean(err)), 2) if len(err) else None,
        "bars_lost_or_gained": run.bars_lost_or_gained,
        "step_tempo_error_pct": None
        if run.step_tempo_error_pct is None
        else round(run.step_tempo_error_pct, 3),
    }


def evaluate(
    perfs: Sequence[Performance],
    cfg: TrackerConfig | None = None,
    steer: SteerConfig | None = None,
    curves: Sequence[Curve] = tuple(Curve),
    per_run: bool = False,
    start: Start = Start.COUNT_IN,
    tracker: Tracker = _tracker,
) -> dict:
    """Every performance through every curve: figures per curve and overall, for the tracker
    (started by ``start``, unless ``cfg`` says; ``tracker`` replaces the beat tracker in trials)
    and for the baseline (and each of the tracker's runs, with ``per_run``)."""
    cfg = cfg or TrackerConfig(start=start)
    steer = steer or SteerConfig()
    ours: dict[Curve, list[RunResult]] = {c: [] for c in curves}
    base: dict[Curve, list[RunResult]] = {c: [] for c in curves}
    for i, perf in enumerate(perfs):
        for c in curves:
            ours[c].append(run_tracker(perf, c, i, cfg, steer, tracker))
            base[c].append(run_baseline(perf, c, i, cfg))

    def block(runs: dict[Curve, list[RunResult]]) -> dict:
        return {
            "overall": figures([r for rs in runs.values() for r in rs]),
            "curves": {c.value: figures(rs) for c, rs in runs.items()},
        }

    wander = np.abs(np.concatenate([feel_wander_ms(p) for p in perfs]))
    fit = np.abs(np.concatenate([trailing_fit_ms(p) for p in perfs]))
    drummers = {
        "feel_wander_ms_p50": round(float(np.percentile(wander, 50)), 2),
        "feel_wander_ms_p95": round(float(np.percentile(wander, 95)), 2),
        "trailing_fit_ms_p50": round(float(np.percentile(fit, 50)), 2),
        "trailing_fit_ms_p95": round(float(np.percentile(fit, 95)), 2),
    }
    out = {"files": len(perfs), **block(ours), "baseline": block(base), "drummers": drummers}
    if per_run:
        out["runs"] = [run_figures(r) for rs in ours.values() for r in rs]
    return out

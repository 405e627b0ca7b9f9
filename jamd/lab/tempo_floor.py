"""A trial, not what ``clock.mode: drummer`` runs: what stands between a tracker that follows the
drummer and the click, through ``jamd eval tempo``'s curves and measurement: placing the hits,
or telling a change of tempo from the drummer's push and pull?

Two oracles, each told what no live tracker knows, each swept over its settings on the test set
itself (so its best figure flatters it):

- **places**: a Kalman filter of the beat's time and length (and, in a few settings, the tempo's
  rate of change), fed every hit on the 16th it was played on by the click (the count-in's on
  its beats), so no hit can be misplaced; swept over how far the beat and the tempo may wander a
  beat, and how far a hit may scatter (``places``); the same with the drummer's push and pull as
  a state of its own, an offset of the hits that comes back to the beat (``push``); and one that
  mixes a stiff and an agile such filter by how well each foresaw the hits (``mixed``).
- **tempo**: besides the places, the true tempo curve at every moment; it only has to find where
  the drummer sits against the click, as a running mean of the hits' offsets over a memory of
  some beats — the drummer's feel wandering around the click is all that is left to follow.

    python -m jamd.lab.tempo_floor [--oracle places|push|mixed|tempo|all]

The figures and what they say are in docs/tempo.md ("How close any tracker could come", "Tried
in session 13").
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from jamd.base.paths import default_data_dir
from jamd.lab.tempo_eval import (
    COUNT_IN_NOTE,
    LATENCY_S,
    Estimates,
    Performance,
    Played,
    Tracker,
    evaluate,
    load_performances,
)
from jamd.lab.tempo_smooth import on_click
from jamd.music.grid import BEATS_PER_BAR
from jamd.tempo.tracker import Estimate, TrackerConfig, TrackState

#: the sweeps: the beat's wander a beat (in beats), the tempo's (a share of the period), a
#: hit's scatter (ms); the known-tempo oracle's memory (beats)
PHASE_WANDER = (0.001, 0.003, 0.01)
TEMPO_WANDER = (0.0003, 0.001, 0.003)
SCATTER_MS = (15.0, 25.0, 40.0)
#: with the tempo's rate of change (beat wander, tempo wander, scatter, rate wander)
SMOOTH_TEMPO = ((0.003, 0.0, 40.0, 0.0003), (0.003, 0.0, 40.0, 0.0001), (0.003, 0.0003, 25.0, 0.0001))
MEMORY_BEATS = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
#: with the drummer's push and pull: the beat's wander (less: the push takes the rest), its
#: spread (ms) and how many beats it takes to come back
PUSH_PHASE_WANDER = (0.0003, 0.001, 0.003)
PUSH_MS = (10.0, 20.0)
PULL_BEATS = (2.0, 8.0)
#: ... and past the edges of that sweep, one setting at a time from its best (beat, tempo,
#: scatter, push, pull): less wander, more tempo wander, more scatter, a smaller, quicker push
PUSH_EDGES = (
    (0.0001, 0.003, 25.0, 10.0, 2.0),
    (0.0003, 0.01, 25.0, 10.0, 2.0),
    (0.0003, 0.003, 40.0, 10.0, 2.0),
    (0.0003, 0.003, 25.0, 5.0, 2.0),
    (0.0003, 0.003, 25.0, 10.0, 1.0),
)
#: the mixed oracle: a stiff and an agile filter (beat, tempo wander), the chance of a switch at
#: each hit, the scatter (ms); swept over these
STIFF = ((0.001, 0.0001), (0.001, 0.0003), (0.0003, 0.0001))
AGILE = ((0.01, 0.003), (0.003, 0.003), (0.01, 0.01))
SWITCH = (0.0003, 0.001, 0.01, 0.03)
#: ... and past its edges, one at a time from its best (stiff 0.001 / 0.0001, agile 0.01 / 0.01,
#: a switch 3 in 10,000, 40 ms), then the edges that helped together (stiff, agile, switch, scatter)
MIXED_EDGES = (
    ((0.001, 0.00003), (0.01, 0.01), 0.0003, 40.0),
    ((0.001, 0.0001), (0.03, 0.01), 0.0003, 40.0),
    ((0.001, 0.0001), (0.01, 0.03), 0.0003, 40.0),
    ((0.001, 0.0001), (0.01, 0.01), 0.0001, 40.0),
    ((0.001, 0.0001), (0.01, 0.01), 0.0003, 60.0),
    ((0.001, 0.0001), (0.01, 0.01), 0.0003, 90.0),
    ((0.001, 0.00003), (0.01, 0.01), 0.0001, 60.0),  # the edges that helped, together ...
    ((0.001, 0.00003), (0.01, 0.01), 0.0001, 75.0),
    ((0.001, 0.00001), (0.01, 0.01), 0.00003, 60.0),  # ... and further
    ((0.001, 0.0), (0.01, 0.01), 0.00001, 60.0),  # ... to the end: a stiff tempo that never moves
)
#: the best setting found (session 13), as :func:`mixed` takes it
MIXED = (((0.001, 0.0), (0.01, 0.01)), 0.00001, 60.0)


@dataclass(frozen=True)
class KalmanConfig:
    phase_wander: float  # beats a beat, one standard deviation
    tempo_wander: float  # a share of the period a beat
    scatter_ms: float  # a hit around its place
    rate_wander: float = 0.0  # the tempo's rate of change, a share of the period a beat per beat
    # (0: no such state, the tempo a random walk; else it may drift or bend smoothly)
    #: the drummer's push and pull: an offset of the hits from the beat (ms, its spread) that
    #: comes back to nothing over ``pull_beats`` (0: no such state, every shift is the beat's)
    push_ms: float = 0.0
    pull_beats: float = 1.0

    def __post_init__(self) -> None:
        if self.pull_beats <= 0:
            raise ValueError(
                f"pull_beats must be > 0 (a push comes back over some beats), not {self.pull_beats}"
            )


def placed_hits(played: Played, perf: Performance) -> Iterator[tuple[float, float]]:
    """(time s, place in beats) of every hit in time order: the count-in's on beats -4..-1, the
    performance's on the 16th the click put them."""
    click = on_click(played, perf)
    counted = iter(range(-BEATS_PER_BAR, 0))
    for t, note, _ in played.onsets:
        if t in click:
            yield t, click[t]
        elif note == COUNT_IN_NOTE:
            yield t, float(next(counted))


def counted_in(played: Played, perf: Performance) -> tuple[list[tuple[float, float]], Estimates]:
    """The placed hits after the count-in, and the estimate the count-in gives (its last hit on
    beat -1, its mean gap the period): where every oracle starts."""
    hits = list(placed_hits(played, perf))
    count_in = [t for t, place in hits[:BEATS_PER_BAR]]
    period = float(np.mean(np.diff(count_in)))
    return hits[BEATS_PER_BAR:], [(count_in[-1] + LATENCY_S, _estimate(count_in[-1], -1.0, period))]


def kalman(cfg: KalmanConfig) -> Tracker:
    """The places oracle: state (time of the last hit's place, beat length, its change a beat,
    the drummer's push or pull), updated per hit; a hit is heard at the place's time plus the
    push. The beat it gives is the place's time alone: a push that comes back is not followed."""
    wander = np.array([cfg.phase_wander, cfg.tempo_wander, cfg.rate_wander])
    push = cfg.push_ms / 1000.0
    heard = np.array([1.0, 0.0, 0.0, 1.0])  # a hit's time from the state

    def tracker(played: Played, perf: Performance, _: TrackerConfig) -> Estimates:
        hits, out = counted_in(played, perf)
        start = out[0][1]
        x = np.array([start.anchor_s, start.period_s, 0.0, 0.0])  # (s): see the docstring
        rate_sd = 0.001 * start.period_s * (cfg.rate_wander > 0)
        p = np.diag([0.01, 0.02 * start.period_s, rate_sd, push]) ** 2
        at = -1.0
        r = (cfg.scatter_ms / 1000.0) ** 2
        for t, place in hits:
            gap = place - at
            back = math.exp(-max(gap, 0.0) / cfg.pull_beats)  # how much of the push is left
            step = np.eye(4)
            step[:3, :3] = [[1.0, gap, gap * gap / 2], [0.0, 1.0, gap], [0.0, 0.0, 1.0]]
            step[3, 3] = back
            x = step @ x
            q = np.append((wander * x[1]) ** 2 * max(gap, 0.0), push**2 * (1.0 - back * back))
            p = step @ p @ step.T + np.diag(q)
            gain = p @ heard / (heard @ p @ heard + r)
            x = x + gain * (t - heard @ x)
            p = p - np.outer(gain, heard @ p)
            at = place
            out.append((t + LATENCY_S, _estimate(float(x[0]), place, float(x[1]))))
        return out

    return tracker


def mixed(models: tuple[tuple[float, float], ...], switch: float, scatter_ms: float) -> Tracker:
    """The places oracle as an interacting multiple model filter: a Kalman filter per (beat,
    tempo) wander, mixed by how well each foresaw the hits; ``switch`` is the chance, at each
    hit, that the drummer goes from one to another (a stiff tempo while it holds, an agile one
    when it moves)."""
    n = len(models)
    trans = np.full((n, n), switch / (n - 1))  # (from, to)
    np.fill_diagonal(trans, 1.0 - switch)
    wander = np.array(models)  # (models, 2)

    def tracker(played: Played, perf: Performance, _: TrackerConfig) -> Estimates:
        hits, out = counted_in(played, perf)
        start = out[0][1]
        xs = np.tile([start.anchor_s, start.period_s], (n, 1))  # (models, 2): the beat at place -1, period
        ps = np.tile(np.diag([0.01, 0.02 * start.period_s]) ** 2, (n, 1, 1))  # (models, 2, 2)
        share = np.full(n, 1.0 / n)
        r = (scatter_ms / 1000.0) ** 2
        at = -1.0
        for t, place in hits:
            gap = place - at
            ahead = trans.T @ share  # (models,): each model's share before this hit
            mix = trans * share[:, None] / ahead[None, :]  # (from, to)
            x0 = mix.T @ xs  # (models, 2)
            d = xs[:, None, :] - x0[None, :, :]  # (from, to, 2)
            p0 = np.einsum("ij,iab->jab", mix, ps) + np.einsum("ij,ija,ijb->jab", mix, d, d)
            step = np.array([[1.0, gap], [0.0, 1.0]])
            xs = x0 @ step.T
            q = (wander * xs[:, 1:]) ** 2 * max(gap, 0.0)  # (models, 2)
            ps = step @ p0 @ step.T + np.einsum("ma,ab->mab", q, np.eye(2))
            s = ps[:, 0, 0] + r
            inn = t - xs[:, 0]
            likelihood = np.exp(-0.5 * inn * inn / s) / np.sqrt(2 * np.pi * s)
            gain = ps[:, :, 0] / s[:, None]  # (models, 2)
            xs = xs + gain * inn[:, None]
            ps = ps - np.einsum("ma,mb->mab", gain, ps[:, 0, :])
            share = ahead * likelihood + 1e-300
            share /= share.sum()
            x = share @ xs
            at = place
            out.append((t + LATENCY_S, _estimate(float(x[0]), place, float(x[1]))))
        return out

    return tracker


def known_tempo(memory_beats: float) -> Tracker:
    """The tempo oracle: the true tempo curve, and the drummer's offset from the click as a
    running mean of the hits' offsets (a hit ``memory_beats`` old weighs 1/e)."""

    def tracker(played: Played, perf: Performance, _: TrackerConfig) -> Estimates:
        warp = played.warp
        total = weight = 0.0  # the hits' offsets and their weights, each decaying with age
        at, out = -math.inf, []
        for t, place in placed_hits(played, perf):
            played_at = float(np.interp(t, warp.times, warp.grid))  # where on the click's beats
            keep = math.exp(-(place - at) / memory_beats) if at > -math.inf else 0.0
            total, weight, at = keep * total + played_at - place, keep * weight + 1.0, place
            if place < -1:
                continue
            offset = total / weight
            beat = played_at - offset
            period = 60.0 / (warp.bpm * float(warp.factor(np.array(beat + offset))))
            out.append((t + LATENCY_S, _estimate(t, beat, period)))
        return out

    return tracker


def _estimate(anchor_s: float, anchor_beat: float, period_s: float) -> Estimate:
    return Estimate(TrackState.LOCKED, anchor_s, anchor_beat, period_s, 1.0)


def sweep(perfs: list[Performance], trials: dict[str, Tracker]) -> dict[str, dict]:
    """Each trial's overall figures and its curves', with the baseline's (the count-in's tempo
    held: the same in every evaluation, so taken from the first) beside them."""
    out: dict[str, dict] = {}
    for i, (name, tracker) in enumerate(trials.items()):
        result = evaluate(perfs, tracker=tracker)
        if i == 0:
            out["baseline"] = result["baseline"]["overall"]
        out[name] = {**result["overall"], "curves": result["curves"]}
        got = out[name]
        print(f"{name}: p50 {got['beat_error_ms_p50']} p95 {got['beat_error_ms_p95']}", file=sys.stderr)
    return out


def trials(which: str) -> dict[str, Tracker]:
    out: dict[str, Tracker] = {}
    if which in ("places", "all"):
        for a, b, s in itertools.product(PHASE_WANDER, TEMPO_WANDER, SCATTER_MS):
            out[f"places phase {a} tempo {b} scatter {s:g} ms"] = kalman(KalmanConfig(a, b, s))
        for a, b, s, c in SMOOTH_TEMPO:
            out[f"places phase {a} tempo {b} scatter {s:g} ms rate {c}"] = kalman(KalmanConfig(a, b, s, c))
    if which in ("push", "all"):
        pushes = itertools.product(PUSH_PHASE_WANDER, TEMPO_WANDER[1:], SCATTER_MS[:2], PUSH_MS, PULL_BEATS)
        for a, b, s, push, pull in (*pushes, *PUSH_EDGES):
            name = f"push phase {a} tempo {b} scatter {s:g} ms push {push:g} ms over {pull:g} beats"
            out[name] = kalman(KalmanConfig(a, b, s, push_ms=push, pull_beats=pull))
    if which in ("mixed", "all"):
        mixes = itertools.product(STIFF, AGILE, SWITCH, SCATTER_MS[1:])
        for stiff, agile, switch, scatter in (*mixes, *MIXED_EDGES):
            name = f"mixed {stiff} {agile} switch {switch} scatter {scatter:g} ms"
            out[name] = mixed((stiff, agile), switch, scatter)
    if which in ("tempo", "all"):
        for m in MEMORY_BEATS:
            out[f"tempo memory {m:g} beats"] = known_tempo(m)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m jamd.lab.tempo_floor", description=__doc__.split("\n\n")[0])
    ap.add_argument("--oracle", choices=("places", "push", "mixed", "tempo", "all"), default="all")
    args = ap.parse_args(argv)
    root = default_data_dir()
    if root is None:
        ap.error("no Groove MIDI Dataset: set JAMD_DATA to the folder with info.csv")
    result = sweep(load_performances(root), trials(args.oracle))
    # per oracle, the setting with the lowest of each figure: the floor it reaches at best
    best = {
        oracle: {
            key: min(names, key=lambda k: result[k][key])
            for key in ("beat_error_ms_p50", "beat_error_ms_p95")
        }
        for oracle in ("places", "push", "mixed", "tempo")
        if (names := [k for k in result if k.startswith(oracle)])
    }
    print(json.dumps({"best": best, **result}, indent=1))


if __name__ == "__main__":
    main()

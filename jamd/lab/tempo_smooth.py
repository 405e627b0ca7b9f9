"""A trial, not what ``clock.mode: drummer`` runs: is the drummer clock's beat error held back by
*where* the tracker places the hits or by *how* it averages them?

The particle filter (:mod:`jamd.tempo.particles`) both places each hit on the bar (which 16th it
belongs to) and estimates the beat (the cloud's mean). Here the filter still runs, but the beat
the clock steers by comes from a weighted polynomial fit of hit time against grid place over the
last bars (the drummer's own hits, older ones weighing less), restarted when the hits run away
from it (a CUSUM of the residuals, or the filter parting from it). The places come either from
the filter (the nearest 16th to its beat) or, as an oracle no live tracker has, from the
performance's own click (the 16th each hit was played on). Run through ``jamd eval tempo``'s
curves and measurement:

    python -m jamd.lab.tempo_smooth [--oracle] [--degree 2] [--memory 16] [--no-restart] [--places]

The figures and what they say are in docs/tempo.md ("A smoother over the filter's hits").
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from jamd.base.paths import default_data_dir
from jamd.lab.tempo_eval import (
    LATENCY_S,
    Curve,
    Estimates,
    Performance,
    Played,
    Tracker,
    evaluate,
    load_performances,
    play,
)
from jamd.music.drumkit import TD11
from jamd.music.grid import STEPS_PER_BEAT, quantize
from jamd.tempo.tracker import BeatTracker, Estimate, TrackerConfig, TrackState, hit_weight


@dataclass(frozen=True)
class SmoothConfig:
    oracle: bool = False  # place each hit on the 16th it was played on (not possible live)
    degree: int = 2  # 1: a line (constant tempo); 2: the tempo may bend
    memory_beats: float = 16.0  # a hit this many beats old weighs 1/e of a new one
    max_beats: float = 32.0  # ... and older than this not at all
    straight_beats: float = 8.0  # a line until the hits span this many beats
    min_beats: float = 2.0  # the filter's own beat until the hits span this many
    restart: bool = True  # restart the fit on a run-away (CUSUM) or when the filter parts
    cusum_k_ms: float = 20.0  # the CUSUM's allowance per hit ...
    cusum_h_ms: float = 100.0  # ... and its alarm
    part_beats: float = 0.25  # the filter and the fit this far apart: the fit restarts


class FitSmoother:
    """Hits in (time, grid place in beats, weight); :meth:`add` returns (anchor s, anchor beat,
    period s) for the clock, or None while the fit has too little to go on."""

    def __init__(self, cfg: SmoothConfig) -> None:
        self.cfg = cfg
        self._t = self._g = self._w = np.zeros(0)
        self._since = -math.inf  # the first place the fit uses (after a restart)
        self._coef: tuple[float, float, float] | None = None  # time = a + b x + c x^2 ...
        self._ref = 0.0  # ... with x the place less this
        self._cusum = [0.0, 0.0]  # up, down (ms)
        self._quiet_at = [0.0, 0.0]  # where each last stood at 0: the change began there
        self.restarts = 0

    def add(self, t_s: float, place: float, weight: float, beat: float) -> tuple[float, float, float] | None:
        """``beat``: the filter's beat at ``t_s`` (the fit's memory is counted from it)."""
        self._watch(t_s, place, weight)
        keep = (self._g > beat - self.cfg.max_beats) & (self._g >= self._since)
        self._t = np.append(self._t[keep], t_s)
        self._g = np.append(self._g[keep], place)
        self._w = np.append(self._w[keep], weight)
        self._coef = self._fit(place)
        if self._coef is None:
            return None
        now = self._beat_at(t_s)
        if self.cfg.restart and abs(now - beat) > self.cfg.part_beats:
            self._restart(place - 1.0)
            return None
        _, b, c = self._coef
        return self._time(now), now, b + 2 * c * (now - self._ref)

    def _fit(self, place: float) -> tuple[float, float, float] | None:
        span = float(np.ptp(self._g))
        if len(self._g) < 4 or span < self.cfg.min_beats:
            return None
        degree = self.cfg.degree if span >= self.cfg.straight_beats else 1
        x = self._g - place
        sw = np.sqrt(self._w * np.exp(x / self.cfg.memory_beats))
        design = np.vander(x, degree + 1, increasing=True)  # (hits, degree + 1)
        coef = np.linalg.lstsq(design * sw[:, None], self._t * sw, rcond=None)[0]
        if coef[1] <= 0:
            return None
        self._ref = place
        return float(coef[0]), float(coef[1]), float(coef[2]) if degree > 1 else 0.0

    def _time(self, place: float) -> float:
        """The fit's time of ``place``."""
        assert self._coef is not None
        a, b, c = self._coef
        x = place - self._ref
        return a + b * x + c * x * x

    def _beat_at(self, t_s: float) -> float:
        """The fit's place at ``t_s`` (Newton from the line)."""
        assert self._coef is not None
        a, b, c = self._coef
        place = self._ref + (t_s - a) / b
        for _ in range(3):
            place -= (self._time(place) - t_s) / (b + 2 * c * (place - self._ref))
        return place

    def _watch(self, t_s: float, place: float, weight: float) -> None:
        """The CUSUM of the hits' residuals against the fit: a run-away restarts the fit from
        where it began."""
        if not self.cfg.restart or self._coef is None:
            return
        r = (t_s - self._time(place)) * 1000.0 * min(weight, 1.0)
        for i, signed in enumerate((r, -r)):
            self._cusum[i] = max(0.0, self._cusum[i] + signed - self.cfg.cusum_k_ms)
            if self._cusum[i] == 0.0:
                self._quiet_at[i] = place
            if self._cusum[i] > self.cfg.cusum_h_ms:
                self._restart(min(self._quiet_at[i], place) - 0.01)
                return

    def _restart(self, since: float) -> None:
        self._since, self._coef, self._cusum = since, None, [0.0, 0.0]
        self.restarts += 1


def on_click(played: Played, perf: Performance) -> dict[float, float]:
    """Each played hit's time -> the 16th (in beats) it was played on, by the click."""
    clicked = played.warp.time(np.array([n.beat for n in perf.notes]))
    return {float(t): nearest_16th(n.beat) for t, n in zip(clicked, perf.notes)}


@dataclass(frozen=True)
class Hit:
    """A hit the filter weighed: the 16th it was played on (by the click) and its weight."""

    click: float
    weight: float


def placed(
    played: Played, perf: Performance, tcfg: TrackerConfig
) -> Iterator[tuple[float, Estimate, Hit | None]]:
    """The tracker's estimates as the hits come, with the hit (None for the count-in's, and for
    a change of state without a hit)."""
    click = on_click(played, perf)
    beats = BeatTracker(tcfg, TD11)
    for t, note, vel in played.onsets:
        held = beats.update(t)
        if held is not None:
            yield t, held, None
        est = beats.onset(t, note, vel)
        if est is None:
            continue
        voice = TD11.get(note)
        if voice is None or est.state is not TrackState.LOCKED or t not in click:
            yield t, est, None
        else:
            yield t, est, Hit(click[t], hit_weight(voice, vel))


def smoothed(cfg: SmoothConfig) -> Tracker:
    """A tracker for :func:`jamd.lab.tempo_eval.evaluate`: the beat tracker, its estimates
    replaced by the fit's where it has one."""

    def tracker(played: Played, perf: Performance, tcfg: TrackerConfig) -> Estimates:
        fit, out = FitSmoother(cfg), []
        for t, est, hit in placed(played, perf, tcfg):
            if hit is not None:
                place = hit.click if cfg.oracle else nearest_16th(est.anchor_beat)
                got = fit.add(t, place, hit.weight, est.anchor_beat)
                if got is not None:
                    est = replace(est, anchor_s=got[0], anchor_beat=got[1], period_s=got[2])
            out.append((t + LATENCY_S, est))
        return out

    return tracker


def nearest_16th(beat: float) -> float:
    """The 16th a beat is nearest, rounded as the eval's reference is (a tie goes up)."""
    return quantize(beat)[0] / STEPS_PER_BEAT


def misplaced_share(perf: Performance, index: int) -> float:
    """The share of the hits the filter puts on another 16th than the click (constant curve)."""
    played = play(perf, Curve.CONSTANT, index)
    hits = [(est, hit) for _, est, hit in placed(played, perf, TrackerConfig()) if hit is not None]
    wrong = [nearest_16th(est.anchor_beat) != hit.click for est, hit in hits]
    return sum(wrong) / max(len(wrong), 1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m jamd.lab.tempo_smooth", description=__doc__.split("\n\n")[0])
    ap.add_argument("--oracle", action="store_true", help="place each hit on the 16th it was played on")
    ap.add_argument("--degree", type=int, default=SmoothConfig.degree)
    ap.add_argument("--memory", type=float, default=SmoothConfig.memory_beats, help="beats")
    ap.add_argument("--no-restart", action="store_true", help="never restart the fit")
    ap.add_argument(
        "--places",
        action="store_true",
        help="also: per file, the hits the filter puts on another 16th than the click",
    )
    args = ap.parse_args(argv)
    root = default_data_dir()
    if root is None:
        ap.error("no Groove MIDI Dataset: set JAMD_DATA to the folder with info.csv")
    cfg = SmoothConfig(args.oracle, args.degree, args.memory, restart=not args.no_restart)
    perfs = load_performances(root)
    result = evaluate(perfs, tracker=smoothed(cfg))
    out = {"overall": result["overall"], "curves": result["curves"]}
    if args.places:
        out["misplaced_share"] = {p.name: round(misplaced_share(p, i), 4) for i, p in enumerate(perfs)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

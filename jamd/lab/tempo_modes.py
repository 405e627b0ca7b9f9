"""A trial, not what ``clock.mode: drummer`` runs: the particle filter with a stiff and an agile
way of moving, each guess in one of them and switching now and then — the mixed oracle of
:mod:`jamd.lab.tempo_floor` (a stiff tempo while it holds, an agile one when it moves), brought
to the filter that must also place the hits.

    python -m jamd.lab.tempo_modes [--seeds 0 1 2 3]

Runs ``jamd eval tempo``'s 92 runs for the shipped filter and for each setting in
:data:`SETTINGS`, at each seed (the filter's own scatter from seed to seed is as large as what
is sought). The figures and what they say are in docs/tempo.md ("Tried in session 13").
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

import numpy as np

from jamd.base.paths import default_data_dir
from jamd.lab.tempo_eval import Tracker, evaluate, load_performances, track
from jamd.tempo.particles import GridFilter, GridFilterConfig
from jamd.tempo.tracker import TrackerConfig


@dataclass(frozen=True)
class Modes:
    stiff: tuple[float, float]  # (phase, tempo) wander a beat, as in GridFilterConfig
    agile: tuple[float, float]
    switch: float  # the chance a beat that a guess goes from one to the other


#: stiff and agile pairs from the mixed oracle's sweep and around the filter's own (0.003, 0.003)
SETTINGS = (
    Modes((0.001, 0.0003), (0.01, 0.003), 0.01),
    Modes((0.001, 0.0005), (0.003, 0.003), 0.01),
    Modes((0.001, 0.0005), (0.005, 0.005), 0.01),
    Modes((0.003, 0.0005), (0.003, 0.005), 0.01),  # the filter's phase wander in both
    Modes((0.002, 0.001), (0.003, 0.003), 0.03),
)


def moding(modes: Modes) -> type[GridFilter]:
    """The filter with ``modes``: half the guesses start agile. The modes draw from a generator
    of their own, so the filter's own draws are the shipped filter's: with stiff and agile both
    the shipped wander, it gives the shipped beats, and a difference is the modes', not luck."""

    class ModeFilter(GridFilter):
        def __init__(
            self, cfg: GridFilterConfig, one_s: float, period_s: float, limits_s: tuple[float, float]
        ) -> None:
            super().__init__(cfg, one_s, period_s, limits_s)
            self._modes_rng = np.random.default_rng([cfg.seed, 1])
            self._agile = self._modes_rng.random(cfg.particles) < 0.5

        def _wander(self, beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            switch = np.minimum(modes.switch * beats, 0.5)
            self._agile ^= self._modes_rng.random(self.cfg.particles) < switch
            phase = np.where(self._agile, modes.agile[0], modes.stiff[0])
            return phase, np.where(self._agile, modes.agile[1], modes.stiff[1])

        def _keep(self, picks: np.ndarray) -> None:
            super()._keep(picks)
            self._agile = self._agile[picks]

    return ModeFilter


def on(cls: type[GridFilter]) -> Tracker:
    """``jamd eval tempo``'s tracker, on the filter ``cls``."""
    return lambda played, _, cfg: track(played, cfg, cls)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m jamd.lab.tempo_modes", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    args = ap.parse_args(argv)
    root = default_data_dir()
    if root is None:
        ap.error("no Groove MIDI Dataset: set JAMD_DATA to the folder with info.csv")
    perfs = load_performances(root)
    out: dict[str, dict[int, dict]] = {}
    for modes in (None, *SETTINGS):
        name = "shipped" if modes is None else str(modes)
        tracker = on(GridFilter if modes is None else moding(modes))
        out[name] = {}
        for seed in args.seeds:
            cfg = TrackerConfig(grid=GridFilterConfig(seed=seed))
            got = evaluate(perfs, cfg, tracker=tracker)["overall"]
            out[name][seed] = got
            print(
                f"{name} seed {seed}: p50 {got['beat_error_ms_p50']} p95 {got['beat_error_ms_p95']}",
                file=sys.stderr,
            )
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

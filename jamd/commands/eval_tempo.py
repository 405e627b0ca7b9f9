"""``jamd eval tempo``: how closely the drummer-mode clock (``clock.mode: drummer``) follows a
drummer, on Groove MIDI Dataset test performances played through known tempo curves, beside a
baseline that keeps the count-in's tempo (see :mod:`jamd.lab.tempo_eval`). ``--start auto``:
the tracker locks from the first bars of playing, no count-in played (``drummer.start: auto``)."""

from __future__ import annotations

import argparse
import json

from jamd.base.errors import UserError
from jamd.commands.common import add_data_argument
from jamd.tempo.autostart import Start

#: the figures printed per curve, in order
FIGURES = (
    "locked_by_bar2_share",
    "beat_error_ms_p50",
    "beat_error_ms_p95",
    "beat_error_ms_max",
    "tempo_error_pct",
    "tempo_error_pct_p95",
    "bars_over_1pct_share",
    "bars_lost_or_gained",
    "max_tick_interval_change",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--runs",
        action="store_true",
        help="also each run's own figures (file, curve): where the pooled ones come from",
    )
    parser.add_argument(
        "--start",
        choices=[str(s) for s in Start],
        default=str(Start.COUNT_IN),
        help="how the tracker starts: a one-bar count-in (default), or auto (no count-in played: "
        "it locks from the first bars; experimental)",
    )


def run(args: argparse.Namespace) -> int:
    from jamd.lab.tempo_eval import evaluate, load_performances

    if args.midi_dir is not None:
        raise UserError(
            "jamd eval tempo needs the Groove MIDI Dataset (--data): its files were played to a click"
        )
    if args.data is None or not (args.data / "info.csv").is_file():
        raise UserError("no Groove MIDI Dataset: pass --data DIR (the folder with info.csv)")
    perfs = load_performances(args.data)
    if not perfs:
        raise UserError(f"{args.data}: no test-split 4/4 beats of 16 bars or more")
    start = Start(args.start)
    result = evaluate(perfs, per_run=args.runs, start=start)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    how = "" if start is Start.COUNT_IN else "; start: auto, no count-in played"
    print(
        f"{result['files']} performances x {len(result['curves'])} tempo curves{how}; "
        "baseline: the count-in's tempo"
    )
    print(f"{'':>26} " + " ".join(f"{c:>17}" for c in ["overall", *result["curves"]]))
    for key in FIGURES:
        cells = []
        for ours, base in [
            (result["overall"], result["baseline"]["overall"]),
            *((result["curves"][c], result["baseline"]["curves"][c]) for c in result["curves"]),
        ]:
            cells.append(f"{_fmt(ours[key]):>8} ({_fmt(base[key]):>6})")
        print(f"{key:>26} " + " ".join(cells))
    step = result["curves"].get("step", {}).get("step_tempo_error_pct_max")
    if step is not None:
        print(f"tempo error two bars after the step, largest: {step} %")
    if "one_right_share" in result["overall"]:
        print(f"runs whose one jamd put on the drummer's: {result['overall']['one_right_share']:g}")
    d = result["drummers"]
    print(
        f"the drummers' own feel around their click (4-beat windows): {d['feel_wander_ms_p50']} ms p50, "
        f"{d['feel_wander_ms_p95']} ms p95; a causal line through their last 4 bars of hits: "
        f"{d['trailing_fit_ms_p50']} ms p50, {d['trailing_fit_ms_p95']} ms p95"
    )
    if "runs" in result:
        print(f"{'curve':>8} {'p50 ms':>7} {'p95 ms':>8} {'mean ms':>8} {'bars':>4} {'step %':>6}  file")
    for run in result.get("runs", []):
        print(
            f"{run['curve']:>8} {_fmt(run['beat_error_ms_p50']):>7} {_fmt(run['beat_error_ms_p95']):>8} "
            f"{_fmt(run['beat_error_ms_mean']):>8} {run['bars_lost_or_gained']:>4} "
            f"{_fmt(run['step_tempo_error_pct']):>6}  {run['file']}"
        )
    return 0


def _fmt(v: float | int | None) -> str:
    return "-" if v is None else f"{v:g}"

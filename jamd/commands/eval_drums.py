"""``jamd eval drums MODEL``: the figures of docs/models.md, computed with the numpy runtime."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jamd.base.errors import UserError
from jamd.commands.common import add_data_argument, read_corpus

KEYS = (
    "hit_f1",
    "hit_accuracy",
    "velocity_mae",
    "offset_mae",
    "kl_per_dim",
    "unevenness",
    "metric_cv",
    "plausible_rate",
    "decode_ms_p50",
    "decode_ms_p99",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", type=Path, help="checkpoint (path without suffix, or its .json)")
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("MODEL_A", "MODEL_B"),
        help="evaluate two models and print them side by side",
    )
    add_data_argument(parser)
    parser.add_argument(
        "--split",
        default="test",
        choices=("train", "validation", "test"),
        help="windows to evaluate on (default test; choose settings on validation)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-timing", action="store_true", help="skip the decode timing")
    parser.add_argument(
        "--write-card", action="store_true", help="store the figures in the model card under metrics.<split>"
    )


def _fmt(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(f"{x:.2f}" for x in v) + "]"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def run(args: argparse.Namespace) -> int:
    from jamd.lab.drum_eval import evaluate

    models = list(args.compare) if args.compare else [args.model] if args.model else []
    if not models:
        raise UserError("name a MODEL, or --compare MODEL_A MODEL_B")
    corpus, _ = read_corpus(args)
    windows = corpus.splits.get(args.split)
    if windows is None or len(windows) < 2:
        raise UserError(f"{corpus.root}: no {args.split} windows to evaluate on")
    results = {}
    for m in models:
        r = evaluate(str(m), windows, timing=not args.no_timing)
        r = {**{k: r[k] for k in KEYS if k in r}, **{k: v for k, v in r.items() if k not in KEYS}}
        r["split"] = args.split
        results[str(m)] = r
        if args.write_card:
            from jamd.model.checkpoint import read_card, update_card

            metrics = read_card(m).get("metrics", {})
            metrics[args.split] = r
            update_card(m, metrics=metrics)
    if args.json:
        print(json.dumps(results[str(models[0])] if len(models) == 1 else results, indent=2))
        return 0
    names = list(results)
    width = max(14, *(len(n) for n in names))
    print(f"{'':16}" + "".join(f"{n:>{width + 2}}" for n in names))
    for k in results[names[0]]:
        print(f"{k:16}" + "".join(f"{_fmt(results[n].get(k)):>{width + 2}}" for n in names))
    return 0

"""``jamd data``: what the training corpus holds."""

from __future__ import annotations

import argparse
import json

from jamd.commands.common import add_data_argument, read_corpus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-cache", action="store_true", help="re-cut the windows even if cached")


def run(args: argparse.Namespace) -> int:
    corpus, _ = read_corpus(args, use_cache=not args.no_cache)
    summary = corpus.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"corpus: {corpus.root}")
    for split, s in summary.items():
        rates = "  ".join(f"{v} {r:.3f}" for v, r in s["hit_rate"].items())
        print(
            f"{split:>10}: {s['files']:4d} files {s['windows']:6d} windows  "
            f"{s['hits_per_window']:.1f} hits/window"
        )
        print(f"{'':>12}hit rate per step: {rates}")
    return 0

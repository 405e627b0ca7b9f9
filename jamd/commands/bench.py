"""``jamd bench``: does jamd keep time on this machine? The targets of docs/performance.md, measured
here."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--quick", action="store_true", help="5 s runs instead of 30 s (a smoke test)")
    parser.add_argument(
        "--load",
        action="store_true",
        help="keep the other core busy with a process of the bench's own during the run",
    )
    parser.add_argument(
        "--sound",
        action="store_true",
        help="run jamd a second time with its FluidSynth sound playing, figures beside the run without",
    )


def run(args: argparse.Namespace) -> int:
    # imported here: the bench pulls in the daemon and the models, which `jamd --help` must not
    from jamd.ops.bench.conditions import QUICK_SECONDS, SECONDS
    from jamd.ops.bench.report import format_table, to_json
    from jamd.ops.bench.run import BenchOptions, run_bench

    flags = [
        f
        for f, on in (
            ("--json", args.json),
            ("--quick", args.quick),
            ("--load", args.load),
            ("--sound", args.sound),
        )
        if on
    ]
    opts = BenchOptions(
        seconds=QUICK_SECONDS if args.quick else SECONDS,
        quick=args.quick,
        load=args.load,
        sound=args.sound,
        command=" ".join(["jamd bench", *flags]),
    )
    # progress on stderr: stdout stays one JSON object (or the table)
    result = run_bench(opts, progress=lambda s: print(f"bench: {s}", file=sys.stderr, flush=True))
    print(to_json(result) if args.json else format_table(result))
    return 0

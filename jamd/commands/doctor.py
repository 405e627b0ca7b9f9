"""``jamd doctor``: check what a headless box needs (MIDI API, the configured ports, models,
real-time priority, BLAS threads, CPU governor, clock source), one line each with the fix.
Exit code 1 when any check FAILs. The checks live in :mod:`jamd.ops.doctor`."""

from __future__ import annotations

import argparse
import dataclasses
import json

from jamd.commands.common import add_config_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from jamd.ops.doctor import exit_code, run_doctor

    checks = run_doctor(args.config)
    code = exit_code(checks)
    if args.json:
        print(json.dumps({"ok": code == 0, "checks": [dataclasses.asdict(c) for c in checks]}, indent=2))
    else:
        print("\n".join(c.line() for c in checks))
    return code

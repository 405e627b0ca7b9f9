"""``jamd ports``: the MIDI inputs and outputs each MIDI API can see right now."""

from __future__ import annotations

import argparse
import json

from jamd.midi.ports import APIS, compiled_apis, default_api, list_ports, virtual_full_name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api",
        choices=sorted(APIS),
        action="append",
        help="only this MIDI API (repeatable; default: every API this build has)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    apis = args.api or compiled_apis()
    listing = [list_ports(api) for api in apis]
    if args.json:
        print(
            json.dumps(
                {p.api: {"inputs": p.inputs, "outputs": p.outputs, "error": p.error} for p in listing},
                indent=2,
            )
        )
        return 0
    print(f"default API here: {default_api()}")
    for p in listing:
        print(f"\n{p.api}:")
        if p.error:
            print(f"  unavailable: {p.error}")
            continue
        for kind, names in (("inputs (jamd reads)", p.inputs), ("outputs (jamd sends to)", p.outputs)):
            print(f"  {kind}:")
            for n in names:
                print(f"    {n}")
            if not names:
                print("    (none)")
        print(
            f"  jamd's own virtual ports would be: {virtual_full_name(p.api, 'drums')}, "
            f"{virtual_full_name(p.api, 'bass')}, {virtual_full_name(p.api, 'in', 'input')}"
        )
    return 0

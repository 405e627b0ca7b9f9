"""``jamd similar FILE.mid --library DIR``: the nearest windows in a folder of MIDI files."""

from __future__ import annotations

import argparse
import json

from jamd.base.errors import UserError
from jamd.commands.common import add_model_argument, input_folder, load_drum_model, midi_in, whole
from jamd.lab.toolbox import LibraryIndex, encode_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=midi_in, help="the groove to match (MIDI)")
    parser.add_argument("--library", type=input_folder, required=True, help="folder of MIDI loops or songs")
    parser.add_argument("--bar", type=whole(1), default=1, help="which 2-bar window of FILE (1 = first)")
    parser.add_argument("-k", type=whole(1), default=5, help="how many matches")
    add_model_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    model = load_drum_model(args)
    try:
        codes = {c.bar: c.z for c in encode_file(model, args.file, args.kit)}
    except ValueError as e:
        raise UserError(str(e)) from e
    if args.bar - 1 not in codes:
        raise UserError(
            f"{args.file} has no window at bar {args.bar} (bars with drums: "
            f"{', '.join(str(b + 1) for b in sorted(codes))})"
        )
    index = LibraryIndex(model, args.library, args.kit).refresh()
    matches = index.nearest(codes[args.bar - 1], args.k)
    if args.json:
        print(
            json.dumps(
                {
                    "query": str(args.file),
                    "bar": args.bar,
                    "matches": [
                        {"file": m.file, "bar": m.bar + 1, "distance": round(m.distance, 5)} for m in matches
                    ],
                }
            )
        )
    else:
        for m in matches:
            print(f"{m.distance:8.4f}  {m.file}  bar {m.bar + 1}")
    return 0

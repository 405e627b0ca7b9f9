"""``jamd similar FILE.mid --library DIR``: the nearest windows in a folder of MIDI files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jamd.base.errors import UserError
from jamd.commands.common import add_model_argument, load_drum_model, midi_file
from jamd.lab.toolbox import LibraryIndex, encode_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the groove to match (MIDI)")
    parser.add_argument("--library", type=Path, required=True, help="folder of MIDI loops or songs")
    parser.add_argument("--bar", type=int, default=1, help="which 2-bar window of FILE (1 = first)")
    parser.add_argument("-k", type=int, default=5, help="how many matches")
    add_model_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    if not args.library.is_dir():
        raise UserError(f"{args.library}: no such folder")
    model = load_drum_model(args)
    try:
        codes = {c.bar: c.z for c in encode_file(model, midi_file(args.file), args.kit)}
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

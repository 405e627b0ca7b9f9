"""``jamd encode FILE.mid``: the latent point of each 2-bar window, and its XY on the plane."""

from __future__ import annotations

import argparse
import json
from typing import TypedDict

from jamd.base.errors import UserError
from jamd.commands.common import add_model_argument, load_drum_model, midi_in
from jamd.lab.toolbox import encode_file


class Window(TypedDict):
    """One window as ``--json`` prints it (the text lines show the same rounded values)."""

    bar: int  # 0-based
    z: list[float]
    xy: list[float]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=midi_in, help="a MIDI file with drums")
    add_model_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    model = load_drum_model(args)
    plane = model.plane()
    rows: list[Window] = []
    try:
        codes = encode_file(model, args.file, args.kit)
    except ValueError as e:  # no drums in the file
        raise UserError(str(e)) from e
    for c in codes:
        x, y = plane.project(c.z)
        rows.append({"bar": c.bar, "z": [round(float(v), 5) for v in c.z], "xy": [round(x, 4), round(y, 4)]})
    if args.json:
        print(json.dumps({"file": str(args.file), "model": str(args.model), "windows": rows}))
    else:
        for r in rows:
            z = " ".join(f"{v:+.3f}" for v in r["z"])
            print(f"bar {r['bar'] + 1:4d}  z [{z}]  xy ({r['xy'][0]:+.2f}, {r['xy'][1]:+.2f})")
    return 0

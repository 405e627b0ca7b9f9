"""``jamd classify FILE.mid``: style probabilities per 2-bar window."""

from __future__ import annotations

import argparse
import json
from typing import TypedDict

import numpy as np

from jamd.base.errors import UserError
from jamd.commands.common import add_model_argument, checkpoint_in, load_drum_model, midi_in, whole
from jamd.lab.toolbox import encode_file


class Window(TypedDict):
    """One window as ``--json`` prints it."""

    bar: int  # 1-based
    styles: dict[str, float]  # style -> probability


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=midi_in, help="a MIDI file with drums")
    add_model_argument(parser)
    parser.add_argument(
        "--classifier",
        type=checkpoint_in,
        default=None,
        help="style classifier (default: the model's, NAME-style)",
    )
    parser.add_argument("--top", type=whole(1), default=3, help="styles shown per window")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from jamd.model.style import StyleClassifier

    model = load_drum_model(args)
    clf = StyleClassifier.load(args.classifier or args.model.with_name(args.model.name + "-style"))
    try:
        codes = encode_file(model, args.file, args.kit)
    except ValueError as e:
        raise UserError(str(e)) from e
    proba = clf.proba(np.stack([c.z for c in codes]))
    rows: list[Window] = [
        {"bar": c.bar + 1, "styles": {s: round(float(p), 4) for s, p in zip(clf.classes, pr)}}
        for c, pr in zip(codes, proba)
    ]
    if args.json:
        print(json.dumps({"file": str(args.file), "windows": rows}))
        return 0
    for r in rows:
        top = sorted(r["styles"].items(), key=lambda t: -t[1])[: args.top]
        print(f"bar {r['bar']:4d}  " + "  ".join(f"{s} {p:.2f}" for s, p in top))
    return 0

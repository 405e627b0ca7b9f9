"""``jamd train style``: the style classifier on a drum model's latent codes (GMD style labels)."""

from __future__ import annotations

import argparse
import json

from jamd.base.errors import UserError
from jamd.commands.common import (
    add_data_argument,
    add_model_argument,
    checkpoint_out,
    load_drum_model,
    read_corpus,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_data_argument(parser)
    parser.add_argument(
        "--out",
        type=checkpoint_out,
        default=None,
        help="classifier checkpoint (default: beside the model, NAME-style)",
    )


def run(args: argparse.Namespace) -> int:
    from jamd.model.style import train_on_corpus

    if args.data is None or args.midi_dir is not None:
        raise UserError("the style classifier needs style labels: pass --data DIR (the Groove MIDI Dataset)")
    model = load_drum_model(args)
    corpus, _ = read_corpus(args)
    clf, metrics = train_on_corpus(model, corpus)
    out = args.out or args.model.with_name(args.model.name + "-style")
    clf.save(
        out,
        {
            "drum_model": args.model.name,
            "drum_model_sha256": model.card["weights_sha256"],
            "training": {
                "data": "Groove MIDI Dataset train split, style = top-level label",
                "command": "jamd train style --model " + str(args.model),
            },
            "metrics": metrics,
        },
    )
    print(json.dumps({"out": str(out), **metrics}, indent=2))
    return 0

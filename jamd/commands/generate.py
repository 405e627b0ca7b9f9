"""``jamd generate``: a new 2-bar groove — random, from files (blended, with noise), or a point
on the plane."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from jamd.cli import UserError
from jamd.commands.common import (add_decode_arguments, add_model_argument, decode_controls,
                                  load_drum_model, midi_file, write_drums)
from jamd.toolbox import combine, file_code, vary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--from", dest="sources", type=Path, nargs="+", metavar="FILE",
                     help="start from these files' codes (blended by --weights)")
    src.add_argument("--xy", type=float, nargs=2, metavar=("X", "Y"), help="a point on the plane, -1..1")
    parser.add_argument("--weights", type=float, nargs="+",
                        help="one per --from file; may be negative (latent arithmetic); default an even blend")
    parser.add_argument("--variance", type=float, default=None,
                        help="noise added to the code (default: 1.0 for random, 0 otherwise)")
    parser.add_argument("--seed", type=int, default=None, help="makes random choices repeatable")
    add_decode_arguments(parser)
    parser.add_argument("-o", "--out", type=Path, required=True, help="MIDI file to write")


def run(args: argparse.Namespace) -> int:
    model = load_drum_model(args)
    if args.sources:
        try:
            z = combine([file_code(model, midi_file(p), args.kit) for p in args.sources], args.weights)
        except ValueError as e:
            raise UserError(str(e)) from e
        variance = args.variance or 0.0
    elif args.xy:
        z, variance = model.plane().point(*args.xy), args.variance or 0.0
    else:                                   # a sample of the prior
        z = np.zeros(model.latent_dim, np.float32)
        variance = 1.0 if args.variance is None else args.variance
    pattern = model.decode(vary(z, variance, args.seed), decode_controls(args, args.seed))
    write_drums(pattern, args.out, args.bpm)
    print(f"wrote {args.out}: {pattern.n_hits} hits in 2 bars")
    return 0

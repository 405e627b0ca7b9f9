"""``jamd interpolate A.mid B.mid --bars N``: a straight latent walk from one groove to another."""

from __future__ import annotations

import argparse
from pathlib import Path

from jamd.base.errors import UserError
from jamd.commands.common import (
    add_decode_arguments,
    add_model_argument,
    decode_controls,
    file_codes,
    load_drum_model,
    write_drums,
)
from jamd.lab.toolbox import interpolate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", type=Path, help="start groove (MIDI)")
    parser.add_argument("b", type=Path, help="end groove (MIDI)")
    parser.add_argument("--bars", type=int, default=8, help="length of the walk (default 8)")
    add_model_argument(parser)
    add_decode_arguments(parser)
    parser.add_argument("-o", "--out", type=Path, required=True, help="MIDI file to write")


def run(args: argparse.Namespace) -> int:
    if args.bars < 2:
        raise UserError("--bars must be at least 2")
    model = load_drum_model(args)
    za, zb = file_codes(model, [args.a, args.b], args.kit)
    write_drums(interpolate(model, za, zb, args.bars, decode_controls(args)), args.out, args.bpm)
    print(f"wrote {args.out}: {args.bars} bars from {args.a.name} to {args.b.name}")
    return 0

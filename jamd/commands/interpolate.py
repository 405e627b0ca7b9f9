"""``jamd interpolate A.mid B.mid --bars N``: a straight latent walk from one groove to another."""

from __future__ import annotations

import argparse

from jamd.commands.common import (
    add_decode_arguments,
    add_model_argument,
    decode_controls,
    file_codes,
    load_drum_model,
    midi_in,
    output_file,
    whole,
    write_drums,
)
from jamd.lab.toolbox import interpolate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", type=midi_in, help="start groove (MIDI)")
    parser.add_argument("b", type=midi_in, help="end groove (MIDI)")
    parser.add_argument(
        "--bars", type=whole(2, 1024), default=8, help="length of the walk, 2..1024 (default 8)"
    )
    add_model_argument(parser)
    add_decode_arguments(parser)
    parser.add_argument("-o", "--out", type=output_file, required=True, help="MIDI file to write")


def run(args: argparse.Namespace) -> int:
    model = load_drum_model(args)
    za, zb = file_codes(model, [args.a, args.b], args.kit)
    write_drums(interpolate(model, za, zb, args.bars, decode_controls(args)), args.out, args.bpm)
    print(f"wrote {args.out}: {args.bars} bars from {args.a.name} to {args.b.name}")
    return 0

"""``jamd generate``: a new 2-bar groove — random, from files (blended, with noise), or a point
on the plane; with a bass line over it if asked (``--bass``)."""

from __future__ import annotations

import argparse

import numpy as np

from jamd.base.errors import UserError
from jamd.commands.common import (
    add_decode_arguments,
    add_model_argument,
    checkpoint_in,
    decode_controls,
    file_codes,
    load_drum_model,
    midi_in,
    number,
    output_file,
    seed_number,
    write_drums,
)
from jamd.lab.toolbox import combine, vary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    src = parser.add_mutually_exclusive_group()
    src.add_argument(
        "--from",
        dest="sources",
        type=midi_in,
        nargs="+",
        metavar="FILE",
        help="start from these files' codes (blended by --weights)",
    )
    src.add_argument(
        "--xy", type=number(-1, 1), nargs=2, metavar=("X", "Y"), help="a point on the plane, -1..1"
    )
    parser.add_argument(
        "--weights",
        type=number(),
        nargs="+",
        help="one per --from file; may be negative (latent arithmetic); default an even blend",
    )
    parser.add_argument(
        "--variance",
        type=number(0, 100),
        default=None,
        help="noise added to the code, 0..100 (default: 1.0 for random, 0 otherwise)",
    )
    parser.add_argument("--seed", type=seed_number, default=None, help="makes random choices repeatable")
    add_decode_arguments(parser)
    _add_bass_arguments(parser)
    parser.add_argument("-o", "--out", type=output_file, required=True, help="MIDI file to write")


def _add_bass_arguments(parser: argparse.ArgumentParser) -> None:
    from jamd.base.paths import MODELS_DIR

    bass = parser.add_argument_group("bass")
    bass.add_argument("--bass", action="store_true", help="also write a bass track, played over the drums")
    bass.add_argument(
        "--bass-model",
        type=checkpoint_in,
        default=MODELS_DIR / "bass",
        help="bass model checkpoint (default: the shipped one)",
    )
    bass.add_argument(
        "--bass-xy",
        type=number(-1, 1),
        nargs=2,
        default=(0.0, 0.0),
        metavar=("X", "Y"),
        help="the bass pad position, -1..1 (as in jamd run; default 0 0)",
    )
    bass.add_argument(
        "--chords", default="Am", help='the harmony over the 2 bars, e.g. "Am7 D7" (a bar each; default Am)'
    )


def _bass(args: argparse.Namespace, pattern):
    """The bass line over ``pattern`` and the chord root per step, as `jamd run` would play it
    with the bass pad at ``--bass-xy``."""
    from jamd.live.performance import BASS_REACH
    from jamd.model.bass import BassModel
    from jamd.music.harmony import Chords

    try:
        chords = Chords.from_symbols(args.chords.split(), pattern.steps)
    except ValueError as e:
        raise UserError(f"--chords: {e}") from e
    model = BassModel.load(args.bass_model)
    return model.decode(BASS_REACH * np.asarray(args.bass_xy, np.float32), pattern, chords), chords.root


def run(args: argparse.Namespace) -> int:
    model = load_drum_model(args)
    prior_mean, prior_scale = model.prior()
    if args.sources:
        try:
            z = combine(file_codes(model, args.sources, args.kit), args.weights)
        except ValueError as e:  # as many weights as files
            raise UserError(str(e)) from e
        variance = args.variance or 0.0
    elif args.xy:
        z, variance = model.plane().point(*args.xy), args.variance or 0.0
    else:  # a sample of the model's prior
        z = prior_mean
        variance = 1.0 if args.variance is None else args.variance
    pattern = model.decode(vary(z, variance, args.seed, prior_scale), decode_controls(args, args.seed))
    bass = _bass(args, pattern) if args.bass else None
    write_drums(pattern, args.out, args.bpm, bass)
    notes = f" and {len(bass[0].onsets())} bass notes" if bass else ""
    print(f"wrote {args.out}: {pattern.n_hits} hits{notes} in 2 bars")
    return 0

"""``jamd map -o map.png``: a picture of the latent plane, to see what the pad will play."""

from __future__ import annotations

import argparse

import mido
import numpy as np

from jamd.base.errors import UserError
from jamd.commands.common import (
    add_data_argument,
    add_model_argument,
    load_drum_model,
    midi_in,
    number,
    output_file,
    read_corpus,
    whole,
)
from jamd.lab.latentmap import MapLayout, draw_map
from jamd.lab.toolbox import file_code
from jamd.model.checkpoint import update_card
from jamd.model.plane import CodeDensity, home_xy, read_walk


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_data_argument(parser)
    parser.add_argument("--cells", type=whole(1, 64), default=7, help="patterns per side, 1..64 (default 7)")
    parser.add_argument(
        "--radius",
        type=number(0.01, 10),
        default=None,
        help="plane reach in spreads, 0.01..10 (default: the model's, as jamd run)",
    )
    parser.add_argument("--mark", type=midi_in, nargs="*", default=[], help="MIDI files to mark on the plane")
    parser.add_argument("--session", type=midi_in, help="a `jamd run --record` file: draw its latent walk")
    parser.add_argument(
        "--no-scatter", action="store_true", help="skip the training codes (their density contours)"
    )
    parser.add_argument(
        "--write-card",
        action="store_true",
        help="store the training codes' density in the model card (plane.density), for the web page",
    )
    parser.add_argument("-o", "--out", type=output_file, required=True, help="PNG file to write")


def run(args: argparse.Namespace) -> int:
    model = load_drum_model(args)
    plane = model.plane(args.radius)
    has_data = args.data is not None or args.midi_dir is not None
    if args.write_card and not has_data:
        raise UserError("--write-card needs the training data (--data DIR or --midi-dir DIR)")
    density = None
    if not args.no_scatter or args.write_card:
        # the training data when there is some, else what the model card keeps of it
        density = _training_density(model, plane, args) if has_data else model.code_density()
    if args.write_card and density is not None:
        card_plane = dict(model.card["plane"], density=density.to_card())
        update_card(model.path, plane=card_plane)
        print(f"stored the training codes' density in {model.path}.json")
    marks = [plane.project(file_code(model, p, args.kit)) for p in args.mark]
    walk = read_walk(mido.MidiFile(args.session)) if args.session else []
    shown = None if args.no_scatter else density
    fig = draw_map(model, plane, MapLayout(cells=args.cells), shown, marks, walk)
    fig.savefig(args.out, facecolor=fig.get_facecolor())
    w, h = (int(v) for v in fig.get_size_inches() * fig.dpi)
    print(f"wrote {args.out} ({w}x{h})")
    return 0


def _training_density(model, plane, args) -> CodeDensity:
    """The density of the whole training split's codes on the home plane."""
    corpus, _ = read_corpus(args)
    w = corpus.splits["train"]
    mu, _ = model.encode_batch(w.hit.astype(np.float32), w.velocity, w.offset)
    return CodeDensity.of_codes(home_xy(plane, mu))

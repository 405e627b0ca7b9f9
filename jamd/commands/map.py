"""``jamd map -o map.png``: a picture of the latent plane, to see what the pad will play."""

from __future__ import annotations

import argparse

import mido
import numpy as np

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
from jamd.lab.png import write_png
from jamd.lab.toolbox import file_code
from jamd.model.plane import read_walk

SCATTER_POINTS = 2000  # enough to show the shape of the data, few enough to stay faint


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
    parser.add_argument("--no-scatter", action="store_true", help="skip the training codes")
    parser.add_argument("-o", "--out", type=output_file, required=True, help="PNG file to write")


def run(args: argparse.Namespace) -> int:
    model = load_drum_model(args)
    plane = model.plane(args.radius)
    scatter = None
    if not args.no_scatter and (args.data or args.midi_dir):
        scatter = _training_xy(model, plane, args)
    marks = [plane.project(file_code(model, p, args.kit)) for p in args.mark]
    walk = read_walk(mido.MidiFile(args.session)) if args.session else []
    layout = MapLayout(cells=args.cells)
    write_png(args.out, draw_map(model, plane, layout, scatter, marks, walk))
    w, h = layout.size()
    print(f"wrote {args.out} ({w}x{h})")
    return 0


def _training_xy(model, plane, args) -> np.ndarray:
    corpus, _ = read_corpus(args)
    w = corpus.splits["train"]
    pick = np.random.default_rng(0).permutation(len(w))[:SCATTER_POINTS]
    mu, _ = model.encode_batch(w.hit[pick].astype(np.float32), w.velocity[pick], w.offset[pick])
    return np.array([plane.project(z) for z in mu])

"""``jamd train distill``: a drum model's decoder copied into a fast MLP decoder (same encoder,
same latent space, same pad; `jamd.training.drum_distill`). Imports torch only inside ``run``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from jamd.base.errors import UserError
from jamd.commands.common import (
    add_checkpoint_argument,
    add_data_argument,
    checkpoint_in,
    read_corpus,
    seed_number,
    set_from_args,
    whole,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teacher", type=checkpoint_in, required=True, help="the drum model to copy")
    add_data_argument(parser)
    add_checkpoint_argument(parser)
    parser.add_argument(
        "--width", type=whole(8, 4096), default=None, help="hidden units per layer (default 512)"
    )
    parser.add_argument("--layers", type=whole(1, 8), default=None, help="hidden layers (default 2)")
    parser.add_argument("--updates", type=whole(1), default=None, help="training steps (default 12000)")
    parser.add_argument("--batch", type=whole(1), default=None, help="codes per step (default 512)")
    parser.add_argument(
        "--pool", type=whole(8), default=None, help="codes the teacher decodes to learn from (default 200000)"
    )
    parser.add_argument("--seed", type=seed_number, default=None, help="random seed (default 0)")
    parser.add_argument(
        "--max-windows",
        type=whole(0),
        default=None,
        help="codes of only this many training windows (quick runs)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def run(args: argparse.Namespace) -> int:
    import torch  # noqa: F401  (fail here, clearly, where torch is missing)

    from jamd.model.checkpoint import CheckpointError, read_card
    from jamd.training.drum_distill import DistillSettings, distill

    try:  # before the MIDI is read: a wrong teacher is said at once
        read_card(args.teacher)
    except CheckpointError as e:
        raise UserError(str(e)) from None
    corpus, _ = read_corpus(args)
    if len(corpus.splits.get("train", [])) == 0:
        raise UserError(f"{corpus.root}: no training windows to take codes from")
    st = DistillSettings()
    set_from_args(st, args, "width", "layers", "updates", "batch", "pool", "seed", "max_windows")

    def progress(ev: dict) -> None:
        if not args.quiet and ev["update"] % 1000 == 0:
            print(
                f"update {ev['update']}/{ev['updates']}  loss {ev['loss']:.4f}", file=sys.stderr, flush=True
            )

    try:
        record = distill(
            args.teacher, corpus, args.out, st, {"command": "jamd " + shlex.join(sys.argv[1:])}, progress
        )
    except CheckpointError as e:
        raise UserError(str(e)) from None
    print(json.dumps({"out": str(args.out), **record}, indent=2))
    return 0

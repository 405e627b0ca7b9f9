"""``jamd train bass``: the bass VAE on the procedural corpus over GMD drums (default) or on a
folder of your own multitrack MIDI (``--midi-dir``: drums on channel 10 plus a bass track).

Imports torch only inside ``run``, so ``jamd --help`` stays instant."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from jamd.base.errors import UserError
from jamd.commands.common import (
    add_checkpoint_argument,
    add_data_argument,
    load_bass_splits,
    number,
    seed_number,
    set_from_args,
    whole,
)

if TYPE_CHECKING:
    from jamd.data.corpus import Windows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_argument(parser)
    add_checkpoint_argument(parser)
    parser.add_argument(
        "--bass",
        default=None,
        metavar="CHANNEL|NAME",
        help="with --midi-dir: the bass part, as a MIDI channel 1-16 or a track-name "
        "substring (default: GM program 33-40, else a track named *bass*)",
    )
    parser.add_argument(
        "--stability",
        type=number(0),
        default=None,
        help="weight of the latent-stability penalty (0 = the unpenalised comparison model)",
    )
    parser.add_argument("--steps", type=whole(1), default=None, help="optimiser steps (default 6000)")
    parser.add_argument(
        "--batch", type=whole(1), default=None, help="pairs of consecutive windows per step (default 64)"
    )
    parser.add_argument("--lr", type=number(1e-8, 1), default=None, help="peak learning rate (default 2e-3)")
    parser.add_argument("--beta", type=number(0), default=None, help="KL weight")
    parser.add_argument(
        "--attribute",
        type=number(0),
        default=None,
        help="weight of the term that names the pad's axes: x busier, y more melodic "
        "(default 1; 0 = principal axes, unnamed)",
    )
    parser.add_argument(
        "--invariance",
        type=number(0),
        default=None,
        help="weight of the term that keeps the rhythm still along y (default 100; 0 = off)",
    )
    parser.add_argument(
        "--d-model", type=whole(4, 1024, step=4), default=None, help="transformer width (default 48)"
    )
    parser.add_argument("--eval-every", type=whole(1), default=None, help="steps between validations")
    parser.add_argument(
        "--corpus-seed", type=seed_number, default=0, help="seed of the procedural bass corpus"
    )
    parser.add_argument(
        "--played-drums",
        type=Path,
        default=None,
        metavar="MODEL",
        help="also train on each window's drums as this drum model plays them (the kicks the bass "
        "hears live), lines written by the same rules; procedural corpus only",
    )
    parser.add_argument("--seed", type=seed_number, default=0, help="training seed")
    parser.add_argument(
        "--max-minutes", type=number(0), default=0.0, help="stop after this many minutes (0 = no limit)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def played_replay(args: argparse.Namespace) -> Callable[[Windows], Windows] | None:
    """``--played-drums``: the training windows' drums as that model plays them."""
    if args.played_drums is None:
        return None
    if args.midi_dir is not None:
        raise UserError("--played-drums writes lines by the procedural corpus's rules: not with --midi-dir")
    import numpy as np

    from jamd.model.drums import DrumModel
    from jamd.training.bass_played import played_windows

    model = DrumModel.load(args.played_drums)  # a CheckpointError is a UserError: one clear line
    return lambda w: played_windows(w, model, np.random.default_rng([args.corpus_seed, 7]))


def run(args: argparse.Namespace) -> int:
    import torch  # noqa: F401  (fail here, clearly, where torch is missing)

    from jamd.training.bass_train import BassTrainSettings, train_bass
    from jamd.training.bass_vae import BassLossConfig, BassVAEConfig

    splits, info = load_bass_splits(args, played_replay(args))
    if args.played_drums is not None:
        info["played_drums"] = str(args.played_drums)
    if any(len(splits.get(s, [])) == 0 for s in ("train", "validation")):
        raise UserError(
            f"not enough 2-bar windows with drums and bass (found "
            f"{ {k: len(v) for k, v in splits.items()} }); need some in train and validation"
        )
    mcfg, lcfg, st = BassVAEConfig(), BassLossConfig(), BassTrainSettings()
    set_from_args(mcfg, args, "d_model")
    set_from_args(lcfg, args, "stability", "beta", "attribute", "invariance")
    set_from_args(st, args, "steps", "batch", "lr", "eval_every", "seed", "max_minutes")
    lcfg.kl_warmup_steps = min(lcfg.kl_warmup_steps, st.steps // 4)
    info["command"] = "jamd " + shlex.join(sys.argv[1:])

    def report(ev: dict) -> None:
        if not args.quiet:
            tr, va = ev["train"], ev["validation"]
            print(
                f"step {ev['step']:5d}  train loss {tr['loss']:.3f}  validation recon {va['recon']:.3f} "
                f"(onset {va['onset']:.3f} pitch {va['pitch']:.3f}) kl {va['kl']:.2f} stab {va['stab']:.4f}  "
                f"{ev['elapsed_s']:.0f}s{' *' if ev['improved'] else ''}",
                file=sys.stderr,
                flush=True,
            )

    try:
        record = train_bass(splits, args.out, mcfg, lcfg, st, info, report)
    except ValueError as e:
        raise UserError(str(e)) from e
    print(
        json.dumps(
            {"out": str(args.out), **{k: record[k] for k in ("best_step", "stop_reason", "wall_time_s")}}
        )
    )
    return 0

"""``jamd train drums``: the drum VAE on the Groove MIDI Dataset or a folder of your own MIDI.

Imports torch only inside ``run``, so ``jamd --help`` stays instant."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from jamd.base.errors import UserError
from jamd.commands.common import (
    add_checkpoint_argument,
    add_data_argument,
    number,
    read_corpus,
    seed_number,
    set_from_args,
    whole,
)

#: Below this many training windows (a folder of ~200 MIDI files) batches are SMALL_BATCH, not
#: 128: a 50-file folder gives ~900 windows, 7 batches of 128 per epoch — too few updates to learn.
SMALL_SET = 4000
SMALL_BATCH = 32

#: the network's sizes: option, type, help (each a field of DrumVAEConfig)
SIZES = (
    ("--latent-dim", whole(2, 64), "latent dimensions (default 4)"),
    ("--dec-hidden", whole(1, 4096), "decoder GRU units, or the transformer's width (default 128 / 96)"),
    ("--enc-hidden", whole(1, 4096), "encoder GRU units per direction (default 64)"),
    ("--dec-layers", whole(1, 16), "transformer blocks (default 2)"),
    ("--dec-heads", whole(1, 64), "transformer attention heads (default 4)"),
    ("--dec-ff", whole(1, 16384), "transformer MLP width (default 2x the width)"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_argument(parser)
    add_checkpoint_argument(parser)
    parser.add_argument(
        "--flat-weight",
        type=number(0),
        default=None,
        help="flatness regulariser weight (0 = the plain VAE baseline; default 3)",
    )
    parser.add_argument(
        "--arch",
        choices=("gru", "transformer"),
        default=None,
        help="decoder network: a GRU (default) or a transformer over the steps",
    )
    for option, kind, text in SIZES:
        parser.add_argument(option, type=kind, default=None, help=text)
    parser.add_argument(
        "--epochs", type=whole(1), default=None, help="maximum epochs (early stopping may end sooner)"
    )
    parser.add_argument(
        "--patience", type=whole(1), default=None, help="epochs without validation gain before stopping"
    )
    parser.add_argument(
        "--batch",
        type=whole(1),
        default=None,
        help="batch size (default 128; 32 below 4,000 training windows)",
    )
    parser.add_argument("--lr", type=number(1e-8, 1), default=None, help="Adam learning rate (default 1e-3)")
    parser.add_argument(
        "--seed", type=seed_number, default=0, help="random seed (runs are deterministic for a seed)"
    )
    parser.add_argument(
        "--max-minutes",
        type=number(0),
        default=0.0,
        help="finish within this many minutes: no epoch is started that would end past them; keeps the best epoch (0 = no limit)",
    )
    parser.add_argument(
        "--max-windows",
        type=whole(0),
        default=0,
        help="train on only the first N training windows (quick trials)",
    )
    parser.add_argument("--free-bits", type=number(0), default=None, help="KL floor per latent dim, nats")
    parser.add_argument("--kl-warmup", type=number(0), default=None, help="epochs of KL warm-up")
    parser.add_argument(
        "--flat-start", type=number(0), default=None, help="epoch at which flatness switches on"
    )
    parser.add_argument(
        "--beta",
        type=number(0, 100),
        default=None,
        help="KL weight after warm-up (default 1: the plain ELBO)",
    )
    for option, what in (("--vel-weight", "velocity"), ("--off-weight", "timing-offset")):
        parser.add_argument(
            option,
            type=number(0, 1000),
            default=None,
            help=f"weight of the {what} error on hit cells beside the hit cross-entropy (default 1)",
        )
    flat_dirs = (
        "directions of the flatness term: 0 = every latent axis (default); k >= 2 = the codes' "
        "plane plus k-2 random ones (its cost then does not grow with --latent-dim)"
    )
    parser.add_argument("--flat-dirs", type=whole(0, 64), default=None, help=flat_dirs)
    parser.add_argument(
        "--flat-random",
        choices=("isotropic", "codes"),
        default=None,
        help="the flatness term's random directions: uniform (default) or combinations of the codes",
    )
    parser.add_argument(
        "--flat-warmup",
        type=number(0),
        default=None,
        help="epochs over which the flatness weight ramps up (default 0)",
    )
    parser.add_argument(
        "--augment",
        type=_augmentation,
        default=None,
        metavar="KINDS",
        help="augment the training windows, drawn afresh per batch: any of swap (closed hat <-> "
        "ride), velocity (one scale per window, +-15%%), timing (one shift of all offsets, "
        "+-0.05 step), repair (the second bar from elsewhere in the same file), comma-separated, "
        "or all (default: none)",
    )
    parser.add_argument(
        "--init",
        type=Path,
        default=None,
        metavar="MODEL",
        help="start from this drum checkpoint's weights (the same network sizes) instead of random "
        "ones; the KL and flatness warm-ups then default to 0",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the stopped run of the same command from OUT.resume.pt (written after every "
        "epoch); --epochs and --max-minutes may be raised",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress display")


def _augmentation(text: str):
    from jamd.data.augment import AugmentConfig

    try:
        return AugmentConfig.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _reporter(quiet: bool):
    """Live bar on a terminal (rich), one line per epoch otherwise (logs, nohup)."""
    if quiet:
        return None, None
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            TextColumn("{task.fields[terms]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        task = progress.add_task("train", total=1, epoch=1, terms="")

        def show(ev: dict) -> None:
            if ev["event"] == "batch":
                terms = "  ".join(
                    f"{k} {ev[k]:.3f}"
                    for k in ("loss", "hit_bce", "vel_mse", "off_mse", "kl", "flat")
                    if k in ev
                )
                progress.update(
                    task, total=ev["batches"], completed=ev["batch"], epoch=ev["epoch"] + 1, terms=terms
                )
            else:
                progress.console.print(_event_line(ev))

        return show, progress

    def line(ev: dict) -> None:
        if ev["event"] != "batch":
            print(_event_line(ev), file=sys.stderr, flush=True)

    return line, None


def _event_line(ev: dict) -> str:
    if ev["event"] == "resume":
        return f"resuming after epoch {ev['epoch']} (best so far: epoch {ev['best_epoch']})"
    tr, va = ev["train"], ev["validation"]
    flat = f" flat {tr['flat']:.3f}" if "flat" in tr else ""
    star = " *" if ev["improved"] else ""
    return (
        f"epoch {ev['epoch']:3d}  train loss {tr['loss']:.3f} (bce {tr['hit_bce']:.2f} vel {tr['vel_mse']:.3f} "
        f"off {tr['off_mse']:.3f} kl {tr['kl']:.2f}{flat})  validation loss {va['loss']:.3f} "
        f"(bce {va['hit_bce']:.2f} kl {va['kl']:.2f})  {ev['elapsed_s']:.0f}s{star}"
    )


def run(args: argparse.Namespace) -> int:
    import torch  # noqa: F401  (fail here, clearly, where torch is missing)

    from jamd.data.augment import NO_AUGMENT
    from jamd.training.drum_train import InitError, TrainSettings, train
    from jamd.training.drum_vae import DrumVAEConfig, FlatRandom, LossConfig
    from jamd.training.resume import ResumeError

    corpus, midi_dir = read_corpus(args)
    if len(corpus.splits.get("train", [])) == 0 or len(corpus.splits.get("validation", [])) == 0:
        raise UserError(
            f"{corpus.root}: not enough usable 2-bar windows (need some in both the training and "
            f"the validation split; found {corpus.summary()})"
        )
    if args.flat_dirs == 1:
        raise UserError("--flat-dirs: 0 (every latent axis) or at least 2 (the plane, then random ones)")
    sizes = ["arch"] + [option[2:].replace("-", "_") for option, _, _ in SIZES]
    try:  # built from the options at once: a transformer's default width differs from a GRU's
        mcfg = DrumVAEConfig(**{k: getattr(args, k) for k in sizes if getattr(args, k) is not None})
    except ValueError as e:
        raise UserError(f"--dec-heads: {e}") from None
    lcfg, st = LossConfig(), TrainSettings()
    if args.init is not None:  # a trained model already reads z: no warm-up unless asked for
        lcfg.kl_warmup_epochs = lcfg.flat_start_epoch = lcfg.flat_warmup_epochs = 0.0
    set_from_args(
        lcfg,
        args,
        "flat_weight",
        "beta",
        "flat_dirs",
        "free_bits",
        "vel_weight",
        "off_weight",
        kl_warmup_epochs="kl_warmup",
        flat_start_epoch="flat_start",
        flat_warmup_epochs="flat_warmup",
    )
    if args.flat_random is not None:
        lcfg.flat_random = FlatRandom(args.flat_random)
    set_from_args(st, args, "epochs", "patience", "batch", "lr", "seed", "max_minutes", "max_windows")
    if args.batch is None and len(corpus.splits["train"]) < SMALL_SET:
        st.batch = SMALL_BATCH  # more updates per epoch on a small folder (see SMALL_SET)
    report, live = _reporter(args.quiet)
    info = {"midi_dir": midi_dir, "command": "jamd " + shlex.join(sys.argv[1:])}
    t0 = time.perf_counter()
    if live:
        live.start()
    try:
        record = train(
            corpus, args.out, mcfg, lcfg, st, info, report, args.resume, args.augment or NO_AUGMENT, args.init
        )
    except (ResumeError, InitError) as e:
        raise UserError(str(e)) from None
    finally:
        if live:
            live.stop()
    summary = {
        k: record[k]
        for k in ("best_epoch", "best_validation_loss", "epochs_run", "stop_reason", "wall_time_s")
    }
    summary["total_s_with_data"] = round(time.perf_counter() - t0, 1)
    print(json.dumps({"out": str(args.out), **summary}))
    return 0

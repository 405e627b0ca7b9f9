"""``jamd eval bass MODEL``: the bass figures of docs/bass.md (issue 19's keys, the corpus's own
figures and trivial baselines beside them, and which targets are met), numpy runtime only.

By default on the test split of the procedural corpus (the data the shipped model was trained
on); ``--midi-dir`` evaluates on your own multitrack folder's validation files instead. The
latent-stability figures are set against the model trained without the penalty
(``--unpenalised``, default ``MODEL_unpenalised`` beside MODEL when it exists)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jamd.base.errors import UserError
from jamd.commands.common import add_data_argument, checkpoint_in, seed_number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", type=checkpoint_in, help="bass checkpoint (path without suffix, or its .json)"
    )
    parser.add_argument(
        "--unpenalised",
        type=checkpoint_in,
        default=None,
        help="the comparison model trained with --stability 0 (default MODEL_unpenalised)",
    )
    add_data_argument(parser)
    parser.add_argument("--bass", default=None, help="with --midi-dir: the bass channel or track name")
    parser.add_argument(
        "--corpus-seed", type=seed_number, default=0, help="seed of the procedural bass corpus"
    )
    parser.add_argument(
        "--split",
        default=None,
        choices=("train", "validation", "test"),
        help="windows to evaluate on (default: test; validation with --midi-dir, "
        "whose folders have no test split)",
    )
    parser.add_argument(
        "--drums",
        type=checkpoint_in,
        default=None,
        help="the drum model whose playing the kick lock is also measured over (default: the shipped one)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-timing", action="store_true", help="skip the decode timing")
    parser.add_argument(
        "--write-card", action="store_true", help="store the figures in the model card under metrics.<split>"
    )


def _base(p: Path) -> Path:
    return p.with_suffix("") if p.suffix in (".json", ".safetensors") else p


def run(args: argparse.Namespace) -> int:
    from jamd.base.paths import MODELS_DIR
    from jamd.commands.common import DEFAULT_DRUM_MODEL, load_bass_splits
    from jamd.lab.bass_eval import evaluate
    from jamd.model.checkpoint import read_card, update_card

    model = _base(args.model)
    read_card(model)  # a clear error before any data is read
    other = _base(args.unpenalised) if args.unpenalised else model.with_name(model.name + "_unpenalised")
    has_other = other.with_name(other.name + ".json").is_file()
    if args.unpenalised and not has_other:
        raise UserError(f"{other}: no such model")
    args.split = args.split or ("validation" if args.midi_dir else "test")
    splits, _ = load_bass_splits(args)
    windows = splits.get(args.split)
    if windows is None or len(windows) < 2:
        raise UserError(f"no {args.split} windows to evaluate on (have {sorted(splits)})")
    result = {
        "model": str(model),
        "split": args.split,
        **evaluate(
            str(model),
            windows,
            args.drums or MODELS_DIR / DEFAULT_DRUM_MODEL,
            splits.get("train"),
            timing=not args.no_timing,
        ),
    }
    if has_other:
        ref = evaluate(str(other), windows, timing=False)
        result["unpenalised"] = {
            "model": str(other),
            **{
                k: ref[k]
                for k in (
                    "latent_stability",
                    "latent_stability_relative",
                    "latent_std",
                    "onset_f1",
                    "root_share",
                    "kick_lock_exact",
                )
                if k in ref
            },
        }
    if args.write_card:
        metrics = read_card(model).get("metrics", {})
        metrics[args.split] = result
        update_card(model, metrics=metrics)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for k, v in result.items():
        print(f"{k:>28}: {json.dumps(v)}")
    return 0

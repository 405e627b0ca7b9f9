"""``jamd eval drums MODEL``: the figures of docs/models.md, on the patterns the daemon plays
(numpy runtime, live default decoding), beside trivial baselines with ``--baselines``/``--compare``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from jamd.base.errors import UserError
from jamd.commands.common import add_data_argument, checkpoint_in, number, read_corpus, whole
from jamd.data.corpus import Corpus

if TYPE_CHECKING:
    from jamd.lab.drum_report import EvalData
    from jamd.model.drums import PadDefaults
    from jamd.model.seed_search import SearchSettings

#: the contract's keys first, in this order (issue 15); the secondary figures after them
KEYS = (
    "seed_f1",
    "seed_f1_kick",
    "seed_f1_snare",
    "seed_identification",
    "seed_velocity_mae",
    "seed_offset_mae",
    "pad_change_cv",
    "pad_jump_share",
    "pad_total_change",
    "pad_dead_share",
    "pad_lag",
    "realism_pad",
    "realism_prior",
    "realism_real",
    "style_nn",
    "style_nn_raw",
    "decode_ms_p50",
    "decode_ms_p99",
    "encode_ms_p50",
    "unevenness",
    "metric_cv",
    "kl_per_dim",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model", nargs="?", type=checkpoint_in, help="checkpoint (path without suffix, or its .json)"
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        type=checkpoint_in,
        metavar=("MODEL_A", "MODEL_B"),
        help="evaluate two models and print them side by side, with the baselines",
    )
    parser.add_argument(
        "--baselines",
        action="store_true",
        help="also score trivial players (copy, quantised, nearest training window, random)",
    )
    add_data_argument(parser)
    parser.add_argument(
        "--split",
        default="test",
        choices=("train", "validation", "test"),
        help="windows to evaluate on (default test; choose settings on validation)",
    )
    # what the model's card otherwise says, set for this evaluation
    for flag, kind, text in (
        ("--radius", number(0.01, 10), "pad reach in spreads, as latent.radius in the config"),
        (
            "--pace",
            number(0, 1000),
            "decoding memory along pad moves: cells per unit of pad travel, 0 = none",
        ),
        ("--lag", whole(0, 288), "decoding memory: most cells the played pattern may trail the fresh decode"),
        ("--search-steps", whole(0, 1000), "seed search: steps from the encoder's code, 0 = none"),
        ("--search-timing", number(0, 100), "seed search: weight of the velocity and timing errors"),
    ):
        parser.add_argument(
            flag, type=kind, default=None, help=f"{text} (default: the model's own; docs/models.md)"
        )
    parser.add_argument(
        "--groove-plane",
        action="store_true",
        help="span the pad on the groove plane (the two directions in which the decoder changes the "
        "pattern most per spread of the training codes) instead of the card's plane; docs/models.md",
    )
    parser.add_argument(
        "--set-pad",
        action="store_true",
        help="store the pad and seed-search settings evaluated (radius, pace, lag, search steps, "
        "--groove-plane) in the model card as its defaults, and the covariance of its training codes "
        "as its prior if the card has none",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-timing", action="store_true", help="skip the decode timing")
    parser.add_argument(
        "--write-card", action="store_true", help="store the figures in the model card under metrics.<split>"
    )


def _eval_data(corpus: Corpus, split: str):
    from jamd.lab.drum_report import EvalData

    windows, train = corpus.splits.get(split), corpus.splits.get("train")
    if windows is None or len(windows) < 2:
        raise UserError(f"{corpus.root}: no {split} windows to evaluate on")
    if train is None or not len(train):
        raise UserError(f"{corpus.root}: no train windows for the baselines and style neighbours")
    # the realism floor: real windows of the other held-out split (validation for test)
    others = [s for s in ("validation", "test") if s != split and len(corpus.splits.get(s, ())) > 0]
    reference = corpus.splits[others[0]] if others else None
    return EvalData(windows, train, reference, [f.style for f in corpus.files])


def _rows(figures: dict) -> dict[str, object]:
    """Nested figures (feature distances) as ``name.field`` rows; contract keys first."""
    flat: dict[str, object] = {}
    for k, v in figures.items():
        if isinstance(v, dict):
            flat.update({f"{k}.{f}": x for f, x in v.items()})
        else:
            flat[k] = v
    return {**{k: flat[k] for k in KEYS if k in flat}, **{k: v for k, v in flat.items() if k not in KEYS}}


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return "[" + ", ".join(f"{x:.2f}" for x in v) + "]"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _pad(path: Path, args: argparse.Namespace) -> PadDefaults:
    """The model's own pad defaults, with what the options set instead."""
    from jamd.model.checkpoint import read_card
    from jamd.model.drums import PadDefaults, pad_defaults
    from jamd.model.pacing import Pacing

    own = pad_defaults(read_card(path), path.name)
    pace = own.pacing.pace if args.pace is None else args.pace
    lag = own.pacing.lag if args.lag is None else args.lag
    return PadDefaults(own.radius if args.radius is None else args.radius, Pacing(pace, lag))


def _search(path: Path, args: argparse.Namespace) -> SearchSettings:
    """The model's own seed search, with what the options set instead."""
    from dataclasses import replace

    from jamd.model.checkpoint import read_card
    from jamd.model.drums import search_settings

    own = search_settings(read_card(path), path.name)
    steps = own.steps if args.search_steps is None else args.search_steps
    weight = own.timing_weight if args.search_timing is None else args.search_timing
    return replace(own, steps=steps, timing_weight=weight)


def _set_pad(
    path: Path, pad: PadDefaults, search: SearchSettings, data: EvalData, split: str, plane: dict
) -> None:
    """``--set-pad``: the settings as the card's ``pad`` and ``seed_search`` sections, ``plane``
    (the card's ``plane`` section the pad spanned: with ``--groove-plane`` the groove plane, as
    evaluated) as its ``plane``; a prior if it has none."""
    import shlex
    import sys

    import numpy as np

    from jamd.lab.drum_played import encode_means
    from jamd.model.checkpoint import update_card
    from jamd.model.drums import DrumModel

    fields: dict = {
        "pad": {
            "radius": pad.radius,
            "pace": pad.pacing.pace,
            "lag": pad.pacing.lag,
            "chosen_on": split,
            "command": "jamd " + shlex.join(sys.argv[1:]),
        },
        "seed_search": search.to_card(),
    }
    if "covariance" not in plane:
        mu, _ = encode_means(DrumModel.load(path), data.train)
        plane = {**plane, "covariance": np.cov(mu.T).astype(np.float32)}
    update_card(path, **fields, plane=plane)


def run(args: argparse.Namespace) -> int:
    from jamd.lab.drum_report import baselines, evaluate, reference

    models = list(args.compare) if args.compare else [args.model] if args.model else []
    if not models:
        raise UserError("name a MODEL, or --compare MODEL_A MODEL_B")
    corpus, _ = read_corpus(args)
    data = _eval_data(corpus, args.split)
    ref = reference(data)
    results, plays = {}, []
    for m in models:
        pad, search = _pad(m, args), _search(m, args)
        r, played = evaluate(
            str(m), data, ref, pad, timing=not args.no_timing, search=search, groove=args.groove_plane
        )
        r["split"] = args.split
        results[str(m)] = r
        plays.append(played)
        if args.write_card:
            from jamd.model.checkpoint import read_card, update_card

            metrics = read_card(m).get("metrics", {})
            metrics[args.split] = r
            update_card(m, metrics=metrics)
        if args.set_pad:
            _set_pad(m, pad, search, data, args.split, played.plane)
    base = baselines(data, ref, plays[0]) if args.baselines or args.compare else {}
    if args.json:
        out: dict = results[str(models[0])] if len(models) == 1 else dict(results)
        print(json.dumps({**out, "baselines": base} if base else out, indent=2))
        return 0
    columns = {**{n: _rows(r) for n, r in results.items()}, **{f"[{n}]": _rows(b) for n, b in base.items()}}
    keys = list(_rows(results[str(models[0])]))
    width = max(
        14, *(len(n) for n in columns), *(len(_fmt(c.get(k))) for c in columns.values() for k in keys)
    )
    label = max(len(k) for k in keys) + 2
    print(f"{'':{label}}" + "".join(f"{n:>{width + 2}}" for n in columns))
    for k in keys:
        print(f"{k:{label}}" + "".join(f"{_fmt(c.get(k)):>{width + 2}}" for c in columns.values()))
    if base:
        print(
            "[baselines] copy: the window itself (seed F1 = 1 by definition); quantised: its hits, "
            "offsets 0, velocities at its mean; nearest_train: the nearest training window by Hamming "
            f"(pad and realism rows: to what {models[0]} played); random: random cells, the window's "
            "hit count (realism: hit counts of training windows)"
        )
    return 0

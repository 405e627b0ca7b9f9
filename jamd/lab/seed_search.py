"""Is the drum model's seed held back by its encoder or by its decoder? The seed figures of the
encoder's means beside those of the codes searched on from them (`jamd.model.seed_search`) after
a quarter, half and all of the steps, on random windows of a split.

    python -m jamd.lab.seed_search MODEL [--windows 400] [--steps 40] [--timing-weight 1]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

import numpy as np

from jamd.base.paths import default_data_dir
from jamd.data.corpus import Windows, WindowSettings, load_corpus
from jamd.lab.drum_played import Played, play
from jamd.lab.drum_seed import SeedFigures, others, seed_figures
from jamd.model.drums import DrumModel
from jamd.model.seed_search import SearchSettings


def compare(model: DrumModel, w: Windows, settings: SearchSettings) -> dict[str, SeedFigures]:
    """Seed figures of the encoder's means and of the searched codes at a quarter, half and all
    of ``settings.steps``."""
    true = Played.from_windows(w)
    rivals = others(w.file)
    search = model.code_search((w.hit.astype(np.float32), w.velocity, w.offset), settings)
    out = {"encoder": seed_figures(true, play(model, search.z), rivals)}
    shown = {settings.steps // 4, settings.steps // 2, settings.steps} - {0}
    while not search.done:
        search.step()
        if search.done_steps in shown:
            out[f"searched, {search.done_steps} steps"] = seed_figures(true, play(model, search.z), rivals)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m jamd.lab.seed_search", description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--split", default="validation")
    ap.add_argument("--windows", type=int, default=400, help="random windows of the split (fixed seed)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument(
        "--lr", type=float, default=SearchSettings.lr, help="Adam step, in posterior standard deviations"
    )
    ap.add_argument("--timing-weight", type=float, default=1.0, help="weight of velocity + offset errors")
    args = ap.parse_args(argv)
    root = default_data_dir()
    if root is None:
        ap.error("no Groove MIDI Dataset: set JAMD_DATA to the folder with info.csv")
    corpus = load_corpus(root, WindowSettings())
    split = corpus.splits[args.split]
    idx = np.sort(np.random.default_rng(0).choice(len(split), min(args.windows, len(split)), replace=False))
    w = Windows(split.hit[idx], split.velocity[idx], split.offset[idx], split.file[idx], split.bar[idx])
    settings = SearchSettings(args.steps, args.lr, args.timing_weight)
    rows = compare(DrumModel.load(args.model), w, settings)
    print(
        json.dumps(
            {k: {f: round(x, 4) for f, x in asdict(v).items() if x is not None} for k, v in rows.items()}
        )
    )


if __name__ == "__main__":
    main()

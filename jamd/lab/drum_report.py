"""`jamd eval drums`: every figure of a drum model on the patterns the daemon plays, and the same
figures of trivial players (copying, quantising, looking up the nearest training window, random
placement), so that each one is read against what no model at all achieves. Numpy only, fixed
seeds; the definitions (issue 15's contract) are in docs/models.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from jamd.data.corpus import Windows
from jamd.lab.drum_eval import metric_cv, unevenness
from jamd.lab.drum_pad import PadFigures, pad_figures, sweeps
from jamd.lab.drum_played import (
    Played,
    encode_means,
    encode_seeds,
    play,
    play_walks,
    quantised,
    random_hits,
    snap,
)
from jamd.lab.drum_seed import others, seed_figures, style_nn
from jamd.lab.groove_plane import groove_plane_card
from jamd.lab.realism import feature_distances, heldout_accuracy
from jamd.lab.timing import decode_timing
from jamd.model.drums import DrumModel, PadDefaults
from jamd.model.seed_search import SearchSettings

SEED = 0
N_REALISM = 1000  # generated patterns per realism test

Figures = dict[str, object]


@dataclass(frozen=True)
class EvalData:
    windows: Windows  # the split evaluated
    train: Windows  # the lookup table of the baselines, and the style neighbours
    reference: Windows | None  # real windows of another held-out split: the realism floor
    styles: list[str]  # style of each corpus file ("" when unknown)


@dataclass(frozen=True)
class Reference:
    """What every model is scored against, computed once."""

    true: Played
    train: Played
    rivals: list[np.ndarray]  # seed_identification's other-file windows, per window
    figures: Figures  # the model-free figures: realism_real, style_nn_raw


@dataclass(frozen=True)
class ModelPlay:
    """What a model played: from each window's seed, along the pad sweeps (with its memory, and
    each point decoded afresh), at random pad positions around the seeds (afresh, with the seed
    window's file as group) and from its prior."""

    seed: Played
    sweeps: Played
    sweeps_fresh: Played
    sweep_shape: tuple[int, int]
    pad: Played
    pad_group: np.ndarray
    prior: Played
    plane: dict  # the card's ``plane`` section the pad spanned (the groove plane if asked for)


def reference(data: EvalData) -> Reference:
    w, train = data.windows, data.train
    true, table = Played.from_windows(w), Played.from_windows(train)
    figures: Figures = {"style_nn_raw": style_nn(true.flat(), w.file, table.flat(), train.file, data.styles)}
    ref = data.reference
    if ref is not None and len(ref):
        figures.update(_realism("real", Played.from_windows(ref), ref.file, true, w.file))
    else:
        figures.update({"realism_real": None, "features_real": None})
    return Reference(true, table, others(w.file, seed=SEED), figures)


def _realism(
    name: str, fake: Played, fake_group: np.ndarray, true: Played, true_group: np.ndarray
) -> Figures:
    acc = heldout_accuracy(true.flat(), true_group, fake.flat(), fake_group, seed=SEED)
    return {f"realism_{name}": acc, f"features_{name}": asdict(feature_distances(fake.hit, true.hit))}


def _unique_groups(n: int) -> np.ndarray:
    return -1 - np.arange(n)  # never a file index


def play_model(
    model: DrumModel,
    data: EvalData,
    pad: PadDefaults,
    search: SearchSettings | None = None,
    n: int = N_REALISM,
) -> ModelPlay:
    """Everything the figures need the model to play, with the pad's radius and memory ``pad``
    (and the seed ``search``: None, the card's)."""
    w = data.windows
    seeds = encode_seeds(model, w, search)
    plane = model.plane(pad.radius)
    s, s_xy = sweeps(plane, seeds, seed=SEED)
    rng = np.random.default_rng(SEED)
    at = rng.integers(len(w), size=n)
    xy = rng.uniform(-1.0, 1.0, size=(n, 2))
    pad_z = np.stack([plane.point(x, y, seeds[i]) for i, (x, y) in zip(at, xy, strict=True)])
    mean, chol = model.prior()
    eps = rng.standard_normal((n, model.latent_dim))
    prior_z = mean + (eps if chol is None else eps @ chol.T)
    fresh = play(model, s.reshape(-1, model.latent_dim))
    mp = ModelPlay(
        seed=play(model, seeds),
        sweeps=play_walks(model, s, s_xy, pad.pacing) if pad.pacing.on else fresh,
        sweeps_fresh=fresh,
        sweep_shape=(s.shape[0], s.shape[1]),
        pad=play(model, pad_z),
        pad_group=w.file[at],
        prior=play(model, prior_z),
        plane=model.card["plane"],
    )
    return mp


def _pad(sweep_played: Played, shape: tuple[int, int]) -> PadFigures:
    """Pad figures of the patterns played along the sweeps, given flat (sweeps * points rows)."""
    return pad_figures(sweep_played.hit.reshape(*shape, *sweep_played.hit.shape[1:]))


def evaluate(
    path: str,
    data: EvalData,
    ref: Reference,
    pad: PadDefaults | None = None,
    timing: bool = True,
    search: SearchSettings | None = None,
    groove: bool = False,
) -> tuple[Figures, ModelPlay]:
    """The figures of one model, and what it played (for the lookup baselines). ``pad``: the
    pad's radius and memory, ``search``: the seed search (None: the model's own, as the daemon
    plays it by default), ``groove``: the pad spans the groove plane (`jamd.lab.groove_plane`)
    instead of the card's."""
    model = DrumModel.load(path)
    pad = model.pad if pad is None else pad
    w = data.windows
    train_mu, _ = encode_means(model, data.train)
    if groove:
        model.card["plane"] = groove_plane_card(model, train_mu)
    mp = play_model(model, data, pad, search)
    mu, logvar = encode_means(model, w)
    out: Figures = {
        **asdict(seed_figures(ref.true, mp.seed, ref.rivals)),
        **asdict(_pad(mp.sweeps, mp.sweep_shape)),
        # how many cells the memory keeps the played pattern away from the fresh decode
        "pad_lag": float((mp.sweeps.hit != mp.sweeps_fresh.hit).sum((1, 2)).mean()),
        **_realism("pad", mp.pad, mp.pad_group, ref.true, w.file),
        **_realism("prior", mp.prior, _unique_groups(len(mp.prior)), ref.true, w.file),
        "realism_real": ref.figures["realism_real"],
        "style_nn": style_nn(mu, w.file, train_mu, data.train.file, data.styles),
        "style_nn_raw": ref.figures["style_nn_raw"],
        "features_real": ref.figures["features_real"],
    }
    if timing:
        out.update(decode_timing("drums", path, encode=True))
    kl = 0.5 * (mu**2 + np.exp(logvar) - 1 - logvar).mean(0)
    out.update(
        unevenness=unevenness(model, mu),
        metric_cv=metric_cv(model, mu),
        kl_per_dim=[float(k) for k in kl],
        latent_dim=model.latent_dim,
        windows=len(w),
        radius=pad.radius,
        pace=pad.pacing.pace,
        lag=pad.pacing.lag,
    )
    return out, mp


def baselines(data: EvalData, ref: Reference, mp: ModelPlay) -> dict[str, Figures]:
    """The trivial players' figures. The lookup's pad and realism rows snap what the model in
    ``mp`` played to the nearest training windows; the rest need no model."""
    w, true = data.windows, ref.true
    rng = np.random.default_rng(SEED)
    train_groups = data.train.file

    def lookup(p: Played, group: np.ndarray | None = None) -> Played:
        return snap(p, ref.train, None if group is None else (group, train_groups))

    def seed_play(player: Callable[[Played], Played]) -> Figures:
        return asdict(seed_figures(true, player(true), ref.rivals))

    counts = ref.train.hit.sum((1, 2))
    random_real = random_hits(rng.choice(counts, size=N_REALISM), ref.train, rng)
    random_group = _unique_groups(N_REALISM)
    return {
        "copy": seed_play(lambda t: t),
        "quantised": seed_play(quantised),
        "nearest_train": {
            **seed_play(lambda t: lookup(t, w.file)),
            **asdict(_pad(lookup(mp.sweeps), mp.sweep_shape)),
            **_realism("pad", lookup(mp.pad), mp.pad_group, true, w.file),
            **_realism("prior", lookup(mp.prior), _unique_groups(len(mp.prior)), true, w.file),
        },
        "random": {
            **seed_play(lambda t: random_hits(t.hit.sum((1, 2)), ref.train, rng)),
            **_realism("pad", random_real, random_group, true, w.file),
            **_realism("prior", random_real, random_group, true, w.file),
        },
    }

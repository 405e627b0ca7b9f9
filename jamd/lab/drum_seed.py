"""Seed fidelity and style neighbours: does the pattern played from a drummer's window sound like
that window, and does the latent space keep styles apart? Definitions in docs/models.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jamd.lab.drum_played import Played, nearest
from jamd.music.drumkit import VOICE_INDEX

#: seed_identification: random windows of other files each decode must be farther from
N_OTHERS = 50


@dataclass(frozen=True)
class SeedFigures:
    seed_f1: float  # hit F1 over all cells of all windows
    seed_f1_kick: float
    seed_f1_snare: float
    seed_identification: float | None  # None: no window has another file to be told apart from
    seed_velocity_mae: float | None  # on cells hit in both; None: no such cell
    seed_offset_mae: float | None  # ... in steps


def f1(pred: np.ndarray, true: np.ndarray) -> float:
    """2 TP / (predicted + true) over all cells; 1 when both are empty."""
    total = float(pred.sum() + true.sum())
    return 2 * float((pred & true).sum()) / total if total else 1.0


def others(files: np.ndarray, n: int = N_OTHERS, seed: int = 0) -> list[np.ndarray]:
    """For each window, up to ``n`` random windows of other files (fixed seed, so every model and
    baseline is told apart from the same ones)."""
    rng = np.random.default_rng(seed)
    out = []
    for f in files:
        pool = np.flatnonzero(files != f)
        out.append(rng.choice(pool, size=min(n, len(pool)), replace=False) if len(pool) else pool)
    return out


def identification(true: Played, played: Played, rivals: list[np.ndarray]) -> float | None:
    """Share of windows whose played pattern is nearer (Hamming, strictly) to its own window than
    to each of its rivals; windows without rivals do not count."""
    flat_true = true.hit.reshape(len(true), -1)
    flat_played = played.hit.reshape(len(played), -1)
    wins = [
        (flat_played[i] != flat_true[i]).sum() < (flat_played[i] != flat_true[r]).sum(1).min()
        for i, r in enumerate(rivals)
        if len(r)
    ]
    return float(np.mean(wins)) if wins else None


def seed_figures(true: Played, played: Played, rivals: list[np.ndarray]) -> SeedFigures:
    """``played[i]`` is what was played for the window ``true[i]``."""
    k, s = VOICE_INDEX["kick"], VOICE_INDEX["snare"]
    both = true.hit & played.hit
    any_match = bool(both.any())
    return SeedFigures(
        seed_f1=f1(played.hit, true.hit),
        seed_f1_kick=f1(played.hit[..., k], true.hit[..., k]),
        seed_f1_snare=f1(played.hit[..., s], true.hit[..., s]),
        seed_identification=identification(true, played, rivals),
        seed_velocity_mae=float(np.abs(played.velocity - true.velocity)[both].mean()) if any_match else None,
        seed_offset_mae=float(np.abs(played.offset - true.offset)[both].mean()) if any_match else None,
    )


def style_nn(
    query: np.ndarray,
    query_file: np.ndarray,
    table: np.ndarray,
    table_file: np.ndarray,
    styles: list[str],
) -> float | None:
    """1-NN style accuracy: each query row takes the style of its nearest table row (squared
    Euclidean, = Hamming on 0/1 rows) of another file. ``styles[file]`` labels a file; None when
    the files carry no style (a user's folder)."""
    label = np.asarray(styles, dtype=object)
    if not len(query) or not len(table) or not all(label[query_file]) or not any(label[table_file]):
        return None
    hit = nearest(query, table, query_file, table_file)
    return float(np.mean(label[table_file[hit]] == label[query_file]))

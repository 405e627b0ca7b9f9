"""The patterns an evaluation scores: what the daemon plays, and the trivial players it is held
against. Every figure of `jamd.lab.drum_report` is computed on a :class:`Played` batch, never on
decoder probabilities: the musician hears the played pattern.

The model plays through ``DrumModel.encode`` (and the seed search its card asks for) /
``DrumModel.decode(z, DecodeControls())``, one window at a time, exactly the calls the daemon
makes for a seed and for a pad position (the pad
itself maps through ``DrumModel.plane(radius).point``, see `jamd.lab.drum_pad`); along a pad
walk with the model's memory (`jamd.model.pacing`), point after point, as the daemon renders it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jamd.data.corpus import Windows
from jamd.model.drums import DecodeControls, DrumModel
from jamd.model.pacing import Pacing, PadMemory
from jamd.model.seed_search import SearchSettings

#: rows of a query compared at once by :func:`nearest` (bounds the distance block's memory)
CHUNK = 512
SEARCH_CHUNK = 128  # windows searched together: each step decodes 2 d codes of each


@dataclass(frozen=True)
class Played:
    """``n`` played windows: hits (bool), velocities and offsets (0 where no hit), (n, T, V) each."""

    hit: np.ndarray
    velocity: np.ndarray
    offset: np.ndarray

    def __len__(self) -> int:
        return len(self.hit)

    @classmethod
    def from_windows(cls, w: Windows) -> Played:
        hit = w.hit > 0
        return cls(
            hit,
            np.where(hit, w.velocity, 0).astype(np.float32),
            np.where(hit, w.offset, 0).astype(np.float32),
        )

    def take(self, idx: np.ndarray) -> Played:
        return Played(self.hit[idx], self.velocity[idx], self.offset[idx])

    def flat(self) -> np.ndarray:
        """The binarised grids as (n, T*V) float32 rows."""
        return self.hit.reshape(len(self), -1).astype(np.float32)


def play(model: DrumModel, z: np.ndarray) -> Played:
    """The live default decoding of each row of ``z`` (n, d), one ``decode`` call each."""
    return _stack(model, [model.decode(zi, DecodeControls()) for zi in np.asarray(z, np.float32)])


def play_walks(model: DrumModel, z: np.ndarray, xy: np.ndarray, pacing: Pacing) -> Played:
    """Each walk of ``z`` (n, points, d) at pad positions ``xy`` (n, points, 2) played point after
    point with a memory of ``pacing`` that starts afresh at each walk's first point: (n * points) rows."""
    pats = []
    for walk_z, walk_xy in zip(np.asarray(z, np.float32), xy, strict=True):
        memory = PadMemory(pacing)
        pats += [
            model.decode(zi, DecodeControls(), memory, (x, y))
            for zi, (x, y) in zip(walk_z, walk_xy, strict=True)
        ]
    return _stack(model, pats)


def _stack(model: DrumModel, pats: list) -> Played:
    if not pats:
        shape = (0, model.steps, model.voices)
        return Played(np.zeros(shape, bool), np.zeros(shape, np.float32), np.zeros(shape, np.float32))
    return Played(
        np.stack([p.hit > 0 for p in pats]),
        np.stack([p.velocity for p in pats]),
        np.stack([p.offset for p in pats]),
    )


def encode_seeds(model: DrumModel, w: Windows, search: SearchSettings | None = None) -> np.ndarray:
    """The seed code of each window, (n, d), as the daemon ends up with it: ``DrumModel.encode`` as
    its seeder calls it, then searched on as the model's card says (``search``: instead of the
    card's; `jamd.model.seed_search`)."""
    settings = model.seed_search if search is None else search
    if not settings.steps:
        return np.stack([model.encode(w.pattern(i)) for i in range(len(w))]).astype(np.float32)
    parts = [
        model.code_search(
            (
                w.hit[s : s + SEARCH_CHUNK].astype(np.float32),
                w.velocity[s : s + SEARCH_CHUNK],
                w.offset[s : s + SEARCH_CHUNK],
            ),
            settings,
        ).run()
        for s in range(0, len(w), SEARCH_CHUNK)
    ]
    return np.concatenate(parts).astype(np.float32)


def encode_means(model: DrumModel, w: Windows) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of many windows at once (for neighbours and the KL)."""
    return model.encode_many(w.hit, w.velocity, w.offset)


def nearest(
    query: np.ndarray,
    table: np.ndarray,
    query_group: np.ndarray | None = None,
    table_group: np.ndarray | None = None,
) -> np.ndarray:
    """Index of each query row's nearest table row by squared Euclidean distance, which on 0/1
    rows is the Hamming distance. Rows of the same group (file) are never neighbours; ties go to
    the lower index. (n, D), (m, D) -> (n,) int."""
    q = np.asarray(query, np.float64)
    t = np.asarray(table, np.float64)
    t_sq = (t**2).sum(1)
    out = np.empty(len(q), np.int64)
    for s in range(0, len(q), CHUNK):
        qs = q[s : s + CHUNK]
        d = (qs**2).sum(1)[:, None] + t_sq[None] - 2 * qs @ t.T
        if query_group is not None and table_group is not None:
            d[query_group[s : s + CHUNK, None] == table_group[None]] = np.inf
        out[s : s + CHUNK] = np.argmin(d, axis=1)
    return out


# ------------------------------------------------------------------------------- baselines


def snap(played: Played, table: Played, groups: tuple[np.ndarray, np.ndarray] | None = None) -> Played:
    """A lookup table: each pattern replaced by its nearest ``table`` window by Hamming distance."""
    qg, tg = groups if groups is not None else (None, None)
    return table.take(nearest(played.flat(), table.flat(), qg, tg))


def quantised(w: Played) -> Played:
    """The window's own hits, offsets 0, every velocity at the window's mean velocity."""
    count = np.maximum(w.hit.sum((1, 2)), 1)
    mean = w.velocity.sum((1, 2)) / count
    return Played(w.hit, np.where(w.hit, mean[:, None, None], 0).astype(np.float32), np.zeros_like(w.offset))


def random_hits(counts: np.ndarray, source: Played, rng: np.random.Generator) -> Played:
    """Patterns with ``counts[i]`` hits on uniformly random cells; each hit's velocity and offset
    drawn from the hits of ``source`` (so only the placement is random)."""
    n, (T, V) = len(counts), source.hit.shape[1:]
    hit = np.zeros((n, T * V), bool)
    for i, k in enumerate(counts):
        hit[i, rng.choice(T * V, size=min(int(k), T * V), replace=False)] = True
    hit = hit.reshape(n, T, V)
    pool = np.flatnonzero(source.hit)
    pick = rng.choice(pool, size=hit.shape) if len(pool) else np.zeros(hit.shape, np.int64)
    vel = np.where(hit, source.velocity.reshape(-1)[pick], 0).astype(np.float32)
    off = np.where(hit, source.offset.reshape(-1)[pick], 0).astype(np.float32)
    return Played(hit, vel, off)

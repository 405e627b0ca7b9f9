"""How long one decode takes: p50 and p99 of ``decode`` calls on one window, in a fresh process
pinned to one BLAS thread (the thread count must be set before numpy loads, hence the process;
one thread is what the live engine runs with). The eval commands and ``jamd bench`` report it.

``python -m jamd.lab.timing drums|bass MODEL N`` prints the figures as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

from jamd.model.bass import BassModel
from jamd.model.drums import DrumModel
from jamd.music.drumkit import VOICES
from jamd.music.grid import DrumPattern
from jamd.music.harmony import Chords

N_TIMING = 1000
WARMUP = 50  # the first calls warm caches and the allocator: not timed
SEED = 0

#: a decode of one window at a latent point
Decode = Callable[[np.ndarray], object]


def decode_timing(kind: str, path: str, n: int = N_TIMING) -> dict[str, float]:
    """``decode_ms_p50`` and ``decode_ms_p99`` of the ``kind`` ("drums" or "bass") model at
    ``path``, over ``n`` decodes at random latent points."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "jamd.lab.timing", kind, str(path), str(n)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def _drums(path: str) -> tuple[int, Decode]:
    model = DrumModel.load(path)
    return model.latent_dim, model.decode


def _bass(path: str) -> tuple[int, Decode]:
    """The bass model over a fixed random groove and four chords."""
    model = BassModel.load(path)
    rng = np.random.default_rng(SEED)
    shape = (model.steps, len(VOICES))
    drums = DrumPattern(
        (rng.random(shape) < 0.2).astype(np.float32),
        rng.random(shape).astype(np.float32),
        np.zeros(shape, np.float32),
    )
    chords = Chords.from_symbols(["Am7", "D7", "Gmaj7", "Em"], model.steps)
    return model.latent, lambda z: model.decode(z, drums, chords)


DECODERS: dict[str, Callable[[str], tuple[int, Decode]]] = {"drums": _drums, "bass": _bass}


def time_here(kind: str, path: str, n: int) -> dict[str, float]:
    dim, decode = DECODERS[kind](path)
    rng = np.random.default_rng(SEED)
    ns = []
    for _ in range(WARMUP + n):
        z = rng.standard_normal(dim).astype(np.float32)
        t = time.perf_counter_ns()
        decode(z)
        ns.append(time.perf_counter_ns() - t)
    ms = np.array(ns[WARMUP:]) / 1e6
    return {
        "decode_ms_p50": round(float(np.percentile(ms, 50)), 4),
        "decode_ms_p99": round(float(np.percentile(ms, 99)), 4),
    }


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in DECODERS:
        sys.exit(f"usage: python -m jamd.lab.timing {'|'.join(DECODERS)} MODEL N")
    print(json.dumps(time_here(sys.argv[1], sys.argv[2], int(sys.argv[3]))))

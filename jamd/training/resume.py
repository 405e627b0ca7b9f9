"""Resumable training: the whole state of a run at an epoch boundary, written to ``OUT.resume.pt``.

A run that is stopped (Ctrl-C, a power cut, the time budget) and started again with ``--resume``
must end exactly where the unbroken run would have ended with the same seed. So the state holds
everything the next epoch depends on: the weights, Adam's moments, the three random streams (the
numpy shuffle, torch's global stream for the reparameterisation noise, the generator for the
mixup points) and the bookkeeping of early stopping. The best epoch's weights are already on
disk in ``OUT.safetensors``.

The file is written atomically after every epoch and read with ``torch.load(weights_only=True)``
(tensors, numbers, strings, lists and dicts only: nothing is unpickled that could run code).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

RESUME_SUFFIX = ".resume.pt"
FORMAT = 1
#: settings a resumed run may change: how long it may go on, not what it computes
EXTENDABLE = frozenset({"epochs", "max_minutes"})


class ResumeError(ValueError):
    """The resume file is missing, unreadable or belongs to a different run."""


@dataclass
class Progress:
    """Where a run is: epochs completed and the early-stopping bookkeeping."""

    epoch: int = 0
    best: float = math.inf
    best_epoch: int = -1
    history: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0  # training time of the run's earlier segments
    resumes: int = 0
    segments: list[str] = field(default_factory=list)  # the command of each segment, in order
    stopped: str = ""  # "early stop" once patience ran out: nothing left to resume


def plain(value: Any) -> Any:
    """Configs as JSON types (an enum as its value): the restricted unpickler reads nothing else."""
    return json.loads(json.dumps(value))


def resume_path(out: Path) -> Path:
    return out.with_name(out.name + RESUME_SUFFIX)


@dataclass
class RunState:
    """The random streams and the optimiser of a run, beside its model and progress."""

    model: torch.nn.Module
    opt: torch.optim.Optimizer
    rng: np.random.Generator
    gen: torch.Generator


def save_state(out: Path, run: RunState, progress: Progress, identity: dict[str, Any]) -> None:
    """Write the run's state (atomically: a kill while writing leaves the previous one)."""
    path = resume_path(out)
    state = {
        "format": FORMAT,
        "identity": identity,
        "model": run.model.state_dict(),
        "opt": run.opt.state_dict(),
        "numpy_rng": run.rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "gen": run.gen.get_state(),
        "progress": asdict(progress),
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)  # --out may name new folders, as for the checkpoint
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_state(out: Path, run: RunState, identity: dict[str, Any]) -> Progress:
    """Restore ``run`` from ``OUT.resume.pt`` and return its progress. Refuses a file of another
    run: a different model, loss, data size or setting (other than `EXTENDABLE` ones)."""
    path = resume_path(out)
    if not path.is_file():
        raise ResumeError(f"{path}: no resume state (train without --resume first)")
    try:
        state = torch.load(path, weights_only=True)
        ok = isinstance(state, dict) and state.get("format") == FORMAT
    except Exception as e:  # a truncated or foreign file: torch raises several kinds
        raise ResumeError(f"{path}: unreadable ({e})") from None
    if not ok:
        raise ResumeError(f"{path}: not a jamd resume state of format {FORMAT}")
    differ = _differences(state["identity"], identity)
    if differ:
        raise ResumeError(f"{path}: belongs to another run; differs in {', '.join(differ)}")
    run.model.load_state_dict(state["model"])
    run.opt.load_state_dict(state["opt"])
    run.rng.bit_generator.state = state["numpy_rng"]
    torch.set_rng_state(state["torch_rng"])
    run.gen.set_state(state["gen"])
    return Progress(**state["progress"])


def _differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    out = []
    for part in sorted(set(saved) | set(now)):
        a, b = saved.get(part, {}), now.get(part, {})
        if not isinstance(a, dict) or not isinstance(b, dict):
            out += [part] if a != b else []
            continue
        out += [
            f"{part}.{k}" for k in sorted(set(a) | set(b)) if k not in EXTENDABLE and a.get(k) != b.get(k)
        ]
    return out

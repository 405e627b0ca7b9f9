"""Model checkpoints: ``NAME.safetensors`` (weights) + ``NAME.json`` (the model card).

Shared by every model kind (``"drums"``, ``"bass"``, ...) and by the live engine, so this module
needs numpy only — never torch. Loading never unpickles anything: the weights are safetensors
(a JSON header and raw little-endian arrays) and the card is JSON.

The card records the sha256 of the weights file; loading checks it before parsing, so a
truncated, swapped or tampered weights file is refused with a :class:`CheckpointError` naming
the file and the problem, rather than failing later with a shape error (or, worse, playing).

Card layout (keys other than these are free for each model kind)::

    {"format": "jamd-checkpoint", "format_version": 1, "kind": "drums",
     "weights": "NAME.safetensors", "weights_sha256": "...",
     "config": {...},              # what the runtime needs to rebuild the network
     "representation": {...},     # steps, steps_per_beat, voices, ... the grid it speaks
     "plane": {...}, "training": {...}, "metrics": {...}}
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jamd.base.errors import UserError

FORMAT = "jamd-checkpoint"
FORMAT_VERSION = 1
WEIGHTS_SUFFIX = ".safetensors"
CARD_SUFFIX = ".json"
#: What a checkpoint may hold (what the numpy runtimes read).
_DTYPES = {
    np.dtype(t)
    for t in (np.float32, np.float64, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_)
}


class CheckpointError(UserError):
    """A checkpoint that cannot be used: missing, damaged, tampered, or for another grid/kind.
    A :class:`jamd.cli.UserError`, so the command line prints it as one line."""


@dataclass
class Checkpoint:
    """Loaded weights (name -> array, read-only copies owned by this object) and the card."""

    path: Path  # the base path, without suffix
    tensors: dict[str, np.ndarray]
    card: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.card["kind"]

    @property
    def config(self) -> dict[str, Any]:
        return self.card.get("config", {})


def base_path(path: str | os.PathLike) -> Path:
    """``x``, ``x.json`` and ``x.safetensors`` all name the checkpoint ``x``."""
    p = Path(path)
    if p.suffix in (WEIGHTS_SUFFIX, CARD_SUFFIX):
        p = p.with_suffix("")
    return p


def _paths(path: str | os.PathLike) -> tuple[Path, Path, Path]:
    base = base_path(path)
    return base, base.with_name(base.name + WEIGHTS_SUFFIX), base.with_name(base.name + CARD_SUFFIX)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write beside the target and rename, so a crash never leaves half a file under its name."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def encode_safetensors(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> bytes:
    """Serialise arrays with the safetensors library itself, so any safetensors reader can open
    our files."""
    from safetensors.numpy import save

    arrays = {}
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        if arr.dtype not in _DTYPES:
            raise ValueError(f"tensor {name!r}: unsupported dtype {arr.dtype}")
        arrays[name] = arr
    return save(arrays, metadata=dict(metadata) if metadata else None)


def decode_safetensors(data: bytes, name: str = "weights") -> dict[str, np.ndarray]:
    """Parse safetensors bytes with the safetensors library (bounds-checked, never unpickles);
    errors name ``name``."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        return load(bytes(data))
    except SafetensorError as e:
        raise CheckpointError(f"{name}: not a valid safetensors file ({e})") from None


def save_checkpoint(
    path: str | os.PathLike, tensors: Mapping[str, np.ndarray], card: Mapping[str, Any]
) -> Path:
    """Write ``path.safetensors`` and ``path.json``; returns the base path.

    ``card`` must hold ``kind``; ``format``, ``weights`` and ``weights_sha256`` are filled in.
    The weights are written first: a card never points at weights that are not there yet."""
    if "kind" not in card:
        raise ValueError("a model card needs a 'kind' (e.g. 'drums')")
    base, wpath, cpath = _paths(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    # one metadata key only: the library writes metadata in hash order, and a single key keeps
    # the file byte-for-byte reproducible (same weights -> same sha256 in the card)
    data = encode_safetensors(
        {k: np.asarray(v) for k, v in tensors.items()}, {"jamd": f"{FORMAT}/{card['kind']}"}
    )
    _atomic_write(wpath, data)
    full = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **card,
        "weights": wpath.name,
        "weights_sha256": _sha256(data),
    }
    _atomic_write(cpath, (json.dumps(_jsonable(full), indent=2) + "\n").encode())
    return base


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """The model card alone (no weights read), checked for format and kind."""
    _, _, cpath = _paths(path)
    if not cpath.is_file():
        raise CheckpointError(f"{cpath}: model card not found")
    try:
        card = json.loads(cpath.read_text(), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as e:
        raise CheckpointError(f"{cpath.name}: model card is not valid JSON ({e})") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CheckpointError(f"{cpath.name}: not a jamd model card (format is not {FORMAT!r})")
    version = card.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{cpath.name}: format_version must be a whole number, not {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{cpath.name}: card format {card['format_version']} is newer than "
            f"this jamd understands ({FORMAT_VERSION}); update jamd"
        )
    if not isinstance(card.get("kind"), str):
        raise CheckpointError(f'{cpath.name}: the card has no model kind ("kind": "drums", ...)')
    for key in ("config", "representation", "plane", "training", "metrics"):
        if key in card and not isinstance(card[key], dict):
            raise CheckpointError(
                f"{cpath.name}: {key} must be a JSON object, not {type(card[key]).__name__}"
            )
    return card


def load_checkpoint(
    path: str | os.PathLike, kind: str | None = None, representation: Mapping[str, Any] | None = None
) -> Checkpoint:
    """Load and verify a checkpoint.

    ``kind``: refuse a card of another kind (a bass model where drums are expected).
    ``representation``: every given key must equal the card's (e.g. ``{"voices": [...]}``),
    because a model for another grid would play the wrong drums without any error."""
    base, wpath, cpath = _paths(path)
    card = read_card(base)
    if kind is not None and card.get("kind") != kind:
        raise CheckpointError(f"{cpath.name}: a {card.get('kind')!r} model, expected {kind!r}")
    if representation:
        have = card.get("representation", {})
        for key, want in representation.items():
            got = have.get(key)
            if _jsonable(got) != _jsonable(want):
                raise CheckpointError(
                    f"{cpath.name}: representation {key} is {got!r}, this jamd needs {want!r}"
                )
    # the pair is found by name, not by the card's "weights" field, so a renamed or copied
    # checkpoint (cp drums-flat.* mine.*) still loads; the hash still ties the two together
    wfile = wpath
    if not wfile.is_file():
        raise CheckpointError(f"{wfile.name}: weights file not found beside {cpath.name}")
    data = wfile.read_bytes()
    if _sha256(data) != card.get("weights_sha256"):
        raise CheckpointError(
            f"{wfile.name}: sha256 does not match the model card (file damaged, truncated or replaced)"
        )
    return Checkpoint(base, decode_safetensors(data, wfile.name), card)


def update_card(path: str | os.PathLike, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into an existing card (e.g. evaluation ``metrics``); weights untouched."""
    _, _, cpath = _paths(path)
    card = read_card(path)
    for key in ("format", "format_version", "weights", "weights_sha256"):
        if key in fields:
            raise ValueError(f"{key} is managed by the checkpoint module")
    card.update(fields)
    _atomic_write(cpath, (json.dumps(_jsonable(card), indent=2) + "\n").encode())
    return card


def _no_constant(name: str) -> None:
    """JSON has no NaN or Infinity (Python writes them, nothing else reads them): a card that
    holds one was damaged, and an infinite layer size must not reach the runtime."""
    raise ValueError(f"{name} is not a JSON number")


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays and tuples -> plain JSON types, so cards compare and dump cleanly."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value

"""Where jamd finds things on disk: the training corpus, its cache, the shipped models."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
CHECKOUT_DIR = PACKAGE_DIR.parent
#: Shipped checkpoints; in a checkout they sit beside the package.
MODELS_DIR = CHECKOUT_DIR / "models"
MAPPINGS_DIR = CHECKOUT_DIR / "mappings"


def default_data_dir() -> Path | None:
    """``$JAMD_DATA``, else the Groove MIDI Dataset in ``../shared/data/groove`` next to the
    checkout when it is there, else None (the user must say ``--data DIR``)."""
    env = os.environ.get("JAMD_DATA")
    if env:
        return Path(env)
    candidate = CHECKOUT_DIR.parent / "shared" / "data" / "groove"
    return candidate if candidate.is_dir() else None


def cache_dir() -> Path:
    """``$JAMD_CACHE``, else ``$XDG_CACHE_HOME/jamd``, else ``~/.cache/jamd``."""
    env = os.environ.get("JAMD_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jamd"

"""jamd: a live-performance daemon that walks a flat drum/bass latent space in time with the rig.

The package is also a small Python API (docs/api.md): the names in ``__all__`` are imported as
``from jamd import DrumModel``, whichever module holds them, and stay importable so when code
moves between subpackages. They are looked up on first use (PEP 562) rather than imported here:
every jamd process imports this package first, the real-time engine included, and must not pay
for numpy, the models or the data code it never uses.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> the module that defines it
_API: dict[str, str] = {
    # windows of MIDI files and corpora
    "WindowSettings": "jamd.data.corpus",
    "Corpus": "jamd.data.corpus",
    "Windows": "jamd.data.corpus",
    "load_corpus": "jamd.data.corpus",
    "file_grid": "jamd.data.corpus",
    "cut_windows": "jamd.data.corpus",
    "BassWindows": "jamd.data.bass_corpus",
    "procedural_splits": "jamd.data.bass_corpus",
    "load_multitrack": "jamd.data.bass_midi",
    "default_data_dir": "jamd.base.paths",
    "MODELS_DIR": "jamd.base.paths",
    # the models
    "DrumModel": "jamd.model.drums",
    "DecodeControls": "jamd.model.drums",
    "realise": "jamd.model.drums",
    "BassModel": "jamd.model.bass",
    "DecodedBatch": "jamd.model.bass",
    "cond_features": "jamd.model.bass",
    "bass_features": "jamd.model.bass",
    "to_lines": "jamd.model.bass",
    "LatentPlane": "jamd.model.plane",
    "CheckpointError": "jamd.model.checkpoint",
    "encode_file": "jamd.lab.toolbox",
    # the representation, and back to MIDI
    "VOICES": "jamd.music.drumkit",
    "DrumPattern": "jamd.music.grid",
    "BassLine": "jamd.music.grid",
    "BassRange": "jamd.music.grid",
    "bass_note": "jamd.music.grid",
    "drums_to_events": "jamd.music.grid",
    "bass_to_events": "jamd.music.grid",
    "events_to_midi": "jamd.music.grid",
    "Chords": "jamd.music.harmony",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> object:
    module = _API.get(name)
    if module is None:
        # also how ``from jamd import engine`` falls back to importing the subpackage
        raise AttributeError(f"module 'jamd' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})

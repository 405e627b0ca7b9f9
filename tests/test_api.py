"""The public API (docs/api.md): every name imports from the package, ``import jamd`` stays
cheap, what ``jamd run`` and its engine load never pulls in torch, and the documented example
runs."""

import importlib
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import jamd

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
#: what only training (torch) or the offline tools need; the engine process needs none of it
HEAVY = ("torch", "numpy", "mido", "rtmidi")


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_every_public_name_imports_from_the_package():
    names = [n for n in jamd.__all__ if n != "__version__"]
    assert len(names) == len(set(names))
    for name in names:
        namespace: dict = {}
        exec(f"from jamd import {name}", namespace)
        defining = importlib.import_module(jamd._API[name])
        assert namespace[name] is getattr(defining, name), name
    assert set(jamd.__all__) <= set(dir(jamd))


def test_an_unknown_name_is_an_attribute_error_and_subpackages_still_import():
    with pytest.raises(AttributeError, match="no_such_thing"):
        jamd.no_such_thing  # noqa: B018
    with pytest.raises(ImportError):
        exec("from jamd import no_such_thing", {})
    namespace: dict = {}
    exec("from jamd import engine", namespace)
    assert namespace["engine"].__name__ == "jamd.engine"


def test_import_jamd_loads_nothing_heavy():
    loaded = loaded_after("import jamd")
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)
    assert not [m for m in loaded if m.startswith("jamd.")]


def test_the_engine_process_loads_only_real_time_code():
    """The engine process (spawned) imports ``jamd.engine.process``, so jamd/__init__.py and what
    the engine needs: base, midi, music, sound, engine (the import-linter contract, checked at run
    time, where the package's lazy names could reach past it); FluidSynth only when a sound is on."""
    loaded = loaded_after("import jamd.engine.process")
    jamd_parts = {m.split(".")[1] for m in loaded if m.startswith("jamd.")}
    assert jamd_parts <= {"base", "midi", "music", "sound", "engine"}
    assert "torch" not in loaded and "fluidsynth" not in loaded


def test_jamd_run_and_the_public_api_load_no_torch():
    """Everything `jamd run` can import (its command, found through the CLI as ``jamd run`` does,
    every module of the subpackages it draws on) and every public name, without torch: the live
    engine and a Python session with a model must work where torch is not installed."""
    packages = ("base", "midi", "music", "model", "control", "engine", "data", "live", "web")
    modules = [
        m.name
        for p in packages
        for m in pkgutil.walk_packages(importlib.import_module(f"jamd.{p}").__path__, f"jamd.{p}.")
    ]
    assert "jamd.live.daemon" in modules and "jamd.engine.process" in modules
    code = "\n".join(
        [
            "import importlib, jamd, jamd.cli",
            "jamd.cli.build_parser()",  # imports every subcommand's module, as `jamd run` does
            f"for m in {modules!r}: importlib.import_module(m)",
            "for n in jamd.__all__: getattr(jamd, n)",
        ]
    )
    loaded = loaded_after(code)
    assert "jamd.commands.run" in loaded and "jamd.lab.toolbox" in loaded
    assert "torch" not in loaded


def test_the_documented_example_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    example = blocks[-1]
    out = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "bass lines" in out.stdout
    assert sorted(p.name for p in (tmp_path / "grooves").iterdir()) == ["groove0.mid", "groove1.mid"]

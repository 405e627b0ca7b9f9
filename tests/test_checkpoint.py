"""Checkpoint save/load: round trip, and every kind of damage refused with a clear error."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from jamd.model.checkpoint import (
    CheckpointError,
    decode_safetensors,
    load_checkpoint,
    read_card,
    save_checkpoint,
    update_card,
)


def _tensors():
    rng = np.random.default_rng(0)
    return {
        "enc.w": rng.normal(size=(3, 5)).astype(np.float32),
        "dec.b": rng.normal(size=(7,)).astype(np.float32),
        "steps": np.arange(4, dtype=np.int64),
    }


CARD = {
    "kind": "drums",
    "config": {"hidden": 8},
    "representation": {"steps": 32, "voices": ["kick", "snare"]},
}


def test_round_trip(tmp_path):
    t = _tensors()
    base = save_checkpoint(tmp_path / "m", t, CARD)
    assert (tmp_path / "m.safetensors").is_file() and (tmp_path / "m.json").is_file()
    for name in (base, tmp_path / "m.json", tmp_path / "m.safetensors"):
        ck = load_checkpoint(name, kind="drums", representation={"steps": 32})
        assert ck.kind == "drums" and ck.config == {"hidden": 8}
        assert set(ck.tensors) == set(t)
        for k in t:
            assert ck.tensors[k].dtype == t[k].dtype
            np.testing.assert_array_equal(ck.tensors[k], t[k])


def test_files_are_standard_safetensors(tmp_path):
    """Any safetensors reader opens our weights (the library itself here)."""
    from safetensors.numpy import load_file

    save_checkpoint(tmp_path / "m", _tensors(), CARD)
    got = load_file(str(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(got["enc.w"], _tensors()["enc.w"])


def test_update_card_keeps_weights_valid(tmp_path):
    save_checkpoint(tmp_path / "m", _tensors(), CARD)
    update_card(tmp_path / "m", metrics={"hit_f1": np.float32(0.5)})
    ck = load_checkpoint(tmp_path / "m")
    assert ck.card["metrics"]["hit_f1"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        update_card(tmp_path / "m", weights_sha256="0" * 64)


def _flip_byte(path, at):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip", "truncate", "swap"])
def test_tampered_weights_refused(tmp_path, damage):
    save_checkpoint(tmp_path / "m", _tensors(), CARD)
    w = tmp_path / "m.safetensors"
    if damage == "flip":
        _flip_byte(w, len(w.read_bytes()) - 3)
    elif damage == "truncate":
        w.write_bytes(w.read_bytes()[:-10])
    else:
        other = _tensors()
        other["enc.w"] = other["enc.w"] + 1
        save_checkpoint(tmp_path / "o", other, CARD)
        w.write_bytes((tmp_path / "o.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match=r"m\.safetensors.*sha256"):
        load_checkpoint(tmp_path / "m")


def test_bad_header_refused_even_if_hash_matches(tmp_path):
    """A card rewritten to match a garbage file still does not get past the parser."""
    save_checkpoint(tmp_path / "m", _tensors(), CARD)
    w = tmp_path / "m.safetensors"
    w.write_bytes(w.read_bytes()[:40])
    card = json.loads((tmp_path / "m.json").read_text())
    import hashlib

    card["weights_sha256"] = hashlib.sha256(w.read_bytes()).hexdigest()
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=r"m\.safetensors: not a valid safetensors"):
        load_checkpoint(tmp_path / "m")


@pytest.mark.parametrize(
    "data", [b"", b"\xff" * 8, b"\x04\x00\x00\x00\x00\x00\x00\x00{x}}", b"\x02\x00\x00\x00\x00\x00\x00\x00[]"]
)
def test_decoder_rejects_garbage(data):
    with pytest.raises(CheckpointError, match="w.st"):
        decode_safetensors(data, "w.st")


def test_wrong_kind_or_representation_refused(tmp_path):
    save_checkpoint(tmp_path / "m", _tensors(), CARD)
    with pytest.raises(CheckpointError, match="'drums' model, expected 'bass'"):
        load_checkpoint(tmp_path / "m", kind="bass")
    with pytest.raises(CheckpointError, match="representation voices"):
        load_checkpoint(tmp_path / "m", representation={"voices": ["kick", "snare", "ride"]})


def test_missing_or_foreign_card(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nothing")
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(CheckpointError, match="not a jamd model card"):
        read_card(tmp_path / "x")
    (tmp_path / "y.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_card(tmp_path / "y")


def test_checkpoint_module_does_not_import_torch():
    """The live engine loads checkpoints without torch (docs/architecture.md, "Processes": no torch in `jamd run`)."""
    code = "import sys, jamd.model.checkpoint; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_renamed_pair_still_loads(tmp_path):
    save_checkpoint(tmp_path / "m", _tensors(), CARD)
    for suffix in (".json", ".safetensors"):
        (tmp_path / f"m{suffix}").rename(tmp_path / f"mine{suffix}")
    assert load_checkpoint(tmp_path / "mine").kind == "drums"


def test_same_weights_give_the_same_bytes(tmp_path):
    """Reproducible files: a retrained deterministic model has the same sha256."""
    for name in "ab":
        save_checkpoint(tmp_path / name, _tensors(), CARD)
    for _ in range(5):
        save_checkpoint(tmp_path / "c", _tensors(), CARD)
        assert (tmp_path / "c.safetensors").read_bytes() == (tmp_path / "a.safetensors").read_bytes()
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()

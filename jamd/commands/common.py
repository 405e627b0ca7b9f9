"""Arguments and helpers several subcommands share, and the argparse ``type=`` validators every
command uses, so that a bad value is one line naming the option (exit 2) before any work."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

from jamd.base.errors import UserError, reason
from jamd.base.paths import default_data_dir
from jamd.data.corpus import Corpus, WindowSettings, load_corpus

# ------------------------------------------------------------------- option validators
# Each raises ArgumentTypeError: argparse turns it into "argument --xy: <message>", exit 2.


def _bounds(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" in {lo:g}..{hi:g}"
    if lo is not None:
        return f" of at least {lo:g}"
    return f" of at most {hi:g}" if hi is not None else ""


def number(lo: float | None = None, hi: float | None = None) -> Callable[[str], float]:
    """A finite number, within ``lo..hi`` where given (NaN and inf never are)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            v = math.nan
        if not math.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be a number{_bounds(lo, hi)}, got {text!r}")
        return v

    parse.__name__ = "number"
    return parse


def whole(lo: int | None = None, hi: int | None = None, step: int = 1) -> Callable[[str], int]:
    """A whole number within ``lo..hi`` where given, and a multiple of ``step``."""
    what = f"a whole number{_bounds(lo, hi)}" + (f" and a multiple of {step}" if step > 1 else "")

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi) or v % step:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return v

    parse.__name__ = "whole number"
    return parse


#: a random seed: what numpy and torch both take
seed_number = whole(0, 2**32 - 1)


def midi_in(text: str) -> Path:
    """A MIDI file that exists and parses."""
    try:
        return midi_file(Path(text))
    except UserError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def input_folder(text: str) -> Path:
    path = Path(text)
    if not text or not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text!r}")
    return path


def output_file(text: str) -> Path:
    """A file jamd can write: not a folder, in a folder that exists and takes it. Checked by
    opening it (for appending, so nothing is lost) and removing it again if it is new: the
    folder's permissions do not tell root, read-only mounts or /proc apart."""
    path = Path(text)
    if not text or path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no folder {path.parent}")
    existed = path.exists()
    try:
        path.open("ab").close()
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot write {text}: {e.strerror or e}") from None
    if not existed:
        os.unlink(path)
    return path


def output_file_in_new_folders(text: str) -> Path:
    """As :func:`output_file`, for writers that make missing folders (mappings, checkpoints):
    then the nearest folder that exists must take new ones."""
    path = Path(text)
    if path.parent.is_dir() or not text:
        return output_file(text)
    existing = next(p for p in path.parents if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: cannot make folders in {existing}")
    return path


def checkpoint_in(text: str) -> Path:
    """A checkpoint to read, by its stem or card (whether it loads is the loader's to say, with
    the file and the reason); a name is needed, not a folder."""
    path = Path(text)
    if not text.strip() or not path.name or path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a checkpoint (give its path without suffix, or its .json)"
        )
    return path


def checkpoint_out(text: str) -> Path:
    """A checkpoint path (``OUT`` writes ``OUT.json`` and ``OUT.safetensors``)."""
    path = Path(text)
    if not text or path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a checkpoint name in it")
    for suffix in (".json", ".safetensors"):
        output_file_in_new_folders(str(path.with_name(path.name + suffix)))
    return path


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: ~/.config/jamd/jamd.yaml, then /etc/jamd/jamd.yaml)",
    )


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    default = default_data_dir()
    parser.add_argument(
        "--data",
        type=Path,
        default=default,
        help=f"Groove MIDI Dataset folder (with info.csv) (default: {default})",
    )
    parser.add_argument(
        "--midi-dir",
        type=Path,
        default=None,
        help="a folder of your own MIDI files instead (split automatically)",
    )


def add_checkpoint_argument(parser: argparse.ArgumentParser) -> None:
    """``--out``: where ``jamd train`` writes the model."""
    parser.add_argument(
        "--out",
        type=checkpoint_out,
        required=True,
        help="checkpoint path: writes OUT.safetensors and OUT.json",
    )


def data_root(args: argparse.Namespace) -> tuple[Path, bool]:
    """The folder to read and whether it is a plain MIDI folder."""
    if args.midi_dir is not None:
        return args.midi_dir, True
    if args.data is None:
        raise UserError("no training data: pass --data DIR (the Groove MIDI Dataset) or --midi-dir DIR")
    return args.data, False


def read_corpus(args: argparse.Namespace, use_cache: bool = True) -> tuple[Corpus, bool]:
    """The 2-bar windows of ``--data`` or ``--midi-dir``, and whether it was a plain MIDI folder;
    a progress line on a terminal; a missing folder is a UserError."""
    root, midi_dir = data_root(args)
    try:
        corpus = load_corpus(
            root,
            WindowSettings(),
            midi_dir=midi_dir,
            use_cache=use_cache,
            progress=progress_printer("reading MIDI files"),
        )
    except FileNotFoundError as e:
        raise UserError(str(e)) from e
    return corpus, midi_dir


def set_from_args(obj: object, args: argparse.Namespace, *names: str, **renamed: str) -> None:
    """Copy the options the user gave (not None) onto a settings dataclass: ``names`` are
    fields with the option's own name, ``renamed`` maps a field to its option."""
    for field_name, option in {**{n: n for n in names}, **renamed}.items():
        value = getattr(args, option)
        if value is not None:
            setattr(obj, field_name, value)


def progress_printer(label: str):
    """A one-line progress display on a terminal; silent when stderr is not one."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\r{label}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show


#: the shipped default drum model (as `jamd.live.config.DEFAULT_DRUM_MODEL`, which the daemon uses)
DEFAULT_DRUM_MODEL = "drums-v7"
#: The shipped bass model (issue 19: the idiom corpus, named pad axes); models/bass is the first.
DEFAULT_BASS_MODEL = "bass-v2"


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    from jamd.base.paths import MODELS_DIR

    parser.add_argument(
        "--model",
        type=checkpoint_in,
        default=MODELS_DIR / DEFAULT_DRUM_MODEL,
        help=f"drum model checkpoint (default: the shipped {DEFAULT_DRUM_MODEL})",
    )
    parser.add_argument(
        "--kit",
        choices=("gm", "td11"),
        default="gm",
        help="how the files' drum notes fold into voices (td11: Groove MIDI Dataset)",
    )


def load_drum_model(args: argparse.Namespace):
    from jamd.model.drums import DrumModel

    return DrumModel.load(args.model)  # CheckpointError is a UserError: one clear line


def midi_file(path: Path) -> Path:
    """A MIDI file argument that exists and parses, or a UserError naming it."""
    if not Path(path).is_file():
        raise UserError(f"{path}: no such MIDI file")
    import mido

    try:
        mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as e:
        raise UserError(f"{path}: not a readable MIDI file ({reason(e)})") from None
    return Path(path)


def file_codes(model, paths: list[Path], kit: str) -> list:
    """Each MIDI file's latent code (the mean over its windows); a file that is missing, not
    MIDI or without drums is a UserError naming it."""
    from jamd.lab.toolbox import file_code

    try:
        return [file_code(model, midi_file(p), kit) for p in paths]
    except ValueError as e:
        raise UserError(str(e)) from e


def add_decode_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threshold",
        type=number(0, 1),
        default=None,
        help="hit where the probability (0..1) reaches this (default: the model's expected "
        "number of hits on its most likely cells)",
    )
    parser.add_argument("--temperature", type=number(0, 10), default=0.0, help="0..10; 0 = deterministic")
    parser.add_argument(
        "--timing", type=number(0, 4), default=1.0, help="micro-timing amount (0 = quantised, 1 = as decoded)"
    )
    parser.add_argument(
        "--bpm", type=number(20, 400), default=120.0, help="tempo written into the MIDI file (20..400)"
    )


def decode_controls(args: argparse.Namespace, seed: int | None = None):
    from jamd.model.drums import DecodeControls

    return DecodeControls(
        threshold=args.threshold, temperature=args.temperature, seed=seed, timing=args.timing
    )


def write_drums(pattern, path: Path, bpm: float, bass=None) -> None:
    """The drums as a MIDI file; ``bass``: ``(BassLine, roots per step)`` for a bass track too."""
    from jamd.music.grid import bass_to_events, drums_to_events, events_to_midi

    tracks = {"drums": drums_to_events(pattern)}
    if bass is not None:
        tracks["bass"] = bass_to_events(*bass)
    events_to_midi(tracks, bpm=bpm).save(path)


def add_kind_subcommands(parser: argparse.ArgumentParser, kinds: dict[str, tuple[str, str]]) -> None:
    """``jamd train KIND`` / ``jamd eval KIND``: one sub-parser per model kind (``kinds``: kind
    -> (module, one-line help)), each from its own module with ``add_arguments(parser)`` and
    ``run(args)``."""
    import importlib

    sub = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for name, (module, help_text) in kinds.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_kind_module=module)
        importlib.import_module(module).add_arguments(p)


def run_kind(args: argparse.Namespace) -> int:
    import importlib

    return importlib.import_module(args._kind_module).run(args)


def load_bass_splits(args: argparse.Namespace, replay: Callable | None = None) -> tuple[dict, dict]:
    """The bass windows per split and what the model card says about where they came from
    (``replay``: `jamd.data.bass_corpus.procedural_splits`'s, for the procedural corpus)."""
    from jamd.data.bass_corpus import BASS_CORPUS_VERSION, procedural_splits

    root, midi_dir = data_root(args)
    try:
        if midi_dir:
            from jamd.data.bass_midi import load_multitrack

            return load_multitrack(root, args.bass), {
                "corpus": "user multitrack MIDI",
                "root": str(root),
                "bass": args.bass or "auto",
                "chords": "root per half bar estimated from the bass notes, quality from all pitched notes",
            }
        corpus = load_corpus(root, WindowSettings(), progress=progress_printer("reading MIDI files"))
    except FileNotFoundError as e:
        raise UserError(str(e)) from e
    return procedural_splits(corpus, args.corpus_seed, replay=replay), {
        "corpus": "procedural (jamd.data.bass_corpus): rule-written bass lines over Groove MIDI Dataset drums, "
        "not human bass playing",
        "root": str(root),
        "corpus_seed": args.corpus_seed,
        "corpus_version": BASS_CORPUS_VERSION,
    }

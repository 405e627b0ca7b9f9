"""Arguments and helpers several subcommands share."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jamd.cli import UserError
from jamd.paths import default_data_dir


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    default = default_data_dir()
    parser.add_argument("--data", type=Path, default=default,
                        help=f"Groove MIDI Dataset folder (with info.csv) (default: {default})")
    parser.add_argument("--midi-dir", type=Path, default=None,
                        help="a folder of your own MIDI files instead (split automatically)")


def data_root(args: argparse.Namespace) -> tuple[Path, bool]:
    """The folder to read and whether it is a plain MIDI folder."""
    if args.midi_dir is not None:
        return args.midi_dir, True
    if args.data is None:
        raise UserError("no training data: pass --data DIR (the Groove MIDI Dataset) or --midi-dir DIR")
    return args.data, False


def progress_printer(label: str):
    """A one-line progress display on a terminal; silent when stderr is not one."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\r{label}: {done}/{total}", end=end, file=sys.stderr, flush=True)
    return show

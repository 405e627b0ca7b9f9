"""The ``jamd`` command. Each subcommand lives in its own module, imported only when it runs,
so ``jamd run`` never pays for torch and ``jamd --help`` is instant."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from jamd import __version__
from jamd.base.errors import UserError
from jamd.base.logsetup import setup_logging

#: subcommand -> (module, one-line help). The module has ``add_arguments(parser)`` and
#: ``run(args) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("jamd.commands.run", "play: drums and bass from the latent space, in time with the rig"),
    "data": ("jamd.commands.data", "summarise the training corpus (windows per split, hit rates)"),
    "check": ("jamd.commands.check", "check the config and controller mappings without touching MIDI"),
    "train": ("jamd.commands.train", "train a model (drums, bass, style) on GMD or your MIDI"),
    "encode": ("jamd.commands.encode", "the latent point (and plane XY) of each 2-bar window of a MIDI file"),
    "generate": (
        "jamd.commands.generate",
        "a new groove: random, from files (blend, noise, arithmetic) or a plane point",
    ),
    "interpolate": (
        "jamd.commands.interpolate",
        "a straight latent walk from one groove to another, as MIDI",
    ),
    "similar": ("jamd.commands.similar", "the nearest 2-bar windows in a folder of MIDI files"),
    "classify": ("jamd.commands.classify", "style probabilities (rock, funk, jazz, ...) per 2-bar window"),
    "map": ("jamd.commands.map", "draw the latent plane as a PNG: what the XY pad plays where"),
    "learn": ("jamd.commands.learn", "MIDI learn: move each control in turn, get a mapping file"),
    "eval": ("jamd.commands.eval", "evaluate a model (drums, bass) on the test split"),
    "render": (
        "jamd.commands.render",
        "a MIDI file rendered to a WAV file by FluidSynth, to listen without gear",
    ),
    "ports": ("jamd.commands.ports", "list the MIDI inputs and outputs per API (ALSA, JACK, ...)"),
    "bench": (
        "jamd.commands.bench",
        "measure clock jitter, note timing, latencies, decode time, start-up, memory",
    ),
    "doctor": (
        "jamd.commands.doctor",
        "check what a headless box needs, one PASS/WARN/FAIL line each with the fix",
    ),
}


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the option (argparse prints its whole
    usage first, which buries the line that matters). Subcommands' parsers are this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="jamd", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"jamd {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: per note)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        _load(module).add_arguments(p)
    return parser


def _load(module: str):
    return importlib.import_module(module)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    setup_logging(args.verbose)
    run: Callable[[argparse.Namespace], int] = _load(args._module).run
    try:
        return run(args)
    except UserError as e:
        print(f"jamd {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

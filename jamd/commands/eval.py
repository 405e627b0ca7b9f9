"""``jamd eval KIND``: evaluate a model. Each kind lives in its own module with
``add_arguments(parser)`` and ``run(args)``, registered in KINDS — add one line for a new kind."""
from __future__ import annotations

import argparse
import importlib

#: kind -> (module, one-line help)
KINDS: dict[str, tuple[str, str]] = {
    "drums": ("jamd.commands.eval_drums", "evaluate a drum model (reconstruction, smoothness, plausibility, speed)"),
    "bass": ("jamd.commands.eval_bass", "evaluate a bass model (in scale, kick lock, latent stability, speed)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for name, (module, help_text) in KINDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_kind_module=module)
        importlib.import_module(module).add_arguments(p)


def run(args: argparse.Namespace) -> int:
    return importlib.import_module(args._kind_module).run(args)

"""``jamd check``: read the config and the controller mappings as ``jamd run`` would, and say
what they amount to, or the first problem as ``file:line: message``. Needs no MIDI hardware."""

from __future__ import annotations

import argparse
from pathlib import Path

from jamd.commands.common import add_config_argument
from jamd.control.mapping import Mapping, load_mapping, select_mapping
from jamd.live.config import Config, load_config
from jamd.music.drumkit import VOICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="NAME",
        help="a controller port name: show which mapping it would get (repeatable)",
    )
    parser.add_argument("mappings", nargs="*", type=Path, help="mapping files to check as well")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    extra = [load_mapping(p) for p in args.mappings]
    print(describe(config, extra, args.port))
    return 0


def describe(config: Config, extra: list[Mapping], ports: list[str]) -> str:
    lines = [
        f"config: {config.path or 'built-in defaults (no file found)'}",
        f"clock: {config.clock.mode}, {config.clock.tempo:g} BPM",
    ]
    for name in ("drummer", "controllers", "keyboard", "drums", "bass", "clock_in", "clock_out"):
        value = getattr(config.ports, name)
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        lines.append(f"  port {name}: {shown or '-'}")
    outs = config.drums.outputs()
    lines.append("drums out: " + ", ".join(f"{v} {o.note}/ch{o.channel}" for v, o in zip(VOICES, outs)))
    lines.append(f"bass out: channel {config.bass.channel}, notes {config.bass.low}..{config.bass.high}")
    mappings = config.controller_mappings() + extra
    for m in mappings:
        lines.append(
            f"mapping {m.name}: {m.device or '?'} (match: {m.match or 'any other port'}, "
            f"{len(m.controls)} controls) {m.path}"
        )
    for port in ports:
        chosen = select_mapping(mappings, port)
        lines.append(f"port {port!r} -> {chosen.name if chosen else 'no mapping'}")
    return "\n".join(lines)

"""``jamd learn --port NAME -o mappings/mine.yaml``: MIDI learn. For each target in turn, move
the control you want for it; jamd detects what it is and writes a mapping file."""

from __future__ import annotations

import argparse
import datetime
import select
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from jamd.base.errors import UserError
from jamd.commands.common import number, output_file_in_new_folders
from jamd.control.learn import DEFAULT_TARGETS, Detected, detect, mapping_yaml

if TYPE_CHECKING:  # imported where the port is opened: the other commands need no rtmidi
    from jamd.midi.ports import ManagedInput

#: a control is done once it has been still this long (a knob being turned never pauses so long)
QUIET_S = 0.8
#: how often the port is polled while listening
POLL_S = 0.005


def _targets(text: str) -> list[str]:
    from jamd.control.targets import TARGETS

    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in TARGETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown target(s) {', '.join(unknown) or '(none)'}; targets: {', '.join(TARGETS)}"
        )
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", required=True, help="the controller's MIDI input (a part of its name)")
    parser.add_argument(
        "-o", "--out", type=output_file_in_new_folders, required=True, help="mapping file to write (YAML)"
    )
    parser.add_argument(
        "--api",
        choices=("jack", "alsa", "coremidi", "winmm"),
        default=None,
        help="MIDI API (default: the platform's)",
    )
    parser.add_argument(
        "--targets",
        type=_targets,
        default=list(DEFAULT_TARGETS),
        help="comma-separated targets to ask for, in order (default: " + ",".join(DEFAULT_TARGETS) + ")",
    )
    parser.add_argument(
        "--listen-s",
        type=number(0.1, 3600),
        default=10.0,
        help="seconds to wait for each control before skipping it, 0.1..3600 (default 10)",
    )
    parser.add_argument("--device", default="", help="what the controller is (written into the file)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


@dataclass
class Listener:
    """Collects what one control sends: from its first message until it has been still for
    ``quiet_s``. Enter on a terminal skips the control; without a terminal stdin is never read
    (a script or a service runs learn with ``--listen-s`` as the only way on)."""

    port: ManagedInput
    listen_s: float
    terminal: TextIO | None
    quiet_s: float = QUIET_S

    def _read(self) -> list[list[int]]:
        from jamd.control.ctlparse import normalize

        # clock and sensing bytes are not a control moving: they must not keep the capture open
        return [m for m, _ in self.port.poll(time.perf_counter_ns()) if normalize(m) is not None]

    def _enter(self) -> bool:
        if self.terminal is None or not select.select([self.terminal], [], [], 0)[0]:
            return False
        self.terminal.readline()
        return True

    def capture(self) -> list[list[int]] | None:
        """The messages (empty after the timeout), or None when Enter skipped the control."""
        self.port.poll(time.perf_counter_ns())  # what arrived before the prompt is old
        msgs: list[list[int]] = []
        deadline, last = time.monotonic() + self.listen_s, None
        while True:
            now = time.monotonic()
            got = self._read()
            if got:
                msgs += got
                last = now
            if (last is not None and now - last >= self.quiet_s) or (last is None and now >= deadline):
                return msgs
            if self._enter():
                return None
            time.sleep(POLL_S)


def learn(listener: Listener, targets: list[str]) -> dict[str, Detected]:
    from jamd.control.targets import TARGETS

    learned: dict[str, Detected] = {}
    for target in targets:
        print(
            f"move the control for {target} ({TARGETS[target].doc}); Enter or {listener.listen_s:g} s skips",
            flush=True,
        )
        msgs = listener.capture()
        found = detect(msgs, exclude=[d.key for d in learned.values()]) if msgs else None
        problem = found.fits(target) if found else None
        if found is None or problem:
            why = problem or ("Enter" if msgs is None else "nothing heard")
            print(f"  {target}: skipped ({why})", flush=True)
            continue
        learned[target] = found
        print(f"  {target} <- {found.describe()}", flush=True)
    return learned


def run(args: argparse.Namespace) -> int:
    from jamd.control.mapping import load_mapping
    from jamd.midi.ports import ManagedInput, PortConfig, default_api

    if args.out.exists() and not args.force:
        raise UserError(f"{args.out} exists (use --force to overwrite it)")
    api = args.api or default_api()
    port = ManagedInput(PortConfig("learn", args.port, False, api)).open()
    try:
        terminal = sys.stdin if sys.stdin is not None and sys.stdin.isatty() else None
        learned = learn(Listener(port, args.listen_s, terminal), args.targets)
        port_name = port.name
    finally:
        port.close()
    if not learned:
        print("nothing learned: no file written")
        return 1
    stamp = datetime.date.today().isoformat()
    text = mapping_yaml(
        learned, args.device, args.port, f"Learned by `jamd learn` from {port_name} ({api}) on {stamp}."
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    load_mapping(args.out)  # jamd's own loader must take it; a failure here is a bug
    print(f"wrote {args.out}: {len(learned)} controls; use it with `mappings: [{args.out}]` in the config")
    return 0

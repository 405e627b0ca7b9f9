"""``jamd run``: the daemon a musician starts."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from jamd.commands.common import add_config_argument, midi_in, output_file, whole

if TYPE_CHECKING:
    from jamd.live.config import PortsConfig
    from jamd.live.soundplan import SoundPlan

log = logging.getLogger(__name__)

STATUS_EVERY_S = 0.1
DEMO_RECORDING = Path("jamd-demo.mid")
#: Exit codes of a stopped `jamd run` (README, "Stopping"): 0 the engine ended its notes and
#: stopped; 3 it had to be killed (it hung, e.g. closing a JACK client), its notes ended from
#: here; 4 it had died or ended with an error (at start too). A second signal ends jamd at once (killed by
#: SIGINT/SIGTERM: 130/143 in a shell); a shutdown past its bound by SIGALRM (142).
EXIT_ENGINE_KILLED = 3
EXIT_ENGINE_FAILED = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--record",
        type=output_file,
        default=None,
        metavar="FILE.mid",
        help="write what jamd received and sent to this MIDI file on exit",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="no hardware needed: a groove plays as the drummer and the pad sweeps",
    )
    parser.add_argument(
        "--sound",
        action="store_true",
        help="play drums and bass on this machine's sound device too (FluidSynth, the sound extra)",
    )
    parser.add_argument(
        "--drummer",
        type=midi_in,
        default=None,
        metavar="FILE.mid",
        help="with --demo: the groove the demo drummer plays (default: one jamd makes)",
    )
    parser.add_argument(
        "--bars",
        type=whole(0),
        default=None,
        help="stop after this many bars (--demo default: 16; 0 = run until stopped)",
    )
    parser.add_argument("--no-status", action="store_true", help="plain logs even on a terminal")


def run(args: argparse.Namespace) -> int:
    from jamd.base.logsetup import apply_logging
    from jamd.base.signals import enable_crash_traces
    from jamd.engine.entry import EXIT_BAD_INPUT
    from jamd.engine.handle import EngineStartError, StopOutcome
    from jamd.live.config import load_config
    from jamd.live.daemon import Daemon
    from jamd.live.recorder import Recorder
    from jamd.live.soundplan import plan_sound

    config = load_config(args.config)
    # before the engine starts: its process takes the level and the file from here
    apply_logging(config.logging.level, config.logging.file)
    offline: str | None = None  # why the demo can make no MIDI ports here
    if args.demo:
        config, offline = demo_config(config)
    sound = plan_sound(config, args.demo, args.sound)
    record = args.record or (DEMO_RECORDING if offline or sound.render else None)
    recorder = Recorder(record, config.clock.tempo) if record else None
    daemon = Daemon(config, offline=offline is not None, recorder=recorder, sound=sound.play)
    if args.demo:
        add_demo_drummer(daemon, args.drummer)
    bars = args.bars if args.bars is not None else (16 if args.demo else 0)
    if bars:
        daemon.tickers.append(stop_after(daemon, bars))
    web, banner = start_web(daemon, config.web) if config.web.enabled else (None, "")
    if sys.stdout.isatty() and not args.no_status:
        daemon.tickers.append(status_screen(daemon, banner))
    daemon.install_signal_handlers()
    enable_crash_traces()
    if args.demo and (line := demo_line(record, offline, sound)):
        print(line, file=sys.stderr)
    try:
        daemon.run()
    except EngineStartError as e:  # why is the engine's log line just above
        print(f"jamd run: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT if e.exitcode == EXIT_BAD_INPUT else EXIT_ENGINE_FAILED
    finally:
        if web is not None:
            web.stop()
    if recorder is not None and recorder.saved:  # a dropped recording was already said (log)
        print(f"recording: {record}")
        if sound.render is not None:
            from jamd.sound.render import render_file

            render_file(recorder.path, recorder.path.with_suffix(".wav"), sound.render)
            print(f"sound: {recorder.path.with_suffix('.wav')}")
    if daemon.stop_outcome is StopOutcome.KILLED:
        return EXIT_ENGINE_KILLED
    return EXIT_ENGINE_FAILED if daemon.stop_outcome is StopOutcome.FAILED else 0


def demo_line(record: Path | None, offline: str | None, sound: SoundPlan) -> str | None:
    """What the demo says before it plays, in one line: where its MIDI goes (no ports here:
    to a recording, and why) and its sound (a device, a WAV file afterwards, or what to
    install)."""
    parts = []
    if sound.play is not None:
        parts.append(f"the demo plays through FluidSynth ({sound.play.driver})")
    if sound.render is not None and record is not None:
        parts.append(
            f"no sound device: the demo is recorded to {record} and rendered to {record.with_suffix('.wav')}"
        )
    elif offline and record is not None:
        parts.append(f"the demo is recorded to {record}")
    if offline:
        parts[-1] += f", no MIDI ports here: {offline}"
    if sound.missing is not None:
        parts.append(sound.missing)
    return "; ".join(parts) or None


def demo_config(config):
    """The demo needs no hardware: jamd's own virtual ports where the platform can make them,
    else no MIDI at all (and a recording: the second value says why). Nor OSC: when its port
    is taken, the demo says so and goes on without it."""
    from jamd.control.osc import port_free

    ports = dataclasses.replace(config.ports, drummer=None, controllers=[], virtual=True)
    drummer = dataclasses.replace(config.drummer, kit="gm", channel=None)
    osc = config.osc
    if osc.enabled and not port_free(osc.port):
        print(f"UDP port {osc.port} is taken by another program: the demo runs without OSC", file=sys.stderr)
        osc = dataclasses.replace(osc, enabled=False)
    config = dataclasses.replace(config, ports=ports, drummer=drummer, osc=osc)
    return config, midi_api_error(ports)


def midi_api_error(ports: PortsConfig) -> str | None:
    """Why the MIDI API the config names cannot be used here (no JACK server, ...), or None."""
    from jamd.midi.ports import default_api, list_ports

    return list_ports(default_api() if ports.api == "auto" else ports.api).error


def add_demo_drummer(daemon, path: Path | None) -> None:
    from jamd.live.demo import DemoDrummer, file_groove, model_groove

    notes, length = file_groove(path) if path else model_groove(daemon.drums)
    drummer = DemoDrummer(notes, length, daemon.capture.add, daemon.perf.move_pad)
    daemon.tickers.append(lambda t: drummer.tick(daemon.beat_now(t)) if daemon.running() else None)


def stop_after(daemon, bars: int):
    def tick(t: int) -> None:
        if daemon.running() and daemon.beat_now(t) >= bars * 4:
            daemon.stop_requested.set()

    return tick


def start_web(daemon, cfg):
    """The page on the phone (``web.enabled``): its address with the token printed (and
    logged, and kept under the status screen with its QR code)."""
    from jamd.web.launch import serve

    try:
        web, banner = serve(daemon, cfg)
    except BaseException:
        daemon.engine.stop()  # not started: this releases its shared memory
        raise
    print(banner, flush=True)
    return web, banner


def status_screen(daemon, footer: str = ""):
    from jamd.live.status import CLEAR, Snapshot, render

    next_t = [0.0]

    def tick(t: int) -> None:
        if time.monotonic() < next_t[0] or daemon.window is None:
            return
        next_t[0] = time.monotonic() + STATUS_EVERY_S
        st = daemon.engine.status()
        beat = st.beat_at(t)
        seed = daemon.seed_xy()
        x, y = (float(v) for v in daemon.slew.value)
        snap = Snapshot(
            st.bpm,
            beat,
            st.running,
            st.clock_ok,
            (x, y),
            seed,
            daemon.window.drums,
            int(beat * 4) % daemon.window.steps,
            {"sounding": st.sounding, "late": st.dropped_late},
            daemon.lead.status() if daemon.lead is not None else "",
        )
        sys.stdout.write(CLEAR + render(snap) + footer)
        sys.stdout.flush()

    return tick

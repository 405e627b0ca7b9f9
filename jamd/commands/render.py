"""``jamd render``: a MIDI file - a recording, a generated groove, an interpolation - rendered to a
WAV file by FluidSynth with a General MIDI soundfont, to listen to without gear."""

from __future__ import annotations

import argparse
from pathlib import Path

from jamd.commands.common import midi_in, number, output_file


def soundfont_in(text: str) -> Path:
    path = Path(text)
    if not text or not path.is_file():
        raise argparse.ArgumentTypeError(f"no soundfont file {text!r}")
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=midi_in, metavar="IN.mid", help="the MIDI file to render")
    parser.add_argument(
        "-o", "--out", type=output_file, required=True, metavar="OUT.wav", help="WAV file to write"
    )
    parser.add_argument(
        "--soundfont",
        type=soundfont_in,
        default=None,
        metavar="FILE.sf2",
        help="a General MIDI soundfont (default: TimGM6mb, Debian's timgm6mb-soundfont)",
    )
    parser.add_argument(
        "--gain", type=number(0, 10), default=None, help="FluidSynth's gain, 0..10 (default 0.7)"
    )


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from jamd.sound.render import render_file
    from jamd.sound.synth import SoundSettings

    settings = SoundSettings(soundfont=args.soundfont)
    if args.gain is not None:
        settings = dataclasses.replace(settings, gain=args.gain)
    seconds = render_file(args.file, args.out, settings)
    print(f"wrote {args.out}: {seconds:.1f} s")
    return 0

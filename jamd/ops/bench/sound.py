"""``jamd bench --sound``: the jamd phase once more with FluidSynth playing every note the engine
sends (``jamd run --sound``), so the clock and note figures with the synth running stand beside
the figures without it, against the same targets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from jamd.live.config import Config
from jamd.ops.bench.report import timing_again
from jamd.sound.output import FILE_DRIVER, find_device
from jamd.sound.synth import SoundSettings

SOUND_TARGETS = timing_again("sound_", "with sound")


def bench_sound(config: Config, tmp: Path) -> tuple[SoundSettings, str]:
    """The sound the bench plays, and how, for the output: the sound device where one opens,
    else FluidSynth's file driver writing a WAV into ``tmp`` in real time - its rendering
    thread works as it would for a card, paced by a timer instead of the card's clock."""
    settings = config.sound.settings(config.drums.outputs(), config.bass.channel)
    driver = find_device(settings)
    if driver is not None:
        return replace(settings, driver=driver), f"FluidSynth on {driver}"
    how = "FluidSynth's file driver (no sound device here), rendering in real time to a WAV file"
    return replace(settings, driver=FILE_DRIVER, device=str(tmp / "bench-sound.wav")), how

"""``jamd bench --sound``: the jamd phase once more with FluidSynth playing every note the engine
sends (``jamd run --sound``), so the clock and note figures with the synth running stand beside
the figures without it, against the same targets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from jamd.engine.ipc import REC_NOTE_ON, REC_TICK
from jamd.live.config import Config
from jamd.ops.bench.daemon_run import JamdRun
from jamd.ops.bench.report import Target
from jamd.ops.bench.stats import error_us
from jamd.sound.output import FILE_DRIVER, find_device
from jamd.sound.synth import SoundSettings

SOUND_TARGETS = (
    Target("sound_clock_jitter_us", "p99", 250.0, "with sound: clock jitter p99 <= 0.25 ms"),
    Target("sound_clock_jitter_us", "max", 1000.0, "with sound: clock jitter max <= 1 ms"),
    Target("sound_note_error_us", "p99", 500.0, "with sound: note error p99 <= 0.5 ms"),
)


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


def sound_figures(run: JamdRun) -> dict:
    """The sound run's clock and note figures, named as the targets name them."""
    return {
        "sound_clock_jitter_us": error_us(run.records, REC_TICK),
        "sound_note_error_us": error_us(run.records, REC_NOTE_ON),
    }


def placed_after(figures: dict, extra: dict, after: str) -> dict:
    """``figures`` with ``extra`` inserted after the figure ``after`` (the table's order)."""
    out: dict = {}
    for name, value in figures.items():
        out[name] = value
        if name == after:
            out.update(extra)
    return out

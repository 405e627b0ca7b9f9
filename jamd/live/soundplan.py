"""Whether ``jamd run`` plays through FluidSynth, renders a WAV file afterwards, or has no sound,
decided before the engine starts (README, "Hear it without gear").

* ``--sound`` or ``sound.enabled: true``: the sound plays on this machine's device; without
  one, or without FluidSynth, ``jamd run`` stops with one line saying what is missing.
* ``--demo`` with no MIDI output configured (and ``sound.enabled`` not false): the same where a
  device exists; where none does (a server, CI), what the demo played is rendered to a WAV file
  next to its MIDI recording; without FluidSynth the demo plays on and one line says how to
  install it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from jamd.live.config import Config
from jamd.sound.output import find_device, no_device
from jamd.sound.synth import SoundSettings, SoundUnavailable, find_soundfont


@dataclass(frozen=True)
class SoundPlan:
    play: SoundSettings | None = None  # the engine's notes go to FluidSynth, on this driver
    render: SoundSettings | None = None  # no device: render the recording to WAV at the end
    missing: str | None = None  # the demo's sound is missing: what to install (one line)


def wants_sound(config: Config, demo: bool, asked: bool) -> bool:
    if asked or config.sound.enabled is not None:
        return asked or bool(config.sound.enabled)
    return demo and config.ports.drums is None and config.ports.bass is None


def plan_sound(config: Config, demo: bool, asked: bool) -> SoundPlan:
    """What to do about sound (module doc); a :class:`SoundUnavailable` (one line) when a sound
    was asked for outside the demo and cannot be."""
    if not wants_sound(config, demo, asked):
        return SoundPlan()
    settings = config.sound.settings(config.drums.outputs(), config.bass.channel)
    try:
        find_soundfont(settings.soundfont)
        driver = find_device(settings)
    except SoundUnavailable as e:
        if demo:
            return SoundPlan(missing=str(e))
        raise
    if driver is not None:
        return SoundPlan(play=dataclasses.replace(settings, driver=driver))
    if demo:
        return SoundPlan(render=settings)
    raise SoundUnavailable(
        f"{no_device(settings)} (set sound.driver and sound.device, or record with --record "
        "FILE.mid and listen with jamd render FILE.mid -o FILE.wav)"
    )

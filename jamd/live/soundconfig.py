"""The config's ``sound:`` block (docs/config.md): FluidSynth playing jamd's drums and bass on this
machine's sound device, for when no gear is connected."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from jamd.base.yamlload import Between, ConfigError, Node, Reader, build
from jamd.music.drumkit import VoiceOut
from jamd.sound.synth import DEFAULT_GAIN, FINGER_BASS, SoundSettings


def read_soundfont(node: Node, what: str) -> Path:
    """An .sf2 file, relative to the config file; checked when the config is read."""
    text = build(str, node, what)
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path(node.file).resolve().parent / path
    if not path.is_file():
        raise node.error(f"no soundfont {text!r} (looked for {path})")
    return path


@dataclass
class SoundConfig:
    # null: `jamd run --demo` plays through the sound when no MIDI output is configured (and
    # renders a WAV file where there is no sound device); `jamd run` only with --sound
    enabled: bool | None = None
    soundfont: Annotated[Path, Reader(read_soundfont)] | None = None  # null: TimGM6mb (Debian)
    driver: Literal[
        "auto", "pulseaudio", "alsa", "jack", "coreaudio", "wasapi", "dsound", "sdl2", "oss", "file"
    ] = "auto"
    # the driver's device, e.g. ALSA's "hw:1"; for driver "file", the WAV file; null: its default
    device: str | None = None
    gain: Annotated[float, Between(0, 10)] = DEFAULT_GAIN
    bass_program: Annotated[int, Between(0, 127)] = FINGER_BASS  # General MIDI, from 0

    def settings(self, drum_outputs: tuple[VoiceOut, ...], bass_channel: int) -> SoundSettings:
        """What the synth is told: the drum kit on the channels the drum voices are sent on,
        the bass program on the others."""
        drums = {v.channel for v in drum_outputs}
        if bass_channel in drums:
            raise ConfigError(
                f"sound: bass.channel {bass_channel} is a drum channel too, so the synth would play "
                "the bass on its drum kit; give the bass a channel of its own"
            )
        return SoundSettings(
            soundfont=self.soundfont,
            driver=self.driver,
            device=self.device,
            gain=self.gain,
            bass_program=self.bass_program,
            drum_channels=tuple(sorted(drums)),
        )

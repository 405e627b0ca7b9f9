"""FluidSynth, loaded when a sound is asked for, and set up to play jamd's drums and bass.

FluidSynth is an optional extra (``pip install 'jamd[sound]'``: pyfluidsynth, a ctypes binding
that needs the C library, Debian's ``libfluidsynth3``) with a General MIDI soundfont (Debian's
``timgm6mb-soundfont``, 6 MB, found by :func:`find_soundfont`). Whatever is missing is one
:class:`SoundUnavailable` line saying how to install it.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from jamd.base.cstderr import c_stderr_to_log
from jamd.base.errors import UserError
from jamd.midi import spec as ms

# FluidSynth's JACK driver would start a JACK server behind the user's back, as libjack does
# for rtmidi (see jamd.midi.ports).
os.environ.setdefault("JACK_NO_START_SERVER", "1")

log = logging.getLogger(__name__)

#: Where General MIDI soundfonts are installed, the small one first: Debian's
#: timgm6mb-soundfont (6 MB), its default-GM alternative (FluidR3 when installed), Fedora's and
#: Arch's, Homebrew's fluid-synth.
SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/default.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/opt/homebrew/share/soundfonts/default.sf2"),
)
INSTALL_HINT = (
    "pip install 'jamd[sound]', with FluidSynth's library and a soundfont (Debian/Ubuntu: "
    "sudo apt install libfluidsynth3 timgm6mb-soundfont; scripts/bootstrap run does both)"
)
#: General MIDI's percussion bank (FluidSynth's drum kits) and 33, Electric Bass (finger).
DRUM_BANK = 128
FINGER_BASS = 33
#: The bass's channel volume (CC 7): General MIDI's default, 100, leaves TimGM6mb's bass under
#: its kick drum; 127 is 4 dB more.
BASS_VOLUME = 127
#: FluidSynth's own default (0.2) leaves a drum-and-bass mix 15 dB below full scale.
DEFAULT_GAIN = 0.7
#: FluidSynth's log levels (fluid_log_level): PANIC .. DBG.
_FLUID_LOG_LEVELS = range(5)


class SoundUnavailable(UserError):
    """No sound here: the extra, FluidSynth's library, a soundfont or a sound device is missing;
    the message says which and what to do."""


@dataclass(frozen=True)
class SoundSettings:
    """What the synth is told (picklable: it crosses into the engine process)."""

    soundfont: Path | None = None  # None: the first of SOUNDFONTS that is installed
    driver: str = "auto"  # FluidSynth's audio driver; "auto": AUTO_DRIVERS in turn
    device: str | None = None  # the driver's device (e.g. ALSA's "hw:1"); None: its default
    gain: float = DEFAULT_GAIN
    bass_program: int = FINGER_BASS  # General MIDI program (0-127) of every non-drum channel
    drum_channels: tuple[int, ...] = (10,)  # 1-16: the channels the drums are sent on
    sample_rate: int = 44100


def load_fluidsynth() -> ModuleType:
    """The pyfluidsynth module with FluidSynth's own log silenced, or :class:`SoundUnavailable`."""
    try:
        # pyfluidsynth prints where it found the library when the environment has CI set (as
        # CI and some shells do): that line is not the user's, and it broke `--json` output.
        with contextlib.redirect_stdout(io.StringIO()):
            import fluidsynth
    except ModuleNotFoundError as e:
        if e.name != "fluidsynth":
            raise
        raise SoundUnavailable(f"no sound: the sound extra is not installed: {INSTALL_HINT}") from None
    except (ImportError, OSError) as e:  # pyfluidsynth is there, the C library is not
        raise SoundUnavailable(f"no sound: FluidSynth's library is missing ({e}): {INSTALL_HINT}") from None
    _silence(fluidsynth)
    return fluidsynth


def _silence(fluidsynth: ModuleType) -> None:
    """FluidSynth logs to stderr itself ("fluidsynth: error: Failed to open the "default"
    audio device" where there is none): jamd says what failed in its own line. A log function
    of NULL drops a level (a Python one would be called from FluidSynth's audio thread, which
    would then take the GIL the engine loop spins on)."""
    lib = ctypes.CDLL(fluidsynth.lib)
    for level in _FLUID_LOG_LEVELS:
        lib.fluid_set_log_function(level, None, None)


def find_soundfont(path: Path | None = None) -> Path:
    """``path`` if given and there, else the first General MIDI soundfont installed."""
    if path is not None:
        if not Path(path).is_file():
            raise SoundUnavailable(f"no soundfont {path}")
        return Path(path)
    found = next((p for p in SOUNDFONTS if p.is_file()), None)
    if found is None:
        raise SoundUnavailable(
            f"no sound: no General MIDI soundfont (looked for {SOUNDFONTS[0]} and "
            f"{len(SOUNDFONTS) - 1} others): {INSTALL_HINT}; or name an .sf2 file in sound.soundfont"
        )
    return found


def new_synth(settings: SoundSettings, fluid: dict[str, str | int | float] | None = None) -> Any:
    """A FluidSynth synth with the soundfont loaded, the drum channels on the drum kit and the
    others on the bass program. ``fluid``: more FluidSynth settings by their names."""
    fl = load_fluidsynth()
    soundfont = find_soundfont(settings.soundfont)
    synth = fl.Synth(gain=settings.gain, samplerate=settings.sample_rate, channels=16, **(fluid or {}))
    with c_stderr_to_log(log, "sound"):  # libinstpatch's CRITICAL lines on a file it cannot read
        sfid = synth.sfload(str(soundfont))
    if sfid < 0:
        synth.delete()
        raise SoundUnavailable(f"{soundfont}: FluidSynth cannot read it as a soundfont")
    for channel in range(16):
        if channel + 1 in settings.drum_channels:
            synth.program_select(channel, sfid, DRUM_BANK, 0)
        else:
            synth.program_select(channel, sfid, 0, settings.bass_program)
            synth.cc(channel, 7, BASS_VOLUME)
    log.debug("FluidSynth %s with %s", fl.api_version, soundfont)
    return synth


def play(fl: ModuleType, synth: Any, msg: Sequence[int]) -> None:
    """One channel message, as bytes on the wire, to a FluidSynth synth (``synth``: its C
    handle; FluidSynth's channels count from 0): what the engine sends live, and what a MIDI
    file holds besides (program changes, pitch bends) when it is rendered."""
    kind, channel = ms.kind_of(msg[0]), ms.channel_of(msg[0]) - 1
    if kind == ms.NOTE_ON:
        fl.fluid_synth_noteon(synth, channel, msg[1], msg[2])
    elif kind == ms.NOTE_OFF:
        fl.fluid_synth_noteoff(synth, channel, msg[1])
    elif kind == ms.CONTROL_CHANGE:
        fl.fluid_synth_cc(synth, channel, msg[1], msg[2])
    elif kind == ms.PROGRAM_CHANGE:
        fl.fluid_synth_program_change(synth, channel, msg[1])
    elif kind == ms.PITCH_BEND:
        fl.fluid_synth_pitch_bend(synth, channel, msg[1] | msg[2] << 7)


#: The audio drivers "auto" tries, in turn, per platform (PipeWire serves the PulseAudio API).
AUTO_DRIVERS = {"linux": ("pulseaudio", "alsa"), "darwin": ("coreaudio",), "win32": ("wasapi", "dsound")}


def drivers_to_try(settings: SoundSettings) -> tuple[str, ...]:
    if settings.driver != "auto":
        return (settings.driver,)
    platform = "linux" if sys.platform.startswith("linux") else sys.platform
    return AUTO_DRIVERS.get(platform, ("sdl2",))

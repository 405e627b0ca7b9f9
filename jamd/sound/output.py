"""The real-time sound: the engine hands :class:`SoundOutput` every message it sends, and
FluidSynth's audio driver renders them to the sound device in a thread of its own.

What runs on the engine loop is the hand-over only: ``fluid_synth_noteon`` and its kin queue
the event for FluidSynth's rendering thread (a ctypes call, ~10 µs, made after the MIDI ports
got the same notes: see :meth:`jamd.engine.process.Engine._send_all`). The rendering itself -
samples, reverb, the device's buffers - is in that C thread, which takes no GIL and runs at a
real-time priority below the engine's, so the engine's loop always comes first.
"""

from __future__ import annotations

import logging
from typing import Any

from jamd.base.cstderr import c_stderr_to_log
from jamd.sound.synth import (
    SoundSettings,
    SoundUnavailable,
    drivers_to_try,
    load_fluidsynth,
    new_synth,
    play,
)

log = logging.getLogger(__name__)

#: FluidSynth's rendering thread takes a real-time priority this far below the engine's.
BELOW_ENGINE = 10
#: The driver that writes a WAV file (``device``: its name) in real time, paced by a timer as a
#: sound card paces the others: the sound of a show kept as heard, or a machine without a card.
FILE_DRIVER, FILE_NAME = "file", "audio.file.name"


def _open_driver(fl, synth, settings: SoundSettings) -> tuple[Any, str] | None:
    """The first audio driver of :func:`drivers_to_try` that opens, and its name."""
    for driver in drivers_to_try(settings):
        synth.setting("audio.driver", driver)
        if settings.device is not None:
            synth.setting(FILE_NAME if driver == FILE_DRIVER else f"audio.{driver}.device", settings.device)
        with c_stderr_to_log(log, "sound"):  # ALSA's "Unknown PCM default" and the like
            handle = fl.new_fluid_audio_driver(synth.settings, synth.synth)
        if handle:
            return handle, driver
        log.debug("sound: FluidSynth's %s driver did not open", driver)
    return None


def no_device(settings: SoundSettings) -> str:
    return f"no sound device: FluidSynth could not open {' or '.join(drivers_to_try(settings))}"


def find_device(settings: SoundSettings) -> str | None:
    """The audio driver that opens a sound device here (None: none does), tried with a synth
    that has no soundfont, so the probe takes a few ms. Raises :class:`SoundUnavailable`
    when FluidSynth itself is missing."""
    fl = load_fluidsynth()
    synth = fl.Synth(channels=16)
    try:
        opened = _open_driver(fl, synth, settings)
        if opened is None:
            return None
        fl.delete_fluid_audio_driver(opened[0])
        return opened[1]
    finally:
        synth.delete()


class SoundOutput:
    """FluidSynth playing what the engine sends, to the sound device."""

    def __init__(self, settings: SoundSettings) -> None:
        self.settings = settings
        self.driver: str | None = None
        self._synth: Any = None
        self._audio: Any = None
        self._fl: Any = None

    def open(self, engine_priority: int = 0) -> SoundOutput:
        """Load the soundfont and start the audio driver; :class:`SoundUnavailable` if either
        fails. ``engine_priority``: the engine's SCHED_FIFO priority (0: none), which
        FluidSynth's rendering thread stays below."""
        self._fl = load_fluidsynth()
        prio = max(engine_priority - BELOW_ENGINE, 0)
        self._synth = new_synth(self.settings, {"audio.realtime-prio": prio, "synth.cpu-cores": 1})
        opened = _open_driver(self._fl, self._synth, self.settings)
        if opened is None:
            self.close()
            raise SoundUnavailable(no_device(self.settings))
        self._audio, self.driver = opened
        log.info("sound: FluidSynth on %s", self.driver)
        return self

    def send(self, msg: list[int]) -> None:
        """One message as the MIDI ports got it."""
        play(self._fl, self._synth.synth, msg)

    def close(self) -> None:
        """Stop the driver (its thread ends) and free the synth; safe to call twice."""
        if self._audio is not None:
            self._fl.delete_fluid_audio_driver(self._audio)
            self._audio = None
        if self._synth is not None:
            self._synth.delete()
            self._synth = None

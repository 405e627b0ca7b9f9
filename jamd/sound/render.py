"""A MIDI file rendered offline by FluidSynth to a WAV file: ``jamd render``, and the demo's WAV
where there is no sound device.

The synth is run by hand, not by an audio driver: between two events it renders exactly the
samples up to the next one, so each event lands on its own sample (FluidSynth applies it at its
next 64-sample block: at most 1.5 ms late at 44.1 kHz).
"""

from __future__ import annotations

import wave
from pathlib import Path

import mido
import numpy as np

from jamd.sound.synth import SoundSettings, load_fluidsynth, new_synth, play

#: After the last event, the release tails and the reverb ring out this long.
TAIL_S = 1.5
#: The tracks of a ``jamd run --record`` file that hold what jamd *received* (the drummer, the
#: controllers' CCs): what jamd played is the rest.
INPUT_TRACK_SUFFIX = " in"
_CHUNK = 1 << 16  # samples rendered per call over a long silence


def played_events(mid: mido.MidiFile) -> list[tuple[float, mido.Message]]:
    """The channel messages a file plays, with their times in seconds, tempo changes applied;
    the input tracks of a jamd recording are left out."""
    tracks = [t for t in mid.tracks if not t.name.endswith(INPUT_TRACK_SUFFIX)]
    played = mido.MidiFile(type=1, ticks_per_beat=mid.ticks_per_beat)
    played.tracks.extend(tracks)
    out, t = [], 0.0
    for msg in played:  # mido merges the tracks and turns ticks into seconds
        t += msg.time
        if not msg.is_meta and hasattr(msg, "channel"):
            out.append((t, msg))
    return out


def render_midi(mid: mido.MidiFile, settings: SoundSettings = SoundSettings()) -> np.ndarray:
    """The file as 16-bit stereo samples, shape (n, 2), at ``settings.sample_rate``."""
    fl = load_fluidsynth()
    synth = new_synth(settings, {"synth.cpu-cores": 1})
    rate = settings.sample_rate
    chunks: list[np.ndarray] = []
    done = 0
    try:
        events = played_events(mid)
        for t, msg in events:
            done += _render_to(synth, round(t * rate) - done, chunks)
            play(fl, synth.synth, msg.bytes())
        end = round(((events[-1][0] if events else 0.0) + TAIL_S) * rate)
        _render_to(synth, end - done, chunks)
    finally:
        synth.delete()
    return np.concatenate(chunks).reshape(-1, 2) if chunks else np.zeros((0, 2), np.int16)


def _render_to(synth, n: int, chunks: list[np.ndarray]) -> int:
    """Render ``n`` samples (none if n <= 0); how many were rendered."""
    left = n
    while left > 0:
        k = min(left, _CHUNK)
        chunks.append(synth.get_samples(k))
        left -= k
    return max(n, 0)


def write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    """16-bit stereo samples (n, 2) as a WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(audio, "<i2").tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit WAV file as samples (n, channels) and its rate."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: {8 * w.getsampwidth()}-bit samples; 16-bit expected")
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        return data.reshape(-1, w.getnchannels()), w.getframerate()


def render_file(src: Path, dst: Path, settings: SoundSettings = SoundSettings()) -> float:
    """``src`` (a MIDI file) rendered to ``dst`` (a WAV file); returns its length in seconds."""
    audio = render_midi(mido.MidiFile(src), settings)
    write_wav(dst, audio, settings.sample_rate)
    return len(audio) / settings.sample_rate

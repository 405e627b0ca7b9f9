"""Where notes start in audio, and how well that lines up with the MIDI it was rendered from: the
check that jamd's sound plays the notes when they were sent (``tests/test_sound.py``).

The detector is energy-based, numpy only. The signal is high-passed (above ``band_hz``: an
attack's broadband click, where a bass note or a kick drum's boom has little energy) and
pre-emphasised (a first difference), its energy taken every millisecond; an onset is where the
log energy is ``rise_db`` above the loudest of the ``lookback_ms`` before it - the loudest, not
the last, so the ripple of a low note's waveform (one bump per period) is not a new note - at
the rise's steepest millisecond, at least ``gap_ms`` after the onset before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

HOP_MS = 1.0


@dataclass(frozen=True)
class OnsetParams:
    band_hz: float = 6000.0
    rise_db: float = 6.0
    lookback_ms: float = 6.0  # a bass note's waveform bumps once a period (E3: 6 ms)
    gap_ms: float = 30.0  # onsets closer than this are one (a flam, a kick under a hi-hat)
    floor_db: float = -40.0  # quieter than this below the loudest millisecond is silence


def energy_db(audio: np.ndarray, rate: int, band_hz: float) -> tuple[np.ndarray, float]:
    """High-passed, pre-emphasised energy per hop in dB below the loudest hop, and the hop (s)."""
    mono = audio.astype(np.float64).reshape(len(audio), -1).mean(axis=1)
    spectrum = np.fft.rfft(mono)
    spectrum[np.fft.rfftfreq(len(mono), 1 / rate) < band_hz] = 0
    high = np.fft.irfft(spectrum, len(mono))
    diff = np.diff(high, prepend=high[:1])
    hop = max(1, round(rate * HOP_MS / 1000))
    n = len(diff) // hop
    e = (diff[: n * hop].reshape(n, hop) ** 2).sum(axis=1)
    return 10 * np.log10(e / max(e.max(initial=0.0), 1e-12) + 1e-12), hop / rate


def detect_onsets(audio: np.ndarray, rate: int, params: OnsetParams = OnsetParams()) -> np.ndarray:
    """Onset times in seconds."""
    db, hop_s = energy_db(audio, rate, params.band_hz)
    db = np.maximum(db, params.floor_db)
    back = max(1, round(params.lookback_ms / HOP_MS))
    # the loudest of the `back` hops before the one before: an attack may take two hops to rise
    padded = np.concatenate([np.full(back + 1, params.floor_db), db])
    before = sliding_window_view(padded, back)[: len(db)].max(axis=1)
    step = np.diff(db, prepend=db[:1])
    gap = params.gap_ms / HOP_MS
    onsets: list[int] = []
    for k in map(int, np.flatnonzero(db - before >= params.rise_db)):
        if onsets and k - onsets[-1] < gap:
            continue
        start = max(k - back, 0)  # the attack: the rise's steepest hop
        onsets.append(start + int(np.argmax(step[start : k + 1])))
    return np.asarray(onsets, np.float64) * hop_s


def group_starts(times: np.ndarray, gap_s: float = OnsetParams.gap_ms / 1000) -> np.ndarray:
    """Sorted note-on times grouped as the detector merges them (notes within ``gap_s`` of a
    group's first: a kick under a hi-hat, a micro-timed flam): the index of each group's first."""
    starts: list[int] = []
    for i, t in enumerate(times):
        if not starts or t - times[starts[-1]] >= gap_s:
            starts.append(i)
    return np.asarray(starts, np.intp)


def nearest_errors_ms(times: np.ndarray, to: np.ndarray) -> np.ndarray:
    """For each of ``times``, the distance to the nearest of ``to`` (ms); inf without any."""
    times, to = np.asarray(times, np.float64), np.sort(np.asarray(to, np.float64))
    if to.size == 0:
        return np.full(times.shape, np.inf)
    i = np.clip(np.searchsorted(to, times), 1, max(to.size - 1, 1))
    before, after = to[i - 1], to[np.minimum(i, to.size - 1)]
    return np.minimum(np.abs(times - before), np.abs(times - after)) * 1000


@dataclass(frozen=True)
class Alignment:
    """How detected onsets and note-ons line up: both ways, so that neither missing notes nor
    onsets where no note was passes."""

    notes: int  # note-on groups
    onsets: int  # detected onsets
    note_p95_ms: float  # each note-on group -> the nearest onset to one of its notes
    onset_p95_ms: float  # each onset -> the nearest note-on

    def within(self, ms: float) -> bool:
        return self.note_p95_ms <= ms and self.onset_p95_ms <= ms


def align(onsets: np.ndarray, note_ons: np.ndarray) -> Alignment:
    """A group is heard when one of its notes is: a soft kick 12 ms before a ride cymbal has
    the ride's onset (its own is under the ride's in the band the detector listens to)."""
    notes = np.sort(np.asarray(note_ons, np.float64))
    starts = group_starts(notes)
    per_note = nearest_errors_ms(notes, onsets)
    to_onset = np.minimum.reduceat(per_note, starts) if notes.size else per_note
    to_note = nearest_errors_ms(onsets, notes)
    p95 = lambda e: float(np.percentile(e, 95)) if e.size else float("inf")
    return Alignment(len(starts), len(onsets), p95(to_onset), p95(to_note))


def band_levels_db(audio: np.ndarray, rate: int, lo_hz: float, hi_hz: float, spans: np.ndarray) -> np.ndarray:
    """The energy between ``lo_hz`` and ``hi_hz`` in each span ``(start, end)`` (s), in dB (full
    scale 16-bit): how loud one part of a mix is where its notes play."""
    mono = audio.astype(np.float64).reshape(len(audio), -1).mean(axis=1) / 32768
    spectrum = np.fft.rfft(mono)
    freqs = np.fft.rfftfreq(len(mono), 1 / rate)
    spectrum[(freqs < lo_hz) | (freqs > hi_hz)] = 0
    band = np.fft.irfft(spectrum, len(mono))
    out = []
    for start, end in np.asarray(spans, np.float64).reshape(-1, 2):
        seg = band[int(start * rate) : max(int(end * rate), int(start * rate) + 1)]
        out.append(10 * np.log10(np.mean(seg**2) + 1e-20) if seg.size else -200.0)
    return np.asarray(out)

"""``jamd run --record FILE.mid``: what jamd received and sent, and its latent walk, written as
one type-1 MIDI file on exit.

Sent notes come from the engine's timing records (each holds the message it handed to the
port, see `jamd.engine.ipc.pack_message`), so the file is what the gear heard, not what the model
meant. Times are kept in seconds: the file has one tempo and ticks at that tempo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import mido

from jamd.model.plane import walk_text

log = logging.getLogger(__name__)

TICKS_PER_BEAT = 960
#: A safety cap: about 100 bytes an event, so a recording never takes more than ~200 MB even
#: if left on for a week; past it, recording stops with a warning and the show goes on.
MAX_EVENTS = 2_000_000


@dataclass
class Recorder:
    path: Path
    bpm: float = 120.0
    t0: int | None = None
    tracks: dict[str, list[tuple[int, mido.Message | mido.MetaMessage]]] = field(default_factory=dict)
    count: int = 0
    saved: bool = False  # the file was written (a full disk drops it: see save)

    def _add(self, track: str, t_ns: int, item: mido.Message | mido.MetaMessage) -> None:
        if self.count >= MAX_EVENTS:
            if self.count == MAX_EVENTS:
                log.warning("recording is full (%d events): no more is recorded", MAX_EVENTS)
                self.count += 1
            return
        if self.t0 is None:
            self.t0 = t_ns
        self.tracks.setdefault(track, []).append((t_ns, item))
        self.count += 1

    def message(self, track: str, msg: list[int], t_ns: int) -> None:
        """A MIDI message (bytes as rtmidi gives them) received or sent at ``t_ns``."""
        try:
            m = mido.Message.from_bytes(msg)
        except (ValueError, IndexError):
            return  # not a complete channel message: nothing to play back
        if not m.is_realtime:
            self._add(track, t_ns, m)

    def walk(self, x: float, y: float, t_ns: int) -> None:
        self._add("latent", t_ns, mido.MetaMessage("text", text=walk_text(x, y)))

    def to_midi(self) -> mido.MidiFile:
        mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
        tempo = mido.bpm2tempo(self.bpm)
        t0 = self.t0 if self.t0 is not None else 0  # None only while there are no tracks
        for name, events in self.tracks.items():
            track = mido.MidiTrack(
                [mido.MetaMessage("track_name", name=name), mido.MetaMessage("set_tempo", tempo=tempo)]
            )
            last = 0
            for t_ns, msg in sorted(events, key=lambda e: e[0]):
                tick = round(mido.second2tick((t_ns - t0) / 1e9, TICKS_PER_BEAT, tempo))
                track.append(msg.copy(time=max(tick - last, 0)))
                last = max(tick, last)
            mid.tracks.append(track)
        return mid

    def save(self) -> bool:
        """Write the file; a full disk or an unwritable place drops the recording with a
        message (never an exception: the show, or its clean stop, matters more)."""
        tmp = self.path.with_name(self.path.name + ".part")
        try:
            self.to_midi().save(tmp)
            tmp.replace(self.path)
        except OSError as e:
            log.error("recording dropped: could not write %s: %s", self.path, e)
            tmp.unlink(missing_ok=True)
            return False
        log.info("recorded %d events to %s", self.count, self.path)
        self.saved = True
        return True

"""The step scheduler and the note ledger: which note goes out when, and who ends it.

Pure logic, no ports and no clock: the engine (``jamd.engine.process``) asks "commit the steps up to beat
b", "what is due up to beat b", and hands the returned ``(port, bytes)`` messages to the ports.
A test can drive it with any interleaving of windows, transport changes and port losses.

* A :class:`jamd.music.window.Window` (drums + bass + chord roots, 2 bars) is converted to notes with
  ``jamd.music.grid`` (the only grid->notes conversion) when it is installed, grouped by step.
* A new window waits in a double buffer and is swapped in only when a step is *committed*:
  every note of one step comes from one window. Step ``s`` is committed at its earliest note
  in the window playing now (a drum hit may be played up to half a step early), or at its grid
  time when it has none early: a control that moves the window just before a step is heard on
  that step. A new window's hit due before that commit time is played at it: a little less
  early, once, where the old window had nothing as early (nothing is lost; the first window,
  with nothing known, commits half a step early).
* :class:`NoteLedger` owns every sounding note: each note-on it lets out is matched by
  exactly one note-off - the scheduled one, or one sent by stop/panic/port loss/exit.
  Note identities make a retriggered note safe: the first note's late note-off does not cut
  the second one short.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from jamd.midi import spec as ms
from jamd.music.drumkit import GM_OUTPUT, VoiceOut
from jamd.music.grid import STEPS_PER_BEAT, BassRange, bass_to_events, drums_to_events
from jamd.music.window import Part, Window

log = logging.getLogger(__name__)

Msg = tuple[int, list[int]]
"""A message for an output: (output index, MIDI bytes)."""

Key = tuple[int, int, int]
"""(output index, channel 1-16, note)."""


# ------------------------------------------------------------------------------- ledger


class NoteLedger:
    """Every note that is sounding, per (output, channel, note), with the id of the note that
    started it. At most one note per key sounds; a second note-on on a sounding key first ends
    the one before (a receiver would otherwise see two ons and one off)."""

    def __init__(self) -> None:
        self.sounding: dict[Key, int] = {}
        #: notes that were sounding on an output when it vanished: ended when it comes back
        self.orphaned: dict[int, set[Key]] = {}
        self.ons = 0
        self.offs = 0

    def __len__(self) -> int:
        return len(self.sounding)

    def on(self, key: Key, velocity: int, note_id: int) -> list[Msg]:
        out: list[Msg] = []
        if key in self.sounding:
            out.append(self.end(key))
        self.sounding[key] = note_id
        self.ons += 1
        out.append((key[0], ms.note_on(key[1], key[2], velocity)))
        return out

    def off(self, key: Key, note_id: int) -> list[Msg]:
        """End a note if it is still the one sounding on its key (else it was already ended)."""
        if self.sounding.get(key) != note_id:
            return []
        del self.sounding[key]
        self.offs += 1
        return [(key[0], ms.note_off(key[1], key[2]))]

    def end(self, key: Key) -> Msg:
        """End the note sounding on ``key``, whichever it is."""
        del self.sounding[key]
        self.offs += 1
        return (key[0], ms.note_off(key[1], key[2]))

    def release(self, port: int | None = None, channel: int | None = None) -> list[Msg]:
        """Note-offs for what sounds (on one output / channel, or everywhere): the panic."""
        keys = [
            k
            for k in self.sounding
            if (port is None or k[0] == port) and (channel is None or k[1] == channel)
        ]
        return [self.end(k) for k in sorted(keys)]

    def port_lost(self, port: int) -> None:
        """The output vanished: nothing can be sent to it, but the device on the other end may
        still hold the notes (a cable pulled mid-note), so remember them for :meth:`port_back`."""
        keys = [k for k in self.sounding if k[0] == port]
        for k in keys:
            del self.sounding[k]
        if keys:
            self.orphaned.setdefault(port, set()).update(keys)

    def port_back(self, port: int) -> list[Msg]:
        keys = sorted(self.orphaned.pop(port, ()))
        self.offs += len(keys)
        return [(k[0], ms.note_off(k[1], k[2])) for k in keys]


# ------------------------------------------------------------------------------ windows


@dataclass(frozen=True)
class StepNote:
    """One note of a window, relative to the window start (beats)."""

    start: float
    end: float
    port: int
    channel: int
    note: int
    velocity: int
    rank: float  # 0 = loudest hit of the window ... 1 = quietest (density thins from 1)
    part: Part


@dataclass
class SchedulerConfig:
    drum_outputs: Sequence[VoiceOut] = GM_OUTPUT
    bass_range: BassRange = BassRange()
    drum_port: int = 0
    bass_port: int = 1
    #: note-ons later than this are dropped (a stall): a late flam is worse than a missing hit
    late_drop_beats: float = 0.1
    #: micro-timing scale handed to drums_to_events (0 = quantised, 1 = as the grid says);
    #: at most 1 so a hit never leaves its step's half-step neighbourhood
    timing: float = 1.0

    def __post_init__(self) -> None:
        self.timing = min(max(float(self.timing), 0.0), 1.0)


def window_notes(window: Window, cfg: SchedulerConfig) -> list[list[StepNote]]:
    """Notes of a window grouped by the grid step they belong to."""
    steps = window.steps
    per_step: list[list[StepNote]] = [[] for _ in range(steps)]
    drums = drums_to_events(window.drums, cfg.drum_outputs, timing=cfg.timing)
    # density ranks: loudest first, so thinning keeps the accents
    order = sorted(range(len(drums)), key=lambda i: -drums[i].velocity)
    rank = [0.0] * len(drums)
    for r, i in enumerate(order):
        rank[i] = r / max(len(drums), 1)
    for i, e in enumerate(drums):
        # offsets are in [-0.5, 0.5) of a step, so the step is the nearest grid line
        step = int(np.floor(e.start_beat * STEPS_PER_BEAT + 0.5 + 1e-9)) % steps
        per_step[step].append(
            StepNote(
                e.start_beat, e.end_beat, cfg.drum_port, e.channel, e.note, e.velocity, rank[i], Part.DRUMS
            )
        )
    for e in bass_to_events(window.bass, window.roots, cfg.bass_range):
        step = int(round(e.start_beat * STEPS_PER_BEAT)) % steps
        per_step[step].append(
            StepNote(e.start_beat, e.end_beat, cfg.bass_port, e.channel, e.note, e.velocity, 0.0, Part.BASS)
        )
    return per_step


# ---------------------------------------------------------------------------- scheduler


@dataclass(order=True)
class Pending:
    beat: float
    order: int  # 0 = note-off first at equal times (a repeat ends, then starts)
    seq: int
    key: Key = field(compare=False)
    velocity: int = field(compare=False)
    note_id: int = field(compare=False)


class StepScheduler:
    """Plays windows step by step on an absolute step count (step 0 = beat 0 of the song).

    Only :meth:`set_window` is called from outside the real-time loop's own logic (it puts the
    window in the back buffer); everything else runs in the loop.
    """

    def __init__(self, cfg: SchedulerConfig = SchedulerConfig()) -> None:
        self.cfg = cfg
        self.ledger = NoteLedger()
        self.active: list[list[StepNote]] | None = None
        #: per step of the active window: its earliest note's offset from the grid, in beats (<= 0)
        self.early: list[float] = []
        self.swap_step = -1  # the step the active window came in at
        self.active_id = -1
        self.steps = 0
        self._back: Window | None = None
        self.next_step = 0
        self.floor_beat = 0.0
        self.density = 1.0
        self.muted = {part: False for part in Part}
        #: (output, channel) pairs where one note sounds at a time: the bass's channel only, so
        #: drums sharing the bass's output (no bass port configured) are not cut by each other
        self.mono_channels = {(cfg.bass_port, cfg.bass_range.channel)}
        self._queue: list[Pending] = []
        self._seq = 0
        self.swaps = 0
        self.dropped_late = 0
        self.lost_ports: set[int] = set()

    # --------------------------------------------------------------- inputs from outside
    def set_window(self, window: Window) -> None:
        """Put a window in the back buffer; it is swapped in at the next step commit."""
        self._back = window

    @property
    def has_back(self) -> bool:
        return self._back is not None

    def set_density(self, density: float) -> None:
        self.density = min(max(float(density), 0.0), 1.0)

    def set_mute(self, part: Part, muted: bool) -> list[Msg]:
        """Mute a part; what it has sounding ends now."""
        self.muted[part] = bool(muted)
        if not muted:
            return []
        port = self.cfg.drum_port if part is Part.DRUMS else self.cfg.bass_port
        self._queue = [p for p in self._queue if not (p.order == 1 and p.key[0] == port)]
        heapq.heapify(self._queue)
        return self.ledger.release(port)

    # ------------------------------------------------------------------------- timing
    def commit_beat(self, step: int) -> float:
        """When step ``step`` is fixed: at its earliest note in the active window, or half a
        step early (the earliest a hit can be) before any window."""
        grid = step / STEPS_PER_BEAT
        if not self.steps:
            return grid - 0.5 / STEPS_PER_BEAT
        return grid + self.early[step % self.steps]

    def next_commit_beat(self) -> float:
        return self.commit_beat(self.next_step)

    def next_event_beat(self) -> float | None:
        return self._queue[0].beat if self._queue else None

    # -------------------------------------------------------------------------- steps
    def commit_until(self, beat: float) -> int:
        """Commit every step whose commit time is at or before ``beat``; returns how many."""
        n = 0
        while self.commit_beat(self.next_step) <= beat:
            self._commit(self.next_step)
            self.next_step += 1
            n += 1
        return n

    def _commit(self, step: int) -> None:
        at = self.commit_beat(step)  # now, as far as this step is concerned
        if self._back is not None:
            window, self._back = self._back, None
            self.active = window_notes(window, self.cfg)
            self.steps = window.steps
            self.early = [
                float(min([0.0] + [n.start - i / STEPS_PER_BEAT for n in notes]))
                for i, notes in enumerate(self.active)
            ]
            self.active_id = window.window_id
            self.swap_step = step
            self.swaps += 1
            log.debug("window %d in at step %d", window.window_id, step)
        if not self.active or not self.steps:
            return
        base = (step // self.steps) * self.steps / STEPS_PER_BEAT
        for n in self.active[step % self.steps]:
            if self.muted[n.part] or n.port in self.lost_ports:
                continue
            if n.part is Part.DRUMS and n.rank >= self.density:
                continue
            start = base + n.start
            if start < self.floor_beat:
                continue  # before a Start/locate: not part of what is played
            end = base + n.end + max(at - start, 0.0)  # a hit due before the commit keeps its length
            start = max(start, at)
            self._seq += 1
            note_id = self._seq
            key = (n.port, n.channel, n.note)
            heapq.heappush(self._queue, Pending(start, 1, note_id, key, n.velocity, note_id))
            heapq.heappush(self._queue, Pending(end, 0, note_id, key, 0, note_id))

    # ------------------------------------------------------------------------ playing
    def due(self, beat: float) -> list[Pending]:
        """Pop the events at or before ``beat``, in order."""
        out = []
        q = self._queue
        while q and q[0].beat <= beat:
            out.append(heapq.heappop(q))
        return out

    def play(self, p: Pending, now_beat: float | None = None) -> list[Msg]:
        """The messages for one due event, through the ledger."""
        if p.order == 0:
            return self.ledger.off(p.key, p.note_id)
        if p.key[0] in self.lost_ports:
            return []
        if now_beat is not None and now_beat - p.beat > self.cfg.late_drop_beats:
            self.dropped_late += 1
            log.debug("dropped late note %s (%.3f beats late)", p.key, now_beat - p.beat)
            return []
        out: list[Msg] = []
        if p.key[:2] in self.mono_channels:
            # monophonic bass: whatever else sounds on the channel ends where this one starts
            for k in [
                k for k in self.ledger.sounding if k[0] == p.key[0] and k[1] == p.key[1] and k != p.key
            ]:
                out.append(self.ledger.end(k))
        out.extend(self.ledger.on(p.key, p.velocity, p.note_id))
        return out

    def advance(self, commit_beat: float, play_beat: float) -> list[tuple[Pending, list[Msg]]]:
        """Commit up to ``commit_beat`` and play what is due up to ``play_beat``."""
        self.commit_until(commit_beat)
        return [(p, self.play(p, play_beat)) for p in self.due(play_beat)]

    # ---------------------------------------------------------------------- transport
    def stop(self) -> list[Msg]:
        """Transport stopped (or the clock vanished): drop what is queued, end what sounds."""
        self._queue.clear()
        return self.ledger.release()

    def locate(self, beat: float) -> list[Msg]:
        """Play from ``beat`` on (Start, Continue, SPP): the first step is the one at or after it."""
        out = self.stop()
        self.floor_beat = beat - 1e-9
        self.next_step = int(np.ceil(beat * STEPS_PER_BEAT - 1e-9))
        return out

    def panic(self) -> list[Msg]:
        """End everything that sounds, on every output (and drop what is queued)."""
        return self.stop()

    def port_lost(self, port: int) -> None:
        self.lost_ports.add(port)
        self.ledger.port_lost(port)

    def port_back(self, port: int) -> list[Msg]:
        self.lost_ports.discard(port)
        return self.ledger.port_back(port)

    @property
    def queued(self) -> int:
        return len(self._queue)

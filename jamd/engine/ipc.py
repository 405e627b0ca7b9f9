"""How the control/model side talks to the real-time process.

Three channels, chosen so the real-time side never waits for the other:

1. :class:`WindowBuffer` - shared memory, **written by the model side, read by the engine**.
   Two slots with a sequence lock: the writer fills the slot it is not publishing from, then
   bumps the window id; the reader copies the newest complete slot and checks that the slot's
   sequence number did not move while it copied (if it did, it keeps the old window and tries
   again at the next step). No lock is ever held across processes, so a preempted writer
   cannot delay the engine. The engine looks for a new window each time it commits a step,
   so a window published before step ``s``'s commit time (its earliest hit, at most half a
   step before ``s``; see :mod:`jamd.engine.scheduler`) plays from ``s`` on.
2. :class:`Control` messages - a ``multiprocessing`` pipe, control side -> engine: tempo,
   transport, density, mute, panic, quit (:class:`ControlKind`). The engine polls it without
   blocking.
3. :class:`RtShared` - shared memory, **written by the engine, read by anyone**: a status
   block (tempo, beat, transport, clock state, counters; read as an :class:`EngineStatus`),
   a ring buffer of timing records
   (every clock tick and note as target time vs the time it was handed to the port: what
   ``jamd bench`` reads), and a mirror of the sounding notes, so that the parent can still end
   them if the engine process is killed.
"""

from __future__ import annotations

import logging
import math
import typing
from dataclasses import dataclass, fields
from enum import Enum
from multiprocessing import shared_memory

import numpy as np

from jamd.engine.clock import Timeline
from jamd.music.grid import BassLine, DrumPattern
from jamd.music.window import Part, Window

log = logging.getLogger(__name__)


def _attach(name: str) -> shared_memory.SharedMemory:
    """Attach to a segment the control process owns. Processes started from it with
    ``multiprocessing`` share its resource tracker, so the segment is unlinked once, by the
    owner's ``close()`` (an unrelated process attaching by name would need to unregister it
    from its own tracker, Python < 3.13)."""
    return shared_memory.SharedMemory(name=name)


def _release(shm: shared_memory.SharedMemory, owner: bool) -> None:
    """Detach; the owner also removes the segment (once: it may already be gone)."""
    shm.close()
    if owner:
        try:
            shm.unlink()
        except FileNotFoundError:
            pass


MAX_STEPS = 64
MAX_VOICES = 16
_MAGIC = 0x6A616D64  # "jamd"


def _slot_dtype(ms_: int, mv: int) -> np.dtype:
    return np.dtype(
        [
            ("seq", "<i8"),
            ("window_id", "<i8"),
            ("steps", "<i4"),
            ("voices", "<i4"),
            ("hit", "<f4", (ms_, mv)),
            ("velocity", "<f4", (ms_, mv)),
            ("offset", "<f4", (ms_, mv)),
            ("bass_onset", "<f4", (ms_,)),
            ("bass_pitch", "<i2", (ms_,)),
            ("bass_velocity", "<f4", (ms_,)),
            ("bass_length", "<i2", (ms_,)),
            ("roots", "<i1", (ms_,)),
        ]
    )


class WindowBuffer:
    """The double buffer of windows in shared memory (see module doc).

    Model side::

        buf = WindowBuffer.attach(name)           # or the EngineHandle's .windows
        buf.publish(Window(drums, bass, roots))   # returns the new window id

    ``drums`` is a :class:`jamd.music.grid.DrumPattern` (steps x voices, steps <= 64, voices <= 16),
    ``bass`` a :class:`jamd.music.grid.BassLine` of the same steps, ``roots`` the chord root pitch
    class (0-11) per step.
    """

    HEADER = 64

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        self.shm = shm
        self.owner = owner
        head = np.ndarray((8,), "<i8", shm.buf, 0)
        if owner:
            head[:] = 0
            head[0], head[1], head[2] = _MAGIC, MAX_STEPS, MAX_VOICES
        elif head[0] != _MAGIC:
            raise ValueError(f"{shm.name} is not a jamd window buffer")
        self._head = head
        self._dt = _slot_dtype(int(head[1]), int(head[2]))
        self._slots = np.ndarray((2,), self._dt, shm.buf, self.HEADER)
        self.read_id = 0

    @classmethod
    def create(cls, name: str | None = None) -> WindowBuffer:
        size = cls.HEADER + 2 * _slot_dtype(MAX_STEPS, MAX_VOICES).itemsize
        return cls(shared_memory.SharedMemory(name=name, create=True, size=size), owner=True)

    @classmethod
    def attach(cls, name: str) -> WindowBuffer:
        return cls(_attach(name), owner=False)

    @property
    def name(self) -> str:
        return self.shm.name

    @property
    def latest_id(self) -> int:
        return int(self._head[3])

    def publish(self, window: Window) -> int:
        d, b = window.drums, window.bass
        steps, voices = d.hit.shape
        if steps > MAX_STEPS or voices > MAX_VOICES or b.steps != steps or len(window.roots) < steps:
            raise ValueError(
                f"window must be <= {MAX_STEPS} steps x {MAX_VOICES} voices, "
                "with bass and roots of the same steps"
            )
        n = self.latest_id + 1
        s = self._slots[n % 2]
        s["seq"] = 2 * n + 1  # odd: being written
        s["window_id"] = n
        s["steps"], s["voices"] = steps, voices
        for f, a in (("hit", d.hit), ("velocity", d.velocity), ("offset", d.offset)):
            s[f][:steps, :voices] = a
        s["bass_onset"][:steps] = b.onset
        s["bass_pitch"][:steps] = b.pitch
        s["bass_velocity"][:steps] = b.velocity
        s["bass_length"][:steps] = b.length
        s["roots"][:steps] = np.asarray(window.roots[:steps]) % 12
        s["seq"] = 2 * n + 2  # even: complete
        self._head[3] = n
        return n

    def read(self) -> Window | None:
        """The newest complete window if it is newer than the last one read, else None."""
        n = int(self._head[3])
        if n == self.read_id or n == 0:
            return None
        s = self._slots[n % 2]
        seq = int(s["seq"])
        if seq != 2 * n + 2:
            return None  # being rewritten: try again at the next step
        steps, voices = int(s["steps"]), int(s["voices"])
        drums = DrumPattern(
            s["hit"][:steps, :voices].copy(),
            s["velocity"][:steps, :voices].copy(),
            s["offset"][:steps, :voices].copy(),
        )
        bass = BassLine(
            s["bass_onset"][:steps].copy(),
            s["bass_pitch"][:steps].copy(),
            s["bass_velocity"][:steps].copy(),
            s["bass_length"][:steps].copy(),
        )
        roots = s["roots"][:steps].astype(np.int64)
        if int(s["seq"]) != seq:
            return None  # torn: the writer came round again meanwhile
        self.read_id = n
        return Window(drums, bass, roots, n)

    def close(self) -> None:
        self._head = self._slots = None  # type: ignore[assignment]
        _release(self.shm, self.owner)


# ----------------------------------------------------------------------------- control


class ControlKind(Enum):
    """What a :class:`Control` asks of the engine."""

    TEMPO = "tempo"  # value = BPM (proposed to the session with Link)
    START = "start"
    STOP = "stop"
    CONTINUE = "continue"
    LOCATE = "locate"  # value = beat
    DENSITY = "density"  # value in [0, 1]: 1 = every drum hit, lower drops the quietest first
    MUTE = "mute"  # part; value 1 = mute, 0 = unmute
    PANIC = "panic"  # end every sounding note now
    GRID = "grid"  # timeline = the drummer's grid as the tracker hears it (clock.mode drummer)
    QUIT = "quit"


#: What the clock master decides: ignored when following MIDI clock.
TRANSPORT_CONTROLS = frozenset(
    (ControlKind.TEMPO, ControlKind.START, ControlKind.STOP, ControlKind.CONTINUE, ControlKind.LOCATE)
)


@dataclass(frozen=True)
class Control:
    """One control message (see :class:`ControlKind` for what ``value`` means). It crosses a
    process boundary, where a malformed message would stop the engine: it is checked here,
    on the control side."""

    kind: ControlKind
    value: float = 0.0
    part: Part | None = None  # MUTE: which part
    timeline: Timeline | None = None  # GRID: the drummer's grid

    def __post_init__(self) -> None:
        if not isinstance(self.kind, ControlKind):
            raise TypeError(f"a control's kind is a ControlKind, not {self.kind!r}")
        if (self.kind is ControlKind.MUTE) != isinstance(self.part, Part):
            raise ValueError(f"a part goes with mute, and only with mute: {self.kind} {self.part!r}")
        if (self.kind is ControlKind.GRID) != isinstance(self.timeline, Timeline):
            raise ValueError(f"a timeline goes with grid, and only with grid: {self.kind} {self.timeline!r}")
        if self.timeline is not None and not (
            self.timeline.ns_per_beat > 0 and math.isfinite(self.timeline.anchor_beat)
        ):
            raise ValueError(f"not a grid: {self.timeline!r}")


# -------------------------------------------------------------------- engine -> anyone

# timing record kinds
REC_TICK, REC_NOTE_ON, REC_NOTE_OFF, REC_TRANSPORT, REC_LATE, REC_SWAP = 1, 2, 3, 4, 5, 6
REC_NAMES = {
    REC_TICK: "tick",
    REC_NOTE_ON: "note_on",
    REC_NOTE_OFF: "note_off",
    REC_TRANSPORT: "transport",
    REC_LATE: "late",
    REC_SWAP: "swap",
}
# REC_SWAP: a new window came in. target = the grid time of the first step it plays, sent = the
# loop turn that read it (any window published before then is in it), data = its window id.


@dataclass(frozen=True)
class EngineStatus:
    """The engine's status block as the control side reads it (one float64 per field in shared
    memory). The engine rewrites it every ``RtConfig.status_ms``; ``updated_ns`` says when
    (``perf_counter_ns``), so the position in between is :meth:`beat_at`."""

    alive: bool = False
    bpm: float = 0.0
    beat: float = 0.0  # the song position at updated_ns
    running: bool = False
    clock_ok: bool = False  # False: a followed MIDI clock is lost (or not found yet)
    peers: int = 0  # Link
    ticks_sent: int = 0  # MIDI clock ticks sent (internal) or followed (midi)
    notes_on: int = 0
    notes_off: int = 0
    sounding: int = 0
    dropped_late: int = 0  # notes not played: they would have been too late
    window_id: int = 0  # the window playing
    swaps: int = 0  # windows swapped in
    ports_lost: int = 0
    rt_priority: int = 0  # the SCHED_FIFO priority granted (0: none)
    updated_ns: int = 0
    max_late_ns: int = 0
    dropped_input: int = 0  # clock-input messages not acted on

    def beat_at(self, t_ns: int) -> float:
        """The song position at ``t_ns``: extrapolated at the tempo while running."""
        if not self.running:
            return self.beat
        return self.beat + (t_ns - self.updated_ns) * self.bpm / 60e9

    def time_at(self, beat: float) -> float:
        """When the song reaches ``beat`` at the tempo (ns, ``perf_counter_ns``), while running."""
        return self.updated_ns + (beat - self.beat) * 60e9 / self.bpm


#: status block fields, in their order in shared memory, and their types
STATUS_FIELDS = tuple(f.name for f in fields(EngineStatus))
_STATUS_TYPES = typing.get_type_hints(EngineStatus)
MAX_PORTS = 8


class RtShared:
    """Status, timing records and the sounding-note mirror (see module doc)."""

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool, capacity: int) -> None:
        self.shm, self.owner, self.capacity = shm, owner, capacity
        off = 0
        self.status = np.ndarray((len(STATUS_FIELDS),), "<f8", shm.buf, off)
        off += 8 * len(STATUS_FIELDS)
        self._count = np.ndarray((1,), "<i8", shm.buf, off)
        off += 8
        self.records = np.ndarray((capacity, 4), "<i8", shm.buf, off)
        off += 32 * capacity
        self.sounding = np.ndarray((MAX_PORTS, 16, 128), "u1", shm.buf, off)
        if owner:
            self.status[:] = 0
            self._count[0] = 0
            self.sounding[:] = 0
        self._index = {f: i for i, f in enumerate(STATUS_FIELDS)}

    @staticmethod
    def size(capacity: int) -> int:
        return 8 * len(STATUS_FIELDS) + 8 + 32 * capacity + MAX_PORTS * 16 * 128

    @classmethod
    def create(cls, capacity: int = 1 << 16) -> RtShared:
        return cls(shared_memory.SharedMemory(create=True, size=cls.size(capacity)), True, capacity)

    @classmethod
    def attach(cls, name: str, capacity: int = 1 << 16) -> RtShared:
        return cls(_attach(name), False, capacity)

    @property
    def name(self) -> str:
        return self.shm.name

    # engine side (hot path: plain index writes, no allocation)
    def record(self, kind: int, target_ns: int, sent_ns: int, data: int = 0) -> None:
        i = int(self._count[0])
        r = self.records[i % self.capacity]
        r[0], r[1], r[2], r[3] = kind, target_ns, sent_ns, data
        self._count[0] = i + 1

    def set(self, field: str, value: float) -> None:
        self.status[self._index[field]] = value

    # reader side
    def get(self, field: str) -> float:
        return float(self.status[self._index[field]])

    def read_status(self) -> EngineStatus:
        return EngineStatus(**{f: _STATUS_TYPES[f](v) for f, v in zip(STATUS_FIELDS, self.status)})

    @property
    def count(self) -> int:
        return int(self._count[0])

    def read_records(self, since: int = 0) -> tuple[np.ndarray, int]:
        """Records written since count ``since`` (at most ``capacity``), and the new count."""
        end = self.count
        start = max(since, end - self.capacity)
        idx = np.arange(start, end) % self.capacity
        return self.records[idx].copy(), end

    def close(self) -> None:
        self.status = self.records = self.sounding = self._count = None  # type: ignore[assignment]
        _release(self.shm, self.owner)


def pack_message(port: int, msg: list[int]) -> int:
    """A sent channel message in a timing record's data field: port, status, data 1, data 2 —
    enough for a recording of exactly what the gear was sent."""
    return (port << 24) | (msg[0] << 16) | (msg[1] << 8) | (msg[2] if len(msg) > 2 else 0)


def unpack_message(data: int) -> tuple[int, list[int]]:
    """The inverse of :func:`pack_message`: ``(port, [status, data1, data2])``."""
    data = int(data)
    return data >> 24, [(data >> 16) & 0xFF, (data >> 8) & 0x7F, data & 0x7F]


def sent_messages(records: np.ndarray):
    """``(port, [status, data1, data2], sent_ns)`` for every note record, in order."""
    for kind, _target, sent, data in records:
        if kind in (REC_NOTE_ON, REC_NOTE_OFF):
            yield *unpack_message(data), int(sent)


def jitter_stats(records: np.ndarray, kind: int = REC_TICK) -> dict[str, float]:
    """p50/p99/max of |sent - target| in ms for one record kind (what ``jamd bench`` prints)."""
    sel = records[records[:, 0] == kind]
    if not len(sel):
        return {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    err = np.abs(sel[:, 2] - sel[:, 1]) / 1e6
    return {
        "n": int(len(err)),
        "p50_ms": float(np.percentile(err, 50)),
        "p99_ms": float(np.percentile(err, 99)),
        "max_ms": float(err.max()),
    }

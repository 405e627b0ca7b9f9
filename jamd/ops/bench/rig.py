"""The rig around jamd: the controller's CC sweep and the drummer's groove as timed MIDI events,
played by a separate process into real JACK MIDI ports, or, without JACK, pushed into the
daemon's input polling by :class:`QueueInput`."""

from __future__ import annotations

import collections
import multiprocessing as mp
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import rtmidi

from jamd.engine.clock import Timeline
from jamd.music.grid import BEATS_PER_BAR
from jamd.ops.bench.conditions import (
    CC_HZ,
    CC_KNOB,
    DRUMMER_CHANNEL,
    RIG_CTL,
    RIG_DRUMMER,
    RIG_SINK,
    now_ns,
    sweep_value,
)

if TYPE_CHECKING:  # not at run time: the rig process imports this module and needs no daemon
    from jamd.live.config import Config
    from jamd.live.daemon import Daemon

Event = tuple[int, str, list[int]]  # (perf_counter_ns, "ctl" | "drummer", bytes)


def cc_events(t_begin: int, t_end: int, hz: float = CC_HZ) -> list[Event]:
    period = 1e9 / hz
    n = int((t_end - t_begin) / period)
    return [(t_begin + round(i * period), "ctl", [0xB0, CC_KNOB, sweep_value(i)]) for i in range(n)]


def drummer_events(
    notes, loop_beats: float, timeline: Timeline, first_beat: float, t_end: int
) -> list[Event]:
    """A looped groove (``jamd.music.grid.NoteIn``s) as note-ons on the drummer's channel, from
    ``first_beat`` on, until ``t_end``."""
    out: list[Event] = []
    base = first_beat
    while timeline.time_at(base) < t_end:
        for n in notes:
            t = timeline.time_at(base + n.beat)
            if t < t_end and base + n.beat >= first_beat:
                out.append((t, "drummer", [0x90 | (DRUMMER_CHANNEL - 1), n.note, max(1, int(n.velocity))]))
        base += loop_beats
    return out


def count_in_events(timeline: Timeline, note: int = 44) -> list[Event]:
    """A bar of quarter notes on the hi-hat pedal (GM 44) before beat 0: the drummer's count-in."""
    return [
        (round(timeline.time_at(float(b))), "drummer", [0x90 | (DRUMMER_CHANNEL - 1), note, 90])
        for b in range(-BEATS_PER_BAR, 0)
    ]


def play_events(
    events: Sequence[Event],
    send: Callable[[str, list[int]], None],
    idle: Callable[[], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Send each event at its time: sleep only (a spinning feeder would take a core, or the
    GIL, from what is measured; a late CC is simply a later arrival). Returns events sent."""
    sent = 0
    for t_ns, port, msg in events:
        left = t_ns - now_ns()
        if left > 0:
            time.sleep(left / 1e9)
        send(port, msg)
        sent += 1
        if sent % 64 == 0:
            if idle is not None:
                idle()
            if should_stop is not None and should_stop():
                break
    return sent


def jack_reachable() -> bool:
    """A JACK server this process may use (``JACK_DEFAULT_SERVER`` or the default one)."""
    from jamd.midi.ports import compiled_apis, list_ports

    return "jack" in compiled_apis() and list_ports("jack").error is None


def jack_sink(client: str, clock: bool, queue: int = 1024) -> rtmidi.MidiIn:
    """A virtual JACK MIDI input (``client:in``) for what jamd sends; ``clock``: keep its clock
    ticks (rtmidi drops them by default)."""
    sink = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=client, queue_size_limit=queue)
    sink.ignore_types(sysex=True, timing=not clock, active_sense=True)
    sink.open_virtual_port("in")
    return sink


def close_port(port: rtmidi.MidiIn | rtmidi.MidiOut) -> None:
    port.close_port()
    port.delete()


def rig_main(conn) -> None:
    """The bench's rig over JACK, in its own process (as a real controller and drummer are
    outside jamd): virtual outputs for the controller and the drummer, and a sink for what
    jamd sends, drained so its queue never fills. Commands over ``conn``: ("play", events) ->
    ("played", n); ("quit",)."""
    outs, sink = {}, None
    try:
        for role, client in (("ctl", RIG_CTL), ("drummer", RIG_DRUMMER)):
            outs[role] = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=client)
            outs[role].open_virtual_port("out")
        sink = jack_sink(RIG_SINK, clock=True, queue=8192)
        received = [0]

        def drain() -> None:
            while sink.get_message() is not None:
                received[0] += 1

        conn.send(("ready",))
        while True:
            if conn.poll(0.005):
                cmd = conn.recv()
                if cmd[0] == "quit":
                    break
                if cmd[0] == "play":
                    n = play_events(
                        cmd[1], lambda port, msg: outs[port].send_message(msg), drain, lambda: conn.poll(0)
                    )
                    conn.send(("played", n, received[0]))
            drain()
    finally:
        for p in [*outs.values(), sink]:
            if p is not None:
                close_port(p)


class QueueInput:
    """Without JACK: an :class:`jamd.live.inputs.InputPort` in the daemon's input list, where a
    :class:`jamd.midi.ports.ManagedInput` would be. The feeder thread pushes messages; each is
    stamped on arrival, as rtmidi does."""

    def __init__(self, name: str) -> None:
        self.name, self.lost = name, False
        self._q: collections.deque = collections.deque()

    def push(self, msg: list[int]) -> None:
        self._q.append((msg, now_ns()))

    def poll(self, now: int) -> list[tuple[list[int], int]]:
        # as many as are queued now: the feeder thread may append meanwhile
        return [self._q.popleft() for _ in range(len(self._q))]

    def check(self) -> None:
        return None

    def close(self) -> None:
        self._q.clear()


class JackRig:
    """The rig over JACK: :func:`rig_main` in a process of its own. The daemon finds its ports
    by the names in the bench's config."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.sent = 0
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=rig_main, args=(child,), name="jamd-bench-rig", daemon=True)
        self._proc.start()
        if not self._conn.poll(20) or self._conn.recv()[0] != "ready":
            self._stop()
            raise RuntimeError("the bench's JACK rig did not come up")

    def attach(self, daemon: Daemon, config: Config) -> None:
        """Nothing to do: the daemon opens the rig's ports itself."""

    def play(self, events: Sequence[Event], should_stop: Callable[[], bool]) -> None:
        # the rig process stops on its own command pipe (``quit``), not on ``should_stop``
        self._conn.send(("play", events))

    def close(self) -> None:
        if self._conn.poll(5):
            self.sent = self._conn.recv()[1]
        self._conn.send(("quit",))
        self._proc.join(10)
        self._stop()

    def _stop(self) -> None:
        if self._proc.is_alive():
            self._proc.terminate()  # SIGTERM to ours, by its PID
            self._proc.join(5)


class FeederRig:
    """The rig without JACK: a feeder thread pushes the events into :class:`QueueInput`\\ s that
    the daemon polls as its controller and drummer inputs."""

    def __init__(self) -> None:
        self.sent = 0
        self.queues = {"ctl": QueueInput(RIG_CTL), "drummer": QueueInput(RIG_DRUMMER)}
        self._thread: threading.Thread | None = None

    def attach(self, daemon: Daemon, config: Config) -> None:
        """The queues join the daemon's inputs, the controller with the mapping jamd would give
        a port of that name."""
        daemon.inputs.ports += [("controller", self.queues["ctl"]), ("drummer", self.queues["drummer"])]
        daemon.controllers.attach(RIG_CTL, config.controller_mappings())
        if RIG_CTL not in daemon.controllers.mappers:
            raise RuntimeError(f"no controller mapping matches {RIG_CTL!r}: the bench's config names one")

    def play(self, events: Sequence[Event], should_stop: Callable[[], bool]) -> None:
        def feed() -> None:
            self.sent = play_events(
                events, lambda port, msg: self.queues[port].push(msg), should_stop=should_stop
            )

        self._thread = threading.Thread(target=feed, name="jamd-bench-feeder", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join(5)

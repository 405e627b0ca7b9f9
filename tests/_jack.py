"""Starting and stopping a JACK server of the tests' own (dummy driver): for the session's
``jack_server`` fixture (conftest.py) and for tests that need a server they may stop."""

from __future__ import annotations

import logging
import os
import signal
import struct
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

# JACK2's shared server registry (common/shm.h): six int32 (magic "KCAJ", protocol, type, size,
# hdr_len, entry_len), then MAX_SERVERS entries of {pid_t pid; char name[...]}, then segments
REGISTRY = Path("/dev/shm/jack-shm-registry")
MAX_SERVERS = 8
HEADER = struct.Struct("<4s5i")


def _jackd_args(pid: int | str) -> list[bytes] | None:
    """The command line of process ``pid`` if it is a jackd, else None (gone, or another)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    return args if args[0].endswith(b"jackd") else None


class Slot(NamedTuple):
    """A taken server slot of the registry: where it is in the file, its pid and name."""

    at: int
    size: int
    pid: int
    name: str


def server_slots(registry: Path = REGISTRY) -> list[Slot]:
    """The registry's taken server slots; none without a registry."""
    try:
        data = registry.read_bytes()
    except OSError:
        return []  # no registry yet: no server ever ran
    if len(data) < HEADER.size or data[:4] != b"KCAJ":
        return []
    stride = (HEADER.unpack_from(data)[4] - HEADER.size) // MAX_SERVERS
    slots = []
    for at in range(HEADER.size, HEADER.size + MAX_SERVERS * stride, stride):
        pid = struct.unpack_from("<i", data, at)[0]
        if pid:
            name = data[at + 4 : at + stride].split(b"\0", 1)[0].decode(errors="replace")
            slots.append(Slot(at, stride, pid, name))
    return slots


BANNER = ("jackdmp", "Copyright", "This is free software", "under certain conditions")


def jackd_said(log_path) -> str:
    """jackd's log without its banner: its error ("Too many servers already active") comes
    before the banner, which a log's tail would show instead."""
    lines = Path(log_path).read_text(errors="replace").splitlines()
    return " / ".join(ln for ln in lines if ln.strip() and not ln.startswith(BANNER))


def free_dead_server_slots(registry: Path = REGISTRY) -> list[str]:
    """Empty the registry slots of servers that are no longer running; the names freed.

    A jackd killed without cleaning up (SIGKILL, a session's end) keeps its slot, and JACK
    reclaims it only for a new server of the *same* name, or not at all once its pid is reused.
    With 8 slots, a machine that ran servers under changing names ends with every later jackd
    failing "Too many servers already active" (seen in CI: every JACK test failed at setup).
    A slot whose pid is not a running jackd is dead: zeroing it is what JACK's own reclaim does.
    """
    dead = [slot for slot in server_slots(registry) if _jackd_args(slot.pid) is None]
    if dead:
        try:
            fd = os.open(registry, os.O_RDWR)
        except OSError:
            return []  # another user's registry: not ours to mend
        try:
            for slot in dead:
                os.pwrite(fd, bytes(slot.size), slot.at)
        finally:
            os.close(fd)
    freed = [slot.name for slot in dead]
    if freed:
        log.warning("freed the JACK registry slots of dead servers: %s", ", ".join(freed))
    return freed


def _jack_ready(proc, timeout: float) -> bool:
    """True once a client can connect *and* our jackd is still running (if a server of that
    name already existed, ours exits at once and the probe would reach the other one)."""
    import rtmidi

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            probe = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="jamd-probe")
            probe.delete()
            time.sleep(0.2)
            return proc.poll() is None
        except rtmidi.SystemError:
            time.sleep(0.05)
    return False


def names_in_use() -> set[str]:
    """Server names of the jackd processes running now (other test runs, other people)."""
    names = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        args = _jackd_args(d)
        if args is not None and b"-n" in args:
            i = args.index(b"-n")
            if i + 1 < len(args):
                names.add(args[i + 1].decode(errors="replace"))
    return names


def _die_with_parent() -> None:
    """In the child before exec: jackd gets SIGINT when pytest dies (killed by a timeout, say),
    instead of living on as an orphan that holds a registry slot."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def stop_jackd(proc) -> None:
    """SIGINT, not SIGTERM: jackd then removes itself from JACK's shared server registry,
    which has only 8 slots (a full one fails every later server: "Too many servers")."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_jackd(jackd: str, name: str, log_path) -> subprocess.Popen | None:
    """A JACK server of this name (dummy driver, 48 kHz, 32-frame periods, ``-S``), running and
    reachable; None (and nothing left running) if it did not come up in 10 s."""
    free_dead_server_slots()
    # its log goes to a file, never a pipe: nobody reads a pipe during the run, and once its
    # 64 KiB fill up with xrun reports jackd's driver thread blocks on the write and every
    # client's next JACK call hangs with it
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [jackd, "-n", name, "-t", "500", "-r", "-S", "-d", "dummy", "-r", "48000", "-p", "32"],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    if _jack_ready(proc, 10.0):
        return proc
    stop_jackd(proc)
    return None

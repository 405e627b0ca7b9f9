"""The tests' JACK helper frees the registry slots of killed servers (CI failed every JACK test
at setup once 8 servers killed by earlier runs held all the slots: "Too many servers")."""

from __future__ import annotations

import shutil
import signal
import struct
import subprocess
import sys

import pytest

from tests._jack import HEADER, MAX_SERVERS, REGISTRY, free_dead_server_slots, server_slots, start_jackd

STRIDE = 264  # what jackd 1.9.21 writes: pid_t + a 260-byte name


def registry_names(path=REGISTRY) -> list[str]:
    return [slot.name for slot in server_slots(path)]


def fake_registry(path, entries: list[tuple[int, str]]):
    hdr_len = HEADER.size + MAX_SERVERS * STRIDE
    data = bytearray(hdr_len + 64)
    HEADER.pack_into(data, 0, b"KCAJ", 0, 1, len(data), hdr_len, 268)
    for i, (pid, name) in enumerate(entries):
        struct.pack_into(f"<i{STRIDE - 4}s", data, HEADER.size + i * STRIDE, pid, name.encode())
    path.write_bytes(bytes(data))


def test_slots_of_processes_that_are_gone_or_not_jackd_are_freed(tmp_path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid is free now
    reg = tmp_path / "registry"
    fake_registry(reg, [(gone.pid, "jack-0:old:"), (0, ""), (1, "jack-0:reused-pid:")])
    assert free_dead_server_slots(reg) == ["jack-0:old:", "jack-0:reused-pid:"]
    assert registry_names(reg) == []
    assert free_dead_server_slots(reg) == []  # nothing more to do


def test_a_file_that_is_not_a_registry_is_left_alone(tmp_path) -> None:
    other = tmp_path / "registry"
    other.write_bytes(b"not jack" * 100)
    assert free_dead_server_slots(other) == [] and other.read_bytes() == b"not jack" * 100
    assert free_dead_server_slots(tmp_path / "none") == []


@pytest.mark.jack
def test_a_killed_servers_slot_is_freed_and_a_running_ones_kept(jack_server, tmp_path) -> None:
    jackd = shutil.which("jackd")
    assert jackd is not None
    killed = start_jackd(jackd, "jamdtestkilled", tmp_path / "jackd.log")
    assert killed is not None
    killed.send_signal(signal.SIGKILL)  # no clean-up: its slot stays taken
    killed.wait()
    assert any(":jamdtestkilled:" in n for n in registry_names())
    freed = free_dead_server_slots()
    assert any(":jamdtestkilled:" in n for n in freed)
    left = registry_names()
    assert not any(":jamdtestkilled:" in n for n in left)
    assert any(f":{jack_server}:" in n for n in left)  # the live server's slot is kept

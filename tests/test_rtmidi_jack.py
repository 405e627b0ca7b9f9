"""python-rtmidi as jamd installs it (scripts/patched-rtmidi) over a real JACK server: an output
whose server died drops what it cannot deliver. RtMidi as released waits for room in the
output's ring buffer in a loop, which nothing empties once the server is gone: after ~2,300
messages jamd's engine spun there forever at real-time priority (issue 17). The other fix, an
input reading an event that a late cycle emptied, is a race: scripts/stress-jack-input measures
it against a stock build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests._jack import jackd_said, start_jackd, stop_jackd

SENDER = """
import sys, time, rtmidi
sink = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name="gone-sink")
sink.open_virtual_port("in")
out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="gone-out")
out.open_port(out.get_ports().index("gone-sink:in"))
print("ready", flush=True)
sys.stdin.readline()  # the server is gone now
t = time.monotonic()
for _ in range(10_000):  # the ring buffer holds about 2,300 of these
    out.send_message([0x90, 60, 100])
print(f"sent in {time.monotonic() - t:.3f} s", flush=True)
"""


@pytest.mark.jack
def test_an_output_whose_server_died_drops_instead_of_spinning(tmp_path, monkeypatch) -> None:
    jackd = shutil.which("jackd")
    if jackd is None:
        pytest.skip("jackd is not installed")
    name = "jamdtestgone"  # its own server: this test stops it
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    server = start_jackd(jackd, name, tmp_path / "jackd.log")
    assert server is not None, "jackd did not come up: " + jackd_said(tmp_path / "jackd.log")
    child = subprocess.Popen(
        [sys.executable, "-c", SENDER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        stop_jackd(server)
        out, _ = child.communicate("go\n", timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("send_message still blocked 30 s after the JACK server died")
    finally:
        child.kill()
        child.wait()
        stop_jackd(server)
    assert out.startswith("sent in"), out

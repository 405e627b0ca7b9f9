"""What a newcomer meets on a first run, as a subprocess: no JACK server, a taken OSC port.
Each ends in one line that says what was found, never a traceback or a C library's noise."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

#: What libjack prints to fd 2 when no server runs (and alsa-lib without a sequencer).
C_NOISE = ("Cannot connect", "JackShm", "jack server is not running", "ALSA lib")


@pytest.fixture
def busy_udp_port():
    """A UDP port on 127.0.0.1 that another program holds while the test runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def jamd(tmp_path: Path, *args: str, config: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))
    # a server name nobody runs: this is a machine without JACK, whatever runs here
    env["JACK_DEFAULT_SERVER"] = f"jamd-no-server-{os.getpid()}"
    if config is not None:
        (tmp_path / "jamd.yaml").write_text(config)
        args = (*args, "--config", str(tmp_path / "jamd.yaml"))
    cmd = [sys.executable, "-m", "jamd", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def no_noise(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert not [line for line in stderr.splitlines() if any(n in line for n in C_NOISE)], stderr


def test_ports_without_a_jack_server_is_quiet(tmp_path):
    r = jamd(tmp_path, "ports", "--api", "jack")
    assert r.returncode == 0
    no_noise(r.stderr)
    assert "JACK server not running" in r.stdout


def test_demo_without_jack_and_with_the_osc_port_taken_plays_and_says_both_in_a_line(tmp_path, busy_udp_port):
    # no sound: its line is tests/test_sound.py's
    config = f"ports: {{api: jack}}\nosc: {{port: {busy_udp_port}}}\nsound: {{enabled: false}}\n"
    r = jamd(tmp_path, "run", "--demo", "--bars", "1", "--no-status", config=config)
    assert r.returncode == 0, r.stderr
    no_noise(r.stderr)
    assert r.stderr.splitlines() == [
        f"UDP port {busy_udp_port} is taken by another program: the demo runs without OSC",
        "the demo is recorded to jamd-demo.mid, no MIDI ports here: cannot use MIDI API jack: "
        "MidiInJack::initialize: JACK server not running? (start jackd first)",
    ]
    assert (tmp_path / "jamd-demo.mid").stat().st_size > 100


def test_run_with_the_osc_port_taken_is_one_line_exit_2(tmp_path, busy_udp_port):
    config = f"ports: {{virtual: false}}\nosc: {{port: {busy_udp_port}}}\n"
    r = jamd(tmp_path, "run", "--bars", "1", config=config)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"jamd run: cannot listen for OSC on UDP port {busy_udp_port}: another program uses it "
        "(choose another osc.port in the config, or osc.enabled: false)"
    ]


def test_run_without_a_jack_server_says_why_in_a_line_exit_2(tmp_path):
    """Not the engine process's traceback and then the control side's (before the fix)."""
    r = jamd(tmp_path, "run", "--bars", "1", config="ports: {api: jack}\nosc: {enabled: false}\n")
    assert r.returncode == 2, r.stderr
    no_noise(r.stderr)
    assert r.stderr.splitlines()[-2:] == [
        "ERROR jamd.engine.entry[rt]: cannot use MIDI API jack: MidiOutJack::initialize: "
        "JACK server not running? (start jackd first)",
        "jamd run: the real-time engine failed to start (exit code 2)",
    ]

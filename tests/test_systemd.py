"""The unit files verify cleanly, and the notify protocol reaches a real datagram socket."""

import logging
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from jamd.base.logsetup import setup_logging
from jamd.live.notify import Notifier, watchdog_interval_s

ROOT = Path(__file__).resolve().parent.parent


def test_unit_files_verify_without_any_output():
    if shutil.which("systemd-analyze") is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze missing: scripts/bootstrap test should install systemd")
        pytest.skip("systemd-analyze not installed")
    units = sorted(str(p) for p in (ROOT / "systemd").glob("*.service"))
    assert len(units) >= 2
    # systemd-analyze exits 0 even on unknown keys and bad values: any output is a failure.
    r = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    assert (r.returncode, r.stdout + r.stderr) == (0, "")


def test_system_unit_has_what_a_rack_needs():
    unit = (ROOT / "systemd" / "jamd.service").read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=always",
        "LimitRTPRIO=",
        "LimitMEMLOCK=",
        "Environment=OPENBLAS_NUM_THREADS=1",
        "SupplementaryGroups=audio",
        "User=jamd",
    ):
        assert line in unit


@pytest.fixture
def notify_socket(tmp_path):
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield path, sock
    sock.close()


def test_notifier_sends_states_to_the_socket(notify_socket):
    path, sock = notify_socket
    n = Notifier(path)
    assert n.ready("clock running") and n.watchdog() and n.stopping()
    got = [sock.recv(256).decode() for _ in range(3)]
    assert got == ["READY=1\nSTATUS=clock running", "WATCHDOG=1", "STOPPING=1"]
    n.close()


def test_notifier_is_silent_outside_systemd(monkeypatch, tmp_path):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier().enabled and Notifier().ready() is False
    # a socket that went away must not raise: the music goes on
    assert Notifier(str(tmp_path / "gone")).watchdog() is False


def test_watchdog_interval(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "5000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval_s() == 2.5
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval_s() is None


def test_journal_lines_carry_priority_and_no_timestamp(monkeypatch, capsys):
    monkeypatch.setenv("JOURNAL_STREAM", "8:1234")
    setup_logging(0)
    logging.getLogger("jamd.test").info("clock locked at %.1f BPM", 97.3)
    logging.getLogger("jamd.test").warning("port gone")
    assert capsys.readouterr().err.splitlines() == [
        "<6>jamd.test: clock locked at 97.3 BPM",
        "<4>jamd.test: port gone",
    ]

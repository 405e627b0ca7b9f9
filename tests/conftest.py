"""Shared fixtures.

JACK (owned by the real-time core): ``jack_server`` starts ``jackd`` with the dummy driver
(real JACK MIDI ports, no sound card) under a server name unique to this test run, exports it
as ``JACK_DEFAULT_SERVER`` (so processes the tests spawn use it too) and kills it afterwards.
Tests that use it are skipped with a reason only when jackd is not installed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest


def _jack_ready(timeout: float) -> bool:
    import rtmidi
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            probe = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="jamd-probe")
            probe.delete()
            return True
        except rtmidi.SystemError:
            time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def jack_server():
    """The name of a running JACK server (dummy driver, 48 kHz, 32-frame periods)."""
    jackd = shutil.which("jackd")
    if jackd is None:
        pytest.skip("jackd is not installed (apt-get install --no-install-recommends jackd2)")
    name = f"jamdtest{os.getpid()}"
    old = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    proc = subprocess.Popen([jackd, "-n", name, "-r", "-d", "dummy", "-r", "48000", "-p", "32"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not _jack_ready(10.0):
            proc.terminate()
            err = proc.communicate(timeout=5)[1].decode(errors="replace")[-500:]
            pytest.fail(f"jackd did not come up: {err}")
        yield name
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ------------------------------------------------------------------ slow tests (opt-in)
# Long versions of the soak and fuzz tests are marked ``@pytest.mark.slow`` (the marker is
# declared in pyproject.toml) and run only with ``pytest --run-slow``.

def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (hours-long soak, long fuzz runs)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)

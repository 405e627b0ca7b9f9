"""Shared fixtures.

JACK (owned by the real-time core): ``jack_server`` starts ``jackd`` with the dummy driver
(real JACK MIDI ports, no sound card) under a server name unique to this test run, exports it
as ``JACK_DEFAULT_SERVER`` (so processes the tests spawn use it too) and kills it afterwards.
Tests that use it are skipped with a reason only when jackd is not installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest


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


def _names_in_use() -> set[str]:
    """Server names of the jackd processes running now (other test runs, other people)."""
    names = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            args = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"jackd") and b"-n" in args:
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


def _stop_jackd(proc) -> None:
    """SIGINT, not SIGTERM: jackd then removes itself from JACK's shared server registry,
    which has only 8 slots (a full one fails every later server: "Too many servers")."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _start_jackd(jackd: str, name: str, log_path) -> subprocess.Popen | None:
    """A JACK server of this name (dummy driver, 48 kHz, 32-frame periods, ``-S``), running and
    reachable; None (and nothing left running) if it did not come up in 10 s."""
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
    _stop_jackd(proc)
    return None


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory):
    """The name of a running JACK server (dummy driver, 48 kHz, 32-frame periods).

    ``-S`` (synchronous mode): in JACK2's default asynchronous mode, a client that misses a
    cycle on these shared 2-core machines has that cycle's MIDI dropped (measured: 5-15 of
    3,000 messages lost at 0.67 ms periods with a busy core; none with ``-S``).

    Names come from a small fixed set (``jamdtest0`` ...): a server that died without cleaning
    up leaves a registry slot only a server of the same name reclaims, so reusing names heals
    the registry; a name in use by another live test run is skipped."""
    jackd = shutil.which("jackd")
    if jackd is None:
        pytest.skip("jackd is not installed (apt-get install --no-install-recommends jackd2)")
    old = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ["JACK_NO_START_SERVER"] = "1"
    proc = None
    errors = []
    try:
        busy = _names_in_use()
        for slot in range(16):
            name = f"jamdtest{slot}"
            if name in busy:
                continue
            os.environ["JACK_DEFAULT_SERVER"] = name
            log_path = tmp_path_factory.mktemp("jackd") / f"{name}.log"
            proc = _start_jackd(jackd, name, log_path)
            if proc is not None:
                break
            errors.append(log_path.read_text(errors="replace")[-200:])
        if proc is None:
            pytest.fail("jackd did not come up: " + " | ".join(errors[-2:]))
        yield name
    finally:
        if proc is not None:
            _stop_jackd(proc)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ------------------------------------------------------------------ slow tests (opt-in)
# Long versions of the soak and fuzz tests are marked ``@pytest.mark.slow`` (the marker is
# declared in pyproject.toml) and run only with ``pytest --run-slow``. (Reliability, issue 9:
# please keep these two hooks when editing this file.)


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run tests marked slow (hours-long soak, long fuzz runs)",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)

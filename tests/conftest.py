"""Shared fixtures.

JACK (owned by the real-time core): ``jack_server`` starts ``jackd`` with the dummy driver
(real JACK MIDI ports, no sound card) under a server name unique to this test run, exports it
as ``JACK_DEFAULT_SERVER`` (so processes the tests spawn use it too) and kills it afterwards.
Tests that use it are skipped with a reason only when jackd is not installed.
"""

from __future__ import annotations

import logging
import os
import shutil

import pytest

from jamd.base import logsetup
from tests._jack import jackd_said, names_in_use, start_jackd, stop_jackd


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
        busy = names_in_use()
        for slot in range(16):
            name = f"jamdtest{slot}"
            if name in busy:
                continue
            os.environ["JACK_DEFAULT_SERVER"] = name
            log_path = tmp_path_factory.mktemp("jackd") / f"{name}.log"
            proc = start_jackd(jackd, name, log_path)
            if proc is not None:
                break
            errors.append(f"{name}: {jackd_said(log_path)}")
        if proc is None:
            pytest.fail("jackd did not come up: " + " | ".join(errors[-2:]))
        yield name
    finally:
        if proc is not None:
            stop_jackd(proc)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(autouse=True)
def restore_logging(monkeypatch):
    """Each test starts and ends with the logging it found: tests that run jamd's commands in
    this process set the root logger, and a config's ``logging.file`` sets JAMD_LOG_FILE, which
    sends every engine spawned later into that file. (Seen in CI: with the JACK tests failing at
    setup, a later test's engine error went to a file of an earlier test, not to its stderr.)"""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    monkeypatch.delenv(logsetup.LOG_FILE_ENV, raising=False)
    monkeypatch.setattr(logsetup, "_cli_verbosity", 0)
    yield
    for h in root.handlers:
        if h not in handlers:
            h.close()
    root.handlers[:], root.level = handlers, level


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

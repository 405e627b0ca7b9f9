"""A real ``jamd run --demo`` with the web page on (null MIDI ports here: no JACK server is
named), for the web tests: started with a config, stopped with SIGINT, its OSC state reports
read back by a liblo listener."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

TOKEN = "stage-token-0123456789"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Reports:
    """The last value of each OSC state report jamd sends (``osc.report_to``)."""

    latest: dict[str, list] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import pyliblo3 as liblo

        self.server = liblo.Server()
        self.server.add_method(None, None, lambda path, args, types, src: self.latest.__setitem__(path, args))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.server.recv(20)

    def wait_for(self, path: str, accept, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.latest.get(path)
            if value is not None and accept(value):
                return value
            time.sleep(0.05)
        raise AssertionError(f"{path}: last report {self.latest.get(path)} within {timeout} s")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.server.free()


@dataclass
class JamdRun:
    proc: subprocess.Popen
    port: int
    workdir: Path
    reports: Reports | None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> tuple[int, str, str]:
        """Stop it as Ctrl-C does: exit code, stdout, stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        if self.reports is not None:
            self.reports.close()
        return self.proc.returncode, out, err


def start_jamd(tmp_path: Path, web: str, *extra: str, seed_mode: str = "follow", osc: bool = True) -> JamdRun:
    """``jamd run --demo`` with ``web`` (YAML lines under ``web:``) and, with ``osc``, OSC state
    reports to a listener here; returns once the page answers."""
    port = free_port()
    reports = Reports() if osc else None
    osc_yaml = (
        f"osc:\n  port: {free_port(socket.SOCK_DGRAM)}\n  report_to: ['127.0.0.1:{reports.server.port}']\n"
        if reports is not None
        else "osc:\n  enabled: false\n"
    )
    config = tmp_path / "jamd.yaml"
    config.write_text(
        f"{osc_yaml}logging:\n  level: info\nseed:\n  mode: {seed_mode}\nweb:\n  enabled: true\n  port: {port}\n"
        + "".join(f"  {line}\n" for line in web.strip().splitlines())
    )
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), OPENBLAS_NUM_THREADS="1")
    env["JACK_DEFAULT_SERVER"] = f"jamd-no-server-{os.getpid()}"
    cmd = [
        sys.executable,
        "-m",
        "jamd",
        "run",
        "--demo",
        "--bars",
        "0",
        "--no-status",
        "--config",
        str(config),
    ]
    proc = subprocess.Popen(
        [*cmd, *extra], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    run = JamdRun(proc, port, tmp_path, reports)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            code, _, err = run.stop()
            raise AssertionError(f"jamd run ended ({code}): {err}")
        try:
            urllib.request.urlopen(run.base + "/", timeout=1)
            return run
        except urllib.error.HTTPError:
            return run  # it answers (the login page: 401)
        except OSError:
            time.sleep(0.2)
    run.stop()
    raise AssertionError("the page did not answer within 60 s")

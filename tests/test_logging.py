"""The config's ``logging`` section is applied: at start (a real ``jamd run --demo``, both
processes) and on a SIGHUP reload (the daemon's reload path); ``-v`` wins over its level."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from jamd.base import logsetup
from jamd.live.config import read_config
from jamd.live.daemon import Daemon


def run_demo(tmp_path: Path, config: str, *flags: str) -> subprocess.CompletedProcess:
    (tmp_path / "jamd.yaml").write_text(config)
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))
    env.pop("JOURNAL_STREAM", None)
    cmd = [sys.executable, "-m", "jamd", *flags, "run", "--demo", "--bars", "1", "--no-status"]
    cmd += ["--config", str(tmp_path / "jamd.yaml")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    return r


def levels(text: str) -> set[str]:
    return {line.split()[2] for line in text.splitlines() if len(line.split()) > 2}


def test_the_configured_level_and_file_take_every_line_of_both_processes(tmp_path):
    r = run_demo(tmp_path, "osc: {enabled: false}\nlogging: {level: info, file: jamd.log}\n")
    log = (tmp_path / "jamd.log").read_text()
    assert "INFO jamd.live.daemon: jamd running" in log, log
    assert "[rt]: " in log, "the engine process's lines go to the file too"
    assert levels(log) <= {"INFO", "WARNING", "ERROR"} and "DEBUG" not in log
    assert "INFO" not in r.stderr and "[rt]" not in r.stderr, r.stderr


def test_minus_v_wins_over_the_configured_level(tmp_path):
    run_demo(tmp_path, "osc: {enabled: false}\nlogging: {level: error, file: jamd.log}\n", "-vv")
    log = (tmp_path / "jamd.log").read_text()
    assert " DEBUG " in log and " INFO " in log


def test_a_log_file_that_cannot_be_opened_is_one_line_exit_2(tmp_path):
    # /proc takes no new files, not even from root: the open fails as a read-only folder would
    (tmp_path / "jamd.yaml").write_text("logging: {file: /proc/jamd.log}\n")
    cmd = [sys.executable, "-m", "jamd", "run", "--demo", "--config", str(tmp_path / "jamd.yaml")]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [
        "jamd run: logging.file: cannot write /proc/jamd.log: No such file or directory"
    ]


def test_sighup_reload_applies_the_new_level_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = tmp_path / "jamd.yaml"
    path.write_text("osc: {enabled: false}\nlogging: {level: warning, file: first.log}\n")
    config = read_config(path)
    logsetup.apply_logging(config.logging.level, config.logging.file)
    daemon = Daemon(config, offline=True)
    logging.getLogger("jamd.test").info("not at warning")
    path.write_text("osc: {enabled: false}\nlogging: {level: debug, file: second.log}\n")
    daemon.reload()
    logging.getLogger("jamd.test").debug("a debug line")
    for h in logging.getLogger().handlers:
        h.flush()
    assert "not at warning" not in (tmp_path / "first.log").read_text()
    second = (tmp_path / "second.log").read_text()
    assert "INFO jamd.live.daemon: reloaded" in second and "DEBUG jamd.test: a debug line" in second
    assert os.environ[logsetup.LOG_FILE_ENV] == str(tmp_path / "second.log")  # the next engine's

    path.write_text("logging: {file: nowhere/jamd.log}\n")  # refused: the old file stays
    daemon.reload()
    for h in logging.getLogger().handlers:
        h.flush()
    assert "reload refused" in (tmp_path / "second.log").read_text()
    assert "no folder" in (tmp_path / "second.log").read_text()


def test_the_default_level_is_the_command_lines():
    logsetup.apply_logging(None, None)
    assert logging.getLogger().level == logging.WARNING
    logsetup.apply_logging("debug", None)
    assert logging.getLogger().level == logging.DEBUG
    logsetup.setup_logging(1)
    logsetup.apply_logging("error", None)
    assert logging.getLogger().level == logging.INFO

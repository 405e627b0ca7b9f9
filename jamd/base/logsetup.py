"""Logging set-up: readable lines on a terminal, journal-friendly lines under systemd, or a file.

Under systemd (``$JOURNAL_STREAM`` set) each line starts with a syslog priority ``<N>`` that
journald turns into the entry's level, and carries no timestamp (the journal has its own).

Two sources decide: the command line's ``-v`` (:func:`setup_logging`, once, before the command
runs) and a config's ``logging`` section (:func:`apply_logging`, at start and on every SIGHUP
reload). ``-v`` wins over the config's level: a musician chasing a problem asks for more.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from jamd.base.errors import UserError

#: Python level -> syslog priority (sd-daemon(3): the "<N>" prefix).
SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
#: A config's ``logging.level`` names.
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
#: Child processes (the real-time engine) find the log file here: they are spawned fresh and
#: inherit the environment, not the parent's handlers.
LOG_FILE_ENV = "JAMD_LOG_FILE"
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s%(tag)s: %(message)s"

_cli_verbosity = 0  # the command line's -v count


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prio = SYSLOG_PRIORITY.get(record.levelno, 6)
        return f"<{prio}>{record.name}: {super().format(record)}"


def under_journal() -> bool:
    return bool(os.environ.get("JOURNAL_STREAM"))


def setup_logging(verbosity: int = 0) -> None:
    """-v: INFO (state changes), -vv: DEBUG (per note). Default WARNING on a terminal, INFO under
    systemd, where the log is the only window into a headless box."""
    global _cli_verbosity
    _cli_verbosity = verbosity
    apply_logging()


def apply_logging(level: str | None = None, file: Path | str | None = None) -> None:
    """A config's ``logging`` section: ``level`` (one of :data:`LEVELS`; None: the default)
    unless ``-v`` was given, and ``file`` (appended to) instead of stderr. A file that cannot
    be opened raises :class:`UserError` and leaves the logging as it was."""
    handler = _file_handler(Path(file), "") if file is not None else _stderr_handler()
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(_level(level))
    if file is None:
        os.environ.pop(LOG_FILE_ENV, None)
    else:
        os.environ[LOG_FILE_ENV] = str(file)


def setup_child_logging(level: int, tag: str) -> None:
    """Logging in a spawned child process (the real-time engine, ``tag`` "[rt]"): into the
    parent's log file when it has one, else stderr as before."""
    file = os.environ.get(LOG_FILE_ENV)
    if file:
        try:
            handler = _file_handler(Path(file), tag)
        except UserError:
            handler = None  # the parent opened it a moment ago; stderr is better than nothing
        if handler is not None:
            logging.basicConfig(level=level, handlers=[handler])
            return
    logging.basicConfig(level=level, format=f"%(levelname)s %(name)s{tag}: %(message)s")


def _level(name: str | None) -> int:
    if _cli_verbosity or name is None:
        level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(_cli_verbosity, 2)]
        return min(level, logging.INFO) if under_journal() else level
    return LEVELS[name]


def _stderr_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    if under_journal():
        handler.setFormatter(JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    return handler


def _file_handler(path: Path, tag: str) -> logging.Handler:
    try:
        handler = logging.FileHandler(path.expanduser(), encoding="utf-8")
    except OSError as e:
        raise UserError(f"logging.file: cannot write {path}: {e.strerror or e}") from None
    formatter = logging.Formatter(FILE_FORMAT, "%Y-%m-%d %H:%M:%S", defaults={"tag": tag})
    handler.setFormatter(formatter)
    return handler

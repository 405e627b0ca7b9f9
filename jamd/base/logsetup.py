"""Logging set-up: readable lines on a terminal, journal-friendly lines under systemd.

Under systemd (``$JOURNAL_STREAM`` set) each line starts with a syslog priority ``<N>`` that
journald turns into the entry's level, and carries no timestamp (the journal has its own).
"""

from __future__ import annotations

import logging
import os
import sys

#: Python level -> syslog priority (sd-daemon(3): the "<N>" prefix).
SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prio = SYSLOG_PRIORITY.get(record.levelno, 6)
        return f"<{prio}>{record.name}: {super().format(record)}"


def under_journal() -> bool:
    return bool(os.environ.get("JOURNAL_STREAM"))


def setup_logging(verbosity: int = 0) -> None:
    """-v: INFO (state changes), -vv: DEBUG (per note). Default WARNING on a terminal, INFO under
    systemd, where the log is the only window into a headless box."""
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    handler = logging.StreamHandler(sys.stderr)
    if under_journal():
        level = min(level, logging.INFO)
        handler.setFormatter(JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)

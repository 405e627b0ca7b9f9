"""systemd's notify protocol without libsystemd: one datagram per state to ``$NOTIFY_SOCKET``.

Used for ``Type=notify`` (READY=1 once the clock runs), the watchdog (WATCHDOG=1, sent from the
real-time loop so a stuck clock gets the service restarted) and STOPPING=1 on shutdown. Outside
systemd (no ``$NOTIFY_SOCKET``) every call is a no-op.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, address: str | None = None):
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace socket
            address = "\0" + address[1:]
        self._address = address  # "" outside systemd: no socket then
        self._sock: socket.socket | None = None
        if address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *states: str) -> bool:
        """Send ``KEY=VALUE`` lines; False (never an exception) when systemd is not listening,
        because a lost notification must not stop the music."""
        if self._sock is None:
            return False
        try:
            self._sock.sendto("\n".join(states).encode(), self._address)
            return True
        except OSError:
            return False

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval_s() -> float | None:
    """Half the watchdog timeout systemd asked for (``$WATCHDOG_USEC``), as systemd advises;
    None when there is no watchdog or it is meant for another process (``$WATCHDOG_PID``)."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6

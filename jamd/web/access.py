"""Who may see and play the page: the source address against ``web.allow``, then the token (in
the URL once, then a cookie). Without the token a browser gets nothing but the login page."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass

#: The cookie that carries the token after the first visit (the URL is cleaned at once, so
#: the token does not stay on screen or in a bookmark of the bare address).
COOKIE = "jamd_token"
COOKIE_DAYS = 7  # a week of rehearsals and gigs; a token made at start is void after a restart anyway
TOKEN_PARAM = "token"


@dataclass(frozen=True)
class WebSettings:
    """What the server is told (from ``live.config.WebConfig``, with the token decided)."""

    listen: str
    port: int
    token: str
    allow: Sequence[str]
    read_only: bool = False

    @property
    def loopback_only(self) -> bool:
        return ipaddress.ip_address(self.listen).is_loopback


def new_token() -> str:
    """A fresh token for this start (``web.token: null``)."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Access:
    settings: WebSettings

    def allowed_source(self, host: str | None) -> bool:
        """Whether ``host`` (the peer's address) is in ``web.allow``."""
        try:
            ip = ipaddress.ip_address((host or "").split("%")[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:  # a dual-stack socket's IPv4 peer
            ip = ip.ipv4_mapped
        return any(ip in ipaddress.ip_network(net, strict=False) for net in self.settings.allow)

    def token_ok(self, given: str | None) -> bool:
        """Constant-time, so the answer's timing gives nothing away."""
        return given is not None and hmac.compare_digest(given.encode(), self.settings.token.encode())


def page_urls(settings: WebSettings) -> list[str]:
    """The addresses to print, the token in each: this machine only, or its LAN name and
    address (the first is the one for the QR code)."""
    query = f"/?{TOKEN_PARAM}={settings.token}"
    port = settings.port
    if settings.loopback_only:
        return [f"http://{settings.listen}:{port}{query}"]
    host = settings.listen if not ipaddress.ip_address(settings.listen).is_unspecified else lan_address()
    return [f"http://{host}:{port}{query}", f"http://{socket.gethostname()}.local:{port}{query}"]


def lan_address() -> str:
    """This machine's address on the network its default route leaves by (a UDP socket's
    connect sends nothing); 127.0.0.1 on a box with no network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never answered, never sent to
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def qr_text(url: str) -> str:
    """The URL as a QR code of terminal characters (segno, pure Python)."""
    import io

    import segno

    out = io.StringIO()
    segno.make(url, error="l").terminal(out=out, compact=True)
    return out.getvalue()

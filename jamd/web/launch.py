"""``jamd run`` with ``web.enabled``: the server started beside the daemon, its address said."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from jamd.web.access import WebSettings, new_token, page_urls, qr_text
from jamd.web.server import WebServer

if TYPE_CHECKING:
    from jamd.live.config import WebConfig
    from jamd.live.daemon import Daemon

log = logging.getLogger(__name__)


def settings_of(cfg: WebConfig) -> WebSettings:
    """The config's web section, with this start's token when the config names none."""
    return WebSettings(
        str(cfg.listen),
        cfg.port,
        str(cfg.token) if cfg.token else new_token(),
        tuple(cfg.allow),
        cfg.read_only,
    )


def serve(daemon: Daemon, cfg: WebConfig) -> tuple[WebServer, str]:
    """Start the page's server for ``daemon`` (its state goes out from the daemon's loop);
    the second value is what to show a musician: the address with the token, and its QR code."""
    server = WebServer(daemon, settings_of(cfg))
    server.start()
    daemon.tickers.append(server.tick)
    urls = page_urls(server.settings)
    for url in urls:
        log.info("the page: %s%s", url, " (read-only)" if cfg.read_only else "")
    banner = "the page on the phone: " + "  or  ".join(urls) + "\n" + qr_text(urls[0])
    return server, banner

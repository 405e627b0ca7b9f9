"""The web server: aiohttp on an asyncio loop in a thread of its own, so nothing it does waits
in the daemon's loop. The daemon's loop hands it a state snapshot ``UPDATE_HZ`` times a second
(:meth:`WebServer.tick`, a daemon ticker) while anyone is connected; control events go the other
way through :meth:`jamd.live.daemon.Daemon.post_control`, checked as OSC's are."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from jamd.base.errors import UserError
from jamd.control.targets import TARGETS, Kind
from jamd.web.access import COOKIE, COOKIE_DAYS, TOKEN_PARAM, Access, WebSettings
from jamd.web.state import State, as_message, hello, snapshot

if TYPE_CHECKING:
    from jamd.live.daemon import Daemon

log = logging.getLogger(__name__)

#: State messages a second: the cursor moves every 16th (8/s at 120 BPM, 13/s at 200); twice
#: that keeps it on time without loading the control process.
UPDATE_HZ = 30
STATIC = resources.files("jamd.web") / "static"
#: A client further behind than this many unsent states is skipped until it catches up (a
#: phone on bad Wi-Fi must not queue the state of the last minute).
MAX_BEHIND = 2
START_TIMEOUT_S = 10.0


class WebPortBusy(UserError):
    """The TCP port is taken, or the address is not this machine's."""


@dataclass
class WebStats:
    """What the server saw (``jamd bench`` prints it; refusals are counted, never raised)."""

    clients: int = 0
    refused_source: int = 0
    refused_token: int = 0
    refused_message: int = 0
    controls: int = 0
    states_sent: int = 0


@dataclass(eq=False)  # one per connection, kept in a set by identity
class _Client:
    ws: web.WebSocketResponse
    behind: int = 0


class WebServer:
    """The page's server for one daemon: :meth:`start` it, add :meth:`tick` to the daemon's
    tickers, :meth:`stop` it after the daemon stopped."""

    def __init__(self, daemon: Daemon, settings: WebSettings) -> None:
        self.daemon, self.settings = daemon, settings
        self.stats = WebStats()
        self.access = Access(settings)
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._next_state = 0.0

    # ------------------------------------------------------------------- life cycle
    def start(self) -> None:
        """Listen (in the server's thread); raises :class:`WebPortBusy` when it cannot."""
        self._thread = threading.Thread(target=self._serve, name="jamd-web", daemon=True)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_S):
            raise WebPortBusy("the web server did not start in time")
        if self._error is not None:
            s = self.settings
            raise WebPortBusy(
                f"cannot serve the page on {s.listen}:{s.port}: {self._error} "
                "(choose another web.port or web.listen in the config, or web.enabled: false)"
            )
        log.info("web page served on %s:%d", self.settings.listen, self.settings.port)

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=5)

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        runner = web.AppRunner(self._app(), access_log=None, handle_signals=False)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, self.settings.listen, self.settings.port).start())
        except OSError as e:
            self._error = e
        self._started.set()
        if self._error is None:
            loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._socket)
        app.router.add_static("/static", str(STATIC), show_index=False, follow_symlinks=False)
        return app

    # ------------------------------------------------------------------------ access
    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self.access.allowed_source(request.remote):
            self.stats.refused_source += 1
            log.debug("web request from %s refused (not in web.allow)", request.remote)
            raise web.HTTPForbidden(text="not allowed from this address (web.allow)\n")
        given = request.query.get(TOKEN_PARAM)
        if given is not None and self.access.token_ok(given) and request.path == "/":
            # the token moves into a cookie and out of the address bar
            response = web.HTTPFound("/")
            response.set_cookie(COOKIE, given, max_age=COOKIE_DAYS * 86400, httponly=True, samesite="Strict")
            raise response
        if not self.access.token_ok(request.cookies.get(COOKIE)):
            self.stats.refused_token += 1
            return _login_page()
        return await handler(request)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(str(STATIC / "index.html"), headers=_NO_STORE)

    # --------------------------------------------------------------------- WebSocket
    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if not _same_origin(request):
            self.stats.refused_source += 1
            raise web.HTTPForbidden(text="cross-site WebSocket refused\n")
        ws = web.WebSocketResponse(heartbeat=10, max_msg_size=4096)
        await ws.prepare(request)
        client = _Client(ws)
        self._clients.add(client)
        self.stats.clients = len(self._clients)
        log.info("web client %s connected (%d connected)", request.remote, len(self._clients))
        try:
            await ws.send_json(as_message("hello", hello(self.daemon, self.settings.read_only)))
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_message(msg.data)
        finally:
            self._clients.discard(client)
            self.stats.clients = len(self._clients)
            log.info("web client %s left (%d connected)", request.remote, len(self._clients))
        return ws

    def _on_message(self, text: str) -> None:
        """``{"set": [[target, value], ...]}``: values for targets, 1 for a trigger. Anything
        else, or anything in read-only mode, is dropped and counted, never raised."""
        events = None if self.settings.read_only else control_events(text)
        if events is None:
            self.stats.refused_message += 1
            return
        for target, value in events:
            self.daemon.post_control(target, value)
        self.stats.controls += len(events)

    # ---------------------------------------------------------------------- updates
    def tick(self, t_ns: int) -> None:
        """A daemon ticker (its loop, every turn): a snapshot to the clients when one is due."""
        now = time.monotonic()
        if not self._clients or now < self._next_state or self._loop is None:
            return
        self._next_state = now + 1.0 / UPDATE_HZ
        self._loop.call_soon_threadsafe(self._broadcast, snapshot(self.daemon, t_ns))

    def _broadcast(self, state: State) -> None:
        text = json.dumps(as_message("state", state), separators=(",", ":"))
        for client in list(self._clients):
            if client.behind >= MAX_BEHIND or client.ws.closed:
                continue
            client.behind += 1
            asyncio.ensure_future(self._send(client, text))

    async def _send(self, client: _Client, text: str) -> None:
        try:
            await client.ws.send_str(text)
            self.stats.states_sent += 1
        except (ConnectionError, RuntimeError):
            pass  # the client is going: its handler cleans up
        finally:
            client.behind -= 1


def control_events(text: str) -> list[tuple[str, float]] | None:
    """The control events in one message from the page, or None when any of them is not a
    known target with a value in its range (the whole message is dropped, as OSC's is)."""
    try:
        pairs = json.loads(text)["set"]
        events = []
        for target, value in pairs:
            spec = TARGETS[target]
            if spec.kind is Kind.TRIGGER:
                value = 1.0
            elif not spec.accepts(value):
                return None
            events.append((str(target), float(value)))
    except (ValueError, KeyError, TypeError):
        return None
    return events


def _same_origin(request: web.Request) -> bool:
    """A page from another site must not open the socket with the cookie (cross-site
    WebSocket hijacking): the browser's Origin must be this server."""
    origin = request.headers.get("Origin")
    return origin is None or origin.split("://", 1)[-1] == request.host


_NO_STORE = {"Cache-Control": "no-store"}


def _login_page() -> web.Response:
    return web.Response(
        status=401, text=(STATIC / "login.html").read_text(), content_type="text/html", headers=_NO_STORE
    )

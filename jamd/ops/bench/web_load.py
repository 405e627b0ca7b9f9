"""The page's cost: the web server (`jamd.web`) on the daemon under the bench, with
``WEB_CLIENTS`` WebSocket clients connected, one of them moving the drums pad at ``PAD_HZ`` (a
finger dragging); the clients run in a thread of their own with their own asyncio loop, as
phones would be elsewhere. The run is the jamd phase's, so its figures sit beside the run
without clients."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jamd.web.access import COOKIE, WebSettings, new_token
from jamd.web.server import WebServer

if TYPE_CHECKING:
    from jamd.live.daemon import Daemon

WEB_CLIENTS = 3
PAD_HZ = 60.0
PAD_TURN_S = 4.0  # the finger circles the pad once in this long


@dataclass
class WebLoad:
    """What the clients saw and did."""

    states: list[int] = field(default_factory=lambda: [0] * WEB_CLIENTS)  # received, per client
    pad_moves: int = 0
    seconds: float = 0.0

    @property
    def states_per_s(self) -> float:
        """The slowest client's rate of state updates."""
        return min(self.states) / self.seconds if self.seconds > 0 else 0.0


def free_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def page_clients(daemon: Daemon) -> Iterator[WebLoad]:
    """The page's server on ``daemon`` and the clients on it, while the block runs."""
    settings = WebSettings("127.0.0.1", free_tcp_port(), new_token(), ("127.0.0.1/32",))
    server = WebServer(daemon, settings)
    server.start()
    daemon.tickers.append(server.tick)
    load = WebLoad()
    stop = threading.Event()
    thread = threading.Thread(target=lambda: asyncio.run(_clients(settings, load, stop)), daemon=True)
    t0 = time.monotonic()
    thread.start()
    try:
        yield load
    finally:
        stop.set()
        thread.join(10)
        load.seconds = time.monotonic() - t0
        daemon.tickers.remove(server.tick)
        server.stop()


async def _clients(settings: WebSettings, load: WebLoad, stop: threading.Event) -> None:
    import aiohttp

    url = f"ws://{settings.listen}:{settings.port}/ws"
    async with aiohttp.ClientSession(cookies={COOKIE: settings.token}) as session:
        sockets = [await session.ws_connect(url) for _ in range(WEB_CLIENTS)]
        readers = [asyncio.ensure_future(_read(ws, i, load)) for i, ws in enumerate(sockets)]
        await _move_pad(sockets[0], load, stop)
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)


async def _read(ws, i: int, load: WebLoad) -> None:
    async for msg in ws:
        if msg.data.startswith('{"type":"state"'):
            load.states[i] += 1


async def _move_pad(ws, load: WebLoad, stop: threading.Event) -> None:
    """A finger circling the drums pad, one position per frame, to absolute deadlines."""
    period = 1.0 / PAD_HZ
    t0 = time.monotonic()
    while not stop.is_set():
        angle = 2 * math.pi * (time.monotonic() - t0) / PAD_TURN_S
        await ws.send_json({"set": [["drums.x", 0.7 * math.cos(angle)], ["drums.y", 0.7 * math.sin(angle)]]})
        load.pad_moves += 1
        await asyncio.sleep(max(0.0, t0 + load.pad_moves * period - time.monotonic()))

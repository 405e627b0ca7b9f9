"""The page on the phone (``web.enabled``): ``jamd run``'s state shown live, and its controls
played, from a browser on the stage's network. aiohttp serves a page shipped in ``static/`` (no
build step, nothing fetched from the internet) and one WebSocket, from a thread of the control
process with its own asyncio loop; control events go to the daemon's loop and through the path
OSC's take. Access: a token always, the ``web.allow`` networks, a read-only mode (docs/web.md).

May import ``jamd.live`` and the layers below it (control, model, music, base); ``jamd.ops``
(the bench) and ``jamd.commands`` import it.
"""

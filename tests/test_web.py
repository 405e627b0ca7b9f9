"""The web page's server: what it takes from a page (the checks OSC makes), who it lets in (the
token, ``web.allow``), read-only mode, and its config keys. The security checks run against a
real ``jamd run`` bound to every interface."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest
from _jamd_web import TOKEN, start_jamd

from jamd.base.yamlload import ConfigError
from jamd.live.config import read_config
from jamd.web.access import Access, WebSettings, lan_address, page_urls
from jamd.web.server import control_events


def settings(**kw) -> WebSettings:
    base = dict(listen="127.0.0.1", port=8080, token=TOKEN, allow=("127.0.0.1/32", "::1/128"))
    return WebSettings(**{**base, **kw})


# --------------------------------------------------------------------- what it takes


def test_control_events_take_targets_in_range_and_triggers():
    msg = json.dumps({"set": [["drums.x", -0.5], ["drums.y", 1], ["tap", 0], ["scene.recall.3", 1]]})
    assert control_events(msg) == [("drums.x", -0.5), ("drums.y", 1.0), ("tap", 1.0), ("scene.recall.3", 1.0)]


@pytest.mark.parametrize(
    "msg",
    [
        {"set": [["drums.x", 1.5]]},  # out of range: dropped, not clamped (as OSC)
        {"set": [["drums.x", 0.2], ["tempo", 5000]]},  # one bad value drops the whole message
        {"set": [["no.such.target", 0.2]]},
        {"set": [["density", "0.5"]]},
        {"set": [["density", True]]},
        {"set": [["density"]]},
        {"set": [[["density"], 0.5]]},
        {"get": "config"},
        ["set"],
    ],
)
def test_bad_messages_are_dropped(msg):
    assert control_events(json.dumps(msg)) is None


def test_not_json_is_dropped():
    assert control_events("set density 1") is None
    assert control_events('{"set": [["density", NaN]]}') is None


# ----------------------------------------------------------------------- who gets in


def test_allow_list_and_token():
    access = Access(settings(allow=("127.0.0.1/32", "192.168.1.0/24")))
    assert access.allowed_source("127.0.0.1") and access.allowed_source("192.168.1.77")
    assert access.allowed_source("::ffff:192.168.1.5")  # IPv4 on a dual-stack socket
    assert not access.allowed_source("192.168.2.1") and not access.allowed_source("::1")
    assert not access.allowed_source(None) and not access.allowed_source("not-an-ip")
    assert access.token_ok(TOKEN)
    assert not access.token_ok(None) and not access.token_ok(TOKEN[:-1]) and not access.token_ok("")


def test_the_printed_address_carries_the_token():
    assert page_urls(settings()) == [f"http://127.0.0.1:8080/?token={TOKEN}"]
    lan = page_urls(settings(listen="0.0.0.0", port=8123))
    assert lan[0] == f"http://{lan_address()}:8123/?token={TOKEN}" and lan[1].endswith(
        f".local:8123/?token={TOKEN}"
    )


def test_web_config_keys():
    cfg = read_config(
        "j.yaml",
        "web:\n  enabled: true\n  listen: 0.0.0.0\n  port: 8088\n  token: abcdefghijklmnop\n"
        "  allow: [192.168.1.0/24]\n  read_only: true\n",
    ).web
    assert (cfg.enabled, cfg.listen, cfg.port, cfg.token, cfg.allow, cfg.read_only) == (
        True,
        "0.0.0.0",
        8088,
        "abcdefghijklmnop",
        ["192.168.1.0/24"],
        True,
    )
    defaults = read_config("j.yaml", "").web
    assert (defaults.enabled, defaults.listen, defaults.port, defaults.token) == (
        False,
        "127.0.0.1",
        8080,
        None,
    )
    for bad, line in (("listen: jamd.local", 2), ("token: short", 2), ("port: 80", 2)):
        with pytest.raises(ConfigError, match=f"j.yaml:{line}"):
            read_config("j.yaml", f"web:\n  {bad}\n")


# ------------------------------------------------------------ a real jamd on the LAN


def status(url: str, cookie: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Cookie": f"jamd_token={cookie}"} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def socket_session(base: str, cookie: str | None, send: list[dict]) -> list[tuple[float, dict]]:
    """Connect to the page's socket, send ``send``, and return what came back in 3 s, each
    message with its arrival time (seconds after the connection)."""
    import aiohttp

    got: list[tuple[float, dict]] = []
    async with aiohttp.ClientSession(cookies={"jamd_token": cookie} if cookie else {}) as session:
        async with session.ws_connect(base.replace("http", "ws") + "/ws") as ws:
            t0 = time.monotonic()
            for msg in send:
                await ws.send_json(msg)
            try:
                async with asyncio.timeout(3.0):
                    async for m in ws:
                        got.append((time.monotonic() - t0, json.loads(m.data)))
            except TimeoutError:
                pass
    return got


def test_a_lan_bound_jamd_lets_nobody_in_without_the_token_and_read_only_controls_nothing(tmp_path):
    import aiohttp

    lan = lan_address()
    jamd = start_jamd(tmp_path, f"listen: 0.0.0.0\ntoken: {TOKEN}\nread_only: true", osc=False)
    try:
        for path in ("/", "/static/app.js", "/ws", "/?token=wrong-token-000000"):
            code, body = status(jamd.base + path)
            assert code == 401 and 'name="token"' in body, path  # the login page, nothing else
        assert status(jamd.base + "/static/app.js", cookie="wrong")[0] == 401
        code, body = status(jamd.base + "/static/app.js", cookie=TOKEN)
        assert code == 200 and "WebSocket" in body
        if lan != "127.0.0.1":  # a network address here: web.allow (only this machine) refuses it
            assert status(f"http://{lan}:{jamd.port}/?token={TOKEN}")[0] == 403

        with pytest.raises(aiohttp.WSServerHandshakeError):
            asyncio.run(socket_session(jamd.base, None, []))
        got = asyncio.run(socket_session(jamd.base, TOKEN, [{"set": [["tempo", 90]]}]))
        assert got[0][1]["type"] == "hello" and got[0][1]["read_only"] is True
        states = [m for _, m in got if m["type"] == "state"]
        # >= 15 updates a second, once the first second (jamd starting: its first decodes) is past
        assert sum(1 for t, m in got if t >= 1.0 and m["type"] == "state") >= 2 * 15
        assert states[-1]["values"]["tempo"] == 120 and states[-1]["bpm"] == 120  # read-only
    finally:
        code, out, err = jamd.stop()
    assert code == 0, err
    logged = [line for line in err.splitlines() if "the page: http://" in line]
    assert logged and all(f"?token={TOKEN}" in line for line in logged)  # logged with the token
    assert f"http://{lan}:{jamd.port}/?token={TOKEN}" in out and "▀" in out  # printed, and its QR code


def test_the_demo_sweep_lets_go_of_the_pad_once_a_hand_moves_it():
    from jamd.live.config import DEFAULT_DRUM_MODEL
    from jamd.live.performance import Performance
    from jamd.model.drums import DrumModel

    drums = DrumModel.load(DEFAULT_DRUM_MODEL)
    perf = Performance(drums, drums.plane())
    perf.move_pad(0.8, 0.0)  # the sweep moves it ...
    assert (perf.values["drums.x"], perf.values["drums.y"]) == (0.8, 0.0)
    perf.apply("drums.y", -0.4)  # ... until the page (or a knob, or OSC) takes it
    perf.move_pad(0.7, 0.3)
    assert (perf.values["drums.x"], perf.values["drums.y"]) == (0.8, -0.4)


def test_run_with_the_web_port_taken_is_one_line_exit_2(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        (tmp_path / "jamd.yaml").write_text(
            f"ports: {{virtual: false}}\nosc: {{enabled: false}}\nweb: {{enabled: true, port: {port}}}\n"
        )
        env = dict(
            os.environ, XDG_CONFIG_HOME=str(tmp_path), JACK_DEFAULT_SERVER=f"jamd-no-server-{os.getpid()}"
        )
        r = subprocess.run(
            [sys.executable, "-m", "jamd", "run", "--bars", "1", "--config", str(tmp_path / "jamd.yaml")],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"jamd run: cannot serve the page on 127.0.0.1:{port}")
    assert "web.port" in lines[0]  # what to change; and nothing leaked (the engine's shared memory)

"""OSC over real UDP on this machine: allowed and refused sources, argument checking, reports."""

import socket
import struct
import subprocess

import pyliblo3 as liblo
import pytest

from jamd.base.errors import UserError
from jamd.control.osc import OscControl, OscSettings


def osc_bytes(path: str, *args) -> bytes:
    """A minimal OSC 1.0 encoder (strings and float32), so a test can send from any socket."""

    def pad(b: bytes) -> bytes:
        b += b"\0"
        return b + b"\0" * (-len(b) % 4)

    tags = "," + "".join("s" if isinstance(a, str) else "f" for a in args)
    body = b"".join(pad(a.encode()) if isinstance(a, str) else struct.pack(">f", a) for a in args)
    return pad(path.encode()) + pad(tags.encode()) + body


def other_address() -> str | None:
    """An address of this machine that is not loopback (a stand-in for a tablet on the LAN)."""
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    ips = [line.split()[3].split("/")[0] for line in out.splitlines()]
    return next((ip for ip in ips if not ip.startswith("127.")), None)


@pytest.fixture
def osc():
    got = []
    ctl = OscControl(OscSettings(port=_free_port()), lambda t, v: got.append((t, v)))
    yield ctl, got
    ctl.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send_from(ip: str, dst: str, port: int, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((ip, 0))
        s.sendto(data, (dst, port))


def drain(ctl):
    for _ in range(5):
        ctl.poll(20)


def test_localhost_controls_arrive_as_targets(osc):
    ctl, got = osc
    liblo.send(("127.0.0.1", ctl.settings.port), "/jamd/drums/xy", 0.5, -0.25)
    liblo.send(("127.0.0.1", ctl.settings.port), "/jamd/reseed")
    liblo.send(("127.0.0.1", ctl.settings.port), "/jamd/mute/ride", 1)
    liblo.send(("127.0.0.1", ctl.settings.port), "/jamd/chord", "Am7")
    drain(ctl)
    assert got == [
        ("drums.x", 0.5),
        ("drums.y", -0.25),
        ("reseed", 1.0),
        ("mute.ride", 1.0),
        ("chord", "Am7"),
    ]


def test_other_source_refused_by_default_and_allowed_when_configured(osc):
    ip = other_address()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    ctl, got = osc
    send_from(ip, ip, ctl.settings.port, osc_bytes("/jamd/drums/xy", 0.9, 0.9))
    drain(ctl)
    assert got == [] and ctl.stats.rejected_source == 1 and ctl.stats.last_rejected_source == ip

    lan = OscControl(OscSettings(port=_free_port(), allow=(f"{ip}/24",)), lambda t, v: got.append((t, v)))
    try:
        send_from(ip, ip, lan.settings.port, osc_bytes("/jamd/drums/x", 0.75))
        drain(lan)
    finally:
        lan.close()
    assert got == [("drums.x", 0.75)]


@pytest.mark.parametrize(
    "path,args",
    [
        ("/jamd/drums/xy", (0.5,)),  # too few arguments
        ("/jamd/drums/x", (7.0,)),  # out of range
        ("/jamd/drums/x", (float("nan"),)),
        ("/jamd/nowhere", (1.0,)),  # unknown address
        ("/jamd/tempo", ("fast",)),
    ],
)
def test_bad_messages_dropped_and_counted(osc, path, args):
    ctl, got = osc
    send_from("127.0.0.1", "127.0.0.1", ctl.settings.port, osc_bytes(path, *args))
    drain(ctl)
    assert got == [] and ctl.stats.rejected_message == 1


def test_reports_reach_targets():
    received = []
    listener = liblo.Server()
    listener.add_method(None, None, lambda p, a, t, s: received.append((p, a)))
    ctl = OscControl(
        OscSettings(port=_free_port(), report_to=(f"127.0.0.1:{listener.port}",)), lambda t, v: None
    )
    try:
        ctl.report("/jamd/state/tempo", 123.5)
        for _ in range(5):
            listener.recv(20)
    finally:
        ctl.close()
        listener.free()
    assert received == [("/jamd/state/tempo", [123.5])]


def test_port_in_use_is_a_clear_error(osc):
    ctl, _ = osc
    with pytest.raises(UserError, match=f"UDP port {ctl.settings.port}: another program uses it"):
        OscControl(OscSettings(port=ctl.settings.port), lambda t, v: None)


def test_every_osc_control_is_a_mapping_target():
    from jamd.control.osc import CONTROLS
    from jamd.control.targets import TARGETS

    assert {t for ts in CONTROLS.values() for t in ts} <= set(TARGETS)


def test_scene_addresses(osc):
    ctl, got = osc
    liblo.send(("127.0.0.1", ctl.settings.port), "/jamd/scene/store", 3)
    liblo.send(("127.0.0.1", ctl.settings.port), "/jamd/scene/recall", 3)
    liblo.send(("127.0.0.1", ctl.settings.port), "/jamd/scene/recall", 8, 0.5)
    drain(ctl)
    assert got == [
        ("scene.store.3", 1.0),
        ("scene.recall.3", 1.0),
        ("scene.glide", 0.5),
        ("scene.recall.8", 1.0),
    ]


@pytest.mark.parametrize(
    "path,args",
    [
        ("/jamd/scene/store", ()),
        ("/jamd/scene/store", (9.0,)),
        ("/jamd/scene/store", (1.5,)),
        ("/jamd/scene/store", (1.0, 2.0)),
        ("/jamd/scene/recall", (1.0, -1.0)),
        ("/jamd/scene/recall", (1.0, float("inf"))),
        ("/jamd/scene/recall", ("one",)),
    ],
)
def test_bad_scene_messages_dropped(osc, path, args):
    ctl, got = osc
    send_from("127.0.0.1", "127.0.0.1", ctl.settings.port, osc_bytes(path, *args))
    drain(ctl)
    assert got == [] and ctl.stats.rejected_message == 1

"""Ableton Link: jamd follows another peer's tempo change.

Both peers run inside a network namespace that has only loopback, so Link's multicast
discovery never leaves this machine (docs/architecture.md, "Testing without hardware").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("aalink")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def netns():
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (ip) is not installed")
    name = f"jamdlink{os.getpid()}"
    setup = [
        ["ip", "netns", "add", name],
        ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
        ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "multicast", "on"],
        ["ip", "netns", "exec", name, "ip", "route", "add", "224.0.0.0/4", "dev", "lo"],
    ]
    try:
        for cmd in setup:
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                pytest.skip(f"cannot make a loopback-only network namespace: {r.stderr.strip()}")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


PEER = textwrap.dedent("""
    import asyncio, time, aalink
    link = aalink.Link(100.0, asyncio.new_event_loop())
    link.enabled = True
    end = time.monotonic() + 15
    while link.num_peers < 1 and time.monotonic() < end:
        time.sleep(0.02)
    time.sleep(1.5)
    link.tempo = 133.3          # the drummer's laptop speeds up
    time.sleep(4)
""")

JAMD = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {root!r})
    from jamd.engine.clock import ClockMode
    from jamd.engine.handle import EngineHandle
    from jamd.engine.config import RtConfig
    from jamd.midi.null import null_port
    from jamd.music.window import empty_window
    def main():
        null = null_port("drums")
        h = EngineHandle(RtConfig(clock=ClockMode.LINK, bpm=120.0, drums=null, autostart=True, rt_priority=0))
        h.publish(empty_window())
        seen = []
        with h:
            end = time.monotonic() + 6.5
            while time.monotonic() < end:
                s = h.status()
                seen.append((round(s.bpm, 2), s.peers, s.running, s.beat))
                time.sleep(0.05)
        print(json.dumps(seen))
    if __name__ == "__main__":
        main()
""")


def test_jamd_follows_the_other_peers_tempo(netns, tmp_path) -> None:
    script = tmp_path / "jamd_link.py"
    script.write_text(JAMD.format(root=str(ROOT)))
    peer = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", PEER])
    try:
        out = subprocess.run(
            ["ip", "netns", "exec", netns, sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        peer.kill()
        peer.wait(5)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    bpms = [b for b, _, _, _ in seen]
    assert max(p for _, p, _, _ in seen) >= 1, "the peers did not find each other"
    assert 133.3 in bpms[-10:], bpms[-20:]  # followed the change
    assert any(abs(b - 133.3) > 1 for b in bpms)  # ... which came after joining
    running = [beat for _, _, r, beat in seen if r]
    assert running and running[-1] > running[0]  # and it plays on Link's beat grid

"""The page on the phone in a real headless browser (Debian's chromium through its
chromedriver: nothing downloaded) against a real ``jamd run --demo``: what the page shows is
the engine's, and touching it moves what jamd plays."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import mido
import numpy as np
import pytest
from _jamd_web import TOKEN, start_jamd

from jamd.music.drumkit import GM_OUTPUT, VOICES

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None or shutil.which(CHROMEDRIVER) is None, reason="no chromium/chromedriver"
)
PHONE = {"width": 412, "height": 1400, "deviceScaleFactor": 1, "mobile": True}
STEPS = 32


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=412,1400",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    yield driver
    driver.quit()


def wait_until(fn, timeout: float = 10.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def page_state(driver, key: str):
    return driver.execute_script(f"return jamd.state && jamd.state.{key}")


def set_slider(driver, target: str, value: float) -> None:
    """A slider moved as a finger moves it: its value, then the input event the page acts on."""
    driver.execute_script(
        "const e = document.querySelector(`input[data-target='${arguments[0]}']`);"
        "e.value = arguments[1]; e.dispatchEvent(new Event('input'));",
        target,
        value,
    )


def touch_drag(driver, moves: dict) -> None:
    """One finger per pad, all at once: ``{pad id: (from (x, y), to (x, y))}`` in pad units."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    builder = ActionBuilder(driver)
    for i, (pad_id, (start, end)) in enumerate(moves.items()):
        pad = driver.find_element("id", pad_id)
        w, h = pad.size["width"], pad.size["height"]
        finger = builder.add_pointer_input(interaction.POINTER_TOUCH, f"finger{i}")

        def at(x: float, y: float, finger=finger, pad=pad, w=w, h=h) -> None:
            finger.create_pointer_move(
                duration=30, x=int(x * w / 2 * 0.98), y=int(-y * h / 2 * 0.98), origin=pad
            )

        at(*start)
        finger.create_pointer_down()
        for a in np.linspace(0, 1, 8):
            at(start[0] + a * (end[0] - start[0]), start[1] + a * (end[1] - start[1]))
        finger.create_pointer_up(0)
    builder.perform()


def recorded_pattern(path: Path, bpm: float) -> np.ndarray:
    """The drums the engine sent in the recording's last two windows, folded onto one window of
    32 steps (hits per voice and step), up to where the fold starts."""
    mid = mido.MidiFile(path)
    voice_of = {v.note: i for i, v in enumerate(GM_OUTPUT)}
    track = next(t for t in mid.tracks if t.name == "drums out")
    seconds, times = 0.0, []
    for msg in track:
        seconds += mido.tick2second(msg.time, mid.ticks_per_beat, mido.bpm2tempo(120))
        if msg.type == "note_on" and msg.velocity > 0:
            times.append((seconds * bpm / 60 * 4, voice_of[msg.note]))
    steps = np.array([s for s, _ in times])
    phase = float(np.median(steps % 1))  # quantised notes: all on one phase of the step grid
    grid = np.zeros((len(VOICES), STEPS), bool)
    last = round(steps[-1] - phase)
    for s, v in times:
        step = round(s - phase)
        if step > last - 2 * STEPS:
            grid[v, step % STEPS] = True
    return grid


def page_pattern(driver) -> np.ndarray:
    text = driver.find_element("id", "grid").get_attribute("data-pattern")
    return np.array([int(c) > 0 for c in text]).reshape(len(VOICES), STEPS)


def test_the_page_shows_the_engine_and_plays_it(tmp_path, browser):
    jamd = start_jamd(tmp_path, f"token: {TOKEN}", "--record", "rec.mid", seed_mode="hold")
    try:
        reports = jamd.reports
        assert reports is not None
        browser.get(f"{jamd.base}/?token={TOKEN}")
        wait_until(lambda: page_state(browser, "drums"), what="the page's first state")
        assert "token" not in browser.current_url  # moved into a cookie at once

        # the tempo shown is the engine's, and the page's tempo slider moves it
        set_slider(browser, "tempo", 100)
        reports.wait_for("/jamd/state/tempo", lambda a: a[0] == pytest.approx(100))
        wait_until(lambda: browser.find_element("id", "tempo").text == "100.0", what="tempo shown")
        set_slider(browser, "timing", 0)  # quantised: the recording's notes sit on the steps
        time.sleep(1.0)

        # both pads at once, by two fingers: the latent moves where the drums pad was dragged
        before = page_pattern(browser)
        touch_drag(browser, {"drumpad": ((0.0, 0.0), (-0.7, 0.6)), "basspad": ((0.0, 0.0), (0.5, -0.5))})
        xy = reports.wait_for(
            "/jamd/state/drums/xy", lambda a: abs(a[0] + 0.7) < 0.05 and abs(a[1] - 0.6) < 0.05
        )
        bass = reports.wait_for("/jamd/state/bass/xy", lambda a: abs(a[0] - 0.5) < 0.05)
        assert bass[1] == pytest.approx(-0.5, abs=0.05) and xy[0] < 0
        wait_until(lambda: not np.array_equal(page_pattern(browser), before), what="a new pattern")
        time.sleep(6 * 60 / 100 * 4)  # six bars of the new pattern: the recording folds the last four
        shown = page_pattern(browser)
        assert browser.find_element("id", "tempo").text == "100.0"
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", dict(PHONE, height=915, deviceScaleFactor=2)
        )
        time.sleep(0.5)
        shot = tmp_path / "page.png"
        browser.save_screenshot(str(shot))
    finally:
        code, _, err = jamd.stop()
    assert code == 0, err

    # the grid on the page is what the engine played (the same hits, wherever the fold began)
    played = recorded_pattern(tmp_path / "rec.mid", 100)
    assert played.sum() > 4 and not np.array_equal(shown, before)
    assert any(np.array_equal(np.roll(shown, r, axis=1), played) for r in range(STEPS)), (shown, played)

    from matplotlib.image import imread

    img = imread(shot)[..., :3]
    assert img.shape[:2] == (915 * 2, 412 * 2)
    assert img.std() > 0.05 and len(np.unique((img * 255).astype(int).reshape(-1, 3), axis=0)) > 50

"""MIDI learn: control kinds detected from message bursts, the mapping file it writes, and
`jamd learn` driven by a scripted controller over real JACK MIDI ports."""

import subprocess
import sys
import threading
import time

import mido
import pytest
from _values import Values

from jamd.control.learn import Detected, detect, mapping_yaml, relative_encoding
from jamd.control.mapper import Mapper
from jamd.control.mapping import load_mapping

CC, NOTE_ON, NOTE_OFF = 0xB0, 0x90, 0x80


def knob(cc: int, ch: int = 1) -> list[list[int]]:
    """An absolute knob turned up: a new value each message, never the same twice in a row."""
    return [[CC | (ch - 1), cc, v] for v in range(0, 128, 9)]


def pair14(msb: int, ch: int = 1) -> list[list[int]]:
    """A 14-bit fader: MSB then LSB for each position."""
    out = []
    for pos in range(0, 16384, 1500):
        out += [[CC | (ch - 1), msb, pos >> 7], [CC | (ch - 1), msb + 32, pos & 0x7F]]
    return out


def encoder(cc: int, ch: int = 1, up: int = 65, down: int = 63) -> list[list[int]]:
    """An endless encoder turned right, then back left."""
    return [[CC | (ch - 1), cc, up]] * 8 + [[CC | (ch - 1), cc, down]] * 4


def nrpn(param: int, ch: int = 1, fine: bool = True) -> list[list[int]]:
    out = [[CC | (ch - 1), 99, param >> 7], [CC | (ch - 1), 98, param & 0x7F]]
    for v in range(0, 128, 16):
        out.append([CC | (ch - 1), 6, v])
        if fine:
            out.append([CC | (ch - 1), 38, 64])
    return out


def test_absolute_knob():
    assert detect(knob(10)) == Detected("cc", 1, 10)


def test_14_bit_pair_is_one_control_under_its_msb():
    assert detect(pair14(1, ch=3)) == Detected("cc14", 3, 1)


@pytest.mark.parametrize(
    "up,down,encoding",
    [
        (65, 63, "offset64"),
        (1, 127, "twos_complement"),
        (1, 65, "sign_magnitude"),
        (66, 66, "offset64"),
    ],
)
def test_relative_encoders(up, down, encoding):
    assert detect(encoder(20, up=up, down=down)) == Detected("cc", 1, 20, relative=encoding)


def test_a_knob_at_the_bottom_of_its_travel_is_not_an_encoder():
    assert relative_encoding([0, 1, 2, 3, 4, 3, 2, 1]) is None
    assert relative_encoding([64, 65, 66, 67]) is None


def test_nrpn_14_and_7_bit():
    assert detect(nrpn(300, ch=2)) == Detected("nrpn", 2, 300)
    assert detect(nrpn(5, fine=False)) == Detected("nrpn", 1, 5, bits=7)


def test_notes_mido_messages_and_noise():
    msgs = [
        mido.Message("clock"),
        mido.Message("note_on", channel=9, note=36, velocity=100),
        mido.Message("note_off", channel=9, note=36),
        [0xF8],
        [0x90, 200, 1],
    ]
    assert detect(msgs) == Detected("note", 10, 36)
    assert detect([[0xF8], [0xFE]]) is None


def test_the_control_moved_most_wins_and_learned_ones_are_left_out():
    bumped = knob(10)[:2] + knob(11)
    assert detect(bumped).number == 11
    assert detect(bumped, exclude=[("cc", 1, 11)]).number == 10


def test_buttons_need_a_cc_or_a_note():
    assert Detected("note", 1, 36).fits("reseed") is None
    assert Detected("cc", 1, 45).fits("hold") is None
    assert "button" in Detected("cc", 1, 20, relative="offset64").fits("reseed")
    assert "button" in Detected("cc14", 1, 1).fits("mute.drums")


def test_written_mapping_loads_and_maps_the_same_messages(tmp_path):
    learned = {
        "drums.x": detect(knob(10)),
        "drums.y": detect(pair14(1)),
        "density": detect(encoder(20, ch=2)),
        "tempo": detect(nrpn(300)),
        "reseed": detect([[NOTE_ON, 36, 90], [NOTE_OFF, 36, 0]]),
    }
    path = tmp_path / "mine.yaml"
    path.write_text(mapping_yaml(learned, device='My "box"', match="learnctl", comment="test\nfile"))
    mapping = load_mapping(path)
    assert mapping.match.text == "learnctl" and mapping.device == 'My "box"' and mapping.channel == 1
    assert mapping.controls["density"].channel == 2 and mapping.controls["density"].relative == "offset64"
    assert mapping.controls["tempo"].range == [60, 180]
    targets = set()
    for msgs in (knob(10), pair14(1), encoder(20, ch=2), nrpn(300), [[NOTE_ON, 36, 90]]):
        m = Mapper(mapping, Values())
        for t, msg in enumerate(msgs):
            targets |= {ev.target for ev in m.feed(msg, float(t))}
    assert targets == set(learned)


# ------------------------------------------------------------------ over JACK, end to end


@pytest.mark.jack
def test_learn_from_a_scripted_controller_over_jack(jack_server, tmp_path):
    rtmidi = pytest.importorskip("rtmidi")
    bursts = {"drums.x": knob(10), "drums.y": pair14(1), "density": encoder(20, ch=2)}
    out_path, log = tmp_path / "mine.yaml", tmp_path / "learn.log"
    ctl = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="learnctl")
    proc, prompts = None, []
    try:
        ctl.open_virtual_port("out")
        with open(log, "w") as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jamd",
                    "learn",
                    "--port",
                    "learnctl:out",
                    "--api",
                    "jack",
                    "-o",
                    str(out_path),
                    "--targets",
                    "drums.x,drums.y,density,reseed",
                    "--listen-s",
                    "2",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        killer = threading.Timer(60, proc.kill)  # a hang fails the test, never the run
        killer.start()
        for line in proc.stdout:
            if line.startswith("move the control for "):
                prompts.append(line.split()[4])
                for msg in bursts.get(prompts[-1], []):
                    ctl.send_message(msg)
                    time.sleep(0.01)
        assert proc.wait(10) == 0, log.read_text()
        killer.cancel()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)
        ctl.close_port()
        ctl.delete()
    assert prompts == ["drums.x", "drums.y", "density", "reseed"]
    mapping = load_mapping(out_path)
    assert {
        n: (c.source, c.number, mapping.channel_of(c), c.relative) for n, c in mapping.controls.items()
    } == {
        "drums.x": ("cc", 10, 1, None),
        "drums.y": ("cc14", 1, 1, None),
        "density": ("cc", 20, 2, "offset64"),
    }
    for target, msgs in bursts.items():
        m = Mapper(mapping, Values())
        events = [ev for t, msg in enumerate(msgs) for ev in m.feed(msg, float(t))]
        assert events and {ev.target for ev in events} == {target}

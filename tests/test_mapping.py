"""Controller mappings: the shipped files, bad files, and the Mapper's logic (no hardware)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import mido
import pytest
from _values import Values
from hypothesis import given, settings
from hypothesis import strategies as st

from jamd.base.paths import MAPPINGS_DIR
from jamd.base.yamlload import ConfigError
from jamd.control.ctlparse import ChannelParser, normalize
from jamd.control.mapper import CURVES, ControlEvent, Mapper, deadzone, decode_relative
from jamd.control.mapping import Mapping, load_mapping, select_mapping
from jamd.control.targets import TARGETS

SHIPPED = sorted(MAPPINGS_DIR.glob("*.yaml"))


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def mapper(tmp_path: Path, controls: str, extra: str = "") -> Mapper:
    return Mapper(load_mapping(write(tmp_path, f"channel: 1\n{extra}controls:\n{controls}")), Values())


def cc(n: int, v: int, ch: int = 1) -> list[int]:
    return [0xB0 | (ch - 1), n, v]


def values(events: list[ControlEvent], target: str) -> list[float]:
    return [e.value for e in events if e.target == target]


# ------------------------------------------------------------------------ shipped files


def test_the_expected_devices_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {
        "korg-nanokontrol2",
        "novation-launch-control-xl",
        "akai-mpk-mini-mk3",
        "korg-kaoss-pad-kp3",
        "arturia-beatstep",
        "generic-two-knobs",
    } <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_mapping_loads_and_says_where_its_numbers_come_from(path: Path):
    m = load_mapping(path)
    assert m.controls
    header = path.read_text().split("\ndevice:")[0]
    assert path.stem == "generic-two-knobs" or "Source" in header


@pytest.mark.parametrize(
    "port, expected",
    [
        ("nanoKONTROL2:nanoKONTROL2 nanoKONTROL2 _ CTRL 20:0", "korg-nanokontrol2"),
        ("Launch Control XL:Launch Control XL MIDI 1 24:0", "novation-launch-control-xl"),
        ("MPK mini 3:MPK mini 3 MIDI 1 28:0", "akai-mpk-mini-mk3"),
        ("KP3:KP3 MIDI 1 32:0", "korg-kaoss-pad-kp3"),
        ("Arturia BeatStep:Arturia BeatStep MIDI 1 36:0", "arturia-beatstep"),
        ("Arturia BeatStep Pro:Arturia BeatStep Pro MIDI 1", "generic-two-knobs"),
        ("Some Other Box MIDI 1", "generic-two-knobs"),
    ],
)
def test_ports_select_their_mapping(port: str, expected: str):
    mappings = [load_mapping(p) for p in SHIPPED]
    assert select_mapping(mappings, port).name == expected


def test_kp3_factory_numbers():
    m = load_mapping(MAPPINGS_DIR / "korg-kaoss-pad-kp3.yaml")
    assert (m.controls["pad x"].cc, m.controls["pad y"].cc, m.gates["pad"].cc) == (12, 13, 92)


# ---------------------------------------------------------------------------- bad files


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as e:
        load_mapping(write(tmp_path, text))
    return str(e.value)


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("controls:\n  a: {cc: 1, target: drums.x\n  b: 2\n", 3, "not valid YAML"),
        ("channel: 1\ncontrols:\n  a:\n    cc: 300\n    target: drums.x\n", 4, "0..127"),
        ("channel: 0\ncontrols:\n  a: {cc: 1, target: drums.x}\n", 1, "1..16"),
        ("controls:\n  a: {cc: 1, channel: 17, target: drums.x}\n", 2, "1..16"),
        ("controls:\n  a:\n    cc: 1\n    target: drums.z\n", 4, "unknown target 'drums.z'"),
        ("controls:\n  a: {cc: 1, target: drums.x}\non: 3\n", 3, "boolean"),
        ("controls:\n  a:\n    cc: 1\n    on: press\n    target: hold\n", 4, "boolean"),
        ("controls:\n  a:\n    cc: 1\n    target: drums.x\n    curv: exp\n", 5, "did you mean 'curve'"),
        ("contrls:\n  a: {cc: 1, target: drums.x}\n", 1, "allowed: controls"),
        ("controls:\n  a: {cc: 1, target: drums.x}\n  a: {cc: 2, target: drums.y}\n", 3, "twice"),
        ("controls:\n  1: {cc: 1, target: drums.x}\n", 2, "keys must be text"),
        ("controls:\n  a:\n    target: drums.x\n", 3, "exactly one source"),
        ("controls:\n  a: {cc: 1, note: 3, target: drums.x}\n", 2, "it has cc, note"),
        ("controls:\n  a:\n    cc: 1\n    target: drums.x\n    curve: squiggle\n", 5, "linear, exp, log"),
        ("controls:\n  a:\n    cc: 1\n    target: reseed\n    button: toggle\n", 5, "trigger"),
        ("controls:\n  a:\n    cc: 1\n    target: drums.x\n    gate: pad\n", 5, "gate 'pad'"),
        ("controls:\n  a:\n    cc14: 40\n    target: drums.x\n", 3, "0..31"),
        ("controls:\n  a:\n    nrpn: 20000\n    target: drums.x\n", 3, "0..16383"),
        ("controls:\n  a:\n    cc: 1\n    target: drums.x\n    range: [0, 5]\n", 5, "limits"),
        ("controls:\n  a:\n    nrpn: 3\n    relative: offset64\n    target: drums.x\n", 4, "7-bit"),
        ("controls:\n  a:\n    cc: 1\n    target: drums.x\n    invert: yes please\n", 5, "true or false"),
        ("match: /(unclosed/\ncontrols: {}\n", 1, "regular expression"),
        ("controls:\n  a: {cc: 1, target: mute.kick, relative: offset64}\n", 2, "relative"),
    ],
)
def test_bad_mapping_is_one_error_with_file_and_line(tmp_path: Path, text: str, line: int, words: str):
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'm.yaml'}:{line}: "), message
    assert words in message
    assert "\n" not in message


def test_unknown_target_lists_the_targets(tmp_path: Path):
    message = error_of(tmp_path, "controls:\n  a: {cc: 1, target: drums}\n")
    assert "drums.x" in message and "mute.kick" in message and "transport.play" in message


def test_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such file"):
        load_mapping(tmp_path / "nope.yaml")


# ------------------------------------------------------------------------------- takeover


def test_pickup_holds_until_the_knob_passes_the_value(tmp_path: Path):
    m = mapper(tmp_path, "  k: {cc: 1, target: drums.x}\n")
    assert m.feed(cc(1, 0), 0) == []  # knob at the bottom, value at home (0)
    assert m.feed(cc(1, 40), 0) == []  # still below
    (event,) = m.feed(cc(1, 70), 0)  # passes 0: takes over
    assert event.target == "drums.x" and event.value == pytest.approx(70 / 127 * 2 - 1)
    assert values(m.feed(cc(1, 100), 0), "drums.x") == [pytest.approx(100 / 127 * 2 - 1)]
    m.store.values["drums.x"] = -0.5  # a reseed moved the latent
    assert m.feed(cc(1, 110), 0) == []  # the knob no longer drives it
    assert m.feed(cc(1, 50), 0) == []  # moving, but has not passed -0.5 yet
    assert values(m.feed(cc(1, 20), 0), "drums.x") == [pytest.approx(20 / 127 * 2 - 1)]


def test_pickup_engages_when_the_knob_starts_at_the_value(tmp_path: Path):
    m = mapper(tmp_path, "  k: {cc: 1, target: density}\n")
    assert values(m.feed(cc(1, 64), 0), "density") == [pytest.approx(64 / 127)]


def test_two_knobs_on_one_target_hand_over(tmp_path: Path):
    m = mapper(tmp_path, "  a: {cc: 1, target: density}\n  b: {cc: 2, target: density}\n")
    m.feed(cc(1, 64), 0)
    m.feed(cc(1, 127), 0)  # knob a sets 1.0
    assert m.feed(cc(2, 0), 0) == []  # knob b sits at 0: must pick up
    assert m.feed(cc(2, 120), 0) == []
    assert m.feed(cc(2, 127), 0) == []  # picked up (at the value: no change)
    assert values(m.feed(cc(2, 100), 0), "density") == [pytest.approx(100 / 127)]


def test_scale_takeover_closes_the_gap_as_the_knob_moves(tmp_path: Path):
    m = mapper(tmp_path, "  k: {cc: 1, target: density, takeover: scale}\n")
    m.store.values["density"] = 0.8
    assert m.feed(cc(1, 0), 0) == []  # first position: nothing to scale from
    (up,) = m.feed(cc(1, 64), 0)  # half way up -> half of the rest
    assert up.value == pytest.approx(0.8 + (64 / 127) * 0.2)
    (top,) = m.feed(cc(1, 127), 0)
    assert top.value == pytest.approx(1.0)  # both reach the end together
    assert values(m.feed(cc(1, 30), 0), "density") == [pytest.approx(30 / 127)]  # now direct


def test_velocity_pads_jump_by_default(tmp_path: Path):
    m = mapper(tmp_path, "  pad: {note: 36, target: density}\n")
    assert values(m.feed([0x90, 36, 127], 0), "density") == [1.0]
    assert m.feed([0x80, 36, 0], 0) == []  # the release is not a position
    assert values(m.feed([0x90, 36, 10], 0), "density") == [pytest.approx(10 / 127)]


def test_jump_takeover(tmp_path: Path):
    m = mapper(tmp_path, "  k: {cc: 1, target: density, takeover: jump}\n")
    assert values(m.feed(cc(1, 0), 0), "density") == [0.0]


def test_mappers_share_one_store(tmp_path: Path):
    store = Values()
    a = Mapper(load_mapping(write(tmp_path, "controls:\n  k: {cc: 1, target: density}\n", "a.yaml")), store)
    b = Mapper(load_mapping(write(tmp_path, "controls:\n  k: {cc: 1, target: density}\n", "b.yaml")), store)
    a.feed(cc(1, 64), 0)
    b.feed(cc(1, 64), 0)
    a.feed(cc(1, 127), 0)
    assert b.feed(cc(1, 70), 0) == []  # a moved it: b must pick up again


# -------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    "encoding, table",
    [
        ("twos_complement", {1: 1, 63: 63, 127: -1, 65: -63, 64: -64, 0: 0}),
        ("offset64", {65: 1, 127: 63, 63: -1, 0: -64, 64: 0}),
        ("sign_magnitude", {1: 1, 63: 63, 65: -1, 127: -63, 64: 0, 0: 0}),
    ],
)
def test_relative_encodings(encoding: str, table: dict[int, int]):
    for value, steps in table.items():
        assert decode_relative(value, encoding) == steps, (encoding, value)


@pytest.mark.parametrize(
    "encoding, up, down",
    [
        ("twos_complement", 2, 126),
        ("offset64", 66, 62),
        ("sign_magnitude", 2, 66),
    ],
)
def test_relative_encoder_moves_from_the_current_value(tmp_path: Path, encoding: str, up: int, down: int):
    m = mapper(tmp_path, f"  e: {{cc: 5, relative: {encoding}, step: 0.05, target: drums.x}}\n")
    assert values(m.feed(cc(5, up), 0), "drums.x") == [pytest.approx(0.2)]  # 2 steps x 0.05 x 2
    m.store.values["drums.x"] = 0.9  # no takeover needed: steps are relative
    assert values(m.feed(cc(5, up), 0), "drums.x") == [pytest.approx(1.0)]  # clamped at the end
    assert values(m.feed(cc(5, down), 0), "drums.x") == [pytest.approx(0.8)]


def test_relative_invert(tmp_path: Path):
    m = mapper(tmp_path, "  e: {cc: 5, relative: offset64, step: 0.1, invert: true, target: density}\n")
    assert values(m.feed(cc(5, 65), 0), "density") == [pytest.approx(0.4)]


def test_14_bit_cc_assembles_msb_and_lsb(tmp_path: Path):
    m = mapper(tmp_path, "  f: {cc14: 7, target: density, takeover: jump}\n")
    assert values(m.feed(cc(7, 64), 0), "density") == [pytest.approx(8192 / 16383)]
    assert values(m.feed(cc(39, 100), 0), "density") == [pytest.approx((64 * 128 + 100) / 16383)]
    assert values(m.feed(cc(39, 1), 0), "density") == [pytest.approx((64 * 128 + 1) / 16383)]
    assert values(m.feed(cc(7, 127), 0), "density") == [pytest.approx(127 * 128 / 16383)]  # LSB reset
    assert values(m.feed(cc(39, 127), 0), "density") == [1.0]


def test_14_bit_cc_with_an_unusual_lsb(tmp_path: Path):
    m = mapper(tmp_path, "  f: {cc14: 2, lsb: 50, target: density, takeover: jump}\n")
    m.feed(cc(2, 1), 0)
    assert values(m.feed(cc(50, 5), 0), "density") == [pytest.approx((128 + 5) / 16383)]
    assert m.feed(cc(34, 5), 0) == []  # the standard LSB is not this control's


def test_nrpn_assembles_parameter_and_value(tmp_path: Path):
    m = mapper(
        tmp_path,
        "  n: {nrpn: 130, target: density, takeover: jump}\n"
        "  other: {nrpn: 5, target: temperature, takeover: jump}\n",
    )
    assert m.feed(cc(99, 1), 0) == [] and m.feed(cc(98, 2), 0) == []  # parameter 1*128+2
    assert values(m.feed(cc(6, 100), 0), "density") == [pytest.approx(100 * 128 / 16383)]
    assert values(m.feed(cc(38, 5), 0), "density") == [pytest.approx((100 * 128 + 5) / 16383)]
    m.feed(cc(99, 0), 0)
    m.feed(cc(98, 5), 0)
    assert values(m.feed(cc(6, 127), 0), "temperature") == [pytest.approx(127 * 128 / 16383 * 4)]
    m.feed(cc(101, 0), 0)  # an RPN is selected: not ours
    m.feed(cc(100, 0), 0)
    assert m.feed(cc(6, 3), 0) == []
    m.feed(cc(99, 127), 0)  # the null parameter: nothing selected
    m.feed(cc(98, 127), 0)
    assert m.feed(cc(6, 3), 0) == []


def test_nrpn_seven_bit_and_increment(tmp_path: Path):
    m = mapper(tmp_path, "  n: {nrpn: 3, bits: 7, step: 0.1, target: density, takeover: jump}\n")
    m.feed(cc(99, 0), 0)
    m.feed(cc(98, 3), 0)
    assert values(m.feed(cc(6, 127), 0), "density") == [1.0]
    assert values(m.feed(cc(97, 0), 0), "density") == [pytest.approx(0.9)]  # data decrement
    assert values(m.feed(cc(96, 0), 0), "density") == [pytest.approx(1.0)]  # data increment


def test_nrpn_channel_parser_keeps_channels_apart():
    p = ChannelParser(nrpn=True)
    assert p.cc(99, 0) is None and p.cc(98, 9) is None
    assert p.param == 9
    assert p.cc(6, 2).value == 256
    assert ChannelParser(nrpn=False).cc(6, 2).kind == "cc"  # no NRPN on this channel: plain CC 6


# ------------------------------------------------------------------------ value shaping


def test_curves_are_monotonic_and_invertible():
    for name, (fwd, inv) in CURVES.items():
        xs = [i / 20 for i in range(21)]
        ys = [fwd(x, 3.0) for x in xs]
        assert ys[0] == pytest.approx(0) and ys[-1] == pytest.approx(1)
        assert all(b > a for a, b in zip(ys, ys[1:])), name
        assert [inv(y, 3.0) for y in ys] == pytest.approx(xs)
    assert CURVES["exp"][0](0.5, 3.0) < 0.5 < CURVES["log"][0](0.5, 3.0)


def test_curve_invert_and_range_on_a_knob(tmp_path: Path):
    m = mapper(
        tmp_path, "  t: {cc: 1, target: tempo, range: [60, 180], curve: exp, invert: true, takeover: jump}\n"
    )
    assert values(m.feed(cc(1, 0), 0), "tempo") == [pytest.approx(180)]
    assert values(m.feed(cc(1, 127), 0), "tempo") == [pytest.approx(60)]
    (mid,) = values(m.feed(cc(1, 64), 0), "tempo")
    assert 60 < mid < 120  # exp after invert: slow at the top of travel


def test_deadzone():
    assert deadzone(0.5, 0.1) == 0.5 and deadzone(0.54, 0.1) == 0.5
    assert deadzone(0.0, 0.1) == 0.0 and deadzone(1.0, 0.1) == pytest.approx(1.0)
    assert deadzone(0.56, 0.1) == pytest.approx(0.5 + 0.01 / 0.9)  # continuous past the edge
    assert deadzone(0.3, 0.0) == 0.3


def test_deadzone_gives_a_centre_detent_on_xy(tmp_path: Path):
    m = mapper(tmp_path, "  x: {cc: 1, target: drums.x, deadzone: 0.1, takeover: jump}\n")
    m.feed(cc(1, 0), 0)
    assert values(m.feed(cc(1, 60), 0), "drums.x") == [0.0]


# ------------------------------------------------------------------------------- buttons


def test_toggle_button_on_cc_press_and_release(tmp_path: Path):
    m = mapper(tmp_path, "  b: {cc: 48, target: mute.kick}\n")
    assert m.feed(cc(48, 127), 0) == [("mute.kick", 1.0)]
    assert m.feed(cc(48, 127), 0) == []  # a repeated press message is not a press
    assert m.feed(cc(48, 0), 0) == []
    assert m.feed(cc(48, 127), 0) == [("mute.kick", 0.0)]
    m.feed(cc(48, 0), 0)
    m.store.values["mute.kick"] = 1.0  # OSC muted it: the next press unmutes
    assert m.feed(cc(48, 127), 0) == [("mute.kick", 0.0)]


def test_hold_button_and_note_buttons(tmp_path: Path):
    m = mapper(tmp_path, "  h: {note: 36, channel: 10, button: hold, target: hold}\n")
    assert m.feed(mido.Message("note_on", channel=9, note=36, velocity=90), 0) == [("hold", 1.0)]
    assert m.feed(mido.Message("note_off", channel=9, note=36), 0) == [("hold", 0.0)]
    assert m.feed([0x99, 36, 1], 0) == [("hold", 1.0)]
    assert m.feed([0x99, 36, 0], 0) == [("hold", 0.0)]  # note-on velocity 0
    assert m.feed([0x90, 36, 100], 0) == []  # wrong channel


def test_press_buttons_and_triggers(tmp_path: Path):
    m = mapper(
        tmp_path,
        "  mute on: {cc: 1, button: press, value: 1, target: mute.bass}\n"
        "  mute off: {cc: 2, button: press, value: 0, target: mute.bass}\n"
        "  r: {note: 40, target: reseed}\n"
        "  fast: {cc: 3, button: press, value: 180, target: tempo}\n",
    )
    assert m.feed(cc(1, 127), 0) == [("mute.bass", 1.0)]
    assert m.feed(cc(2, 127), 0) == [("mute.bass", 0.0)]
    assert m.feed([0x90, 40, 100], 0) == [("reseed", 1.0)]
    assert m.feed([0x80, 40, 0], 0) == []
    assert m.feed([0x90, 40, 100], 0) == [("reseed", 1.0)]  # every press fires
    assert m.feed(cc(3, 127), 0) == [("tempo", 180.0)]


# --------------------------------------------------------------------- XY touch gate


def kp3_like(tmp_path: Path, release: str) -> Mapper:
    return mapper(
        tmp_path,
        "  x: {cc: 12, target: drums.x, gate: pad}\n"  # jump by default
        "  y: {cc: 13, target: drums.y, gate: pad}\n",
        f"gates:\n  pad: {{cc: 92, release: {release}, glide: 1.0}}\n",
    )


def test_gate_passes_positions_only_while_touched(tmp_path: Path):
    m = kp3_like(tmp_path, "hold")
    assert m.feed(cc(12, 127), 0) == [] and m.feed(cc(13, 0), 0) == []  # before the touch
    touch = m.feed(cc(92, 127), 0)  # the touch applies the latest position
    assert sorted(touch) == [("drums.x", 1.0), ("drums.y", -1.0)]
    assert values(m.feed(cc(12, 0), 0.1), "drums.x") == [-1.0]
    assert m.feed(cc(92, 0), 0.2) == []  # release: hold
    assert m.feed(cc(12, 64), 0.3) == []  # not touched: ignored
    assert m.tick(5.0) == []


def touched_at_the_right(m: Mapper) -> Mapper:
    m.feed(cc(92, 127), 0)
    m.feed(cc(12, 127), 0)
    return m


def test_release_returns_home(tmp_path: Path):
    m = touched_at_the_right(kp3_like(tmp_path, "home"))
    m.feed(cc(13, 127), 0)
    assert sorted(m.feed(cc(92, 0), 1)) == [("drums.x", 0.0), ("drums.y", 0.0)]


def test_release_glides_home(tmp_path: Path):
    m = touched_at_the_right(kp3_like(tmp_path, "glide"))
    assert m.feed(cc(92, 0), 10.0) == []
    assert values(m.tick(10.5), "drums.x") == [pytest.approx(0.5)]  # half way after 0.5 s
    assert values(m.tick(11.0), "drums.x") == [pytest.approx(0.0)]
    assert m.tick(12.0) == []


def test_touch_during_glide_stops_it(tmp_path: Path):
    m = touched_at_the_right(kp3_like(tmp_path, "glide"))
    m.feed(cc(92, 0), 0)
    m.tick(0.5)
    m.feed(cc(92, 127), 0.5)
    assert values(m.feed(cc(12, 100), 0.6), "drums.x") == [pytest.approx(100 / 127 * 2 - 1)]
    assert m.tick(2.0) == []


def test_smoothing_moves_in_ticks(tmp_path: Path):
    m = mapper(tmp_path, "  k: {cc: 1, target: density, takeover: jump, smoothing: 0.1}\n")
    assert m.feed(cc(1, 127), 0.0) == []
    first = values(m.tick(0.1), "density")[0]
    assert first == pytest.approx(0.5 + 0.5 * (1 - math.exp(-1)))
    assert m.store.values["density"] == first  # written to the store as it moves
    later = [values(m.tick(0.1 * i), "density") for i in range(2, 40)]
    assert [v for vs in later for v in vs][-1] == 1.0
    assert m.tick(10) == []


def test_an_outside_move_ends_smoothing_and_the_knob_picks_up_again(tmp_path: Path):
    m = mapper(tmp_path, "  k: {cc: 1, target: density, smoothing: 0.1}\n")
    m.feed(cc(1, 64), 0.0)  # at the value (0.5): picked up
    m.feed(cc(1, 127), 0.0)
    assert values(m.tick(0.1), "density")
    m.store.values["density"] = 0.2  # OSC moved it mid-way
    assert m.tick(0.2) == [] and m.tick(5.0) == []  # the smoothing let go
    assert m.store.values["density"] == 0.2
    m.feed(cc(1, 120), 5.0)  # the knob, still above the new value, does not drive it
    assert m.tick(6.0) == []
    m.feed(cc(1, 20), 6.0)  # passes 0.2: picked up, smoothing towards the knob
    assert values(m.tick(10.0), "density") == [pytest.approx(20 / 127)]


def test_an_outside_move_ends_a_glide_home(tmp_path: Path):
    m = touched_at_the_right(kp3_like(tmp_path, "glide"))
    m.feed(cc(92, 0), 10.0)
    assert values(m.tick(10.5), "drums.x") == [pytest.approx(0.5)]
    m.store.values["drums.x"] = -0.3  # a reseed moved the pad
    assert m.tick(10.8) == [] and m.tick(12.0) == []
    assert m.store.values["drums.x"] == -0.3


# ------------------------------------------------------------------- hostile input


def test_normalize():
    assert normalize([0xB3, 7, 100]) == ("cc", 4, 7, 100)
    assert normalize(bytes([0x9F, 36, 0])) == ("note_off", 16, 36, 0)
    for bad in (
        [0xB0, 7],
        [0xF8],
        [0x1B0, 1, 1],
        [-80, 1, 1],
        [0xF0, 1, 2, 0xF7],
        [0xB0, 200, 1],
        [7, 1, 1],
        None,
        "abc",
        3,
        {},
    ):
        assert normalize(bad) is None
    assert normalize(mido.Message("clock")) is None
    assert normalize(mido.Message("pitchwheel", pitch=5)) is None
    m = Mapper(load_mapping(MAPPINGS_DIR / "generic-two-knobs.yaml"), Values())
    for msg in ([0xF8], [0xB0, 1, 64], None, [0xB0, 1]):
        m.feed(msg, 0)
    assert (m.received, m.ignored) == (4, 3)


FULL = """\
channel: 1
gates:
  pad: {cc: 92, release: glide, glide: 0.3}
  n: {note: 1, release: home}
controls:
  a: {cc: 1, target: drums.x, curve: exp, deadzone: 0.2}
  b: {cc: 2, target: drums.y, takeover: scale, invert: true, smoothing: 0.05}
  c: {cc14: 3, target: tempo, curve: log, range: [60, 180]}
  d: {nrpn: 300, target: temperature}
  e: {nrpn: 301, bits: 7, target: timing, channel: 2}
  f: {cc: 20, relative: twos_complement, target: bass.x}
  g: {cc: 21, relative: sign_magnitude, target: bass.y, curve: exp}
  h: {cc: 22, relative: offset64, target: density, smoothing: 0.2}
  i: {cc: 12, target: drums.x, takeover: jump, gate: pad}
  j: {cc: 13, target: drums.y, takeover: jump, gate: n}
  k: {note: 36, target: mute.kick}
  l: {note: 37, button: hold, target: hold}
  m: {cc: 64, target: reseed}
  o: {note: 50, target: density}
  p: {cc: 65, button: press, value: 0.25, target: density}
"""

message_bytes = st.one_of(
    st.lists(st.integers(0, 255), min_size=0, max_size=5),
    st.tuples(st.sampled_from([0x80, 0x90, 0xB0, 0xB1, 0x99]), st.integers(0, 127), st.integers(0, 127)),
    st.tuples(
        st.just(0xB0),
        st.sampled_from([1, 2, 3, 35, 6, 38, 96, 97, 98, 99, 100, 101, 12, 13, 92, 20, 21, 22, 64, 65]),
        st.integers(0, 127),
    ),
)


@pytest.fixture(scope="module")
def all_mappings(tmp_path_factory) -> list[Mapping]:
    path = tmp_path_factory.mktemp("m") / "full.yaml"
    path.write_text(FULL)
    return [load_mapping(path)] + [load_mapping(p) for p in SHIPPED]


@settings(max_examples=300, deadline=None)
@given(stream=st.lists(st.tuples(message_bytes, st.floats(0, 0.5)), max_size=60))
def test_random_message_streams_never_raise_and_stay_in_range(all_mappings, stream):
    for m in (Mapper(mapping, Values()) for mapping in all_mappings):
        now = 0.0
        for msg, dt in stream:
            now += dt
            for target, value in m.feed(msg, now) + m.tick(now):
                t = TARGETS[target]
                assert math.isfinite(value) and t.lo <= value <= t.hi, (target, value)
        for target, value in m.store.values.items():
            assert TARGETS[target].lo <= value <= TARGETS[target].hi


def test_every_error_message_is_file_colon_line(tmp_path: Path):
    pattern = re.compile(rf"^{re.escape(str(tmp_path / 'm.yaml'))}:\d+: [^\n]+$")
    for text in (
        "controls: [1, 2]\n",
        "controls:\n  a: 5\n",
        "device: [x]\ncontrols: {}\n",
        "- a\n- b\n",
        "controls:\n  a: {cc: 1, target: drums.x, range: [1]}\n",
        "controls: {}\ngates:\n  g: {cc: 1, note: 2}\n",
        "controls: {}\n---\nx: 1\n",
    ):
        assert pattern.match(error_of(tmp_path, text)), text


def test_every_target_and_field_is_documented():
    import dataclasses

    from jamd.base.paths import CHECKOUT_DIR
    from jamd.control.mapping import ControlSpec, GateSpec

    docs = (CHECKOUT_DIR / "docs" / "mappings.md").read_text()
    for name in TARGETS:
        assert f"`{name}`" in docs, name
    for cls in (Mapping, ControlSpec, GateSpec):
        for f in dataclasses.fields(cls):
            assert not f.init or f"`{f.name}`" in docs, f"{cls.__name__}.{f.name}"
    for path in SHIPPED:
        assert f"(`{path.stem}`)" in docs, path.stem


def test_reloading_a_mapping_keeps_the_values(tmp_path: Path):
    old = mapper(tmp_path, "  k: {cc: 1, target: density, takeover: jump}\n")
    old.feed(cc(1, 127), 0)
    with pytest.raises(ConfigError):
        load_mapping(write(tmp_path, "controls:\n  k: {cc: 1, target: densty}\n", "new.yaml"))
    new = Mapper(
        load_mapping(write(tmp_path, "controls:\n  k: {cc: 2, target: density}\n", "new.yaml")), old.store
    )
    assert new.store.values["density"] == 1.0
    assert new.feed(cc(2, 0), 0) == []  # a new knob picks the value up first

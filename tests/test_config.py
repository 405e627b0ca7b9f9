"""The daemon config: the example file, defaults, search order, and one clear error per bad file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jamd.live.config as config_module
from jamd.base.errors import UserError
from jamd.base.paths import CHECKOUT_DIR
from jamd.base.yamlload import ConfigError
from jamd.engine.clock import ClockMode
from jamd.live.config import Config, find_config, load_config, read_config
from jamd.music.drumkit import GM_OUTPUT, VOICES, VoiceOut
from jamd.music.grid import BassRange
from jamd.tempo.autostart import Start

EXAMPLE = CHECKOUT_DIR / "jamd.example.yaml"


@pytest.fixture(autouse=True)
def no_real_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Keep the machine's own ~/.config and /etc out of the tests."""
    search = [tmp_path / "home" / "jamd.yaml", tmp_path / "etc" / "jamd.yaml"]
    monkeypatch.setattr(config_module, "config_search_path", lambda: search)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return search


def cfg(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "jamd.yaml"
    path.write_text(text)
    return read_config(path)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as e:
        cfg(tmp_path, text)
    return str(e.value)


def test_the_example_loads_and_says_what_the_defaults_say():
    example, defaults = read_config(EXAMPLE), load_config()
    assert [str(p) for p in example.ports.controllers] == ["nanoKONTROL2", "KP3"]
    # apart from what the example fills in for show, it documents the defaults
    example.ports.controllers = []
    assert example.drums.outputs() == defaults.drums.outputs()
    example.drums.notes = {}
    example.path = defaults.path = ""
    assert example == defaults


def test_every_config_key_is_in_the_example_and_the_docs():
    example = EXAMPLE.read_text()
    docs = (CHECKOUT_DIR / "docs" / "config.md").read_text()
    import dataclasses

    for section in dataclasses.fields(Config):
        if not section.init:
            continue
        assert f"{section.name}:" in example and f"`{section.name}" in docs, section.name
        if dataclasses.is_dataclass(section.default_factory):
            for f in dataclasses.fields(section.default_factory):
                assert f"  {f.name}:" in example, f"{section.name}.{f.name}"
                assert f"`{section.name}.{f.name}`" in docs, f"{section.name}.{f.name}"


def test_defaults():
    c = load_config()
    assert c.path == "" and c.clock.mode is ClockMode.INTERNAL and c.clock.tempo == 120.0
    assert c.drums.outputs() == GM_OUTPUT
    assert c.bass.range() == BassRange()
    assert c.osc.allow == ["127.0.0.1/32", "::1/128"] and c.osc.port == 9000
    assert c.drummer.table[36] == VOICES.index("kick")
    assert {m.name for m in c.controller_mappings()} >= {"korg-nanokontrol2", "generic-two-knobs"}


def test_search_order(tmp_path: Path, no_real_config: list[Path]):
    user, system = no_real_config
    assert find_config() is None
    system.parent.mkdir()
    system.write_text("clock: {tempo: 100}\n")
    assert load_config().clock.tempo == 100 and load_config().path == str(system)
    user.parent.mkdir()
    user.write_text("clock: {tempo: 90}\n")
    assert load_config().clock.tempo == 90
    explicit = tmp_path / "mine.yaml"
    explicit.write_text("clock: {tempo: 80}\n")
    assert load_config(explicit).clock.tempo == 80
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")


def test_empty_file_is_all_defaults(tmp_path: Path):
    assert cfg(tmp_path, "").clock == load_config().clock
    assert cfg(tmp_path, "# nothing yet\n").osc == load_config().osc


def test_drum_voice_overrides(tmp_path: Path):
    c = cfg(tmp_path, "drums:\n  channel: 11\n  notes:\n    kick: 35\n    ride: {note: 59, channel: 3}\n")
    outs = c.drums.outputs()
    assert outs[VOICES.index("kick")] == VoiceOut(35, 11)
    assert outs[VOICES.index("ride")] == VoiceOut(59, 3)
    assert outs[VOICES.index("snare")] == VoiceOut(38, 11)


def test_everything_set(tmp_path: Path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "mine.json").write_text("{}")
    c = cfg(
        tmp_path,
        """\
clock: {mode: midi, tempo: 96.5, send_clock: false}
ports:
  api: jack
  virtual: false
  drummer: TD-17
  controllers: [/^nanoKONTROL2/, KP3]
  keyboard: "010"
  drums: TR-8S
  bass: /TB-03|Bass Station/
  clock_in: TR-8S
  clock_out: null
drummer: {kit: td11, channel: 10, start: auto}
bass: {channel: 2, root_low: 36, low: 24, high: 60}
seed: {mode: blend, min_hits: 4, blend: 0.25, duck: 0.5}
latent: {radius: 1.5, slew: 0}
models: {drums: models/mine, bass: models/mine.json}
osc: {enabled: false, port: 9100, allow: [192.168.1.0/24, 127.0.0.1], report_to: ["127.0.0.1:9001"]}
logging: {level: debug, file: /tmp/jamd.log}
mappings: [korg-kaoss-pad-kp3, generic-two-knobs]
""",
    )
    assert c.clock.mode is ClockMode.MIDI and c.clock.tempo == 96.5
    assert c.ports.controllers[0].matches("nanoKONTROL2 MIDI 1") and not c.ports.controllers[0].matches(
        "x nanoKONTROL2"
    )
    assert c.ports.bass.matches("Novation Bass Station II") and c.ports.keyboard.matches("port 010")
    assert c.drummer.table[58] == VOICES.index("low_tom")  # TD-11: 58 is the floor tom rim
    assert c.drummer.tracker().start is Start.AUTO and Config().drummer.tracker().start is Start.COUNT_IN
    assert c.bass.range() == BassRange(36, 24, 60, 2)
    assert c.seed.settings().blend == 0.25 and c.seed.settings().mode.value == "blend"
    assert c.models.drums == models / "mine" and c.models.bass == models / "mine"
    assert c.osc.settings().allow == ("192.168.1.0/24", "127.0.0.1/32")
    assert [m.name for m in c.controller_mappings()] == ["korg-kaoss-pad-kp3", "generic-two-knobs"]


def test_the_default_drum_model_is_the_shipped_one():
    assert load_config().models.drums_path == CHECKOUT_DIR / "models" / "drums-v7"


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("clock:\n  mode: internal\n  tempoo: 120\n", 3, "did you mean 'tempo'"),
        ("clock:\n  mode: wallclock\n", 2, "internal, midi, link"),
        ("clock:\n  tempo: fast\n", 2, "must be a number"),
        ("clock:\n  tempo: 1000\n", 2, "20..400"),
        ("clock:\n  send_clock: 1\n", 2, "true or false"),
        ("ports:\n  api: pulse\n", 2, "auto, alsa, jack, coremidi, winmm"),
        ("ports:\n  drums: 010\n", 2, "put it in quotes"),
        ("ports:\n  drums: /([/\n", 2, "regular expression"),
        ("ports:\n  controllers: nanoKONTROL2\n", 2, "must be a list"),
        ("drums:\n  channel: 0\n", 2, "1..16"),
        ("drums:\n  notes:\n    kick: {note: 36, channel: 17}\n", 3, "1..16"),
        ("drums:\n  notes:\n    kick: 300\n", 3, "0..127"),
        ("drums:\n  notes:\n    cowbell: 56\n", 3, "unknown drum voice 'cowbell'"),
        ("drums:\n  preset: tr-909\n", 2, "general-midi"),
        ("drummer:\n  kit: td17\n", 2, "gm, td11"),
        ("drummer:\n  kit: gm\n  start: click\n", 3, "count_in, auto"),
        ("bass:\n  low: 60\n  high: 50\n", 2, "at least an octave"),
        ("bass:\n  high: 39\n", 2, "at least an octave"),
        ("bass:\n  channel: 2\n  chords: Am H7\n", 3, "not a chord symbol: 'H7'"),
        ("bass:\n  chords: C G Am\n", 2, "give 1, 2 or 4"),
        ("seed:\n  mode: follow\n  blend: 2\n", 3, "0..1"),
        ("models:\n  drums: nowhere/drums\n", 2, "no model 'nowhere/drums'"),
        ("osc:\n  allow: [localhost]\n", 2, "not an IP address"),
        ("osc:\n  report_to: [localhost]\n", 2, "host:port"),
        ("osc:\n  port: 80\n", 2, "1024..65535"),
        ("mappings: [korg-nanokontrol3]\n", 1, "no mapping named 'korg-nanokontrol3'"),
        ("mappings:\n  - ./missing.yaml\n", 2, "no mapping file"),
        ("logging:\n  level: verbose\n", 2, "debug, info, warning, error"),
        ("clock:\n  mode: internal\non: true\n", 3, "boolean"),
        ("clock: {tempo: 100}\nclock: {tempo: 90}\n", 2, "twice"),
        ("clock:\n  tempo: [100\n", 3, "not valid YAML"),
        ("- 1\n- 2\n", 1, "must be a mapping"),
        ("ports:\n  drums: \n", 2, "null"),
    ],
)
def test_bad_config_is_one_error_with_file_line_and_what_is_allowed(
    tmp_path: Path, text: str, line: int, words: str
):
    if words == "null":  # `drums:` with nothing is null: allowed (not used)
        assert cfg(tmp_path, text).ports.drums is None
        return
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'jamd.yaml'}:{line}: "), message
    assert words in message and "\n" not in message


def test_a_bad_mapping_named_by_the_config_is_reported_in_its_own_file(tmp_path: Path):
    (tmp_path / "mine.yaml").write_text("controls:\n  k:\n    cc: 300\n    target: drums.x\n")
    message = error_of(tmp_path, "mappings: [./mine.yaml]\n")
    assert message.startswith(f"{tmp_path / 'mine.yaml'}:3: ")


def test_user_mappings_are_found_by_name_and_hide_shipped_ones(tmp_path: Path):
    user_dir = tmp_path / "xdg" / "jamd" / "mappings"
    user_dir.mkdir(parents=True)
    (user_dir / "generic-two-knobs.yaml").write_text("controls:\n  k: {cc: 7, target: density}\n")
    c = cfg(tmp_path, "mappings: [generic-two-knobs]\n")
    assert c.controller_mappings()[0].controls["k"].cc == 7
    every = load_config().controller_mappings()
    assert [m.controls.get("k") for m in every if m.name == "generic-two-knobs"][0].cc == 7


def test_config_error_is_a_user_error():
    # the CLI prints a UserError as one line, without a traceback
    assert issubclass(ConfigError, UserError)


# ----------------------------------------------------------------------- the YAML reader


@pytest.mark.parametrize(
    "text, words",
    [
        ("a: &x [1, *x]\n", "alias refers to the value that contains it"),
        ("base: &b {tempo: 1}\nclock:\n  <<: *b\n", "merge keys"),
        ("clock: {}\n---\nclock: {}\n", "not valid YAML"),
        ("clock: !!python/object:os.system {}\n", "tags"),
        ("clock: {tempo: !!python/object/apply:os.system [ls]}\n", "tags"),
        ("clock: {tempo: !!python/name:os.system x}\n", "not valid YAML"),
        ("clock:\n\ttempo: 1\n", "not valid YAML"),
        ("[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
            "aliases expanding",
        ),
        ("? [a, b]\n: 1\n", "keys must be plain text"),
        ("010: 1\n", "keys must be text"),
        ("clock: {Yes: 1}\n", "boolean"),
    ],
)
def test_yaml_traps_are_refused_with_a_line(tmp_path: Path, text: str, words: str):
    message = error_of(tmp_path, text)
    assert re.match(rf"^{re.escape(str(tmp_path / 'jamd.yaml'))}:\d+: ", message), message
    assert words in message


def test_unreadable_file(tmp_path: Path):
    path = tmp_path / "jamd.yaml"
    path.write_bytes(b"clock: \xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot read"):
        read_config(path)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            list("abcklo:{}[]-,#&*!|>'\" \n\t01on")
            + ["clock:", "tempo:", "ports:", "mode:", "yes", "010", "~", "\n  "]
        ),
        max_size=40,
    ).map("".join)
)
def test_any_text_is_a_config_or_one_config_error(text: str):
    try:
        read_config("fuzz.yaml", text)
    except ConfigError as e:
        assert str(e).startswith("fuzz.yaml") and "\n" not in str(e)


def test_check_command_describes_the_setup(tmp_path: Path, capsys: pytest.CaptureFixture):
    import argparse

    from jamd.commands import check

    parser = argparse.ArgumentParser()
    check.add_arguments(parser)
    mine = tmp_path / "mine.yaml"
    mine.write_text("match: MyBox\ncontrols:\n  k: {cc: 1, target: density}\n")
    args = parser.parse_args(
        ["--config", str(EXAMPLE), "--port", "nanoKONTROL2 MIDI 1", "--port", "MyBox 1", str(mine)]
    )
    assert check.run(args) == 0
    out = capsys.readouterr().out
    assert f"config: {EXAMPLE}" in out and "kick 36/ch10" in out
    assert "port 'nanoKONTROL2 MIDI 1' -> korg-nanokontrol2" in out and "port 'MyBox 1' -> mine" in out
    mine.write_text("controls:\n  k: {cc: 128, target: density}\n")
    with pytest.raises(ConfigError, match=r"mine.yaml:2: controls.k.cc must be 0..127"):
        check.run(parser.parse_args([str(mine)]))


def test_port_patterns():
    from jamd.midi.portmatch import PortPattern

    names = ["TR-8S:TR-8S MIDI 1 24:0", "TR-8S:TR-8S CTRL 24:1", "TD-17:TD-17 MIDI 1 28:0", "td"]
    assert PortPattern("td-17").match(names) == ["TD-17:TD-17 MIDI 1 28:0"]
    assert PortPattern("TR-8S").match(names) == names[:2]  # ambiguous: the caller refuses
    assert PortPattern("tr-8s*midi 1*").match(names) == names[:1]  # glob, as jamd.midi.ports reads it
    assert PortPattern("/^TR-8S.*CTRL/").match(names) == names[1:2]
    assert PortPattern("td").match(names) == ["td"]  # an exact name wins


def test_the_port_layer_reads_patterns_as_the_config_does():
    from jamd.midi.ports import find_port

    names = ["TR-8S:TR-8S MIDI 1 24:0", "TR-8S:TR-8S CTRL 24:1"]
    assert find_port(names, "/^TR-8S.*CTRL/", "output", "alsa") == names[1]  # a /regex/ too
    assert find_port(names, "tr-8s*midi 1*", "output", "alsa") == names[0]

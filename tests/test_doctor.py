"""`jamd doctor`: each check judged from given facts (no hardware), and over real JACK a
config naming a port that does not exist fails with the ports that do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jamd.cli import main
from jamd.live.config import DEFAULT_DRUM_MODEL, read_config
from jamd.midi.ports import PortList, compiled_apis, rtmidi_version
from jamd.model.drums import DrumModel
from jamd.ops.doctor import (
    FAIL,
    PASS,
    SKIP,
    WARN,
    Check,
    check_api,
    check_blas,
    check_clock,
    check_config,
    check_governor,
    check_jack_fix,
    check_model,
    check_port,
    check_rt,
    check_rtmidi,
    check_timer,
    configured_ports,
    exit_code,
    probe_timer,
)

LISTING = PortList("jack", inputs=["kit:out", "nano:out"], outputs=["tr8:in", "synth-01:in", "synth-02:in"])
DOWN = PortList("jack", error="cannot use MIDI API jack: JACK server not running?")


def config(tmp_path: Path, text: str):
    path = tmp_path / "jamd.yaml"
    path.write_text(text)
    return read_config(path)


# --------------------------------------------------------------------------- MIDI API


def test_rtmidi_says_which_apis_it_was_built_with() -> None:
    assert check_rtmidi(["alsa", "jack"], "linux").line() == "PASS  python-rtmidi: built with alsa, jack"
    assert check_rtmidi(["coremidi"], "darwin").status == PASS


def test_rtmidi_without_jack_on_linux_warns_with_the_rebuild() -> None:
    c = check_rtmidi(["alsa"], "linux")
    assert c.status == WARN and "without jack" in c.detail and "libjack-jackd2-dev" in c.fix


def test_rtmidi_without_jamds_jack_fixes_warns_with_the_ways_out() -> None:
    assert check_jack_fix(["alsa", "jack"], "1.5.8+jamd3").line() == (
        "PASS  python-rtmidi JACK fixes: 1.5.8+jamd3, with jamd's fixes"
    )
    for older in ("1.5.8", "1.5.8+jamd1"):  # the release, and a build with the first fix only
        c = check_jack_fix(["alsa", "jack"], older)
        assert c.status == WARN and "scripts/bootstrap" in c.fix and "ALSA" in c.fix
    assert check_jack_fix(["alsa"], "1.5.8").status == SKIP


def test_the_installed_rtmidi_is_the_one_bootstrap_patched() -> None:
    """CI installs with scripts/bootstrap, like a user: this fails if it stops patching RtMidi."""
    assert check_jack_fix(compiled_apis(), rtmidi_version()).status == PASS


def test_api_not_compiled_in_fails_with_what_is() -> None:
    c = check_api("coremidi", ["alsa", "jack"], LISTING)
    assert c.status == FAIL and "alsa, jack" in c.detail


def test_alsa_without_the_sequencer_device_fails(tmp_path) -> None:
    c = check_api("alsa", ["alsa", "jack"], PortList("alsa"), seq=tmp_path / "seq")
    assert c.status == FAIL and "modprobe snd-seq" in c.fix


def test_jack_server_not_running_says_start_it() -> None:
    c = check_api("jack", ["alsa", "jack"], DOWN)
    assert c.status == FAIL and "start jackd" in c.fix


def test_api_with_ports_passes() -> None:
    c = check_api("jack", ["alsa", "jack"], LISTING)
    assert c.status == PASS and "inputs 2, outputs 3" in c.detail


# ------------------------------------------------------------------------------ ports


def test_port_found_passes_with_its_full_name() -> None:
    c = check_port("drums", "output", "tr8", LISTING)
    assert c.status == PASS and "'tr8:in'" in c.detail


def test_missing_port_fails_listing_the_ports_of_its_kind() -> None:
    c = check_port("drums", "output", "volca", LISTING)
    assert c.status == FAIL
    assert all(repr(n) in c.detail for n in LISTING.outputs) and "kit:out" not in c.detail
    assert "waits" in c.fix  # jamd run waits for it: the fix says so
    assert c.line().startswith("FAIL  port drums: no output port matches 'volca'")


def test_ambiguous_port_fails() -> None:
    c = check_port("bass", "output", "synth", LISTING)
    assert c.status == FAIL and "several" in c.detail


def test_ports_are_skipped_when_the_api_is_down() -> None:
    assert check_port("drums", "output", "tr8", DOWN).status == SKIP


def test_configured_ports_every_role(tmp_path) -> None:
    cfg = config(
        tmp_path,
        """
ports: {drummer: kit, controllers: [nano, /^lp/], drums: tr8, clock_in: mclk, clock_out: tr8}
""",
    )
    assert configured_ports(cfg) == [
        ("drummer", "input", "kit"),
        ("controller1", "input", "nano"),
        ("controller2", "input", "/^lp/"),
        ("drums", "output", "tr8"),
        ("clock_out", "output", "tr8"),
    ]


# ------------------------------------------------------------------------------ clock


def test_clock_sources(tmp_path) -> None:
    internal = config(tmp_path, "clock: {mode: internal}\nports: {clock_out: tr8}\n")
    assert check_clock(internal, LISTING, lambda: False).status == PASS
    midi_unset = config(tmp_path, "clock: {mode: midi}\n")
    assert check_clock(midi_unset, LISTING, lambda: False).status == FAIL
    midi_here = config(tmp_path, "clock: {mode: midi}\nports: {clock_in: kit}\n")
    assert check_clock(midi_here, LISTING, lambda: False).status == PASS
    midi_gone = config(tmp_path, "clock: {mode: midi}\nports: {clock_in: tr-8s}\n")
    c = check_clock(midi_gone, LISTING, lambda: False)
    assert c.status == FAIL and "'kit:out', 'nano:out'" in c.detail
    link = config(tmp_path, "clock: {mode: link}\n")
    assert check_clock(link, LISTING, lambda: True).status == PASS
    c = check_clock(link, LISTING, lambda: False)
    assert c.status == FAIL and "aalink" in c.fix


# ----------------------------------------------------------------------------- models


def test_shipped_model_loads_and_a_damaged_one_fails(tmp_path) -> None:
    good = DEFAULT_DRUM_MODEL
    assert check_model("drums", good, DrumModel.load).status == PASS
    for suffix in (".json", ".safetensors"):
        shutil.copy(good.with_suffix(suffix), tmp_path / f"drums{suffix}")
    weights = tmp_path / "drums.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])  # truncated
    c = check_model("drums", tmp_path / "drums", DrumModel.load)
    assert c.status == FAIL and "sha256" in c.detail
    assert check_model("bass", None, DrumModel.load).status == SKIP


# ----------------------------------------------------------------------------- system


def test_real_time_priority_refused_is_a_warning() -> None:
    assert check_rt(True, "", 95).status == PASS
    c = check_rt(False, "[Errno 1] Operation not permitted", 0)
    assert c.status == WARN and "RLIMIT_RTPRIO 0" in c.detail and "LimitRTPRIO" in c.fix


@pytest.mark.parametrize(
    "env, status",
    [
        ({"OPENBLAS_NUM_THREADS": "1"}, PASS),
        ({"OMP_NUM_THREADS": "1"}, PASS),  # OpenBLAS falls back to it
        ({"OPENBLAS_NUM_THREADS": "4", "OMP_NUM_THREADS": "1"}, WARN),  # OpenBLAS reads its own first
        ({}, WARN),
    ],
)
def test_blas_threads(env, status) -> None:
    assert check_blas(env).status == status


def test_cpu_governor(tmp_path) -> None:
    assert check_governor(tmp_path).status == SKIP  # no cpufreq: a VM
    for cpu, gov in (("cpu0", "performance"), ("cpu1", "ondemand")):
        d = tmp_path / cpu / "cpufreq"
        d.mkdir(parents=True)
        (d / "scaling_governor").write_text(gov + "\n")
    c = check_governor(tmp_path)
    assert c.status == WARN and "cpu1 ondemand" in c.detail and "cpu0" not in c.detail
    (tmp_path / "cpu1" / "cpufreq" / "scaling_governor").write_text("performance\n")
    assert check_governor(tmp_path).status == PASS


def test_timer_wake_ups() -> None:
    # 100 wake-ups: 98 a few tens of us late, two 3 ms late (p99 is the 99th: one of them)
    late = [40_000] * 98 + [3_000_000, 3_100_000]
    c = check_timer(late, spin_us=1000)
    assert c.status == WARN and "p99 3000" in c.detail and "up to 3.1 ms late" in c.detail
    assert check_timer(late[:-2] + [900_000, 950_000], spin_us=1000).status == PASS
    assert check_timer(late, spin_us=4000).status == PASS  # a longer spin covers them
    assert check_timer([]).status == SKIP


def test_timer_probe_times_real_sleeps() -> None:
    late = probe_timer(sleeps=50)
    assert len(late) == 50
    assert min(late) > -100_000  # a sleep does not wake up early (to the clock's grain)
    assert check_timer(late).status in (PASS, WARN)


def test_config_missing_bad_or_absent(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert check_config(tmp_path / "nowhere.yaml")[0].status == FAIL
    (tmp_path / "bad.yaml").write_text("clock: {tempo: 1000}\n")
    c, cfg = check_config(tmp_path / "bad.yaml")
    assert c.status == FAIL and "bad.yaml:1" in c.detail and cfg is None
    if not Path("/etc/jamd/jamd.yaml").exists():
        assert check_config(None)[0].status == WARN


def test_exit_code_only_fails_count() -> None:
    assert exit_code([Check("a", PASS, ""), Check("b", WARN, ""), Check("c", SKIP, "")]) == 0
    assert exit_code([Check("a", PASS, ""), Check("b", FAIL, "")]) == 1


# ------------------------------------------------------------------------ over JACK


@pytest.mark.jack
def test_doctor_names_the_missing_port_and_lists_the_existing_ones(jack_server, tmp_path, capsys) -> None:
    rtmidi = pytest.importorskip("rtmidi")
    synth = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name="doctor-synth")
    synth.open_virtual_port("in")  # an output jamd could send to
    path = tmp_path / "jamd.yaml"
    path.write_text("ports: {api: jack, virtual: false, drums: 'no-such-synth:in', bass: 'doctor-synth'}\n")
    try:
        assert main(["doctor", "--config", str(path)]) == 1
        text = capsys.readouterr().out
        assert main(["doctor", "--config", str(path), "--json"]) == 1
        report = json.loads(capsys.readouterr().out)
    finally:
        synth.close_port()
        synth.delete()
    lines = {line.split(":")[0]: line for line in text.splitlines()}
    assert lines["PASS  MIDI API jack"]
    drums = lines["FAIL  port drums"]
    assert "'no-such-synth:in'" in drums and "'doctor-synth:in'" in drums
    assert lines["PASS  port bass"].endswith("'doctor-synth' -> 'doctor-synth:in'")
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False and checks["port drums"]["status"] == FAIL
    assert "doctor-synth:in" in checks["port drums"]["detail"]

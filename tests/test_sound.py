"""jamd's own sound (FluidSynth, TimGM6mb), end to end: the demo as a newcomer runs it on a machine
without a sound card, its WAV checked against the MIDI it came from by ear's proxies - onsets
where the notes start, a level that is neither clipped nor silent, the drums and the bass each
audible - and the real-time output fed by the engine, written by FluidSynth's file driver.

Real FluidSynth, real MIDI files, the CLI as a subprocess; nothing mocked. Each check is held
against a render that must fail it (the notes moved 25 ms, a part left out)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from jamd.base.paths import MODELS_DIR
from jamd.lab.onsets import align, band_levels_db, detect_onsets
from jamd.sound.render import read_wav, render_midi

#: the onsets must line up with the note-ons within this, at p95 (the issue's "done when")
TOLERANCE_MS = 10.0
NO_JACK = "cannot use MIDI API jack: MidiInJack::initialize: JACK server not running? (start jackd first)"
#: a device no machine has: the demo finds no sound device wherever the tests run
NO_DEVICE = "sound: {driver: alsa, device: jamd-no-such-device}\n"
#: The onset checks hear attacks with an energy detector, calibrated on drums-flat's demo. The
#: default drums-v2 plays soft notes too (hats, snares and kicks at velocity 9-51 under the
#: hats' ring): 15 of its 114 note groups have no onset the detector can find, however well
#: timed. These tests are about the sound's timing, so they play drums-flat.
FLAT_DRUMS = f"models: {{drums: {MODELS_DIR / 'drums-flat'}}}\n"


def jamd(cwd: Path, *args: str, config: str | None = None, python: list[str] | None = None):
    env = dict(os.environ, XDG_CONFIG_HOME=str(cwd), JACK_DEFAULT_SERVER=f"jamd-no-server-{os.getpid()}")
    if config is not None:
        (cwd / "jamd.yaml").write_text(config)
        args = (*args, "--config", str(cwd / "jamd.yaml"))
    cmd = [sys.executable, *(python or ["-m", "jamd"]), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=180)


def note_ons(mid: mido.MidiFile, track: str | None = None) -> np.ndarray:
    """Note-on times (s) by mido's own clock, of one track or all."""
    return np.array([t for t, m in timed(mid, track) if m.type == "note_on" and m.velocity > 0])


def timed(mid: mido.MidiFile, track: str | None = None) -> list[tuple[float, mido.Message]]:
    tracks = [t for t in mid.tracks if track is None or t.name == track]
    one = mido.MidiFile(type=1, ticks_per_beat=mid.ticks_per_beat, tracks=tracks)
    out, t = [], 0.0
    for m in one:
        t += m.time
        out.append((t, m))
    return out


def without(mid: mido.MidiFile, track: str) -> mido.MidiFile:
    return mido.MidiFile(
        type=1, ticks_per_beat=mid.ticks_per_beat, tracks=[t for t in mid.tracks if t.name != track]
    )


def delayed(mid: mido.MidiFile, seconds: float) -> mido.MidiFile:
    """Every event later by ``seconds`` (the file's one tempo, as jamd's recordings have)."""
    tempo = next(m.tempo for m in mid.tracks[0] if m.type == "set_tempo")
    ticks = round(mido.second2tick(seconds, mid.ticks_per_beat, tempo))
    out = mido.MidiFile(type=1, ticks_per_beat=mid.ticks_per_beat)
    for track in mid.tracks:
        shifted = mido.MidiTrack(m.copy() for m in track)
        first = next((i for i, m in enumerate(shifted) if not m.is_meta), None)
        if first is not None:  # a track of meta messages only (the latent walk) plays nothing
            shifted[first] = shifted[first].copy(time=shifted[first].time + ticks)
        out.tracks.append(shifted)
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`jamd run --demo` where there are no MIDI ports and no sound device: 8 bars."""
    d = tmp_path_factory.mktemp("demo")
    r = jamd(
        d,
        "run",
        "--demo",
        "--bars",
        "8",
        "--no-status",
        config="ports: {api: jack}\nosc: {enabled: false}\n" + NO_DEVICE + FLAT_DRUMS,
    )
    return d, r


def test_the_demo_without_a_sound_device_writes_both_files_and_says_so_in_one_line(demo):
    d, r = demo
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "no sound device: the demo is recorded to jamd-demo.mid and rendered to jamd-demo.wav, "
        f"no MIDI ports here: {NO_JACK}"
    ]
    assert r.stdout.splitlines()[-2:] == ["recording: jamd-demo.mid", "sound: jamd-demo.wav"]
    assert (d / "jamd-demo.wav").stat().st_size > 100_000


def test_the_demo_wav_has_an_onset_at_each_note_and_a_note_at_each_onset(demo):
    d, _ = demo
    mid = mido.MidiFile(d / "jamd-demo.mid")
    audio, rate = read_wav(d / "jamd-demo.wav")
    ons = note_ons(mid)
    heard = align(detect_onsets(audio, rate), ons)
    assert heard.notes >= 40, heard  # 8 bars of drums and bass
    assert heard.within(TOLERANCE_MS), heard
    # the baseline that must fail: the same notes played 25 ms late
    late = align(detect_onsets(render_midi(delayed(mid, 0.025)), rate), ons)
    assert not late.within(TOLERANCE_MS), late
    assert late.note_p95_ms > 15 and late.onset_p95_ms > 15, late


def test_the_demo_wav_is_neither_clipped_nor_silent(demo):
    d, _ = demo
    audio, _ = read_wav(d / "jamd-demo.wav")
    peak = np.abs(audio.astype(np.int32)).max()
    assert (np.abs(audio.astype(np.int32)) >= 32767).sum() == 0, "clipped"
    assert 20 * np.log10(peak / 32768) > -12, peak  # a usable level
    rms = np.sqrt(np.mean((audio / 32768.0) ** 2))
    assert 20 * np.log10(rms) > -40, rms


def test_drums_and_bass_are_both_audible(demo):
    """Where the bass plays, the low band is louder than in the same render without the bass
    track - by 3 dB at least: the bass gives as much there as the kick drum and the rest together -
    and where the drums hit, the high band than without the drums track."""
    d, _ = demo
    mid = mido.MidiFile(d / "jamd-demo.mid")
    full, rate = read_wav(d / "jamd-demo.wav")
    bass = note_ons(mid, "bass out")
    drums = note_ons(mid, "drums out")
    assert len(bass) >= 8 and len(drums) >= 40
    bass_spans = np.stack([bass + 0.01, bass + 0.15], axis=1)
    drum_spans = np.stack([drums, drums + 0.03], axis=1)
    no_bass = render_midi(without(mid, "bass out"))
    no_drums = render_midi(without(mid, "drums out"))
    low_gain = band_levels_db(full, rate, 30, 250, bass_spans) - band_levels_db(
        no_bass, rate, 30, 250, bass_spans
    )
    high_gain = band_levels_db(full, rate, 4000, 16000, drum_spans) - band_levels_db(
        no_drums, rate, 4000, 16000, drum_spans
    )
    assert np.mean(low_gain >= 3) >= 0.9, np.round(low_gain, 1)
    assert np.mean(high_gain >= 10) >= 0.9, np.round(high_gain, 1)


def test_jamd_render_writes_what_the_demo_rendered(demo, tmp_path):
    d, _ = demo
    r = jamd(tmp_path, "render", str(d / "jamd-demo.mid"), "-o", "again.wav")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("wrote again.wav: ")
    again, _ = read_wav(tmp_path / "again.wav")
    first, _ = read_wav(d / "jamd-demo.wav")
    assert np.array_equal(again, first)  # FluidSynth rendering offline is deterministic


def test_the_real_time_sound_plays_each_note_when_the_engine_sent_it(tmp_path):
    """`jamd run --demo --sound` with FluidSynth's file driver, which writes what it renders in
    real time, paced as a sound card: the WAV's onsets against the recording of what the
    engine sent. The two files start at different moments (the engine's start, the first
    record), so one constant offset is taken out (the median); what must stay under the
    tolerance is everything else: the engine's timing, the hand-over, FluidSynth's blocks."""
    config = (
        f"osc: {{enabled: false}}\nports: {{api: jack}}\nsound: {{driver: file, device: {tmp_path / 'live.wav'}}}\n"
        + FLAT_DRUMS
    )
    r = jamd(
        tmp_path,
        "run",
        "--demo",
        "--sound",
        "--bars",
        "8",
        "--no-status",
        "--record",
        "rec.mid",
        config=config,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0].startswith("the demo plays through FluidSynth (file); ")
    audio, rate = read_wav(tmp_path / "live.wav")
    onsets = detect_onsets(audio, rate)
    ons = note_ons(mido.MidiFile(tmp_path / "rec.mid"))
    offset = float(np.median([onsets[np.argmin(np.abs(onsets - t))] - t for t in ons]))
    assert abs(offset) < 0.25, offset
    heard = align(onsets - offset, ons)
    assert heard.notes >= 40, heard
    assert heard.within(TOLERANCE_MS), heard
    assert not align(onsets - offset - 0.025, ons).within(TOLERANCE_MS)


NO_EXTRA = ["-c", "import sys; sys.modules['fluidsynth'] = None; from jamd.cli import main; sys.exit(main())"]


def test_without_the_sound_extra_the_demo_plays_on_and_says_how_to_install_it(tmp_path):
    r = jamd(
        tmp_path,
        "run",
        "--demo",
        "--bars",
        "1",
        "--no-status",
        config="ports: {api: jack}\nosc: {enabled: false}\n",
        python=NO_EXTRA,
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [
        f"the demo is recorded to jamd-demo.mid, no MIDI ports here: {NO_JACK}; no sound: the sound "
        "extra is not installed: pip install 'jamd[sound]', with FluidSynth's library and a soundfont "
        "(Debian/Ubuntu: sudo apt install libfluidsynth3 timgm6mb-soundfont; scripts/bootstrap run does both)"
    ]
    assert (tmp_path / "jamd-demo.mid").is_file() and not (tmp_path / "jamd-demo.wav").exists()


@pytest.mark.parametrize(
    "args, python, config, start",
    [
        (
            ["render", "{mid}", "-o", "x.wav"],
            NO_EXTRA,
            None,
            "jamd render: no sound: the sound extra is not installed: pip install",
        ),
        (
            ["run", "--sound", "--bars", "1"],
            NO_EXTRA,
            "osc: {enabled: false}\n",
            "jamd run: no sound: the sound extra is not installed: pip install",
        ),
        (
            ["run", "--sound", "--bars", "1"],
            None,
            "osc: {enabled: false}\n" + NO_DEVICE,
            "jamd run: no sound device: FluidSynth could not open alsa (set sound.driver",
        ),
        (["run", "--sound"], None, "sound: {soundfont: nowhere.sf2}\n", "jamd run: "),
        (
            ["run", "--sound"],
            None,
            "bass: {channel: 10}\n",
            "jamd run: sound: bass.channel 10 is a drum channel too",
        ),
    ],
)
def test_a_sound_that_cannot_be_is_one_line_exit_2(tmp_path, args, python, config, start):
    mid = tmp_path / "in.mid"
    mido.MidiFile(tracks=[mido.MidiTrack([mido.Message("note_on", channel=9, note=36, velocity=100)])]).save(
        mid
    )
    r = jamd(tmp_path, *(a.format(mid=mid) for a in args), config=config, python=python)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith(start), r.stderr
    assert "Traceback" not in r.stderr
    if "soundfont" in (config or ""):
        assert "jamd.yaml:1: no soundfont 'nowhere.sf2'" in r.stderr


def test_bench_with_sound_puts_the_clock_and_note_figures_with_the_synth_beside_those_without(tmp_path):
    """`jamd bench --sound`: the figures and their targets, not their values (the bench's output,
    not a timed unit test: see tests/test_bench.py)."""
    import json

    from jamd.ops.bench.report import TARGETS
    from jamd.ops.bench.sound import SOUND_TARGETS

    r = subprocess.run(
        [sys.executable, "-m", "jamd", "bench", "--quick", "--sound", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    assert result["command"] == "jamd bench --json --quick --sound"
    names = list(result["figures"])
    assert names.index("sound_clock_jitter_us") == names.index("web_clock_jitter_us") + 1
    assert names.index("sound_note_error_us") == names.index("web_note_error_us") + 1
    for name in ("sound_clock_jitter_us", "sound_note_error_us"):
        figure = result["figures"][name]
        assert figure["n"] > 0 and all(np.isfinite(v) for v in figure.values()), (name, figure)
    assert [t["target"] for t in result["targets"]] == [t.text for t in TARGETS + SOUND_TARGETS]
    assert any(
        n.startswith("sound_*: the jamd phase again, its engine feeding FluidSynth") for n in result["notes"]
    )


def test_the_readme_links_a_rendered_demo_under_a_megabyte_in_ogg_opus():
    from jamd.base.paths import CHECKOUT_DIR

    demo = CHECKOUT_DIR / "docs" / "demo.opus"
    data = demo.read_bytes()
    assert len(data) <= 1_000_000
    assert data[:4] == b"OggS" and b"OpusHead" in data[:100]
    readme = (CHECKOUT_DIR / "README.md").read_text()
    assert "(docs/demo.opus)" in readme and "scripts/render-demo" in readme
    assert (CHECKOUT_DIR / "scripts" / "render-demo").stat().st_mode & 0o111

"""The daemon's configuration: one YAML file, every key optional, validated into dataclasses.

Search order (the first that exists wins; nothing found means the built-in defaults):

1. ``jamd run --config FILE`` (a missing FILE is an error, not a fallback)
2. ``$XDG_CONFIG_HOME/jamd/jamd.yaml`` (``~/.config/jamd/jamd.yaml``)
3. ``/etc/jamd/jamd.yaml`` (the systemd service on a Pi)

Every key is described in ``docs/config.md``; ``jamd.example.yaml`` is an annotated example.
Relative paths in a file (models, mappings) are relative to that file's folder.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from jamd.base.paths import MODELS_DIR
from jamd.base.yamlload import Between, Channel, ConfigError, Data7, Node, Reader, build, load
from jamd.control.mapping import Mapping, all_mapping_paths, find_mapping, load_mapping
from jamd.engine.clock import ClockMode
from jamd.live.soundconfig import SoundConfig
from jamd.midi.portmatch import PortPattern
from jamd.model.bass import BassModel
from jamd.model.drums import DrumModel
from jamd.music.drumkit import GM_DRUM_CHANNEL, GM_OUTPUT, INPUT_TABLES, VOICES, VoiceOut
from jamd.music.grid import DEFAULT_STEPS, BassRange
from jamd.music.harmony import Chords
from jamd.tempo.autostart import Start
from jamd.tempo.countin import DEFAULT_COUNT_IN_NOTES, CountInConfig
from jamd.tempo.tracker import TrackerConfig

if TYPE_CHECKING:
    from jamd.control.osc import OscSettings
    from jamd.live.seed import SeedSettings

Share = Annotated[float, Between(0, 1)]
#: The shipped drum model's checkpoint stem (``models/drums-v7.json`` + ``.safetensors``; the
#: commands' default is `jamd.commands.common.DEFAULT_DRUM_MODEL`, the same name).
DEFAULT_DRUM_MODEL = MODELS_DIR / "drums-v7"
#: The shipped bass model (``models/bass-v2``: the idiom corpus and named pad axes of issue 19).
DEFAULT_BASS_MODEL = MODELS_DIR / "bass-v2"


@dataclass
class ClockConfig:
    mode: ClockMode = ClockMode.INTERNAL
    tempo: Annotated[float, Between(20, 400, "BPM")] = 120.0
    send_clock: bool = True  # internal/link: send MIDI clock + Start/Stop to ports.clock_out


@dataclass
class PortsConfig:
    """MIDI ports by name pattern (see :mod:`jamd.midi.portmatch`); null = not used."""

    api: Literal["auto", "alsa", "jack", "coremidi", "winmm"] = "auto"
    virtual: bool = True  # also open jamd's own named ports where the API can
    drummer: PortPattern | None = None
    controllers: list[PortPattern] = field(default_factory=list)
    keyboard: PortPattern | None = None
    drums: PortPattern | None = None
    bass: PortPattern | None = None
    clock_in: PortPattern | None = None
    clock_out: PortPattern | None = None


@dataclass
class DrummerConfig:
    kit: Literal["gm", "td11"] = "gm"  # how the e-kit's notes fold into voices
    channel: Channel | None = None  # null: listen on every channel
    # clock.mode drummer (docs/tempo.md): how it starts (a count-in, or auto: experimental),
    # the count-in, the silence policy, the tempo limits
    start: Start = Start.COUNT_IN
    count_in_hits: Annotated[int, Between(2, 16)] = 4
    count_in_notes: list[Data7] = field(default_factory=lambda: list(DEFAULT_COUNT_IN_NOTES))
    count_in_beats: Annotated[float, Between(0.25, 4, "beats")] = 1.0  # between two hits
    hold_bars: Annotated[float, Between(0, 64, "bars")] = 4.0  # silence held before Stop
    min_bpm: Annotated[float, Between(20, 400, "BPM")] = 50.0
    max_bpm: Annotated[float, Between(20, 400, "BPM")] = 220.0

    @property
    def table(self) -> dict[int, int]:
        return INPUT_TABLES[self.kit]

    def tracker(self) -> TrackerConfig:
        count_in = CountInConfig(self.count_in_hits, tuple(self.count_in_notes), self.count_in_beats)
        return TrackerConfig(
            count_in, self.start, min_bpm=self.min_bpm, max_bpm=self.max_bpm, hold_bars=self.hold_bars
        )


@dataclass
class _NoteChannel:
    note: Data7
    channel: Channel | None = None


def read_voice_note(node: Node, what: str) -> tuple[int, int | None]:
    """A voice's output: a note (``36``) or ``{note: 36, channel: 10}`` -> (note, channel)."""
    if isinstance(node.value, dict):
        spec = build(_NoteChannel, node, what)
        return spec.note, spec.channel
    return build(Data7, node, what), None


VoiceNote = Annotated[tuple[int, int | None], Reader(read_voice_note)]


#: Output layouts of drum machines, voice -> note, in VOICES order. Only layouts checked against
#: a manual belong here; anything else is one `notes:` block in the user's config.
DRUM_PRESETS: dict[str, tuple[VoiceOut, ...]] = {"general-midi": GM_OUTPUT}


@dataclass
class DrumsConfig:
    preset: Literal["general-midi"] = "general-midi"
    channel: Channel = GM_DRUM_CHANNEL  # for every voice without its own
    notes: dict[str, VoiceNote] = field(default_factory=dict)  # voice -> note or {note, channel}

    def check(self, node: Node) -> None:
        notes = node.get("notes") or node  # always there when a voice is: it came from there
        for voice in self.notes:
            if voice not in VOICES:
                raise notes.error(f"unknown drum voice '{voice}'; voices: {', '.join(VOICES)}", voice)

    def outputs(self) -> tuple[VoiceOut, ...]:
        """One VoiceOut per voice, in :data:`jamd.music.drumkit.VOICES` order."""
        out = []
        for voice, preset in zip(VOICES, DRUM_PRESETS[self.preset]):
            note, channel = self.notes.get(voice, (preset.note, None))
            out.append(VoiceOut(note, channel if channel is not None else self.channel))
        return tuple(out)


@dataclass
class BassConfig:
    channel: Channel = 1
    root_low: Data7 = 40  # the lowest note a chord root is played on (E2)
    low: Data7 = 28  # lowest note played (E1)
    high: Data7 = 63  # highest note played (D#4)
    chords: str = "Am"  # the harmony at start: 1, 2 or 4 chords over the 2 bars

    def check(self, node: Node) -> None:
        if not self.low <= self.root_low <= self.high or self.high - self.low < 12:
            key = "low" if self.low > self.root_low else "high"
            raise node.error(
                "bass needs low <= root_low <= high and at least an octave from low "
                f"to high (low {self.low}, root_low {self.root_low}, high {self.high})",
                key,
            )
        try:
            self.progression(DEFAULT_STEPS)
        except ValueError as e:
            raise node.error(f'bass.chords: {e}; e.g. "Am", "Am7 D7", "C G Am F"', "chords") from None

    def progression(self, steps: int) -> Chords:
        symbols = self.chords.split()
        if len(symbols) not in (1, 2, 4):
            raise ValueError(f"{len(symbols)} chords: give 1, 2 or 4 (a window is 2 bars)")
        return Chords.from_symbols(symbols, steps)

    def range(self) -> BassRange:
        return BassRange(self.root_low, self.low, self.high, self.channel)


@dataclass
class SeedConfig:
    mode: Literal["follow", "blend", "hold"] = "follow"
    min_hits: Annotated[int, Between(0, 512)] = 8
    blend: Share = 0.5  # blend mode: share of the new bar taken each bar
    duck: Share = 0.0  # turn the machine's drums down by this while the drummer plays
    # Steps of the seed search after each bar line (jamd.model.seed_search: the code whose decode
    # plays the drummer's window best, from the encoder's); null: the model's own, 0: none.
    search: Annotated[int, Between(0, 1000)] | None = None

    def settings(self, window_steps: int = 32) -> SeedSettings:
        from jamd.live.seed import SeedMode, SeedSettings

        return SeedSettings(SeedMode(self.mode), self.min_hits, self.blend, window_steps)


@dataclass
class LatentConfig:
    # How far a full controller throw (x or y = +-1) reaches from the centre, in standard
    # deviations of the training codes along the plane's axes; null: the model's own (its card's
    # pad.radius, 2 for a card without one).
    radius: Annotated[float, Between(0.01, 10)] | None = None
    slew: Annotated[float, Between(0, 1000, "plane units per second, 0 = no limit")] = 4.0
    # How long a scene recall takes to glide to the stored positions (OSC may give its own).
    scene_glide: Annotated[float, Between(0, 60, "seconds")] = 2.0


def read_model_path(node: Node, what: str) -> Path:
    """A checkpoint, written as its stem (``models/drums-v2``) or its ``.json`` card; relative
    to the config file. Checked when the config is read, so a typo is one clear line."""
    text = build(str, node, what)
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path(node.file).resolve().parent / path
    if path.suffix in (".json", ".safetensors"):
        path = path.with_suffix("")
    if not path.with_suffix(".json").is_file():
        raise node.error(f"no model {text!r} (looked for {path.with_suffix('.json')})")
    return path


ModelPath = Annotated[Path, Reader(read_model_path)]


@dataclass
class ModelsConfig:
    drums: ModelPath | None = None  # null: the shipped drum model
    bass: ModelPath | None = None  # null: the shipped bass model

    @property
    def drums_path(self) -> Path:
        return self.drums if self.drums is not None else DEFAULT_DRUM_MODEL

    @property
    def bass_path(self) -> Path | None:
        """The bass model, or None when none is configured and none is shipped (drums only)."""
        if self.bass is not None:
            return self.bass
        return DEFAULT_BASS_MODEL if DEFAULT_BASS_MODEL.with_suffix(".json").is_file() else None

    def load(self, bass: bool = True) -> tuple[DrumModel, BassModel | None]:
        """The drum model and the bass model (None without one, or ``bass`` False) from their
        checkpoint files."""
        bass_path = self.bass_path if bass else None
        return DrumModel.load(self.drums_path), BassModel.load(bass_path) if bass_path is not None else None


class Network(str):
    """An address or network allowed to send OSC: ``127.0.0.1``, ``192.168.1.0/24``, ``::1``."""

    @classmethod
    def from_yaml(cls, node: Node, what: str) -> Network:
        text = build(str, node, what)
        try:
            return cls(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise node.error(f"{text!r} is not an IP address or network (e.g. 192.168.1.0/24)") from None


class HostPort(str):
    """An OSC report target ``host:port``."""

    @classmethod
    def from_yaml(cls, node: Node, what: str) -> HostPort:
        text = build(str, node, what)
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise node.error(f"{text!r} is not host:port (e.g. 127.0.0.1:9001)")
        return cls(text)


@dataclass
class OscConfig:
    enabled: bool = True
    port: Annotated[int, Between(1024, 65535)] = 9000
    allow: list[Network] = field(default_factory=lambda: [Network("127.0.0.1/32"), Network("::1/128")])
    report_to: list[HostPort] = field(default_factory=list)

    def settings(self) -> OscSettings:
        from jamd.control.osc import OscSettings

        return OscSettings(self.port, tuple(self.allow), tuple(self.report_to))


class ListenAddress(str):
    """The address the web page is served on: ``127.0.0.1`` (this machine only), ``0.0.0.0``
    (every interface), or one interface's address."""

    @classmethod
    def from_yaml(cls, node: Node, what: str) -> ListenAddress:
        text = build(str, node, what)
        try:
            return cls(str(ipaddress.ip_address(text)))
        except ValueError:
            raise node.error(f"{text!r} is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)") from None


class Token(str):
    """The web page's access token: long enough that guessing it is hopeless."""

    MIN_LENGTH = 12

    @classmethod
    def from_yaml(cls, node: Node, what: str) -> Token:
        text = build(str, node, what)
        if len(text) < cls.MIN_LENGTH or not text.isascii() or not text.isprintable() or " " in text:
            raise node.error(
                f"{what} must be at least {cls.MIN_LENGTH} printable ASCII characters, no spaces"
            )
        return cls(text)


@dataclass
class WebConfig:
    """The page on the phone (``jamd.web``; docs/web.md)."""

    enabled: bool = False
    listen: ListenAddress = ListenAddress("127.0.0.1")  # 0.0.0.0: the LAN too (token always needed)
    port: Annotated[int, Between(1024, 65535)] = 8080
    token: Token | None = None  # null: a new random token at every start, printed and logged
    allow: list[Network] = field(default_factory=lambda: [Network("127.0.0.1/32"), Network("::1/128")])
    read_only: bool = False  # the page shows, nothing on it controls


def read_log_file(node: Node, what: str) -> Path:
    """A log file, relative to the config file; its folder must exist (checked when the config
    is read, so a typo is one clear line, not a daemon that cannot start)."""
    text = build(str, node, what)
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path(node.file).resolve().parent / path
    if path.is_dir():
        raise node.error(f"{what} {text!r} is a folder; give a file in it, e.g. {path / 'jamd.log'}")
    if not path.parent.is_dir():
        raise node.error(f"{what} {text!r}: no folder {path.parent}")
    return path


LogFile = Annotated[Path, Reader(read_log_file)]


@dataclass
class LoggingConfig:
    """Applied by ``jamd run`` at start and on SIGHUP (:func:`jamd.base.logsetup.apply_logging`)."""

    # null: WARNING on a terminal, INFO under systemd; ``-v`` on the command line wins
    level: Literal["debug", "info", "warning", "error"] | None = None
    file: LogFile | None = None  # null: stderr (the journal under systemd)


def read_mapping_ref(node: Node, what: str) -> Mapping:
    """A controller mapping by name (``korg-nanokontrol2``) or path, read when the config is,
    so a bad mapping is reported with its own file and line."""
    text = build(str, node, what)
    try:
        path = find_mapping(text, Path(node.file).resolve().parent)
    except ConfigError as e:
        raise node.error(str(e)) from None
    if not path.is_file():
        raise node.error(f"no mapping file {text!r} (looked for {path})")
    return load_mapping(path)


MappingRef = Annotated[Mapping, Reader(read_mapping_ref)]


@dataclass
class Config:
    clock: ClockConfig = field(default_factory=ClockConfig)
    ports: PortsConfig = field(default_factory=PortsConfig)
    drummer: DrummerConfig = field(default_factory=DrummerConfig)
    drums: DrumsConfig = field(default_factory=DrumsConfig)
    bass: BassConfig = field(default_factory=BassConfig)
    seed: SeedConfig = field(default_factory=SeedConfig)
    latent: LatentConfig = field(default_factory=LatentConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    osc: OscConfig = field(default_factory=OscConfig)
    web: WebConfig = field(default_factory=WebConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    sound: SoundConfig = field(default_factory=SoundConfig)
    mappings: list[MappingRef] = field(default_factory=list)  # empty: every known mapping
    path: str = field(default="", init=False)  # where it was read from

    def controller_mappings(self) -> list[Mapping]:
        """The mappings to choose from (see :func:`jamd.control.mapping.select_mapping`): the listed
        ones in order, or every mapping in the user's and the shipped folders."""
        if self.mappings:
            return list(self.mappings)
        return [load_mapping(p) for p in all_mapping_paths()]


def config_search_path() -> list[Path]:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return [Path(base) / "jamd" / "jamd.yaml", Path("/etc/jamd/jamd.yaml")]


def find_config(explicit: Path | str | None = None) -> Path | None:
    """The config file to read per the search order, or None for the built-in defaults."""
    if explicit is not None:
        if not Path(explicit).is_file():
            raise ConfigError(f"{explicit}: no such config file")
        return Path(explicit)
    return next((p for p in config_search_path() if p.is_file()), None)


def load_config(explicit: Path | str | None = None) -> Config:
    """Read the config per the search order; raises :class:`ConfigError` (a UserError) on a
    bad file, with its file, line and what is allowed."""
    path = find_config(explicit)
    if path is None:
        return build(Config, Node({}, "<defaults>", 0))
    return read_config(path)


def read_config(path: Path | str, text: str | None = None) -> Config:
    """One config file (``text`` instead of reading it: tests, checking a file to install)."""
    config = load(Config, path, text)
    config.path = str(path)
    return config

"""What the engine process is told when it starts (:class:`RtConfig`): the clock mode, the
ports, the sound, the voice and bass tables and the loop's pacing. The control side builds it from the
config file (``jamd.live.rtplan.rt_config``); it crosses the process boundary pickled."""

from __future__ import annotations

from dataclasses import dataclass, field

from jamd.engine.clock import ClockMode
from jamd.midi.null import null_port
from jamd.midi.ports import PortConfig
from jamd.music.drumkit import GM_OUTPUT, VoiceOut
from jamd.music.grid import BassRange
from jamd.sound.synth import SoundSettings


@dataclass
class RtConfig:
    """Everything the engine process needs (picklable: it crosses the process boundary)."""

    clock: ClockMode = ClockMode.INTERNAL
    bpm: float = 120.0
    drums: PortConfig | None = None
    bass: PortConfig | None = None  # None: bass goes to the drums port
    clock_out: list[PortConfig] = field(default_factory=list)
    clock_in: PortConfig | None = None  # following MIDI clock: where it comes from
    drum_outputs: tuple[VoiceOut, ...] = GM_OUTPUT
    bass_range: BassRange = BassRange(channel=1)
    autostart: bool = False  # internal/Link: start the transport at once
    clock_when_stopped: bool = True
    sound: SoundSettings | None = None  # FluidSynth plays every note too (None: MIDI only)
    spin_us: int = 1000  # spin this long before each deadline
    max_sleep_ms: float = 2.0  # longest sleep: how often controls/inputs are looked at
    commit_lead_ms: float = 2.0  # commit a step this much (+ the recent swap cost) early
    housekeeping_ms: float = 500.0  # port-list polls (hotplug) this often
    status_ms: float = 20.0
    rt_priority: int = 50  # SCHED_FIFO priority to ask for (0: don't)
    switch_interval_s: float = 0.0005  # only the rtmidi input thread competes for the GIL here

    def note_ports(self) -> list[PortConfig]:
        """The outputs notes go to, by output index: the drums', then the bass's when it has a
        port of its own."""
        drums = self.drums or null_port("drums")
        if self.bass is None or same_port(self.bass, drums):
            return [drums]
        return [drums, self.bass]


def same_port(a: PortConfig, b: PortConfig) -> bool:
    """Two roles that name one port share one connection (a virtual port is one per role)."""
    if a.api != b.api or a.virtual != b.virtual:
        return False
    return a.role == b.role if a.virtual else a.pattern == b.pattern

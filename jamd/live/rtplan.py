"""What the engine process is told at start, from the daemon's config (``RtConfig``): its own
module, so a reload can compare the new config's plan with the running one (port and clock changes
wait for a restart) without the daemon's loop."""

from __future__ import annotations

from jamd.engine.clock import ClockMode
from jamd.engine.config import RtConfig
from jamd.live.config import Config
from jamd.midi.ports import PortConfig, default_api
from jamd.sound.synth import SoundSettings


def rt_config(cfg: Config, offline: bool = False, sound: SoundSettings | None = None) -> RtConfig:
    """What the engine process needs from the config: ports, clock, voice and bass tables.
    ``offline``: no MIDI at all (notes go nowhere; `--demo` records them instead); ``sound``:
    FluidSynth plays the notes too (`jamd.live.soundplan` decides)."""
    api = "null" if offline else default_api() if cfg.ports.api == "auto" else cfg.ports.api

    def port(role: str, pattern) -> PortConfig | None:
        if pattern is not None:
            return PortConfig(role, str(pattern), False, api)
        return PortConfig(role, None, True, api) if cfg.ports.virtual else None

    clock_out = (
        [PortConfig("clock", str(cfg.ports.clock_out), False, api)]
        if cfg.clock.send_clock and cfg.ports.clock_out is not None
        else []
    )
    clock_in = (
        PortConfig("clock-in", str(cfg.ports.clock_in), False, api)
        if cfg.clock.mode is ClockMode.MIDI and cfg.ports.clock_in is not None
        else None
    )
    return RtConfig(
        clock=cfg.clock.mode,
        bpm=cfg.clock.tempo,
        drums=port("drums", cfg.ports.drums),
        bass=port("bass", cfg.ports.bass),
        clock_out=clock_out,
        clock_in=clock_in,
        drum_outputs=cfg.drums.outputs(),
        bass_range=cfg.bass.range(),
        autostart=cfg.clock.mode not in (ClockMode.MIDI, ClockMode.DRUMMER),
        sound=sound,
    )

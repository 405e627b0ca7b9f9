"""What the page shows, as JSON-ready dataclasses: the map once at connection (``Hello``), the
state many times a second (``State``). ``State`` is read from the daemon in the daemon's own
loop (cheap copies only); the web thread encodes it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from jamd.control.scenes import COUNT as SCENE_COUNT
from jamd.control.targets import TARGETS
from jamd.music.drumkit import VOICES
from jamd.music.grid import BEATS_PER_BAR, STEPS_PER_BEAT
from jamd.music.harmony import chord_symbol

if TYPE_CHECKING:
    from jamd.live.daemon import Daemon

#: Cells in the drum grid string: "0" no hit, "1".."9" a hit's velocity in ninths.
VELOCITY_LEVELS = 9


@dataclass(frozen=True)
class DensityMap:
    """The training codes' density for the page's latent map, in spreads (see
    `jamd.model.plane.CodeDensity`): a smoothed grid, scaled to 1 at its peak, and the
    contour levels on the same scale."""

    extent: float
    grid: list[list[float]]
    levels: list[float]


@dataclass(frozen=True)
class Hello:
    read_only: bool
    voices: list[str]
    targets: dict[str, tuple[float, float]]  # name -> (lo, hi) of every target holding a value
    scenes: int
    drum_model: str
    bass_model: str | None
    density: DensityMap | None


@dataclass(frozen=True)
class State:
    bpm: float
    bar: int  # 1-based, as musicians count
    beat: int  # 1-based beat in the bar
    step: int  # the step of the window playing now
    running: bool
    clock_mode: str
    clock_ok: bool
    drums: str  # voices x steps velocity levels, voice by voice, kick first
    bass: list[tuple[int, int, int]]  # (step, semitones above the chord-root pitch class C, length)
    chord: str
    pending_chord: str | None
    pad: tuple[float, float]  # where the drums pad is set (x, y in -1..1 around the centre)
    slewed: tuple[float, float]  # where the drums play now (the slew on its way to ``pad``)
    center: tuple[float, float]  # the centre (seed or home) on the home plane, in pad units
    radius: float
    values: dict[str, float]
    stored_scenes: list[int]
    sounding: int
    late: int


def hello(daemon: Daemon, read_only: bool) -> Hello:
    cfg = daemon.config
    density = daemon.drums.code_density()
    dmap = None
    if density is not None:
        smooth = density.smoothed()
        peak = float(smooth.max()) or 1.0
        dmap = DensityMap(
            density.extent,
            np.round(smooth / peak, 4).tolist(),
            [round(v / peak, 5) for v in density.levels()],
        )
    return Hello(
        read_only,
        list(VOICES),
        {n: (t.lo, t.hi) for n, t in TARGETS.items() if n in daemon.perf.values},
        SCENE_COUNT,
        cfg.models.drums_path.name,
        None if daemon.bass is None or cfg.models.bass_path is None else cfg.models.bass_path.name,
        dmap,
    )


def snapshot(daemon: Daemon, t_ns: int) -> State:
    """The state now, read in the daemon's loop."""
    st = daemon.engine.status()
    beat = st.beat_at(t_ns)
    perf = daemon.perf
    window = daemon.window
    steps = window.steps if window is not None else daemon.drums.steps
    step = int(np.floor(beat * STEPS_PER_BEAT)) % steps
    bar, in_bar = divmod(int(np.floor(beat)), BEATS_PER_BAR)
    drums, bass = "", []
    if window is not None:
        levels = np.where(
            window.drums.hit > 0, np.ceil(window.drums.velocity * VELOCITY_LEVELS).clip(1, 9), 0
        )
        drums = "".join(str(int(v)) for v in levels.T.ravel())
        line = window.bass
        bass = [
            (int(s), int(window.roots[s]) + int(line.pitch[s]), int(line.length[s]))
            for s in np.flatnonzero(line.onset > 0)
        ]
    chords, pending = perf.chords, perf.pending_chords
    return State(
        bpm=round(st.bpm, 2),
        bar=bar + 1,
        beat=in_bar + 1,
        step=step,
        running=st.running,
        clock_mode=str(daemon.config.clock.mode.value),
        clock_ok=st.clock_ok,
        drums=drums,
        bass=bass,
        chord=chord_symbol(int(chords.root[step]), int(chords.quality[step])),
        pending_chord=None
        if pending is None
        else chord_symbol(int(pending.root[0]), int(pending.quality[0])),
        pad=(perf.values["drums.x"], perf.values["drums.y"]),
        slewed=(float(daemon.slew.value[0]), float(daemon.slew.value[1])),
        center=perf.plane.project(perf.center),
        radius=perf.plane.radius,
        values=dict(perf.values),
        stored_scenes=sorted(perf.scenes.slots),
        sounding=st.sounding,
        late=st.dropped_late,
    )


def as_message(kind: str, payload: Hello | State) -> dict[str, Any]:
    return {"type": kind, **asdict(payload)}

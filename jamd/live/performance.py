"""The control side's musical state: the one store of control values, and the window it sounds like.

Every target's value is here and nowhere else: controller mappings write what their knobs set
(:meth:`Performance.set`: this is their :class:`jamd.control.targets.TargetValues`) and read
back what anything else moved, so a knob takes a value over again after OSC, a reseed or a scene
glide moved it. Control events (``target, value`` from OSC, a keyboard, a mapping's triggers)
go through :meth:`Performance.apply`, and :meth:`Performance.take_controls` says what the
real-time process must be told (tempo, transport, part mutes, panic). ``render()`` decodes the
current latent points into the next :class:`jamd.music.window.Window` (drums, then bass over those
drums and the current chords). Hardware-free: the daemon wires it to ports and the clock.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from jamd.control.scenes import GLIDE_TARGET, Scenes, parse_target
from jamd.control.targets import CHORD_TARGET, TARGETS, Kind, home_values
from jamd.engine.ipc import Control, ControlKind
from jamd.model.drums import DecodeControls, DrumModel
from jamd.model.pacing import PadMemory
from jamd.model.plane import LatentPlane
from jamd.music.drumkit import VOICE_INDEX
from jamd.music.grid import BEATS_PER_BAR, STEPS_PER_BEAT
from jamd.music.harmony import Chords
from jamd.music.window import Part, Window

log = logging.getLogger(__name__)

#: density 0..1 -> how many times the model's expected number of hits is played: 0.5 is the
#: model's own density, the ends a quarter and four times as many, on the same most likely cells.
DENSITY_OCTAVES = 2.0
#: Taps further apart than this start a new tap-tempo count (nobody taps at 20 BPM).
TAP_TIMEOUT_S = 2.0
#: The bass latent is 2-D and maps straight onto two knobs: x, y = +-1 reach this far in z.
BASS_REACH = 2.0
PAD_AXES = ("drums.x", "drums.y")


def density_scale(density: float) -> float:
    return 2.0 ** (2 * DENSITY_OCTAVES * (density - 0.5))


@dataclass
class TapTempo:
    taps: deque = field(default_factory=lambda: deque(maxlen=5))

    def tap(self, t_s: float) -> float | None:
        """A tap at ``t_s`` (monotonic seconds); the tempo once two taps are in, else None."""
        if self.taps and t_s - self.taps[-1] > TAP_TIMEOUT_S:
            self.taps.clear()
        self.taps.append(t_s)
        if len(self.taps) < 2:
            return None
        bpm = 60.0 / float(np.median(np.diff(self.taps)))
        return min(max(bpm, TARGETS["tempo"].lo), TARGETS["tempo"].hi)


class Performance:
    """The state the controls move, and the window it renders."""

    def __init__(
        self,
        drums: DrumModel,
        plane: LatentPlane,
        bass=None,
        chords: Chords | None = None,
        scene_glide_s: float = 2.0,
        tempo: float | None = None,
    ):
        self.drums, self.plane, self.bass = drums, plane, bass
        # the pad's played pattern moves on from the last one (the model's pacing, if any)
        self.memory = PadMemory(drums.pad.pacing)
        self._values = home_values()
        if tempo is not None:  # the tempo the engine starts at, so a tempo knob picks up from it
            self._values["tempo"] = TARGETS["tempo"].clamp(tempo)
        #: every target's value, read-only: the methods below move them
        self.values: Mapping[str, float] = MappingProxyType(self._values)
        self.chords = chords or Chords.constant(9, 1, drums.steps)  # A minor until told
        self.pending_chords: Chords | None = None
        self.bar = 0  # the bar playing now (from the daemon's clock), for chords
        self.center: np.ndarray = plane.center.copy()  # the seed, or home
        self.tapper = TapTempo()
        self._dirty = True
        self._reseed_requested = False
        self._to_engine: list[Control] = []
        self.scenes = Scenes(scene_glide_s)
        #: a control moved the drums pad: the demo's sweep (:meth:`move_pad`) lets go of it
        self.pad_taken = False

    # ------------------------------------------------------------------ control events
    def set(self, target: str, value: float) -> None:
        """A control moved ``target`` (it holds a value: not a trigger) to ``value``."""
        spec = TARGETS[target]
        self.scenes.release(target)
        value = spec.clamp(value)
        old, self._values[target] = self._values[target], value
        if target in PAD_AXES:
            self.pad_taken = True
        if old == value:
            return
        if target == "tempo":
            self._to_engine.append(Control(ControlKind.TEMPO, value))
        elif target in ("mute.drums", "mute.bass"):
            self._to_engine.append(Control(ControlKind.MUTE, value, Part(target.split(".")[1])))
        else:
            self._dirty = True

    def apply(self, target: str, value: float | str | Chords, t_s: float = 0.0) -> None:
        """Take one control event: a value, a trigger, or a chord (a symbol, or :class:`Chords`
        for the window), which waits for :meth:`bar_line`."""
        if target == CHORD_TARGET:
            steps = self.drums.steps
            self._queue_chords(
                value if isinstance(value, Chords) else Chords.from_symbols([str(value)], steps)
            )
        elif isinstance(value, Chords):
            raise ValueError(f"{target} takes a number, not chords")
        elif target == GLIDE_TARGET:
            self.scenes.next_glide_s = float(value)
        elif TARGETS[target].kind is Kind.TRIGGER:
            self._trigger(target, t_s)
        else:
            self.set(target, float(value))

    def take_controls(self) -> list[Control]:
        """What the real-time process must be told since the last call (tempo, part mutes,
        transport, panic), in the order it happened."""
        controls, self._to_engine = self._to_engine, []
        return controls

    def take_reseed(self) -> bool:
        """Whether the reseed trigger came since the last call."""
        requested, self._reseed_requested = self._reseed_requested, False
        return requested

    def _trigger(self, target: str, t_s: float) -> None:
        if target == "tap":
            bpm = self.tapper.tap(t_s)
            if bpm is not None:  # told even when unchanged: the engine may run another tempo
                self._values["tempo"] = bpm
                self._to_engine.append(Control(ControlKind.TEMPO, bpm))
        elif target == "reseed":
            self._reseed_requested = True
        elif (scene := parse_target(target)) is not None:
            self._scene(*scene, t_s)
        else:
            actions = {
                "transport.play": ControlKind.START,
                "transport.stop": ControlKind.STOP,
                "panic": ControlKind.PANIC,
            }
            self._to_engine.append(Control(actions[target]))

    def set_center(self, z: np.ndarray) -> None:
        """A new seed from the drummer (or home): the same x, y now play around it."""
        self.scenes.release("center")
        self.center = np.asarray(z, np.float32)
        self._dirty = True

    def reseed(self, z: np.ndarray) -> None:
        """The reseed trigger's seed: ``z`` is the centre now, and the drums pad is home on it
        (knobs take it over from there; a scene glide under way lets go of it)."""
        self.set_center(z)
        for axis in ("drums.x", "drums.y"):
            self._values[axis] = TARGETS[axis].home
            self.scenes.release(axis)

    def move_pad(self, x: float, y: float) -> None:
        """The drums pad moved without a control (the demo's sweep): the slewed position the
        daemon renders follows it, no window is rendered for the move itself. Once a hand took
        the pad (a knob, OSC, the web page), the sweep no longer fights it."""
        if not self.pad_taken:
            self._values["drums.x"], self._values["drums.y"] = x, y

    # ------------------------------------------------------------------------ scenes
    def _scene(self, action: str, n: int, t_s: float) -> None:
        if action == "store":
            self.scenes.store(n, self.values, self.center)
            log.info("scene %d stored", n)
        elif not self.scenes.recall(n, self.values, self.center, t_s):
            log.info("scene %d is empty: nothing to recall", n)

    def tick(self, t_s: float) -> None:
        """Move a scene recall's glide on (over the pad axes no control took since)."""
        step = self.scenes.step(t_s)
        if step is None:
            return
        scene, free = step
        self._values.update((k, v) for k, v in scene.values.items() if k not in free)
        if "center" not in free:
            self.center = scene.center
        self._dirty = True

    def _queue_chords(self, new: Chords) -> None:
        """A chord change waits for the bar line, as a band would. The bar playing now keeps
        its chord and the window's other bar gets the new one at once, so the next downbeat's
        bass note is decoded ahead of time; :meth:`bar_line` then makes it whole."""
        self.pending_chords = new
        now = np.zeros(self.drums.steps, bool)
        bar_steps = BEATS_PER_BAR * STEPS_PER_BEAT
        start = (self.bar * bar_steps) % self.drums.steps
        now[start : start + bar_steps] = True
        self.chords = Chords(
            np.where(now, self.chords.root, new.root), np.where(now, self.chords.quality, new.quality)
        )
        self._dirty = True

    def bar_line(self, bar: int) -> None:
        """The clock crossed into ``bar``: a waiting chord change now holds for every bar."""
        self.bar = bar
        if self.pending_chords is not None:
            self.chords, self.pending_chords = self.pending_chords, None
            self._dirty = True

    def locate(self, bar: int) -> None:
        """The clock is in ``bar`` without having crossed a bar line (a start, or the song
        position jumped): a waiting chord change still waits."""
        self.bar = bar

    # ------------------------------------------------------------------------ set-up
    def swap_models(self, drums: DrumModel, bass) -> None:
        """The models loaded again (after a failure): the next window is theirs."""
        self.drums, self.bass = drums, bass
        self.memory = PadMemory(drums.pad.pacing)
        self._dirty = True

    def set_latent(self, plane: LatentPlane, scene_glide_s: float) -> None:
        """The config's latent settings (a reload): the plane the pad spans and the scene glide
        time. The window is rendered again."""
        self.plane, self.scenes.glide_s = plane, scene_glide_s
        self.memory.reset()  # the same x, y now mean other codes
        self._dirty = True

    # ------------------------------------------------------------------------ rendering
    def drums_z(self, x: float | None = None, y: float | None = None) -> np.ndarray:
        x = self.values["drums.x"] if x is None else x
        y = self.values["drums.y"] if y is None else y
        return self.plane.point(x, y, self.center)

    def decode_controls(self) -> DecodeControls:
        v = self.values
        return DecodeControls(
            count_scale=density_scale(v["density"]), temperature=v["temperature"], seed=0, timing=v["timing"]
        )

    def render(self, drums_xy: tuple[float, float] | None = None) -> Window:
        """The window for the current state (``drums_xy``: the slewed position, if any). The drum
        pattern moves on from the last one rendered at the model's pace; a new seed or other
        decoding controls start it afresh."""
        xy = (self.values["drums.x"], self.values["drums.y"]) if drums_xy is None else drums_xy
        controls = self.decode_controls()
        pattern = self.drums.decode(
            self.drums_z(*xy), controls, self.memory, xy, context=(self.center, controls)
        )
        for voice, i in VOICE_INDEX.items():
            if self.values[f"mute.{voice}"] >= 0.5:
                pattern.hit[:, i] = 0.0
        if self.bass is not None:
            zb = BASS_REACH * np.array([self.values["bass.x"], self.values["bass.y"]], np.float32)
            line = self.bass.decode(zb, pattern, self.chords)
        else:
            from jamd.music.grid import BassLine

            line = BassLine.empty(self.drums.steps)
        self._dirty = False
        return Window(pattern, line, self.chords.root.astype(np.int8))

    @property
    def dirty(self) -> bool:
        """The window must be rendered again: a control changed it (and hold is off: held, the
        window playing stays until hold lets go)."""
        return self._dirty and not self.held

    @property
    def held(self) -> bool:
        return self._values["hold"] >= 0.5

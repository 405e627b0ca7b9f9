"""The control side's musical state: what the controls have set, and the window it sounds like.

Control events (``target, value`` from a mapping or OSC) update the state and return what the
real-time process must be told (tempo, transport, part mutes, panic). ``render()`` decodes the
current latent points into the next :class:`jamd.music.window.Window` (drums, then bass over those
drums and the current chords). Hardware-free: the daemon wires it to ports and the clock.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from jamd.control.scenes import GLIDE_TARGET, Scenes, parse_target
from jamd.control.targets import TARGETS, Kind
from jamd.engine.ipc import Control, ControlKind
from jamd.model.drums import DecodeControls, DrumModel
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
    ):
        self.drums, self.plane, self.bass = drums, plane, bass
        self.values = {name: t.home for name, t in TARGETS.items() if t.kind is not Kind.TRIGGER}
        self.chords = chords or Chords.constant(9, 1, drums.steps)  # A minor until told
        self.pending_chords: Chords | None = None
        self.bar = 0  # the bar playing now (from the daemon's clock), for chords
        self.center: np.ndarray = plane.center.copy()  # the seed, or home
        self.tapper = TapTempo()
        self.dirty = True  # the window must be rendered again
        self.reseed_requested = False
        self.scenes = Scenes(scene_glide_s)

    # ------------------------------------------------------------------ control events
    def apply(self, target: str, value: float | str | Chords, t_s: float = 0.0) -> list[Control]:
        """Take one control event; returns the messages for the real-time process. A chord
        (a symbol, or :class:`Chords` for the window) waits for :meth:`bar_line`."""
        if target == "chord":
            self._queue_chords(
                Chords.from_symbols([str(value)], self.drums.steps) if isinstance(value, str) else value
            )
            return []
        if target == GLIDE_TARGET:
            self.scenes.next_glide_s = float(value)
            return []
        spec = TARGETS[target]
        if spec.kind is Kind.TRIGGER:
            return self._trigger(target, t_s)
        self.scenes.release(target)
        value = spec.clamp(float(value))
        old, self.values[target] = self.values.get(target), value
        if old == value:
            return []
        if target == "tempo":
            return [Control(ControlKind.TEMPO, value)]
        if target in ("mute.drums", "mute.bass"):
            return [Control(ControlKind.MUTE, value, Part(target.split(".")[1]))]
        self.dirty = True
        return []

    def _trigger(self, target: str, t_s: float) -> list[Control]:
        if target == "tap":
            bpm = self.tapper.tap(t_s)
            if bpm is None:
                return []
            self.values["tempo"] = bpm
            return [Control(ControlKind.TEMPO, bpm)]
        if target == "reseed":
            self.reseed_requested = True
            return []
        scene = parse_target(target)
        if scene is not None:
            self._scene(*scene, t_s)
            return []
        return [
            {
                "transport.play": Control(ControlKind.START),
                "transport.stop": Control(ControlKind.STOP),
                "panic": Control(ControlKind.PANIC),
            }[target]
        ]

    def set_center(self, z: np.ndarray) -> None:
        """A new seed from the drummer (or home): the same x, y now play around it."""
        self.scenes.release("center")
        self.center = np.asarray(z, np.float32)
        self.dirty = True

    # ------------------------------------------------------------------------ scenes
    def _scene(self, action: str, n: int, t_s: float) -> None:
        if action == "store":
            self.scenes.store(n, self.values, self.center)
            log.info("scene %d stored", n)
        elif not self.scenes.recall(n, self.values, self.center, t_s):
            log.info("scene %d is empty: nothing to recall", n)

    def tick(self, t_s: float) -> list[tuple[str, float]]:
        """Move a scene recall's glide on; returns the pad axes it moved (the knobs on them
        must pick the values up again)."""
        step = self.scenes.step(t_s)
        if step is None:
            return []
        scene, free = step
        moved = [(k, v) for k, v in scene.values.items() if k not in free and v != self.values[k]]
        self.values.update(moved)
        if "center" not in free:
            self.center = scene.center
        self.dirty = True
        return moved

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
        self.dirty = True

    def bar_line(self, bar: int) -> None:
        """The clock crossed into ``bar``: a waiting chord change now holds for every bar."""
        self.bar = bar
        if self.pending_chords is not None:
            self.chords, self.pending_chords = self.pending_chords, None
            self.dirty = True

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
        """The window for the current state (``drums_xy``: the slewed position, if any)."""
        pattern = self.drums.decode(self.drums_z(*(drums_xy or (None, None))), self.decode_controls())
        for voice, i in VOICE_INDEX.items():
            if self.values[f"mute.{voice}"] >= 0.5:
                pattern.hit[:, i] = 0.0
        if self.bass is not None:
            zb = BASS_REACH * np.array([self.values["bass.x"], self.values["bass.y"]], np.float32)
            line = self.bass.decode(zb, pattern, self.chords)
        else:
            from jamd.music.grid import BassLine

            line = BassLine.empty(self.drums.steps)
        self.dirty = False
        return Window(pattern, line, self.chords.root.astype(np.int8))

    @property
    def held(self) -> bool:
        return self.values["hold"] >= 0.5

"""Scenes: latent positions stored under a button or an OSC address and recalled with a glide.

A scene is the drums and bass pad positions and the seed centre (where the drums' plane sits in
the latent space): together they are "where the music was". Recalling one moves there linearly
over the glide time, so a recall sounds like a move of the pad, not a jump cut. Hardware-free:
:class:`jamd.live.performance.Performance` owns a :class:`Scenes` and steps it from the daemon loop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

#: how many scene slots the targets ``scene.store.N`` / ``scene.recall.N`` offer (N = 1..COUNT)
COUNT = 8
#: the pad axes a scene holds (besides the seed centre)
AXES = ("drums.x", "drums.y", "bass.x", "bass.y")
#: the longest glide anyone may ask for (OSC argument check); the config allows the same
MAX_GLIDE_S = 60.0
#: a glide re-renders the window at most this often: a render decodes both models, and a new
#: position every loop turn (1.5 ms) would burn the core the clock shares for no audible gain
GLIDE_STEP_S = 0.010
#: the pseudo-target that sets the glide time of the next recall (OSC `/jamd/scene/recall i f`)
GLIDE_TARGET = "scene.glide"

_TARGET = re.compile(r"scene\.(store|recall)\.(\d+)$")


def scene_targets() -> list[tuple[str, str]]:
    """(name, doc) of every scene trigger target, for :data:`jamd.control.targets.TARGETS`."""
    out = []
    for action, doc in (
        ("store", "store the pad positions and seed as scene {n}"),
        ("recall", "glide back to scene {n}"),
    ):
        out += [(f"scene.{action}.{n}", doc.format(n=n)) for n in range(1, COUNT + 1)]
    return out


def parse_target(target: str) -> tuple[str, int] | None:
    """``scene.recall.3`` -> ``("recall", 3)``; None for anything else."""
    m = _TARGET.match(target)
    return (m.group(1), int(m.group(2))) if m else None


@dataclass(frozen=True)
class Scene:
    values: dict[str, float]  # the AXES
    center: np.ndarray  # the seed centre (latent code)

    def blend(self, other: Scene, a: float) -> Scene:
        """The point ``a`` (0..1) of the way from this scene to ``other``."""
        values = {k: v + (other.values[k] - v) * a for k, v in self.values.items()}
        return Scene(values, (self.center + (other.center - self.center) * a).astype(np.float32))


@dataclass
class Glide:
    start: Scene
    goal: Scene
    t0: float
    duration: float
    free: set[str] = field(default_factory=set)  # axes a control took over during the glide

    def at(self, now: float) -> Scene:
        a = 1.0 if self.duration <= 0 else min(max((now - self.t0) / self.duration, 0.0), 1.0)
        return self.start.blend(self.goal, a)

    def done(self, now: float) -> bool:
        return now - self.t0 >= self.duration


@dataclass
class Scenes:
    """The slots and the glide in progress. Times are seconds on any monotonic clock."""

    glide_s: float = 2.0
    slots: dict[int, Scene] = field(default_factory=dict)
    glide: Glide | None = None
    next_glide_s: float | None = None  # a one-off glide time for the next recall
    _last_step: float = float("-inf")

    def store(self, n: int, values: Mapping[str, float], center: np.ndarray) -> None:
        self.slots[n] = Scene({k: float(values[k]) for k in AXES}, np.array(center, np.float32))

    def recall(self, n: int, values: Mapping[str, float], center: np.ndarray, now: float) -> bool:
        """Start gliding from the current position to scene ``n``; False when it is empty."""
        glide_s = self.glide_s if self.next_glide_s is None else self.next_glide_s
        self.next_glide_s = None
        if n not in self.slots:
            return False
        start = Scene({k: float(values[k]) for k in AXES}, np.array(center, np.float32))
        self.glide = Glide(start, self.slots[n], now, glide_s)
        self._last_step = float("-inf")
        return True

    def release(self, name: str) -> None:
        """A control (or a new seed: ``"center"``) moved ``name``: the glide lets go of it, so
        a performer grabbing a knob mid-glide is never fought by the recall."""
        if self.glide is not None:
            self.glide.free.add(name)

    def step(self, now: float) -> tuple[Scene, set[str]] | None:
        """Where the glide is now and the names it no longer drives (None when no glide is
        running or it is not yet time for the next step). The last step lands on the goal."""
        g = self.glide
        if g is None:
            return None
        done = g.done(now)
        if not done and now - self._last_step < GLIDE_STEP_S:
            return None
        self._last_step = now
        if done:
            self.glide = None
        return g.at(now), g.free

"""A picture of the latent plane: what the XY pad will play where.

A grid of cells over x, y in [-1, 1], each the decoded 2-bar pattern drawn as a small piano
roll (32 steps across, the 9 voices from kick at the bottom to ride at the top, brightness =
velocity); the training set's codes as a faint scatter; marked files and a recorded walk as
bright points and a line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jamd.model.drums import DecodeControls, DrumModel
from jamd.model.plane import LatentPlane

BACKGROUND = (24, 24, 28)
CELL_BG = (40, 40, 48)
HIT = np.array([250, 190, 60], np.float32)  # amber: readable on a dark stage screen
SCATTER = (90, 110, 150)
MARK = (80, 230, 120)
WALK = (230, 80, 80)


@dataclass(frozen=True)
class MapLayout:
    cells: int = 7  # cells per side
    step_px: int = 3  # pixels per 16th step
    voice_px: int = 4  # pixels per voice row
    gap: int = 6  # pixels between cells

    @property
    def cell_w(self) -> int:
        return 32 * self.step_px

    @property
    def cell_h(self) -> int:
        return 9 * self.voice_px

    def size(self) -> tuple[int, int]:
        """(width, height) of the whole picture."""
        return (
            self.cells * (self.cell_w + self.gap) + self.gap,
            self.cells * (self.cell_h + self.gap) + self.gap,
        )

    def to_px(self, x: float, y: float) -> tuple[int, int]:
        """Plane coordinates (-1..1, y up) -> pixel (column, row) of the cell-centre grid."""
        w, h = self.size()
        span_w, span_h = w - self.gap - self.cell_w, h - self.gap - self.cell_h
        col = self.gap + self.cell_w / 2 + (x + 1) / 2 * span_w
        row = self.gap + self.cell_h / 2 + (1 - y) / 2 * span_h
        return int(round(col)), int(round(row))


def draw_map(
    model: DrumModel,
    plane: LatentPlane,
    layout: MapLayout = MapLayout(),
    scatter: np.ndarray | None = None,
    marks: Sequence[tuple[float, float]] = (),
    walk: Sequence[tuple[float, float]] = (),
) -> np.ndarray:
    """The picture as (height, width, 3) uint8. ``scatter``: (n, 2) plane XY of training codes."""
    w, h = layout.size()
    img = np.empty((h, w, 3), np.uint8)
    img[:] = BACKGROUND
    axis = np.linspace(-1, 1, layout.cells)
    for i, y in enumerate(axis[::-1]):
        for j, x in enumerate(axis):
            top = layout.gap + i * (layout.cell_h + layout.gap)
            left = layout.gap + j * (layout.cell_w + layout.gap)
            _draw_roll(
                img[top : top + layout.cell_h, left : left + layout.cell_w],
                model.decode(plane.point(x, y), DecodeControls()),
                layout,
            )
    for pts, color, r in ((scatter if scatter is not None else (), SCATTER, 0), (marks, MARK, 3)):
        for x, y in pts:
            _dot(img, layout.to_px(x, y), color, r)
    for (x0, y0), (x1, y1) in zip(walk, walk[1:]):
        for t in np.linspace(0, 1, 24):
            _dot(img, layout.to_px(x0 + t * (x1 - x0), y0 + t * (y1 - y0)), WALK, 1)
    return img


def _draw_roll(cell: np.ndarray, pattern, layout: MapLayout) -> None:
    cell[:] = CELL_BG
    for step, voice in zip(*np.nonzero(pattern.hit)):
        row = (8 - voice) * layout.voice_px  # kick at the bottom
        col = step * layout.step_px
        shade = 0.35 + 0.65 * float(pattern.velocity[step, voice])
        cell[row + 1 : row + layout.voice_px, col : col + layout.step_px - 1] = (HIT * shade).astype(np.uint8)


def _dot(img: np.ndarray, at: tuple[int, int], color, radius: int) -> None:
    col, row = at
    h, w, _ = img.shape
    if not (0 <= col < w and 0 <= row < h):
        return  # off the plane's drawn part (a code beyond x, y = +-1)
    img[max(row - radius, 0) : min(row + radius + 1, h), max(col - radius, 0) : min(col + radius + 1, w)] = (
        color
    )

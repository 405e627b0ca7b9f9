"""A picture of the latent plane: what the XY pad will play where (``jamd map``), drawn with
matplotlib (the ``plot`` extra).

The pad's square, x and y in [-1, 1] around its home (the training codes' mean): a grid of
cells, each the 2-bar pattern decoded there as a small piano roll (32 steps across, the 9
voices from kick at the bottom to ride at the top, brighter = louder, as the key beside it
says); over it, the contours of the training codes' density (the smallest regions holding 25,
50, 75 and 95 % of them: where the model has heard grooves), the home point, marked files and
a recorded walk. The contours are :class:`jamd.model.plane.CodeDensity`'s, as the web page
draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from jamd.base.errors import UserError
from jamd.model.drums import DecodeControls, DrumModel
from jamd.model.plane import CONTOUR_SHARES, CodeDensity, LatentPlane
from jamd.music.drumkit import VOICES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BACKGROUND = "#18181c"
CELL_BG = np.array([40, 40, 48], np.float32) / 255
HIT = np.array([250, 190, 60], np.float32) / 255  # amber: readable on a dark stage screen
CONTOUR = "#8fb4f0"
MARK = "#50e678"
WALK = "#e65050"
HOME = "#ffffff"
TEXT = "#dddddd"
CELL_FILL = 0.9  # share of a grid pitch a cell covers (the rest is the gap between cells)


@dataclass(frozen=True)
class MapLayout:
    cells: int = 7  # cells per side
    inches: float = 10.0  # the picture's width
    dpi: int = 110


#: what the plane's axes are, by the card's ``plane.axes_from`` (jamd.lab.groove_plane)
AXIS_NAMES = {
    "principal": ("the training codes' 1st principal axis", "2nd principal axis"),
    "groove": ("where the decoder changes the groove most", "the 2nd such direction"),
}


def cell_image(pattern) -> np.ndarray:
    """A pattern as an RGB image (voices, steps, 3), kick in row 0: amber by velocity."""
    shade = np.where(pattern.hit > 0, 0.35 + 0.65 * pattern.velocity, 0.0).T[..., None]  # (V, T, 1)
    return np.where(shade > 0, HIT * shade, CELL_BG).clip(0, 1)


def draw_map(
    model: DrumModel,
    plane: LatentPlane,
    layout: MapLayout = MapLayout(),
    density: CodeDensity | None = None,
    marks: Sequence[tuple[float, float]] = (),
    walk: Sequence[tuple[float, float]] = (),
) -> Figure:
    """The picture as a matplotlib figure (``savefig`` it)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UserError("jamd map draws with matplotlib: pip install 'jamd[plot]'") from None
    fig = Figure(figsize=(layout.inches, layout.inches * 0.78), dpi=layout.dpi, facecolor=BACKGROUND)
    ax = fig.add_axes((0.07, 0.08, 0.62, 0.84))
    key = fig.add_axes((0.76, 0.58, 0.22, 0.26))
    _style(ax)
    pitch = 2 / max(layout.cells - 1, 1)
    half = pitch * CELL_FILL / 2
    for y in np.linspace(-1, 1, layout.cells):
        for x in np.linspace(-1, 1, layout.cells):
            img = cell_image(model.decode(plane.point(x, y), DecodeControls()))
            ax.imshow(
                img,
                extent=(x - half, x + half, y - half * 0.6, y + half * 0.6),
                origin="lower",
                aspect="auto",
                interpolation="nearest",
            )
    handles = []
    if density is not None:
        handles += _contours(ax, density, plane.radius)
    handles.append(
        ax.scatter([0], [0], marker="+", s=260, linewidths=2.5, color=HOME, zorder=5, label="home: x = y = 0")
    )
    if len(marks):
        m = np.asarray(marks)
        handles.append(
            ax.scatter(m[:, 0], m[:, 1], s=50, color=MARK, edgecolors="black", zorder=6, label="marked files")
        )
    if len(walk):
        w = np.asarray(walk)
        handles.append(
            ax.plot(w[:, 0], w[:, 1], color=WALK, linewidth=1.5, zorder=4, label="recorded walk")[0]
        )
    lim = 1 + pitch / 2
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    x_is, y_is = AXIS_NAMES.get(model.card["plane"].get("axes_from"), AXIS_NAMES["principal"])
    ax.set_xlabel(f"x: the pad left to right ({x_is})")
    ax.set_ylabel(f"y: the pad down to up ({y_is})")
    ax.set_title(
        f"{model.path.name}: what the drums pad plays where (reach {plane.radius:g} spreads)", color=TEXT
    )
    _draw_key(key, model.decode(plane.point(0, 0), DecodeControls()))
    fig.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.72, 0.1),
        frameon=False,
        labelcolor=TEXT,
        fontsize=9,
    )
    return fig


def _style(ax) -> None:
    ax.set_facecolor(BACKGROUND)
    ax.tick_params(colors=TEXT, labelsize=8)
    ax.xaxis.label.set_color(TEXT)
    ax.yaxis.label.set_color(TEXT)
    for spine in ax.spines.values():
        spine.set_color("#555566")


def _contours(ax, density: CodeDensity, radius: float) -> list:
    """The density's contours in pad units (spreads / radius), one line style per share."""
    from matplotlib.lines import Line2D

    axis = density.centers() / radius
    levels = density.levels()
    order = np.argsort(levels)  # matplotlib wants them rising: the widest region first
    widths = np.linspace(2.2, 0.8, len(levels))
    ax.contour(
        axis,
        axis,
        density.smoothed(),
        levels=[levels[i] for i in order],
        colors=CONTOUR,
        linewidths=[widths[i] for i in order],
        alpha=0.9,
        zorder=3,
    )
    return [
        Line2D(
            [], [], color=CONTOUR, linewidth=widths[i], label=f"{share:.0%} of the training grooves inside"
        )
        for i, share in enumerate(CONTOUR_SHARES)
    ]


def _draw_key(ax, pattern) -> None:
    """How to read a cell: the home cell large, its rows named."""
    _style(ax)
    ax.imshow(
        cell_image(pattern),
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=(0, pattern.steps, -0.5, len(VOICES) - 0.5),
    )
    ax.set_yticks(range(len(VOICES)), [v.replace("_", " ") for v in VOICES])
    ax.set_xticks([0, 16], ["bar 1", "bar 2"], ha="left")
    ax.set_xticks(range(0, pattern.steps + 1, 4), minor=True)
    ax.set_xlabel("32 sixteenths, beats marked", fontsize=8)
    ax.set_title("a cell: the home pattern\n(brighter = louder)", color=TEXT, fontsize=9)

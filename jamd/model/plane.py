"""The latent plane the controller walks: ``z = center + radius * (x * a + y * b)``.

``a`` and ``b`` are stored with the model (the two principal axes of the training codes, scaled
by their spread), so ``x, y`` in [-1, 1] cover the part of the space the model knows. ``center``
is the drummer's seed when one is playing, else a home point (the training codes' mean).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LatentPlane:
    center: np.ndarray  # (d,) where x = y = 0 lands
    axis_a: np.ndarray  # (d,) direction and scale of x
    axis_b: np.ndarray  # (d,) direction and scale of y
    radius: float = 1.0  # how far a full controller throw reaches, in units of the axes

    def __post_init__(self) -> None:
        self.center = np.asarray(self.center, np.float32)
        self.axis_a = np.asarray(self.axis_a, np.float32)
        self.axis_b = np.asarray(self.axis_b, np.float32)
        if not self.center.shape == self.axis_a.shape == self.axis_b.shape or self.center.ndim != 1:
            raise ValueError("center and axes must be equal 1-D vectors")

    @property
    def dim(self) -> int:
        return self.center.shape[0]

    def point(self, x: float, y: float, center: np.ndarray | None = None) -> np.ndarray:
        c = self.center if center is None else center
        return c + self.radius * (x * self.axis_a + y * self.axis_b)

    def project(self, z: np.ndarray, center: np.ndarray | None = None) -> tuple[float, float]:
        """The (x, y) of the point of the plane nearest ``z`` (least squares on the two axes)."""
        c = self.center if center is None else center
        basis = np.stack([self.axis_a, self.axis_b], axis=1) * self.radius  # (d, 2)
        xy, *_ = np.linalg.lstsq(basis, np.asarray(z, np.float32) - c, rcond=None)
        return float(xy[0]), float(xy[1])


@dataclass
class Slew:
    """Moves a value towards its target by at most ``rate`` per second, so a jump of the
    controller (or a reseed) glides instead of lurching. ``rate <= 0`` means no limit."""

    rate: float
    value: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))

    def step(self, target: np.ndarray, dt: float) -> np.ndarray:
        target = np.asarray(target, np.float32)
        delta = target - self.value
        dist = float(np.linalg.norm(delta))
        max_move = self.rate * dt
        if self.rate <= 0 or dist <= max_move:
            self.value = target.copy()
        else:
            self.value = self.value + delta * (max_move / dist)
        return self.value


#: A recording (`jamd run --record`) marks every drums latent move with a MIDI text event
#: ``"xy <x> <y>"`` at the time it took effect; `jamd map --session` draws that walk.
WALK_TEXT_PREFIX = "xy "


def walk_text(x: float, y: float) -> str:
    return f"{WALK_TEXT_PREFIX}{x:.4f} {y:.4f}"


def read_walk(mid) -> list[tuple[float, float]]:
    """The latent walk recorded in a ``mido.MidiFile``, in time order."""
    points = []
    for track in mid.tracks:
        for msg in track:
            if msg.is_meta and msg.type == "text" and msg.text.startswith(WALK_TEXT_PREFIX):
                x, y = (float(v) for v in msg.text[len(WALK_TEXT_PREFIX) :].split())
                points.append((x, y))
    return points


#: The training codes' density is kept over +-DENSITY_EXTENT spreads on each axis of the home
#: plane (radius 1), DENSITY_BINS cells a side: room for any radius the pad may reach.
DENSITY_EXTENT = 4.0
DENSITY_BINS = 48
#: The contours drawn: the smallest regions holding these shares of the training codes.
CONTOUR_SHARES = (0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class CodeDensity:
    """How many training codes fell in each cell of a square grid over the home plane, in
    spreads (x, y = the plane's axes at radius 1): where the model has heard grooves. Stored in
    the model card (``plane.density``), so a box without the training data can draw it."""

    counts: np.ndarray  # (bins, bins): row = y from -extent up, column = x from -extent right
    extent: float = DENSITY_EXTENT

    @classmethod
    def of_codes(
        cls, xy: np.ndarray, extent: float = DENSITY_EXTENT, bins: int = DENSITY_BINS
    ) -> CodeDensity:
        """The histogram of codes already projected on the home plane: ``xy`` (n, 2)."""
        edges = np.linspace(-extent, extent, bins + 1)
        counts, _, _ = np.histogram2d(xy[:, 1], xy[:, 0], bins=(edges, edges))
        return cls(counts.astype(np.int64), extent)

    @classmethod
    def from_card(cls, entry: dict) -> CodeDensity:
        counts = np.array([[int(c) for c in row.split()] for row in entry["counts"]], np.int64)
        if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or (counts < 0).any():
            raise ValueError(f"density counts must be a square grid of counts, got shape {counts.shape}")
        return cls(counts, float(entry["extent"]))

    def to_card(self) -> dict:
        """A row of counts per line (a card stays readable: one number a line would be 2,300)."""
        return {"extent": self.extent, "counts": [" ".join(str(int(c)) for c in row) for row in self.counts]}

    def centers(self) -> np.ndarray:
        """The cells' centres along either axis, in spreads."""
        bins = self.counts.shape[0]
        return (np.arange(bins) + 0.5) / bins * 2 * self.extent - self.extent

    def smoothed(self, sigma_cells: float = 1.2) -> np.ndarray:
        """The counts blurred by a Gaussian (the histogram's cell edges are not the data's
        shape), as shares of all codes per cell."""
        half = int(np.ceil(3 * sigma_cells))
        k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_cells) ** 2)
        k /= k.sum()
        grid = self.counts.astype(np.float64)
        grid = np.apply_along_axis(np.convolve, 0, grid, k, mode="same")
        grid = np.apply_along_axis(np.convolve, 1, grid, k, mode="same")
        return grid / max(grid.sum(), 1e-12)

    def levels(self, shares: tuple[float, ...] = CONTOUR_SHARES) -> list[float]:
        """For each share, the density above which the cells hold that share of the codes (the
        contour around the smallest region holding it), highest density first."""
        grid = self.smoothed()
        values = np.sort(grid.ravel())[::-1]
        mass = np.cumsum(values)
        return [float(values[min(int(np.searchsorted(mass, s)), len(values) - 1)]) for s in shares]


def home_xy(plane: LatentPlane, codes: np.ndarray) -> np.ndarray:
    """Codes (n, d) projected on the plane's home (its centre) at radius 1: (n, 2) in spreads."""
    basis = np.stack([plane.axis_a, plane.axis_b], axis=1)  # (d, 2)
    xy, *_ = np.linalg.lstsq(basis, (np.asarray(codes, np.float32) - plane.center).T, rcond=None)
    return xy.T

"""The one-screen status of `jamd run` on a terminal: tempo, position, the latent point on a
small XY map, the pattern as a grid. Pure text, so it can be tested and logged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jamd.music.drumkit import VOICES
from jamd.music.grid import DrumPattern

MAP_SIZE = 9  # characters per side of the XY map
CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen


@dataclass
class Snapshot:
    bpm: float
    beat: float
    running: bool
    clock_ok: bool
    xy: tuple[float, float]
    seed_xy: tuple[float, float] | None
    pattern: DrumPattern
    step: int  # the step now playing, 0..steps-1
    counters: dict[str, float]
    drummer: str = ""  # clock.mode drummer: the tracker's state, tempo and confidence


def xy_map(xy: tuple[float, float], seed: tuple[float, float] | None) -> list[str]:
    """A small square map of the plane: ``o`` the pad, ``*`` the drummer's seed (the centre)."""
    grid = [["·"] * MAP_SIZE for _ in range(MAP_SIZE)]

    def cell(x: float, y: float) -> tuple[int, int]:
        col = int(round((np.clip(x, -1, 1) + 1) / 2 * (MAP_SIZE - 1)))
        row = int(round((1 - np.clip(y, -1, 1)) / 2 * (MAP_SIZE - 1)))
        return row, col

    if seed is not None:
        r, c = cell(*seed)
        grid[r][c] = "*"
    r, c = cell(*xy)
    grid[r][c] = "o"
    return ["".join(row) for row in grid]


def pattern_rows(p: DrumPattern, step: int) -> list[str]:
    """One row per voice, top = ride, bottom = kick: ``X`` loud, ``x`` soft, ``|`` the playhead."""
    rows = []
    for v in range(len(VOICES) - 1, -1, -1):
        cells = []
        for s in range(p.steps):
            ch = ("X" if p.velocity[s, v] >= 0.6 else "x") if p.hit[s, v] else ("-" if s % 4 else ".")
            cells.append(f"\x1b[7m{ch}\x1b[0m" if s == step else ch)
        rows.append(f"{VOICES[v]:>10} " + "".join(cells))
    return rows


def render(s: Snapshot) -> str:
    bar, beat = divmod(int(s.beat), 4)
    state = "playing" if s.running else "stopped"
    if not s.clock_ok:
        state += ", clock lost"
    head = [
        f"jamd  {s.bpm:6.1f} BPM  {bar + 1:4d}:{beat + 1}  {state}",
        f"drums xy ({s.xy[0]:+.2f}, {s.xy[1]:+.2f})  "
        + "  ".join(f"{k} {v:g}" for k, v in s.counters.items()),
    ]
    if s.drummer:
        head.append(s.drummer)
    left = xy_map(s.xy, s.seed_xy)
    right = pattern_rows(s.pattern, s.step)
    body = [
        f"{left[i] if i < len(left) else ' ' * MAP_SIZE}   {right[i] if i < len(right) else ''}"
        for i in range(max(len(left), len(right)))
    ]
    return "\n".join(head + [""] + body) + "\n"

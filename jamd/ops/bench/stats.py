"""The bench's arithmetic: percentiles, timing errors from the engine's records, jamd/baseline
ratios, and the control latency read off the engine's window swaps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from jamd.engine.clock import Timeline
from jamd.engine.ipc import REC_SWAP, jitter_stats
from jamd.music.grid import STEPS_PER_BEAT


def stats(values: Iterable[float], keys: Sequence[str] = ("p50", "p99", "max")) -> dict[str, float]:
    """Percentiles of a series, plus its size ``n``; NaN figures for an empty series (the
    caller decides whether that is an error)."""
    a = np.asarray(list(values), np.float64)
    out: dict[str, float] = {"n": int(a.size)}
    for k in keys:
        if not a.size:
            out[k] = float("nan")
        elif k == "max":
            out[k] = float(a.max())
        else:
            out[k] = float(np.percentile(a, float(k[1:])))
    return out


def error_us(records: np.ndarray, kind: int) -> dict[str, float]:
    """|sent - due| of one timing-record kind in µs (``jitter_stats`` gives ms), and how many
    were more than 1 ms off (one stall or many: the max alone does not say)."""
    s = jitter_stats(records, kind)
    sel = records[records[:, 0] == kind]
    over = int(np.sum(np.abs(sel[:, 2] - sel[:, 1]) > 1_000_000))
    return {
        "p50": s["p50_ms"] * 1e3,
        "p99": s["p99_ms"] * 1e3,
        "max": s["max_ms"] * 1e3,
        "n": s["n"],
        "over_1ms": over,
    }


def ratios(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """jamd / baseline per statistic (< 1: jamd is tighter). A baseline figure of 0 would only
    come from a broken clock; it is floored at 1 ns so the ratio stays a number."""
    return {k: a[k] / max(b[k], 1e-3) for k in ("p50", "p99", "max")}  # not over_1ms: a count


# --------------------------------------------------------------------- control latency


def control_excess_ms(
    arrival_ns: np.ndarray, published_ns: np.ndarray, records: np.ndarray, timeline: Timeline
) -> np.ndarray:
    """For each control: how much later than the next 16th-step boundary the first step that
    plays it sounds (ms; 0 = it made the very next step).

    ``arrival_ns``: when the CC arrived (rtmidi's arrival stamp, as the daemon saw it);
    ``published_ns``: when the first window rendered after it reached the engine's double
    buffer (both from :class:`jamd.live.daemon.Latencies`). The engine's own ``REC_SWAP`` records
    say when it took a window in (the loop turn that read it) and the grid time of the first
    step that plays it: the first swap read at or after the publish carries the control. That
    step's grid time minus the next step boundary after the arrival is the figure: the target
    is "the next 16th step + 2 ms", the wait for that boundary being the only delay it allows."""
    swaps = records[records[:, 0] == REC_SWAP]
    read_ns, first_step_ns = swaps[:, 2].astype(np.float64), swaps[:, 1].astype(np.float64)
    arrival = np.asarray(arrival_ns, np.float64)
    i = np.searchsorted(read_ns, np.asarray(published_ns, np.float64), side="left")
    heard = i < len(read_ns)  # a publish after the last swap: unknown
    step_ns = timeline.ns_per_beat / STEPS_PER_BEAT
    beat0 = timeline.anchor_ns - timeline.anchor_beat * timeline.ns_per_beat  # when beat 0 was
    next_boundary = beat0 + np.ceil((arrival[heard] - beat0) / step_ns - 1e-9) * step_ns
    return np.maximum(first_step_ns[i[heard]] - next_boundary, 0.0) / 1e6

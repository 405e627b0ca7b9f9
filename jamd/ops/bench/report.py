"""The bench's verdict and output: the targets (docs/performance.md) checked against the figures,
the table and the JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    figure: str
    stat: str | None  # None: the figure is a single number
    limit: float
    text: str  # as docs/performance.md says it
    at_least: bool = False  # the limit is a floor (a rate), not a ceiling


#: The timing targets every run of jamd is held to: the clock's and the notes'.
TIMING = (
    Target("clock_jitter_us", "p99", 250.0, "clock jitter p99 <= 0.25 ms"),
    Target("clock_jitter_us", "max", 1000.0, "clock jitter max <= 1 ms"),
    Target("note_error_us", "p99", 500.0, "note error p99 <= 0.5 ms"),
)


def timing_again(prefix: str, when: str, stats: tuple[str, ...] = ("p99", "max")) -> tuple[Target, ...]:
    """The timing targets for the jamd run again under other conditions (its figures named
    ``prefix`` + the main run's), said ``when: ...``; ``stats``: which of them it is held to."""
    return tuple(
        Target(prefix + t.figure, t.stat, t.limit, f"{when}: {t.text}") for t in TIMING if t.stat in stats
    )


TARGETS = (
    *TIMING,
    Target("control_latency_ms", "max", 2.0, "control -> first note <= next 16th step + 2 ms"),
    Target("seed_latency_ms", "max", 10.0, "bar line -> new z_seed <= 10 ms"),
    Target("decode_window_us", "p50", 1000.0, "drum + bass decode median <= 1 ms"),
    Target("decode_window_us", "p99", 3000.0, "drum + bass decode p99 <= 3 ms"),
    Target("cold_start_s", None, 2.0, "cold start <= 2 s"),
    Target("rss_mb", None, 150.0, "resident memory <= 150 MB"),
    Target("drift_ticks", "max_abs", 0.5, "drift 0 ticks (|error| < half a tick)"),
    *timing_again("web_", "with 3 page clients", stats=("p99",)),
    Target("web_states_per_s", None, 15.0, "with 3 page clients: >= 15 states/s each", at_least=True),
    *timing_again("drummer_", "the drummer leading"),
)


def check_targets(figures: dict, targets: tuple[Target, ...] = TARGETS) -> list[dict]:
    out = []
    for t in targets:
        v = figures[t.figure] if t.stat is None else figures[t.figure][t.stat]
        out.append(
            {
                "figure": t.figure,
                "stat": t.stat or "",
                "target": t.text,
                "limit": t.limit,
                "value": v,
                "ok": bool(v >= t.limit if t.at_least else v <= t.limit),
            }
        )
    return out


def _fmt(v: float) -> str:
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1000):
        return f"{int(v)}"
    a = abs(v)
    return f"{v:.3f}" if a < 10 else f"{v:.1f}" if a < 10000 else f"{v:.0f}"


def format_table(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"$ {result['command']}",
        f"machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}, {m['system']}, "
        f"load average {m['loadavg_1m']:.2f} at the start",
        f"ports: {result['ports']}; {result['seconds']:g} s at {result['bpm']:g} BPM; "
        f"load: {'other core busy' if result['load'] else 'none added'}; "
        f"engine priority: {result['rt_priority'] or 'normal'}",
        "",
        f"{'figure':28s} {'p50':>9s} {'p99':>9s} {'max':>9s} {'n':>7s}",
    ]
    for name, v in result["figures"].items():
        if isinstance(v, dict):
            cols = [v.get("p50"), v.get("p99"), v.get("max")]
            extra = {k: x for k, x in v.items() if k not in ("p50", "p99", "max", "n")}
            row = f"{name:28s} " + " ".join(f"{_fmt(c) if c is not None else '':>9s}" for c in cols)
            row += f" {_fmt(v['n']) if 'n' in v else '':>7s}"
            if extra:
                row += "  " + ", ".join(f"{k} {_fmt(x)}" for k, x in extra.items())
        else:
            row = f"{name:28s} {_fmt(v):>9s}"
        lines.append(row)
    lines.append("")
    for t in result["targets"]:
        lines.append(
            f"{'ok  ' if t['ok'] else 'MISS'} {t['target']:50s} "
            f"{t['figure']}{' ' + t['stat'] if t['stat'] else ''} = {_fmt(t['value'])}"
        )
    lines.append("")
    lines += [f"- {n}" for n in result["notes"]]
    return "\n".join(lines)


def to_json(result: dict) -> str:
    return json.dumps(result, indent=2)

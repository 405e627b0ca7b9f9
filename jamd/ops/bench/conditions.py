"""What every phase of the bench runs under: the tempo, how long, the controller's CC stream, the
rig's port names, and the config jamd is given (nothing is read from the user's files)."""

from __future__ import annotations

import time

now_ns = time.perf_counter_ns

BPM = 180.0
SECONDS, QUICK_SECONDS = 30.0, 5.0
CC_HZ = 1000.0
#: Engine, inputs and load running before the measured span starts (the first windows, the
#: first JACK connections and the busy process's start-up are not what a musician hears).
SETTLE_S = 0.5
DRIFT_MINUTES = 10.0
#: A JACK client name prefix the tests' and other sessions' clients never use.
RIG_CTL, RIG_DRUMMER, RIG_SINK, START_SINK = (
    "jamd-bench-ctl",
    "jamd-bench-drummer",
    "jamd-bench-sink",
    "jamd-bench-start",
)
CC_KNOB = 1  # generic-two-knobs: CC 1 on channel 1 moves drums.x
DRUMMER_CHANNEL = 10


def bench_config_text(ports_api: str, clock_out: str, rig: bool) -> str:
    """A complete config (nothing read from the user's files). ``rig``: the main run's inputs
    and outputs on the bench's ports; otherwise the cold-start ``run --demo`` config."""
    ports = f"{{api: {ports_api}, virtual: {str(not rig).lower()}, clock_out: {clock_out}"
    if rig:
        ports += f", drummer: {RIG_DRUMMER}, controllers: [{RIG_CTL}], drums: {RIG_SINK}, bass: {RIG_SINK}"
    return (
        f"clock: {{mode: internal, tempo: {BPM:g}, send_clock: true}}\n"
        f"ports: {ports}}}\n"
        "drummer: {kit: gm}\n"
        "osc: {enabled: false}\n"  # no UDP port to collide with anyone's
        "sound: {enabled: false}\n"  # the synth runs only in `--sound`'s own phase
        "latent: {slew: 0}\n"  # a move is the new latent at once, not a glide
        "mappings: [generic-two-knobs]\n"
    )


def sweep_value(i: int) -> int:
    """A triangle 127 -> 0 -> 127 over 254 CCs: every CC differs from the one before."""
    return abs(i % 254 - 127)

"""``jamd doctor``: what a headless box needs, checked one line at a time with the fix.

Each check is a small function that takes the facts (a port listing, an environment, a folder)
and returns a :class:`Check`, so the judging is tested without hardware; :func:`run_doctor`
gathers the facts on this machine. Statuses: PASS; WARN (jamd runs, but worse: timing, a
missing option); FAIL (jamd cannot do what the config asks); SKIP (nothing to check here).
Only a FAIL makes the exit code 1.
"""

from __future__ import annotations

import importlib
import math
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jamd.engine.clock import ClockMode
from jamd.engine.config import RtConfig
from jamd.live.config import Config, config_search_path, load_config
from jamd.midi.ports import (
    JACK_FIX_LABEL,
    PortList,
    compiled_apis,
    default_api,
    list_ports,
    match_port,
    rtmidi_version,
)

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
SEQ_DEVICE = Path("/dev/snd/seq")
CPU_ROOT = Path("/sys/devices/system/cpu")
#: What the engine asks for.
RT_PRIORITY = RtConfig.rt_priority
_RT_PROBE = (
    "import os, sys\n"
    "try:\n    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(sys.argv[1])))\n"
    "except OSError as e:\n    sys.exit(str(e))\n"
)
#: Sleeps of half a millisecond, timed in a child at the engine's priority: how late a sleeping
#: engine wakes up (``sys.argv``: priority, count; prints each overshoot in ns).
_TIMER_PROBE = (
    "import os, sys, time\n"
    "try:\n    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(sys.argv[1])))\n"
    "except (OSError, AttributeError):\n    pass\n"
    "late = []\n"
    "for _ in range(int(sys.argv[2])):\n"
    "    due = time.perf_counter_ns() + 500_000\n    time.sleep(0.0005)\n"
    "    late.append(time.perf_counter_ns() - due)\n"
    "print(*late)\n"
)
TIMER_SLEEPS = 1000  # about 0.6 s


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f" -- fix: {self.fix}" if self.fix and self.status != PASS else ""
        return f"{self.status}  {self.name}: {self.detail}{fix}"


# ------------------------------------------------------------------------- configuration


def check_config(explicit: Path | None) -> tuple[Check, Config | None]:
    try:
        config = load_config(explicit)
    except Exception as e:  # a ConfigError with file:line, or an unreadable file
        return Check("config", FAIL, str(e), "correct the file (`jamd check` reads it the same way)"), None
    if not config.path:
        looked = ", ".join(str(p) for p in config_search_path())
        return Check(
            "config",
            WARN,
            f"no config file (looked in {looked}): built-in defaults",
            "copy jamd.example.yaml to /etc/jamd/jamd.yaml and name your ports",
        ), config
    return Check("config", PASS, config.path), config


def resolved_api(config: Config) -> str:
    return default_api() if config.ports.api == "auto" else config.ports.api


def configured_ports(config: Config) -> list[tuple[str, str, str]]:
    """(role, kind, pattern) of every port the config names. ``clock_in`` is left to
    :func:`check_clock`, which knows whether the clock mode uses it."""
    p = config.ports
    named = [
        ("drummer", "input", p.drummer),
        ("keyboard", "input", p.keyboard),
        *((f"controller{i + 1}", "input", c) for i, c in enumerate(p.controllers)),
        ("drums", "output", p.drums),
        ("bass", "output", p.bass),
        ("clock_out", "output", p.clock_out),
    ]
    return [(role, kind, str(pattern)) for role, kind, pattern in named if pattern is not None]


# ---------------------------------------------------------------------------------- MIDI


def check_rtmidi(compiled: Sequence[str], platform: str = sys.platform) -> Check:
    """The MIDI APIs python-rtmidi was built with: on Linux both ALSA and JACK, so switching
    ``ports.api`` never needs a rebuild (a build from source without the JACK headers has none)."""
    name = "python-rtmidi"
    detail = f"built with {', '.join(compiled) or 'no MIDI API'}"
    missing = [api for api in ("alsa", "jack") if api not in compiled]
    if platform.startswith("linux") and missing:
        return Check(
            name,
            WARN,
            f"{detail}; without {', '.join(missing)}",
            "apt-get install pkg-config libasound2-dev libjack-jackd2-dev, then "
            "pip install --force-reinstall --no-deps --no-binary python-rtmidi python-rtmidi",
        )
    return Check(name, PASS, detail)


def check_jack_fix(compiled: Sequence[str], version: str) -> Check:
    """Whether python-rtmidi carries jamd's fixes of RtMidi's JACK backend: without them an
    input can crash jamd on an asynchronous JACK server, and an output whose server died spins
    the engine forever (docs/reliability.md)."""
    name = "python-rtmidi JACK fixes"
    if "jack" not in compiled:
        return Check(name, SKIP, "no JACK in this python-rtmidi")
    if version.endswith(JACK_FIX_LABEL):
        return Check(name, PASS, f"{version}, with jamd's fixes")
    return Check(
        name,
        WARN,
        f"{version} without jamd's fixes: over JACK an input can crash jamd, a dead server hang it",
        "install with scripts/bootstrap (it builds python-rtmidi with the fixes), or use ALSA",
    )


def check_api(api: str, compiled: Sequence[str], listing: PortList, seq: Path = SEQ_DEVICE) -> Check:
    name = f"MIDI API {api}"
    if api not in compiled:
        return Check(
            name,
            FAIL,
            f"this python-rtmidi has no {api} (it has: {', '.join(compiled) or 'none'})",
            "set ports.api to one it has, or rebuild python-rtmidi with that API's headers",
        )
    if api == "alsa" and not seq.exists():
        return Check(
            name,
            FAIL,
            f"no {seq}: the ALSA sequencer is not loaded",
            "sudo modprobe snd-seq (and add snd-seq to /etc/modules)",
        )
    if api == "alsa" and not os.access(seq, os.R_OK | os.W_OK):
        return Check(
            name,
            FAIL,
            f"{seq} is not readable and writable by this user",
            "add the user to the audio group (sudo usermod -aG audio USER), log in again",
        )
    if listing.error:
        fix = (
            "start jackd first, as the same user (jamd never starts it)"
            if api == "jack"
            else "check the MIDI system (`jamd ports`)"
        )
        return Check(name, FAIL, listing.error, fix)
    return Check(
        name,
        PASS,
        f"inputs {len(listing.inputs)}, outputs {len(listing.outputs)} (compiled in: {', '.join(compiled)})",
    )


def check_port(role: str, kind: str, pattern: str, listing: PortList) -> Check:
    """Does the pattern name exactly one port, as ``jamd run`` will look for it?"""
    name = f"port {role}"
    if listing.error:
        return Check(name, SKIP, f"cannot list {listing.api} ports (see MIDI API)")
    names = listing.inputs if kind == "input" else listing.outputs
    found = match_port(names, pattern)
    if len(found) == 1:
        return Check(name, PASS, f"{pattern!r} -> {found[0]!r}")
    existing = ", ".join(repr(n) for n in names) or "none"
    if not found:
        return Check(
            name,
            FAIL,
            f"no {kind} port matches {pattern!r} on {listing.api}; {kind} ports that exist: {existing}",
            "plug the device in, or correct the name; `jamd run` waits for it meanwhile",
        )
    return Check(
        name,
        FAIL,
        f"{pattern!r} matches several {kind} ports: {', '.join(map(repr, found))}",
        "give more of the name",
    )


def check_clock(config: Config, listing: PortList, link_importable: Callable[[], bool]) -> Check:
    mode = config.clock.mode
    if mode is ClockMode.INTERNAL:
        to = config.ports.clock_out
        sent = f"clock sent to {str(to)!r}" if config.clock.send_clock and to is not None else "no clock sent"
        return Check("clock source", PASS, f"internal: jamd is the master ({sent})")
    if mode is ClockMode.LINK:
        if link_importable():
            return Check("clock source", PASS, "Ableton Link (aalink importable)")
        return Check(
            "clock source",
            FAIL,
            "clock.mode link, but aalink cannot be imported",
            "pip install aalink into jamd's venv",
        )
    if config.ports.clock_in is None:
        return Check(
            "clock source",
            FAIL,
            "clock.mode midi, but no ports.clock_in",
            "name the port the clock comes in on (ports.clock_in)",
        )
    port = check_port("clock_in", "input", str(config.ports.clock_in), listing)
    return Check("clock source", port.status, f"MIDI clock in: {port.detail}", port.fix)


def aalink_importable() -> bool:
    try:
        importlib.import_module("aalink")
    except Exception:  # ImportError, or a broken native module
        return False
    return True


# --------------------------------------------------------------------------------- models


def check_model(role: str, path: Path | None, loader: Callable[[Path], object]) -> Check:
    name = f"model {role}"
    if path is None:
        return Check(name, SKIP, "none configured and none shipped: jamd plays drums only")
    try:
        loader(path)
    except Exception as e:  # CheckpointError says what is wrong; OSError, MemoryError
        return Check(
            name, FAIL, f"{path}: {e}", f"copy the model's .json and .safetensors again, or set models.{role}"
        )
    return Check(name, PASS, f"{path.name} loads")


def check_models(config: Config) -> list[Check]:
    from jamd.model.bass import BassModel
    from jamd.model.drums import DrumModel

    return [
        check_model("drums", config.models.drums_path, DrumModel.load),
        check_model("bass", config.models.bass_path, BassModel.load),
    ]


# ---------------------------------------------------------------------------- the system


def probe_rt(priority: int = RT_PRIORITY) -> tuple[bool, str]:
    """Try SCHED_FIFO in a short child, so this process's own scheduling is left alone."""
    r = _child(_RT_PROBE, priority)
    return r.returncode == 0, r.stderr.strip()


def _child(script: str, *args: int) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a short Python child (a probe that must not touch this process)."""
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, timeout=60
    )


def rtprio_limit() -> int | None:
    try:
        import resource

        return resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
    except (ImportError, AttributeError, OSError):
        return None


def check_rt(granted: bool, reason: str, limit: int | None, priority: int = RT_PRIORITY) -> Check:
    if granted:
        return Check("real-time priority", PASS, f"SCHED_FIFO {priority} granted")
    # a WARN, not a FAIL: jamd plays at normal priority, with clock jitter of several ms
    return Check(
        "real-time priority",
        WARN,
        f"SCHED_FIFO {priority} refused here ({reason or 'no reason given'}; RLIMIT_RTPRIO {limit})",
        "the service gets it from LimitRTPRIO in jamd.service; for a login user put "
        "'@audio - rtprio 95' in /etc/security/limits.d/audio.conf and log in again",
    )


def probe_timer(priority: int = RT_PRIORITY, sleeps: int = TIMER_SLEEPS) -> list[int]:
    """How late (ns) each of ``sleeps`` short sleeps woke up, in a child at ``priority``."""
    return [int(v) for v in _child(_TIMER_PROBE, priority, sleeps).stdout.split()]


def check_timer(late_ns: Sequence[int], spin_us: int = RtConfig.spin_us) -> Check:
    """The engine sleeps until ``spin_us`` before each tick or note and spins the rest, so a
    wake-up later than that makes the tick late by the difference."""
    if not late_ns:
        return Check("timer wake-ups", SKIP, "the timing child printed nothing")
    late = sorted(late_ns)
    # nearest-rank percentiles, in us
    p50, p99, worst = (late[max(0, math.ceil(q * len(late)) - 1)] / 1000 for q in (0.5, 0.99, 1.0))
    said = f"{len(late)} sleeps woke up late by p50 {p50:.0f} / p99 {p99:.0f} / max {worst:.0f} us"
    if p99 < spin_us:
        return Check("timer wake-ups", PASS, f"{said}: within the engine's {spin_us} us spin")
    # a WARN: jamd plays, but ticks and notes after a late wake-up leave late by the overshoot
    return Check(
        "timer wake-ups",
        WARN,
        f"{said}: beyond the engine's {spin_us} us spin, so clock ticks and notes will now and then "
        f"leave up to {worst / 1000:.1f} ms late",
        "on a VM, give it cores of its own (its host takes them now and then); on a laptop, "
        "plug it in and set the CPU governor to performance; grant real-time priority",
    )


def check_blas(env: Mapping[str, str]) -> Check:
    """OpenBLAS reads OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS; more than one thread only
    slows jamd's small matrices and takes the core the clock shares."""
    var = next((v for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if env.get(v)), None)
    if var is not None and env[var].strip() == "1":
        return Check("BLAS threads", PASS, f"{var}=1")
    now = f"{var}={env[var]}" if var else "OPENBLAS_NUM_THREADS and OMP_NUM_THREADS unset"
    return Check(
        "BLAS threads",
        WARN,
        f"{now} (this environment): one BLAS thread per core",
        "Environment=OPENBLAS_NUM_THREADS=1 (jamd.service has it), or export it",
    )


def check_governor(cpu_root: Path = CPU_ROOT) -> Check:
    files = sorted(cpu_root.glob("cpu[0-9]*/cpufreq/scaling_governor"))
    if not files:
        return Check(
            "CPU governor", SKIP, f"no cpufreq under {cpu_root} (a VM or container?): nothing to set"
        )
    governors = {f.parent.parent.name: f.read_text().strip() for f in files}
    slow = {cpu: g for cpu, g in governors.items() if g != "performance"}
    if not slow:
        return Check("CPU governor", PASS, f"performance on {len(governors)} CPUs")
    shown = ", ".join(f"{cpu} {g}" for cpu, g in slow.items())
    return Check(
        "CPU governor",
        WARN,
        f"{shown}: the clock speed drops between notes and rises late",
        "echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor",
    )


# ---------------------------------------------------------------------------------- all


def run_doctor(explicit: Path | None = None) -> list[Check]:
    """Every check, on this machine, for the config ``jamd run`` would read."""
    config_check, config = check_config(explicit)
    compiled = compiled_apis()
    checks = [config_check, check_rtmidi(compiled), check_jack_fix(compiled, rtmidi_version())]
    if config is not None:
        api = resolved_api(config)
        listing = list_ports(api)
        checks.append(check_api(api, compiled, listing))
        if config.ports.api == "auto":  # say why: on Linux no /dev/snd/seq means JACK
            checks[-1].detail += f" (ports.api auto chose {api})"
        checks += [
            check_port(role, kind, pattern, listing) for role, kind, pattern in configured_ports(config)
        ]
        checks.append(check_clock(config, listing, aalink_importable))
        checks += check_models(config)
    else:
        checks.append(Check("ports, clock, models", SKIP, "not checked: the config could not be read"))
    checks.append(
        check_rt(*probe_rt(), rtprio_limit())
        if hasattr(os, "sched_setscheduler")
        else Check("real-time priority", SKIP, "no SCHED_FIFO on this platform")
    )
    checks.append(check_timer(probe_timer()))
    checks.append(check_blas(os.environ))
    checks.append(check_governor())
    return checks


def exit_code(checks: Sequence[Check]) -> int:
    return 1 if any(c.status == FAIL for c in checks) else 0

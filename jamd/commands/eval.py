"""``jamd eval KIND``: evaluate a model. Each kind lives in its own module with
``add_arguments(parser)`` and ``run(args)``, registered in KINDS — add one line for a new kind."""

from __future__ import annotations

import functools

from jamd.commands.common import add_kind_subcommands, run_kind

#: kind -> (module, one-line help)
KINDS: dict[str, tuple[str, str]] = {
    "drums": (
        "jamd.commands.eval_drums",
        "evaluate a drum model on what it plays (seed, pad, realism, style, speed), beside baselines",
    ),
    "bass": (
        "jamd.commands.eval_bass",
        "evaluate a bass model (in scale, kick lock, latent stability, speed)",
    ),
    "tempo": (
        "jamd.commands.eval_tempo",
        "how closely clock.mode drummer follows a drummer (GMD test beats through tempo curves)",
    ),
}

add_arguments = functools.partial(add_kind_subcommands, kinds=KINDS)
run = run_kind

"""``jamd train KIND``: train a model. Each kind (drums, bass, ...) lives in its own module with
``add_arguments(parser)`` and ``run(args)``, registered in KINDS — add one line for a new kind."""

from __future__ import annotations

import functools

from jamd.commands.common import add_kind_subcommands, run_kind

#: kind -> (module, one-line help)
KINDS: dict[str, tuple[str, str]] = {
    "drums": (
        "jamd.commands.train_drums",
        "train the drum VAE (flat-manifold, or plain with --flat-weight 0)",
    ),
    "distill": (
        "jamd.commands.train_distill",
        "copy a drum model's decoder into a fast MLP decoder (same latent space and pad)",
    ),
    "style": ("jamd.commands.train_style", "train the style classifier on a drum model's codes (GMD labels)"),
    "bass": (
        "jamd.commands.train_bass",
        "train the drum-conditioned bass VAE (procedural corpus, or --midi-dir)",
    ),
}

add_arguments = functools.partial(add_kind_subcommands, kinds=KINDS)
run = run_kind

"""jamd: a live-performance daemon that walks a flat drum/bass latent space in time with the rig."""

__version__ = "0.1.0"

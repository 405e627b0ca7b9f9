"""Working with models offline, numpy only: evaluation figures, the latent toolbox (encode,
generate, interpolate, similar) and the map picture (matplotlib, the ``plot`` extra, imported only
when it is drawn). May import what ``live`` may, never torch."""

"""Working with models offline, numpy only: evaluation figures, the latent toolbox (encode,
generate, interpolate, similar) and the map picture. May import what ``live`` may, never torch."""

"""The trained models at run time, numpy only (never torch): drum and bass runtimes, the drum
decoding's memory along pad moves, the seed search, checkpoints (safetensors + model card), the latent plane,
the style classifier. May import ``base``, ``midi`` and ``music``."""

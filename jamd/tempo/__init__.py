"""Following a human drummer's tempo and bar (``clock.mode: drummer``): the causal beat tracker
over the drummer's onsets, its count-in and its states (searching, locked, holding). Pure logic,
hardware-free: it takes times as arguments and never reads the clock. The control process runs
it and hands its estimate to the engine, whose clock steers towards it
(:mod:`jamd.engine.steer`). May import ``base``, ``midi`` and ``music``."""

"""The real-time engine, run in its own process: clock sources (internal, MIDI clock, Ableton Link),
the step scheduler and note ledger, the engine loop, its shared-memory IPC and the handle the
control side holds. Imports only ``jamd.base``, ``jamd.midi``, ``jamd.music`` and itself, so
the engine process loads real-time code and nothing else."""

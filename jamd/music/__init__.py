"""The representation shared by every side: drum voices and kit tables, the step grid (MIDI <->
grid), harmony, and the ``Window`` the engine plays. May import ``jamd.base`` and ``jamd.midi``."""

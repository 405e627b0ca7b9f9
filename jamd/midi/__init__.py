"""MIDI itself, apart from music: the protocol table (``spec``), ports opened by name pattern per
API with hotplug, and the null output. May import ``jamd.base`` only."""

"""``jamd run``'s control side: the daemon, its config, its MIDI inputs (ports, controllers'
mappings, the keyboard's chords), the performance state (the one store of control values),
drummer seeding, the model guard, the recorder, the demo, the terminal status and systemd
notify. May import everything below it (``control``, ``engine``, ``model``, ``data``,
``music``, ``midi``, ``base``), never torch."""

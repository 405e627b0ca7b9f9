"""What the musician's hands move: control targets, controller mapping files, controller message
parsing (14-bit, NRPN, pickup), MIDI learn, OSC and scenes. May import ``base``, ``midi``
and ``music``."""

"""What the musician's hands move: control targets (and the contract of the one store of their
values), controller mapping files, controller message parsing (14-bit, NRPN, pickup), MIDI
learn, OSC and scenes. May import ``base``, ``midi`` and ``music``."""

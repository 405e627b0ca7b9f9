"""The real-time engine, run in its own process. Imports only ``jamd.base``, ``jamd.midi``,
``jamd.music``, ``jamd.sound`` (its output to FluidSynth) and itself, so the engine process loads
real-time code and nothing else.

* ``clock`` - the position-source interface, the timeline math and the internal master clock;
  ``follow`` - following MIDI clock; ``link`` - Ableton Link (aalink, optional);
* ``scheduler`` - the step scheduler and the note ledger (pure logic);
* ``process`` - the engine loop (MIDI out, and every note to ``jamd.sound`` when a sound is on)
  and the engine process's entry point;
* ``config`` (what the engine is told), ``ipc`` (windows, controls and status between the
  processes) and ``handle`` (the control side's handle) - the contracts with the control side.
"""

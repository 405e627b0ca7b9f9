"""Sound without gear: jamd's drums and bass played by FluidSynth with a General MIDI soundfont.

* ``synth`` - what the synth is told (:class:`SoundSettings`), loading FluidSynth (the optional
  ``sound`` extra, pyfluidsynth, over Debian's ``libfluidsynth3``) with one line saying how to
  install what is missing, the soundfont lookup, and a synth set up for drums and bass;
* ``output`` - the real-time output: the engine hands it every note it sends
  (:class:`jamd.sound.output.SoundOutput`), FluidSynth's own audio thread renders to the sound
  device; and the probe for a device;
* ``render`` - a MIDI file rendered offline to a WAV file (``jamd render``, the demo's WAV).

May import ``jamd.base`` and ``jamd.midi`` only: the engine process loads it (as it loads
``jamd.midi``), and ``fluidsynth`` only when a sound is asked for.
"""

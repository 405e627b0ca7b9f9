"""``jamd bench``: the targets of docs/performance.md, measured the same way on every machine, in
one process tree.

What runs, in order (with ``--load`` a busy process keeps the other core occupied throughout;
the bench starts it and stops it by its PID):

1. **Cold start**: a real ``python -m jamd -v run --demo`` subprocess, timed from ``Popen`` to its
   first MIDI clock tick (over JACK: the tick's arrival at a bench sink port; without JACK: the
   engine's "transport: start" log line plus one tick period, an upper bound). While it plays,
   the resident memory of it and every process it started (the engine, multiprocessing's
   resource tracker) is summed from ``/proc/PID/status``.
2. **Decode**: the drum and bass models' own timing helpers (``jamd.lab.drum_eval`` /
   ``jamd.lab.bass_eval``), each in a fresh process pinned to one BLAS thread.
3. **jamd**: the real :class:`jamd.live.daemon.Daemon` (its engine process, its inputs, mappings,
   seeding and decoding) at 180 BPM, sending MIDI clock. Controller CCs arrive at 1 kHz (a knob
   sweeping ``drums.x``: every CC is a new latent, so the daemon decodes continuously) and a
   drummer plays a 2-bar groove (so each bar line seeds). The engine's timing records give the
   clock and note errors; the daemon's :class:`jamd.live.daemon.Latencies` the control and seed
   latencies (see :func:`jamd.ops.bench.stats.control_excess_ms` for what exactly is measured).
   Then the same run again with the page on the phone served (`jamd.web`) and three WebSocket
   clients on it, one moving the drums pad at 60 Hz: its ``web_`` figures sit beside the first's.
4. **Naive baseline**, same process tree, same load: one ``time.sleep`` loop (absolute
   deadlines, no spinning, no real-time priority) in a thread of this process, sending the
   same clock and the same scheduler's notes while a thread decodes the same model at the same
   pace as the daemon. The jamd/baseline ratios make figures comparable across noisy machines.
5. **Drift**: :class:`jamd.engine.follow.ClockFollower` following 10 *simulated* minutes of an external
   clock (synthetic tick times with jitter, late spikes and a crystal error).

Ports: the same port layer as ``jamd run`` (`jamd.midi.ports`), over JACK when a JACK server is
reachable (``JACK_DEFAULT_SERVER`` or the default server; the bench never starts one): then a
separate "rig" process plays the controller and the drummer into real JACK MIDI ports and
sinks what jamd sends. Without JACK, outputs are in-process null ports and the CCs and drummer
notes are handed to the daemon's input polling directly (a feeder thread), which the output says.

Modules: ``run`` (the phases in order, the result), ``conditions`` (tempo, durations, port names,
the config jamd gets), ``coldstart``, ``daemon_run`` (phase 3), ``web_load`` (its page clients), ``rig`` (the controller and drummer
around it), ``baseline``, ``drift``, ``stats`` (percentiles, errors, control latency) and
``report`` (targets, table, JSON).
"""

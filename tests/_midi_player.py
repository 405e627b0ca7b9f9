"""A separate process that plays scheduled MIDI into JACK: the drummer and the controller of the
end-to-end test. Usage: python _midi_player.py SCHEDULE.json

The schedule is {"ports": {"drummer": "out", ...}, "events": [[t_ns, port, [bytes]], ...]}
with absolute ``time.perf_counter_ns`` deadlines (CLOCK_MONOTONIC: the same in every process).
Each port is a virtual JACK output named ``<port>:out``; it prints "ready" once they exist.
"""

import json
import sys
import time

import rtmidi


def main(path: str) -> None:
    schedule = json.load(open(path))
    outs = {}
    try:
        for name in schedule["ports"]:
            outs[name] = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=name)
            outs[name].open_virtual_port("out")
        print("ready", flush=True)
        sys.stdin.readline()  # the test says "go" once jamd is connected
        schedule = json.load(open(path))  # re-read: the test wrote the real times
        for t_ns, port, msg in sorted(schedule["events"], key=lambda e: e[0]):
            while (left := t_ns - time.perf_counter_ns()) > 1_000_000:
                time.sleep((left - 1_000_000) / 1e9)  # sleep, then spin the last millisecond
            while time.perf_counter_ns() < t_ns:
                pass
            outs[port].send_message(msg)
        # keep the ports until the test has stopped jamd: two JACK clients unregistering
        # connected ports at the same moment can stall each other's close
        sys.stdin.readline()
    finally:
        for out in outs.values():
            out.close_port()
            out.delete()


if __name__ == "__main__":
    main(sys.argv[1])

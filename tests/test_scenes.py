"""Scenes: store the pads and the seed, recall them with a glide; from mappings, OSC and the daemon."""

import numpy as np
import pyliblo3 as liblo
import pytest
from test_daemon import MODEL, daemon, run_for  # noqa: F401 (daemon is a fixture)

from jamd.control.mapper import Mapper
from jamd.control.mapping import load_mapping
from jamd.control.scenes import AXES, GLIDE_STEP_S, Scenes, parse_target
from jamd.control.targets import TARGETS, Kind
from jamd.engine.ipc import ControlKind
from jamd.live.performance import Performance
from jamd.model.drums import DrumModel

HOME = {k: 0.0 for k in AXES}
SOMEWHERE = {"drums.x": 0.8, "drums.y": -0.4, "bass.x": 0.5, "bass.y": 1.0}


@pytest.fixture(scope="module")
def perf_factory():
    model = DrumModel.load(MODEL)
    return lambda glide=2.0: Performance(model, model.plane(), scene_glide_s=glide)


def test_targets_are_triggers_for_eight_slots():
    names = [n for n in TARGETS if n.startswith("scene.")]
    assert len(names) == 16 and all(TARGETS[n].kind is Kind.TRIGGER for n in names)
    assert parse_target("scene.recall.8") == ("recall", 8) and parse_target("scene.x.1") is None


def test_recall_glides_linearly_and_lands_on_the_stored_values():
    s = Scenes(glide_s=2.0)
    s.store(1, SOMEWHERE, np.ones(4))
    assert s.recall(1, HOME, np.zeros(4), now=10.0)
    half, _ = s.step(11.0)
    assert half.values["drums.x"] == pytest.approx(0.4) and half.center == pytest.approx(0.5)
    assert s.step(11.0 + GLIDE_STEP_S / 2) is None  # no re-render every loop turn
    end, _ = s.step(12.0)
    assert end.values == SOMEWHERE and end.center == pytest.approx(1.0)
    assert s.glide is None and s.step(13.0) is None


def test_empty_slot_and_one_off_glide_time():
    s = Scenes(glide_s=2.0)
    assert not s.recall(3, HOME, np.zeros(4), now=0.0)
    s.store(3, SOMEWHERE, np.zeros(4))
    s.next_glide_s = 0.0
    assert s.recall(3, HOME, np.zeros(4), now=0.0)
    assert s.step(0.0)[0].values == SOMEWHERE  # glide 0: there at once
    assert s.next_glide_s is None  # the one-off time is used up


def test_performance_stores_and_recalls_pads_and_seed(perf_factory):
    perf = perf_factory(glide=1.0)
    for k, v in SOMEWHERE.items():
        perf.apply(k, v)
    seed = perf.center + 0.5
    perf.set_center(seed)
    perf.apply("scene.store.2", 1.0, t_s=0.0)
    for k in AXES:
        perf.apply(k, -1.0)
    perf.set_center(np.zeros_like(seed))
    perf.apply("scene.recall.2", 1.0, t_s=5.0)
    perf.tick(5.5)
    assert perf.values["drums.x"] == pytest.approx(-0.1) and perf.dirty
    perf.tick(6.0)
    assert {k: perf.values[k] for k in AXES} == pytest.approx(SOMEWHERE)
    np.testing.assert_allclose(perf.center, seed, atol=1e-6)
    assert perf.scenes.glide is None


def test_a_knob_moved_mid_glide_wins(perf_factory):
    perf = perf_factory(glide=1.0)
    perf.apply("scene.store.1", 1.0)
    perf.apply("drums.x", 1.0)
    perf.apply("scene.recall.1", 1.0, t_s=0.0)
    perf.tick(0.5)
    perf.apply("drums.x", 0.7)  # the performer grabs the knob
    perf.tick(1.0)
    assert perf.values["drums.x"] == 0.7 and perf.values["drums.y"] == 0.0


def test_mapping_buttons_store_and_recall(tmp_path, perf_factory):
    path = tmp_path / "pads.yaml"
    path.write_text(
        "channel: 10\ncontrols:\n  pad 1: {note: 36, target: scene.store.1}\n"
        "  pad 5: {note: 40, target: scene.recall.1}\n  knob: {cc: 1, target: drums.x, takeover: jump}\n"
    )
    perf = perf_factory(glide=0.0)
    mapper = Mapper(load_mapping(path), perf)
    events = []
    for t, msg in enumerate([[0x99, 36, 100], [0x89, 36, 0], [0xB9, 1, 127], [0x99, 40, 90]]):
        for ev in mapper.feed(msg, float(t)):
            events.append(ev)
            perf.apply(ev.target, ev.value, float(t))  # the triggers act (values are in already)
    assert [e.target for e in events] == ["scene.store.1", "drums.x", "scene.recall.1"]
    assert perf.values["drums.x"] == 1.0
    perf.tick(3.0)
    assert perf.values["drums.x"] == 0.0


def test_daemon_recalls_a_scene_from_osc_with_a_glide(daemon):  # noqa: F811
    port, sent = daemon.config.osc.port, []

    def script(t):
        if not daemon.running():
            return
        beat = daemon.beat_now(t)
        steps = [
            (1, "/jamd/drums/xy", 0.6, -0.3),
            (2, "/jamd/scene/store", 1),
            (3, "/jamd/drums/xy", -0.9, 0.9),
            (4, "/jamd/scene/recall", 1, 1.0),
        ]
        for b, *msg in steps:
            if beat >= b and b not in sent:
                liblo.send(("127.0.0.1", port), *msg)
                sent.append(b)
        if beat >= 4.5 and "mid" not in sent and 4 in sent:
            sent.append("mid")
            sent.append(daemon.perf.values["drums.x"])

    run_for(daemon, 2.5, script)  # 10 beats at 180 BPM: 3.3 s
    mid = sent[sent.index("mid") + 1]
    assert -0.9 < mid < 0.6  # on its way, not jumped
    assert daemon.perf.values["drums.x"] == pytest.approx(0.6)
    assert daemon.perf.values["drums.y"] == pytest.approx(-0.3)
    assert daemon.perf.scenes.glide is None


def test_knobs_on_the_performance_pick_up_after_every_outside_move(tmp_path, perf_factory):
    """One store: what OSC, a reseed, a scene glide or tap tempo moves, a knob on it must
    pick up again (pickup: it does nothing until it passes the new value)."""
    path = tmp_path / "knobs.yaml"
    path.write_text("channel: 1\ncontrols:\n  x: {cc: 1, target: drums.x}\n  bpm: {cc: 2, target: tempo}\n")
    perf = perf_factory(glide=1.0)
    mapper = Mapper(load_mapping(path), perf)

    def knob(n: int, v: int, t: float = 0.0) -> list[float]:
        return [ev.value for ev in mapper.feed([0xB0, n, v], t)]

    def picks_up(v: int, past: int) -> None:
        """The knob at ``v`` drives nothing; moved to ``past``, across the value, it does."""
        before = dict(perf.values)
        assert knob(1, v) == [] and perf.values == before
        assert knob(1, past) == [pytest.approx(past / 127 * 2 - 1)]

    knob(1, 64), knob(1, 100)  # picked up at the centre, then moved
    assert perf.values["drums.x"] == pytest.approx(100 / 127 * 2 - 1) and perf.take_controls() == []
    perf.apply("scene.store.1", 1.0)
    perf.apply("drums.x", -0.5)  # OSC
    picks_up(110, 10)
    perf.reseed(perf.center + 0.1)  # the pad is home again on a new seed
    assert perf.values["drums.x"] == 0.0
    picks_up(20, 90)
    perf.apply("scene.recall.1", 1.0, t_s=0.0)
    perf.tick(1.0)  # glided back to the stored x
    assert perf.values["drums.x"] == pytest.approx(100 / 127 * 2 - 1)
    picks_up(20, 127)
    knob(2, 30), knob(2, 40)  # the tempo knob (20..400) passes 120 BPM: picked up
    assert perf.values["tempo"] == pytest.approx(20 + 380 * 40 / 127)
    assert [c.kind for c in perf.take_controls()] == [ControlKind.TEMPO]  # for the engine, once
    perf.apply("tap", 1.0, t_s=10.0), perf.apply("tap", 1.0, t_s=10.5)  # 120 BPM
    assert perf.values["tempo"] == pytest.approx(120.0)
    assert knob(2, 45) == []  # the knob no longer drives the tapped tempo

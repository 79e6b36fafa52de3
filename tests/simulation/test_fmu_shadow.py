"""Live shadows in one process: predictions and residuals as telemetry, drift events, takeover."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from graph.events import ChangeEvent, ChangeKind, EventBus
from graph.shadows import ShadowNodes
from graph.store import GraphStore
from ontology.errors import NotFound, ValidationFailed
from simulation.fmu.shadow import Shadows, ShadowWorker
from telemetry.refs import TelemetryRef
from tests.simulation.fmu_twins import FmuWorld, make_world
from tests.simulation.fmus import BuiltFmus

ROOM_REF = TelemetryRef("telemetry", "Room", {"twin_id": "room-1"})


@pytest.fixture
def world(graph_store: GraphStore, test_fmus: BuiltFmus, tmp_path: Path) -> Iterator[FmuWorld]:
    found = make_world(graph_store, test_fmus, tmp_path)
    try:
        yield found
    finally:
        found.telemetry.close()


def settings(**extra: Any) -> dict[str, Any]:
    return {
        "bindings": {
            "C": {"property": "thermalCapacitance", "scale": 1000.0},
            "UA": {"property": "envelopeConductance"},
            "T0": {"latest": "temperature"},
            "T_out": {"constant": 21.0},
            "Q": {"constant": 0.0},
        },
        "outputs": {"T": {"telemetry": "temperature", "band": 0.5}},
        "step": 0.2,
        "historyS": 2.0,
        **extra,
    }


def shadows_of(world: FmuWorld) -> Shadows:
    nodes = ShadowNodes(world.graph)
    nodes.ensure_schema()
    return Shadows(nodes, world.library, world.graph, lambda: world.models)


def worker(world: FmuWorld, name: str, events: EventBus, lease_s: float = 10.0) -> ShadowWorker:
    return ShadowWorker(
        ShadowNodes(world.graph),
        world.library,
        world.graph,
        lambda: world.models,
        world.telemetry,
        events=events,
        lease_s=lease_s,
        claim_every_s=0.2,
        name=name,
    )


class Device(threading.Thread):
    """The room's thermometer: writes ``value()`` every 0.1 s until stopped."""

    def __init__(self, world: FmuWorld, value: float) -> None:
        super().__init__(daemon=True)
        self.world, self.value, self.halt = world, value, threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.world.write("Room", "room-1", "temperature", [(datetime.now(UTC), self.value)])
            self.halt.wait(0.1)


def latest(world: FmuWorld, name: str) -> float | None:
    found = world.telemetry.latest([ROOM_REF], [name])[0].get(name)
    return None if found is None else float(found.value)


def wait_for(condition: Any, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_shadow_predicts_flags_drift_and_is_taken_over_when_its_worker_dies(world: FmuWorld) -> None:
    device = Device(world, 21.0)
    device.start()
    try:
        shadow_takeover(world, device)
    finally:
        device.halt.set()
        device.join(5)


def shadow_takeover(world: FmuWorld, device: Device) -> None:
    time.sleep(0.5)
    shadow = shadows_of(world).start("room-1", world.room.id, settings())
    events: list[ChangeEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)
    first = worker(world, "first", bus, lease_s=1.5)
    thread = threading.Thread(target=first.serve, daemon=True)
    thread.start()
    try:
        wait_for(lambda: latest(world, "temperature.residual") is not None)
        # T0 from the measured 21 degC, outdoor 21 degC: the model stays at 21, as the room does.
        assert latest(world, "temperature.predicted") == pytest.approx(21.0, abs=1e-3)
        residual = latest(world, "temperature.residual")
        assert residual is not None
        assert abs(residual) < 0.01
        assert ShadowNodes(world.graph).get(shadow.id).worker == "first"
        wait_for(lambda: len(first.lags) >= 5)
        assert max(first.lags) < 1.0

        device.value = 23.0  # the room drifts away from the model
        drift = wait_for(lambda: [e for e in events if e.kind is ChangeKind.SHADOW_DRIFT])
        assert drift[0].id == "room-1"
        assert drift[0].data["telemetry"] == "temperature"
        assert drift[0].data["residual"] > 0.5
        assert drift[0].data["band"] == [-0.5, 0.5]
        device.value = 21.0
        wait_for(lambda: [e for e in events if e.kind is ChangeKind.SHADOW_RECOVERED])
    finally:
        # The worker "dies": it stops stepping and renews nothing, and keeps its lease.
        first.running.clear()
        first._stop.set()
        thread.join(5)
    held = ShadowNodes(world.graph).get(shadow.id)
    assert held.worker == "first"
    second = worker(world, "second", bus)
    heir = threading.Thread(target=second.serve, daemon=True)
    heir.start()
    try:
        taken = wait_for(lambda: ShadowNodes(world.graph).get(shadow.id).worker == "second" or None, 10.0)
        assert taken
        assert ShadowNodes(world.graph).get(shadow.id).attempts == 2
        before = latest(world, "temperature.predicted")
        stamp = datetime.now(UTC)
        wait_for(lambda: _newest(world, "temperature.predicted") > stamp)
        assert before is not None
        shadows_of(world).stop(shadow.id)
        wait_for(lambda: not second.running)
    finally:
        second.stop()
        heir.join(5)
    assert ShadowNodes(world.graph).get(shadow.id).status == "stopped"


def _newest(world: FmuWorld, name: str) -> datetime:
    found = world.telemetry.latest([ROOM_REF], [name])[0].get(name)
    return found.time if found is not None else datetime.min.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("twin", "change", "error", "words"),
    [
        ("pump-1", {}, ValidationFailed, "the FMU serves dtmi:kgtwin:space:Room;1, and the twin is a"),
        ("nobody", {}, NotFound, "nobody"),
        ("room-1", {"step": 0.0}, ValidationFailed, "/step"),
        ("room-1", {"outputs": {"T_room": {}}}, ValidationFailed, "has no real output 'T_room'"),
        (
            "room-1",
            {"outputs": {"T": {"telemetry": "pressure"}}},
            ValidationFailed,
            "declares no telemetry 'pressure'",
        ),
        ("room-1", {"bindings": {"T_out": {"series": "temperature"}}}, ValidationFailed, "is for batch runs"),
        ("room-1", {"bindings": {"Q": {"constant": "warm"}}}, ValidationFailed, "cannot take 'warm'"),
    ],
)
def test_a_bad_shadow_is_refused_and_nothing_is_stored(
    world: FmuWorld, twin: str, change: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=None) as caught:
        shadows_of(world).start(twin, world.room.id, settings(**change))
    assert words in str(caught.value)
    assert ShadowNodes(world.graph).list() == []


def test_an_fmu_an_active_shadow_runs_cannot_be_deleted(world: FmuWorld) -> None:
    from ontology.errors import Conflict

    shadow = shadows_of(world).start("room-1", world.room.id, settings())
    with pytest.raises(Conflict, match="runs in active shadows"):
        world.library.delete(world.room.id)
    shadows_of(world).stop(shadow.id)
    world.library.delete(world.room.id)
    with pytest.raises(NotFound):
        world.library.get(world.room.id)
    assert not world.library.files.exists(world.room.reference.sha256)

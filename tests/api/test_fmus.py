"""FMUs and live shadows through the API: REST upload (modelers), GraphQL list, inspect, delete, shadows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.fmus import FmuNodes
from graph.shadows import ShadowNodes
from simulation.fmu.library import FmuLibrary
from simulation.fmu.shadow import Shadows
from simulation.fmu.store import FmuFiles
from tests.api.conftest import Api
from tests.simulation.fmus import BuiltFmus, build_all, model_exchange_only

ROOM = "dtmi:kgtwin:space:Room;1"
FMUS = "{ fmus { id name interface fmiVersion modelName inputs outputs parameters } }"


@pytest.fixture(scope="module")
def built() -> BuiltFmus:
    return build_all()


@pytest.fixture
def fmu_api(api: Api, tmp_path: Path) -> Iterator[Api]:
    graph = api.context.graph
    assert graph is not None
    nodes = FmuNodes(graph)
    nodes.ensure_schema()
    api.context.fmus = FmuLibrary(nodes, FmuFiles(tmp_path / "fmus"))
    shadow_nodes = ShadowNodes(graph)
    shadow_nodes.ensure_schema()
    api.context.shadows = Shadows(shadow_nodes, api.context.fmus, graph, lambda: api.context.registry.models)  # type: ignore[union-attr]
    return api


def upload(api: Api, data: bytes, interface: str = ROOM, name: str = "room.fmu") -> object:
    return api.client.post(f"/fmus?for={interface}", files={"file": (name, data, "application/octet-stream")})


def test_an_fmu_uploaded_over_rest_is_listed_and_inspected_in_graphql(fmu_api: Api, built: BuiltFmus) -> None:
    response = upload(fmu_api, built.room.read_bytes())
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    stored = response.json()  # type: ignore[attr-defined]
    assert stored["interface"] == ROOM
    assert [v["name"] for v in stored["inputs"]] == ["T_out", "Q"]
    assert {v["name"]: v["start"] for v in stored["parameters"]} == {"UA": 200.0, "C": 2.0e6, "T0": 20.0}
    again = upload(fmu_api, built.room.read_bytes())
    assert again.status_code == 201  # type: ignore[attr-defined]
    assert again.json()["id"] == stored["id"]  # type: ignore[attr-defined]
    listed = fmu_api.data(FMUS)["fmus"]
    assert [(f["id"], f["modelName"], f["fmiVersion"]) for f in listed] == [(stored["id"], "Room", "2.0")]
    one = fmu_api.data("query($id: ID!) { fmu(id: $id) { interface outputs } }", {"id": stored["id"]})["fmu"]
    assert one["interface"] == ROOM
    assert one["outputs"][0]["name"] == "T"
    rest = fmu_api.client.get(f"/fmus/{stored['id']}").json()
    assert rest["sha256"] == stored["sha256"]
    deleted = fmu_api.data("mutation($id: ID!) { deleteFmu(id: $id) }", {"id": stored["id"]})
    assert deleted["deleteFmu"] == stored["id"]
    assert fmu_api.data(FMUS)["fmus"] == []
    assert fmu_api.client.get(f"/fmus/{stored['id']}").status_code == 404


def test_a_bad_fmu_is_a_422_naming_the_problem_and_nothing_is_stored(fmu_api: Api, built: BuiltFmus) -> None:
    response = upload(fmu_api, model_exchange_only(built.room), name="me.fmu")
    assert response.status_code == 422  # type: ignore[attr-defined]
    problem = response.json()  # type: ignore[attr-defined]
    assert problem["code"] == "VALIDATION_FAILED"
    assert "me.fmu supports model exchange only" in problem["detail"]
    assert fmu_api.data(FMUS)["fmus"] == []
    missing = upload(fmu_api, built.room.read_bytes(), interface="dtmi:nowhere:Thing;1")
    assert missing.status_code == 404  # type: ignore[attr-defined]
    assert fmu_api.data(FMUS)["fmus"] == []
    assert not list((fmu_api.context.fmus.files.root).rglob("*.fmu"))  # type: ignore[union-attr]


def test_shadows_are_started_listed_and_stopped_in_graphql(fmu_api: Api, built: BuiltFmus) -> None:
    fmu_id = upload(fmu_api, built.room.read_bytes()).json()["id"]  # type: ignore[attr-defined]
    fmu_api.data(
        'mutation { createTwin(id: "room-1", model: "dtmi:kgtwin:space:Room;1", '
        "properties: {thermalCapacitance: 2000, envelopeConductance: 250}) { id } }"
    )
    start = """mutation($fmu: ID!) { startShadow(twin: "room-1", fmu: $fmu, step: 1.0,
        bindings: {C: {property: "thermalCapacitance", scale: 1000}, T_out: {constant: 5}},
        outputs: {T: {telemetry: "temperature", band: 0.5}}) { id twin fmu status step outputs } }"""
    shadow = fmu_api.data(start, {"fmu": fmu_id})["startShadow"]
    assert shadow["status"] == "active"
    assert shadow["outputs"] == {"T": {"telemetry": "temperature", "band": 0.5}}
    listed = fmu_api.data('{ shadows(twin: "room-1") { id status } }')["shadows"]
    assert listed == [{"id": shadow["id"], "status": "active"}]
    busy = fmu_api.error("mutation($id: ID!) { deleteFmu(id: $id) }", {"id": fmu_id})
    assert busy["extensions"]["code"] == "CONFLICT"
    stopped = fmu_api.data("mutation($id: ID!) { stopShadow(id: $id) { status } }", {"id": shadow["id"]})
    assert stopped["stopShadow"]["status"] == "stopped"
    wrong = fmu_api.error(
        'mutation($fmu: ID!) { startShadow(twin: "room-1", fmu: $fmu, step: 1.0, '
        'outputs: {T: {}}, bindings: {Q: {constant: "warm"}}) { id } }',
        {"fmu": fmu_id},
    )
    assert wrong["extensions"]["code"] == "VALIDATION_FAILED"
    assert "cannot take 'warm'" in wrong["message"]

"""JSON Patch (RFC 6902) of a twin's properties under its etag, on both engines."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from graph.store import GraphStore
from graph.twins import TwinGraph
from ontology.errors import BadRequest, Conflict, ErrorCode, NotFound, ValidationFailed
from ontology.patch import apply_patch
from tests.graph.plant import PUMP, plant_models

DOC: dict[str, Any] = {"serial": "P-1", "speeds": [1, 2], "location": {"lat": 1.0, "lon": 2.0}}


@pytest.fixture
def twins(store: GraphStore) -> TwinGraph:
    graph = TwinGraph(store, plant_models())
    graph.put_twin("pump-1", PUMP, DOC)
    return graph


def test_rfc6902_operations_apply_in_order_without_touching_the_input() -> None:
    patched = apply_patch(
        DOC,
        [
            {"op": "test", "path": "/serial", "value": "P-1"},
            {"op": "replace", "path": "/location/lat", "value": 5.0},
            {"op": "add", "path": "/speeds/-", "value": 3},
            {"op": "add", "path": "/speeds/0", "value": 0},
            {"op": "copy", "from": "/serial", "path": "/tags"},
            {"op": "remove", "path": "/tags"},
            {"op": "move", "from": "/location/lon", "path": "/location/lng"},
        ],
    )
    assert patched == {"serial": "P-1", "speeds": [0, 1, 2, 3], "location": {"lat": 5.0, "lng": 2.0}}
    assert DOC["location"] == {"lat": 1.0, "lon": 2.0}


def test_patch_errors_name_the_operation() -> None:
    with pytest.raises(ValidationFailed, match="operation 1: /nope does not exist") as caught:
        apply_patch(DOC, [{"op": "add", "path": "/flow", "value": 1.0}, {"op": "remove", "path": "/nope"}])
    assert caught.value.details["index"] == 1
    assert caught.value.details["path"] == "/nope"
    with pytest.raises(Conflict, match="/speeds/0 is 1, not True"):
        apply_patch(DOC, [{"op": "test", "path": "/speeds/0", "value": True}])
    with pytest.raises(BadRequest, match="op must be"):
        apply_patch(DOC, [{"op": "frobnicate", "path": "/serial"}])
    with pytest.raises(BadRequest, match="JSON Pointer"):
        apply_patch(DOC, [{"op": "remove", "path": "serial"}])


def test_a_patch_with_the_current_etag_updates_the_twin(twins: TwinGraph) -> None:
    before = twins.get_twin("pump-1")
    after = twins.patch_twin("pump-1", [{"op": "add", "path": "/flow", "value": 7.5}], if_match=before.etag)
    assert after.properties == {**DOC, "flow": 7.5}
    assert after.etag != before.etag
    assert after.created_at == before.created_at
    assert twins.get_twin("pump-1") == after
    assert twins.store.read("MATCH (t:Pump) RETURN t.flow").rows == [[7.5]]


def test_a_stale_etag_is_a_conflict(twins: TwinGraph) -> None:
    stale = twins.get_twin("pump-1").etag
    twins.patch_twin("pump-1", [{"op": "replace", "path": "/serial", "value": "P-2"}])
    with pytest.raises(Conflict) as caught:
        twins.patch_twin("pump-1", [{"op": "replace", "path": "/serial", "value": "P-3"}], if_match=stale)
    assert caught.value.code is ErrorCode.CONFLICT
    assert twins.get_twin("pump-1").properties["serial"] == "P-2"


def test_a_patch_that_breaks_the_model_writes_nothing(twins: TwinGraph) -> None:
    before = twins.get_twin("pump-1")
    with pytest.raises(ValidationFailed) as caught:
        twins.patch_twin(
            "pump-1",
            [
                {"op": "replace", "path": "/serial", "value": 5},
                {"op": "add", "path": "/colour", "value": "red"},
            ],
        )
    assert {e["path"] for e in caught.value.details["errors"]} == {"/serial", "/colour"}
    assert twins.get_twin("pump-1") == before


def test_patching_a_missing_twin_is_not_found(twins: TwinGraph) -> None:
    with pytest.raises(NotFound):
        twins.patch_twin("nope", [])


def test_patches_without_an_etag_written_together_all_apply(twins: TwinGraph) -> None:
    """Without an etag the caller asked for any version: losing the compare-and-set to another
    writer is no conflict; the patch is applied to the version that won, and none is lost."""
    twins.patch_twin("pump-1", [{"op": "add", "path": "/tags", "value": {}}])
    # 4 writers of 4 patches: a patch can lose to the 12 others at most, fewer than it may retry.
    keys = [f"k{i}" for i in range(16)]
    barrier = threading.Barrier(4)

    def write(index: int) -> None:
        barrier.wait(30)
        for key in keys[index::4]:
            twins.patch_twin("pump-1", [{"op": "add", "path": f"/tags/{key}", "value": key}])

    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(write, i) for i in range(4)]:
            done.result(timeout=120)
    assert twins.get_twin("pump-1").properties["tags"] == {key: key for key in keys}

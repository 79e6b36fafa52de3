"""The twin graph's state for the ADT surface, on both engines: event routes, bulk jobs,
the wipe of a deletion job, and ADT's import files."""

from __future__ import annotations

import io
import json
import time

import pytest

from graph.adt_bulk import AdtImportStream
from graph.event_routes import EventRoute, EventRouteStore
from graph.importer import import_bulk
from graph.jobs import ABANDONED, JobKind, JobStatus, JobStore, new_job
from graph.model_store import GraphModelStore
from graph.store import GraphStore
from graph.twins import TwinGraph
from graph.wipe import delete_all
from ontology.errors import BadRequest, Conflict, NotFound
from ontology.registry import ModelRegistry
from tests.graph.adt_models import DOCS, ROOM, THERMOSTAT, adt_models


def test_event_routes_are_kept_and_their_filters_checked(store: GraphStore) -> None:
    routes = EventRouteStore(store)
    routes.put(EventRoute("r1", "hub", "type = 'Microsoft.DigitalTwins.Twin.Create'"))
    routes.put(EventRoute("r0", "hub", "true"))
    routes.put(EventRoute("r1", "other", "false"))  # replaced
    assert [(r.id, r.endpoint_name, r.filter) for r in routes.list()] == [
        ("r0", "hub", "true"),
        ("r1", "other", "false"),
    ]
    with pytest.raises(BadRequest, match="character"):
        routes.put(EventRoute("r2", "hub", "type = "))
    routes.delete("r0")
    with pytest.raises(NotFound):
        routes.get("r0")
    with pytest.raises(NotFound):
        routes.delete("r0")


def test_job_records_move_through_their_states(store: GraphStore) -> None:
    jobs = JobStore(store)
    job = jobs.create(new_job(JobKind.IMPORT, "j1", input="in.ndjson", output="out.ndjson"))
    with pytest.raises(Conflict):
        jobs.create(new_job(JobKind.IMPORT, "j1"))
    jobs.create(new_job(JobKind.DELETION, "j1"))  # another kind, another id space
    done = jobs.save(job.advanced(JobStatus.SUCCEEDED, counts={"twins": 3}))
    got = jobs.get(JobKind.IMPORT, "j1")
    assert got == done
    assert got.finished is not None
    assert got.purge is not None
    assert got.purge > got.finished
    assert [j.id for j in jobs.list(JobKind.DELETION)] == ["j1"]
    jobs.delete(JobKind.IMPORT, "j1")
    jobs.save(done.advanced(JobStatus.FAILED))  # a job's thread reporting after the delete
    with pytest.raises(NotFound):
        jobs.get(JobKind.IMPORT, "j1")


def test_a_wipe_deletes_twins_relationships_and_models_only(store: GraphStore) -> None:
    registry = ModelRegistry(GraphModelStore(store))
    registry.upload(DOCS)
    twins = TwinGraph(store, registry.models)
    twins.put_twin("t-1", THERMOSTAT, {"setpoint": 21.0, "sensor": {"offset": 0.5}})
    twins.put_twin("room-1", ROOM, {"name": "Lab"})
    twins.put_relationship("t-1", "c1", "controls", "room-1")
    EventRouteStore(store).put(EventRoute("r1", "hub", "true"))
    wiped = delete_all(store)
    assert (wiped.twins, wiped.models) == (2, 3)
    assert store.read("MATCH (t:Twin) RETURN count(t)").rows == [[0]]
    assert store.read("MATCH (m:Model) RETURN count(m)").rows == [[0]]
    assert [r.id for r in EventRouteStore(store).list()] == ["r1"]


def test_an_adt_import_file_loses_only_service_state(store: GraphStore) -> None:
    lines = [
        {"Section": "Header"},
        {"fileVersion": "1.0.0", "author": "someone", "organization": "contoso"},
        {"Section": "Models"},
        *DOCS,
        {"Section": "Twins"},
        {
            "$dtId": "t-1",
            "$etag": 'W/"x"',
            "$metadata": {"$model": THERMOSTAT, "setpoint": {"lastUpdateTime": "2020-01-01T00:00:00Z"}},
            "setpoint": 19.5,
            "sensor": {"$metadata": {"offset": {"sourceTime": "2020-01-01T00:00:00Z"}}, "offset": 0.25},
        },
        {"$dtId": "room-1", "$metadata": {"$model": ROOM}, "name": "Lab"},
        {"Section": "Relationships"},
        {
            "$dtId": "t-1",
            "$relationshipId": "c1",
            "$targetId": "room-1",
            "$relationshipName": "controls",
            "$etag": 'W/"y"',
            "priority": 4,
        },
    ]
    text = "\n".join(json.dumps(line) for line in lines).encode()
    report = import_bulk(store, AdtImportStream(io.BytesIO(text)))
    assert report.ok, report.issues
    assert (report.models, report.twins, report.relationships) == (3, 2, 1)
    twins = TwinGraph(store, adt_models())
    assert twins.get_twin("t-1").properties == {"setpoint": 19.5, "sensor": {"offset": 0.25}}
    assert twins.get_relationship("t-1", "c1").properties == {"priority": 4}


def test_a_job_whose_runner_stopped_is_failed_once_its_lease_lapses(store: GraphStore) -> None:
    """A job saved once and never renewed lapses; one under ``leased`` stays; finished ones keep."""
    jobs = JobStore(store, lease_s=3.0)
    orphan = jobs.create(new_job(JobKind.IMPORT, "orphan"))
    jobs.save(orphan.advanced(JobStatus.RUNNING))
    alive = jobs.create(new_job(JobKind.DELETION, "alive"))
    done = jobs.create(new_job(JobKind.IMPORT, "done"))
    jobs.save(done.advanced(JobStatus.SUCCEEDED))
    with jobs.leased(alive):
        time.sleep(5.0)
        lapsed = jobs.get(JobKind.IMPORT, "orphan")
        renewed = jobs.get(JobKind.DELETION, "alive")
    assert lapsed.status is JobStatus.FAILED
    assert lapsed.error_code == ABANDONED
    assert lapsed.error_message is not None
    assert "run it again" in lapsed.error_message
    assert lapsed.finished is not None
    assert lapsed.purge is not None
    assert renewed.status is JobStatus.NOT_STARTED
    assert jobs.get(JobKind.IMPORT, "done").status is JobStatus.SUCCEEDED
    assert [j.status for j in jobs.list(JobKind.IMPORT)] == [JobStatus.FAILED, JobStatus.SUCCEEDED]

"""The ADT surface over HTTP on both engines: shapes, codes, headers and bad input (never a 500).

Microsoft's SDKs drive the happy paths in tests/adt; these requests are the ones an SDK
would not send (a missing api-version, malformed JSON, forged tokens, unsafe file names)
and the exact bodies and headers of ADT's errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.adt import AdtOptions
from tests.api.conftest import Api
from tests.graph.adt_models import DOCS, ROOM, THERMOSTAT

V = {"api-version": "2023-10-31"}


@pytest.fixture
def adt(api: Api, tmp_path: Path) -> Api:
    api.context.adt = AdtOptions(endpoints={"hub": "plant/events"}, files_dir=tmp_path / "files")
    answer = api.client.post("/adt/models", params=V, json=DOCS)
    assert answer.status_code == 201, answer.text
    return api


def _error(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["x-ms-error-code"] == code
    body: dict[str, Any] = answer.json()["error"]
    assert body["code"] == code
    assert body["message"]
    assert isinstance(body["details"], list)
    return body


def test_every_request_needs_a_supported_api_version(adt: Api) -> None:
    _error(adt.client.get(f"/adt/models/{ROOM}"), 400, "InvalidArgument")
    body = _error(
        adt.client.get(f"/adt/models/{ROOM}", params={"api-version": "1999-01-01"}), 400, "InvalidArgument"
    )
    assert "2023-10-31" in body["message"]
    assert adt.client.get(f"/adt/models/{ROOM}", params={"api-version": "2022-05-31"}).status_code == 200


def test_a_twin_is_answered_with_its_etag_header(adt: Api) -> None:
    put = adt.client.put(
        "/adt/digitaltwins/t-1", params=V, json={"$metadata": {"$model": THERMOSTAT}, "setpoint": 20}
    )
    assert put.status_code == 200, put.text
    body = put.json()
    assert put.headers["etag"] == body["$etag"]
    assert body["sensor"] == {"$metadata": {}}  # a declared Component never written
    patched = adt.client.patch(
        "/adt/digitaltwins/t-1",
        params=V,
        content=b'[{"op": "replace", "path": "/setpoint", "value": 21}]',
        headers={"Content-Type": "application/json-patch+json", "If-Match": body["$etag"]},
    )
    assert patched.status_code == 204
    assert patched.headers["etag"] != body["$etag"]
    assert adt.client.get("/adt/digitaltwins/t-1", params=V).headers["etag"] == patched.headers["etag"]


@pytest.mark.parametrize(
    ("method", "path", "content", "status", "code"),
    [
        ("put", "/adt/digitaltwins/x", b"{not json", 400, "InvalidArgument"),
        ("put", "/adt/digitaltwins/x", b"[1, 2]", 400, "InvalidArgument"),
        ("put", "/adt/digitaltwins/x", b'{"name": "no model"}', 400, "ValidationFailed"),
        (
            "put",
            "/adt/digitaltwins/x",
            b'{"$metadata": {"$model": "dtmi:ex:Nothing;1"}}',
            400,
            "ValidationFailed",
        ),
        ("patch", "/adt/digitaltwins/t-1", b'{"op": "add"}', 400, "JsonPatchInvalid"),
        ("patch", "/adt/digitaltwins/t-1", b'[{"op": "jump", "path": "/a"}]', 400, "JsonPatchInvalid"),
        ("patch", "/adt/digitaltwins/t-1", b'[{"op": "remove", "path": "/label"}]', 400, "JsonPatchInvalid"),
        (
            "patch",
            "/adt/digitaltwins/t-1",
            b'[{"op": "replace", "path": "/$metadata/$model", "value": "x"}]',
            400,
            "InvalidArgument",
        ),
        ("get", "/adt/digitaltwins/ghost", b"", 404, "DigitalTwinNotFound"),
        ("get", "/adt/digitaltwins/t-1/relationships/none", b"", 404, "RelationshipNotFound"),
        ("get", "/adt/digitaltwins/t-1/components/none", b"", 404, "ComponentNotFound"),
        ("post", "/adt/digitaltwins/t-1/telemetry", b'{"temperature": 1}', 400, "InvalidArgument"),
        (
            "patch",
            f"/adt/models/{ROOM}",
            b'[{"op": "replace", "path": "/decommissioned", "value": false}]',
            400,
            "JsonPatchInvalid",
        ),
        ("post", "/adt/models", b"[]", 400, "InvalidArgument"),
        ("get", "/adt/nowhere", b"", 404, "NotFound"),
        ("delete", "/adt/models", b"", 405, "MethodNotAllowed"),
        ("get", "/adt/eventroutes/none", b"", 404, "EventRouteNotFound"),
        ("get", "/adt/jobs/imports/none", b"", 404, "ImportJobNotFound"),
        ("get", "/adt/jobs/deletions/none", b"", 404, "DeleteJobNotFound"),
        ("get", "/adt/models", b"", 200, ""),
    ],
)
def test_bad_requests_get_adts_status_code_and_body(
    adt: Api, method: str, path: str, content: bytes, status: int, code: str
) -> None:
    adt.client.put(
        "/adt/digitaltwins/t-1", params=V, json={"$metadata": {"$model": THERMOSTAT}, "setpoint": 20}
    )
    answer = adt.client.request(method, path, params=V, content=content or None)
    if status == 200:
        assert answer.status_code == 200
        return
    _error(answer, status, code)


def test_a_stale_if_match_is_412_and_if_none_match_takes_only_star(adt: Api) -> None:
    body = adt.client.put("/adt/digitaltwins/r", params=V, json={"$metadata": {"$model": ROOM}}).json()
    adt.client.patch("/adt/digitaltwins/r", params=V, json=[{"op": "add", "path": "/name", "value": "a"}])
    stale = adt.client.request("DELETE", "/adt/digitaltwins/r", params=V, headers={"If-Match": body["$etag"]})
    _error(stale, 412, "PreconditionFailed")
    odd = adt.client.put(
        "/adt/digitaltwins/r2",
        params=V,
        json={"$metadata": {"$model": ROOM}},
        headers={"If-None-Match": 'W/"x"'},
    )
    _error(odd, 400, "InvalidArgument")


def test_a_decommissioned_model_takes_no_new_twin_and_a_used_model_stays(adt: Api) -> None:
    adt.client.put("/adt/digitaltwins/r", params=V, json={"$metadata": {"$model": ROOM}})
    done = adt.client.patch(
        f"/adt/models/{ROOM}", params=V, json=[{"op": "replace", "path": "/decommissioned", "value": True}]
    )
    assert done.status_code == 204
    assert adt.client.get(f"/adt/models/{ROOM}", params=V).json()["decommissioned"] is True
    _error(
        adt.client.put("/adt/digitaltwins/r2", params=V, json={"$metadata": {"$model": ROOM}}),
        400,
        "ModelDecommissioned",
    )
    assert (
        adt.client.put(
            "/adt/digitaltwins/r", params=V, json={"$metadata": {"$model": ROOM}, "name": "b"}
        ).status_code
        == 200
    )
    _error(adt.client.delete(f"/adt/models/{ROOM}", params=V), 409, "ModelReferencesNotDeleted")


def test_model_pages_follow_next_links_and_refuse_forged_tokens(adt: Api) -> None:
    seen: list[str] = []
    answer = adt.client.get("/adt/models", params=V, headers={"max-items-per-page": "2"}).json()
    pages = 1
    while True:
        seen += [m["id"] for m in answer["value"]]
        assert len(answer["value"]) <= 2
        if "nextLink" not in answer:
            break
        answer = adt.client.get(answer["nextLink"]).json()
        pages += 1
    assert pages >= 2
    assert len(seen) == len(set(seen))
    assert {ROOM, THERMOSTAT} <= set(seen)
    _error(adt.client.get("/adt/models", params={**V, "continuationToken": "'; DROP"}), 400, "BadRequest")
    _error(
        adt.client.get("/adt/models", params=V, headers={"max-items-per-page": "lots"}),
        400,
        "InvalidArgument",
    )


def test_telemetry_needs_a_message_id_and_follows_the_model(adt: Api) -> None:
    adt.client.put("/adt/digitaltwins/t-1", params=V, json={"$metadata": {"$model": THERMOSTAT}})
    ok = adt.client.post(
        "/adt/digitaltwins/t-1/telemetry", params=V, json={"temperature": 21}, headers={"Message-Id": "m1"}
    )
    assert ok.status_code == 204, ok.text
    again = adt.client.post(
        "/adt/digitaltwins/t-1/telemetry", params=V, json={"temperature": 99}, headers={"Message-Id": "m1"}
    )
    assert again.status_code == 204  # the same message id again: accepted, not stored twice
    body = _error(
        adt.client.post(
            "/adt/digitaltwins/t-1/telemetry", params=V, json={"humidity": 1}, headers={"Message-Id": "m2"}
        ),
        400,
        "ValidationFailed",
    )
    assert body["details"][0]["code"] == "TELEMETRY_UNKNOWN"
    part = adt.client.post(
        "/adt/digitaltwins/t-1/components/sensor/telemetry",
        params=V,
        json={"reading": 2},
        headers={"Message-Id": "m3"},
    )
    assert part.status_code == 204, part.text
    _error(
        adt.client.post(
            "/adt/digitaltwins/t-1/telemetry",
            params=V,
            json={"temperature": 1},
            headers={"Message-Id": "m4", "Telemetry-Source-Time": "yesterday"},
        ),
        400,
        "InvalidArgument",
    )
    ref = adt.context.twins.get_twin("t-1").telemetry if adt.context.twins else None
    assert ref is not None
    latest = adt.telemetry.inner.latest([ref], ["temperature", "sensor.reading"])[0]
    assert (latest["temperature"].value, latest["sensor.reading"].value) == (21.0, 2.0)


def test_event_routes_name_known_endpoints_and_valid_filters(adt: Api) -> None:
    ok = adt.client.put("/adt/eventroutes/r1", params=V, json={"endpointName": "hub", "filter": "true"})
    assert ok.status_code == 204, ok.text
    assert adt.client.get("/adt/eventroutes", params=V).json() == {
        "value": [{"id": "r1", "endpointName": "hub", "filter": "true"}]
    }
    _error(
        adt.client.put("/adt/eventroutes/r2", params=V, json={"endpointName": "nope", "filter": "true"}),
        400,
        "EventRouteEndpointInvalid",
    )
    body = _error(
        adt.client.put("/adt/eventroutes/r2", params=V, json={"endpointName": "hub", "filter": "subject ="}),
        400,
        "EventRouteFilterInvalid",
    )
    assert "character" in body["message"]


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b", "x" * 201, "sp ace"])
def test_file_names_cannot_leave_the_files_folder(adt: Api, name: str) -> None:
    answer = adt.client.put(f"/adt/files/{name}", params=V, content=b"x")
    assert answer.status_code in (400, 404), answer.text
    assert answer.headers["x-ms-error-code"] in ("InvalidArgument", "NotFound")


def test_an_uploaded_file_reads_back_and_an_import_of_a_missing_file_is_refused(adt: Api) -> None:
    assert (
        adt.client.put("/adt/files/plant.ndjson", params=V, content=b'{"Section": "Header"}\n').status_code
        == 201
    )
    assert adt.client.get("/adt/files/plant.ndjson", params=V).content == b'{"Section": "Header"}\n'
    assert adt.client.get("/adt/files", params=V).json()["value"] == [{"name": "plant.ndjson", "size": 22}]
    missing = adt.client.put(
        "/adt/jobs/imports/j1", params=V, json={"inputBlobUri": "none.ndjson", "outputBlobUri": "o.log"}
    )
    _error(missing, 400, "ValidationFailed")
    shapeless = adt.client.put("/adt/jobs/imports/j1", params=V, json={"inputBlobUri": "plant.ndjson"})
    _error(shapeless, 400, "ValidationFailed")


@pytest.mark.parametrize(
    ("query", "construct"),
    [
        ("SELECT * FROM", "DIGITALTWINS or RELATIONSHIPS"),
        ("SELECT * FROM DIGITALTWINS WHERE FOO(T)", "FOO"),
        ("SELECT * FROM DIGITALTWINS T WHERE T.name = 'x' OR 1=1 --'", ""),
        ("DELETE FROM DIGITALTWINS", ""),
        ("SELECT * FROM DIGITALTWINS T WHERE T.name = 'a'' RETURN 1 //'", ""),
    ],
)
def test_bad_queries_are_sql_query_errors(adt: Api, query: str, construct: str) -> None:
    answer = adt.client.post("/adt/query", params=V, json={"query": query})
    if answer.status_code == 200:  # an injection attempt is only a string that matches nothing
        assert answer.json()["value"] == []
        return
    body = _error(answer, 400, "SqlQueryError")
    assert construct in body["message"]


def test_relationship_lists_follow_next_links_and_refuse_forged_tokens(adt: Api) -> None:
    for twin_id, model in (("t-1", THERMOSTAT), ("t-2", THERMOSTAT), ("room-1", ROOM), ("room-2", ROOM)):
        body = {"$metadata": {"$model": model}}
        assert adt.client.put(f"/adt/digitaltwins/{twin_id}", params=V, json=body).status_code == 200
    edges = [
        ("t-1", "c1", "room-1"),
        ("t-1", "c2", "room-2"),
        ("t-1", "c3", "room-1"),
        ("t-2", "c1", "room-1"),
    ]
    for source, rel_id, target in edges:
        body = {"$relationshipName": "controls", "$targetId": target}
        put = adt.client.put(f"/adt/digitaltwins/{source}/relationships/{rel_id}", params=V, json=body)
        assert put.status_code == 200, put.text

    def walk(path: str, params: dict[str, str]) -> tuple[list[list[str]], int]:
        answer = adt.client.get(path, params=params, headers={"max-items-per-page": "2"})
        pages: list[list[str]] = []
        while True:
            assert answer.status_code == 200, answer.text
            pages.append([f"{r['$sourceId']}/{r['$relationshipId']}" for r in answer.json()["value"]])
            link = answer.json().get("nextLink")
            if link is None:
                return pages, len(pages)
            assert "relationshipName" in link or "relationshipName" not in params
            answer = adt.client.get(link)

    outgoing, count = walk("/adt/digitaltwins/t-1/relationships", {**V, "relationshipName": "controls"})
    assert outgoing == [["t-1/c1", "t-1/c2"], ["t-1/c3"]]
    assert count == 2
    incoming, _ = walk("/adt/digitaltwins/room-1/incomingrelationships", V)
    assert incoming == [["t-1/c1", "t-1/c3"], ["t-2/c1"]]
    for path in ("/adt/digitaltwins/t-1/relationships", "/adt/digitaltwins/room-1/incomingrelationships"):
        for forged in ("'; DROP", "WzFd", "x" * 9000):
            _error(adt.client.get(path, params={**V, "continuationToken": forged}), 400, "BadRequest")
    _error(adt.client.get("/adt/digitaltwins/ghost/relationships", params=V), 404, "DigitalTwinNotFound")


def test_a_one_megabyte_query_and_a_forged_token_are_refused_cleanly(adt: Api) -> None:
    huge = "SELECT * FROM DIGITALTWINS T WHERE " + " OR ".join(["T.name = 'x'"] * 80_000)
    assert len(huge) > 1_000_000
    _error(adt.client.post("/adt/query", params=V, json={"query": huge}), 400, "SqlQueryError")
    query = f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{ROOM}')"
    for n in range(3):
        adt.client.put(f"/adt/digitaltwins/r{n}", params=V, json={"$metadata": {"$model": ROOM}})
    first = adt.client.post(
        "/adt/query", params=V, json={"query": query}, headers={"max-items-per-page": "2"}
    )
    token = first.json()["continuationToken"]
    assert isinstance(token, str)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    _error(
        adt.client.post("/adt/query", params=V, json={"query": query, "continuationToken": forged}),
        400,
        "BadRequest",
    )
    rest = adt.client.post("/adt/query", params=V, json={"query": query, "continuationToken": token}).json()
    assert len(first.json()["value"]) + len(rest["value"]) == 3
    _error(adt.client.post("/adt/query", params=V, json={"query": ""}), 400, "SqlQueryError")
    _error(adt.client.post("/adt/query", params=V, json={"continuationToken": 5}), 400, "BadRequest")

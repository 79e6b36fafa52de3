"""A bulk job whose process is killed is not left ``running``: its lease lapses, it is failed.

A real ``kgtwin serve`` runs a long import, is killed with SIGKILL mid-job (no shutdown
code runs), and is started again on the same graph; the job then reads ``failed`` with
``JobAbandoned`` once its lease (two seconds here) has lapsed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.adt.conftest import AdtServer, start_server
from tests.adt.tls import TestCertificates
from tests.graph.adt_models import DOCS, ROOM
from tests.servers.process import free_port

V = {"api-version": "2023-10-31"}
TWINS = 40_000  # long enough to be killed mid-run on a fast machine


def _serve(folder: Path, certificates: TestCertificates, keys: tuple[str, str] | None = None) -> AdtServer:
    broker = free_port()
    settings = {
        "KGTWIN_BROKER_URL": f"embedded://127.0.0.1:{broker}",
        "KGTWIN_ADT_JOB_LEASE_S": "2",
    }
    return start_server("falkordb", "serve", folder, certificates, settings, ("127.0.0.1", broker), keys)


def _job(server: AdtServer) -> dict[str, object]:
    with server.http() as http:
        answer = http.get("/adt/jobs/imports/big", params=V)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_a_killed_processs_import_is_failed_once_its_lease_lapses(
    tmp_path: Path, certificates: TestCertificates
) -> None:
    folder = tmp_path / "serve"
    folder.mkdir()
    server = _serve(folder, certificates)
    try:
        lines = [{"Section": "Header"}, {"fileVersion": "1.0.0", "author": "tests", "organization": "kgtwin"}]
        lines += [{"Section": "Twins"}]
        lines += [
            {"$dtId": f"room-{n}", "$metadata": {"$model": ROOM}, "name": f"Room {n}"} for n in range(TWINS)
        ]
        with server.http() as http:
            assert http.post("/adt/models", params=V, json=DOCS).status_code == 201
            content = "\n".join(json.dumps(line) for line in lines).encode()
            assert http.put("/adt/files/big.ndjson", params=V, content=content).status_code == 201
            body = {"inputBlobUri": "big.ndjson", "outputBlobUri": "big.log"}
            started = http.put("/adt/jobs/imports/big", params=V, json=body)
            assert started.status_code == 201, started.text
        deadline = time.monotonic() + 120
        while _job(server)["status"] == "notstarted" and time.monotonic() < deadline:
            time.sleep(0.05)
        if _job(server)["status"] != "running":
            pytest.fail(f"the import was not caught running: {_job(server)}")
    finally:
        server.process.kill()  # SIGKILL: no shutdown code runs, the job's thread dies with it
        server.process.wait()
    server = _serve(folder, certificates, keys=(server.admin_key, server.viewer_key))
    try:
        deadline = time.monotonic() + 60
        job = _job(server)
        while job["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
            job = _job(server)
        assert job["status"] == "failed", job
        error = job["error"]
        assert isinstance(error, dict)
        assert error["code"] == "JobAbandoned"
        assert "run it again" in error["message"]
        assert job["finishedDateTime"]
    finally:
        output = server.stop()
    assert "Traceback" not in output, output

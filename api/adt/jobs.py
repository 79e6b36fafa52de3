"""ADT's jobs: import jobs (``/jobs/imports``) and deletion jobs (``/jobs/deletions``).

An import job reads ADT's import format from an uploaded file (``api.adt.files``) through
``graph.adt_bulk`` into ``graph.importer``: valid lines are written, refused ones are
logged, so a fixed file can be run again. Its output file holds one JSON line per refused
line and a last line with the counts::

    {"timestamp": ..., "jobId": "j1", "jobType": "Import", "logType": "Error",
     "details": {"line": 7, "code": "VALUE_INVALID", "message": "..."}}

It ends ``succeeded`` when every line was imported, else ``failed`` with the error
``ImportFailed`` (kgtwin's code) saying how many lines were refused. A deletion job
deletes every twin, relationship and model (``graph.wipe``), then loads kgtwin's base
ontology again, as a fresh twin has it; ``timeoutInMinutes`` stops it between batches.
Jobs run on a thread of the API process that accepted them; their state is in the graph
(``graph.jobs``), so every process can answer for them, and a lease the thread renews, so
a job whose process died is seen ``failed`` (``JobAbandoned``) once the lease lapses.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from api.adt.errors import AdtError
from api.adt.files import named_file
from api.adt.http import json_body, permission, run_in_threadpool
from api.adt.options import API_VERSION
from api.adt.shapes import job_body
from api.context import ApiContext, load_base_ontology
from api.roles import Permission
from graph.adt_bulk import AdtImportStream
from graph.importer import ImportReport, import_bulk
from graph.jobs import BulkJob, JobKind, JobStatus, JobStore, check_job_id, new_job
from graph.times import utc_now
from graph.wipe import delete_all
from ontology.errors import KgtwinError, ValidationFailed

_log = structlog.get_logger("api.adt.jobs")
ADMIN = [Depends(permission(Permission.ADMIN))]


class _Cancelled(Exception):
    """Raised inside an import's progress callback to stop it between lines."""


class AdtJobs:
    """Runs the jobs this process accepted, one thread each, and remembers which to cancel."""

    def __init__(self, context: ApiContext) -> None:
        self.context = context
        self._lock = threading.Lock()
        self._cancel: dict[str, threading.Event] = {}

    def store(self) -> JobStore:
        return JobStore(self.context.require_graph(), lease_s=self.context.adt.job_lease_s)

    def start_import(self, job_id: str, input_uri: str, output_uri: str) -> BulkJob:
        folder = self.context.adt.files_dir
        source, log = named_file(folder, input_uri), named_file(folder, output_uri)
        if not source.is_file():
            raise ValidationFailed(
                f"inputBlobUri {input_uri!r}: no such file (upload it with PUT /adt/files/{source.name})",
                details={"uri": input_uri},
            )
        job = self.store().create(new_job(JobKind.IMPORT, job_id, input=input_uri, output=output_uri))
        self._spawn(job, lambda cancel: self._import(job, source, log, cancel))
        return job

    def start_deletion(self, job_id: str, timeout_min: int | None) -> BulkJob:
        job = self.store().create(new_job(JobKind.DELETION, job_id))
        deadline = time.monotonic() + timeout_min * 60 if timeout_min else None
        self._spawn(job, lambda cancel: self._delete(job, cancel, deadline))
        return job

    def cancel(self, job_id: str) -> BulkJob:
        """Ask a running import to stop; a finished one is answered as it is."""
        store = self.store()
        job = store.get(JobKind.IMPORT, job_id)
        with self._lock:
            flag = self._cancel.get(job_id)
        if job.status.finished:
            return job
        if flag is not None:
            flag.set()
            return store.save(job.advanced(JobStatus.CANCELLING))
        # Accepted by another process, or by one that stopped: nothing here can stop it.
        return store.save(job.advanced(JobStatus.CANCELLED))

    def _spawn(self, job: BulkJob, work: Callable[[threading.Event], None]) -> None:
        flag = threading.Event()
        with self._lock:
            self._cancel[job.id] = flag

        def run() -> None:
            try:
                with self.store().leased(job):  # renewed while this process works on it
                    work(flag)
            except Exception as exc:  # a job's failure is its status, never a dead thread unseen
                _log.error("job.failed", job=job.id, kind=job.kind.value, error=repr(exc))
                message = (
                    exc.message if isinstance(exc, KgtwinError) else "an unexpected error; it has been logged"
                )
                self._finish(job, JobStatus.FAILED, "JobFailed", message)
            finally:
                with self._lock:
                    self._cancel.pop(job.id, None)

        threading.Thread(target=run, name=f"kgtwin-adt-job-{job.id}", daemon=True).start()

    def _finish(
        self,
        job: BulkJob,
        status: JobStatus,
        code: str | None = None,
        message: str | None = None,
        counts: dict[str, int] | None = None,
    ) -> None:
        store = self.store()
        done = job.advanced(status, error_code=code, error_message=message, counts=counts or {})
        store.save(done)
        _log.info("job.finished", job=job.id, kind=job.kind.value, status=status.value)

    def _import(self, job: BulkJob, source: Path, log: Path, cancel: threading.Event) -> None:
        store = self.store()
        store.save(job.advanced(JobStatus.RUNNING))
        graph = self.context.require_graph()

        def progress(_done: int) -> None:
            if cancel.is_set():
                raise _Cancelled

        try:
            with source.open("rb") as stream:
                report = import_bulk(
                    graph, AdtImportStream(stream), progress=progress, events=self.context.events
                )
        except _Cancelled:
            self._finish(job, JobStatus.CANCELLED)
            return
        _write_log(log, job.id, report)
        counts = {"models": report.models, "twins": report.twins, "relationships": report.relationships}
        if report.ok:
            self._finish(job, JobStatus.SUCCEEDED, counts=counts)
        else:
            message = f"{report.issue_count} line(s) were refused; see {job.output}"
            counts["issues"] = report.issue_count
            self._finish(job, JobStatus.FAILED, "ImportFailed", message, counts)

    def _delete(self, job: BulkJob, cancel: threading.Event, deadline: float | None) -> None:
        store = self.store()
        store.save(job.advanced(JobStatus.RUNNING))
        graph = self.context.require_graph()
        registry = self.context.require_registry()

        def stop() -> bool:
            return cancel.is_set() or (deadline is not None and time.monotonic() > deadline)

        wiped = delete_all(graph, cancelled=stop)
        registry.reload()
        if stop():
            self._finish(job, JobStatus.FAILED, "TimeoutError", "the deletion job ran past timeoutInMinutes")
            return
        load_base_ontology(registry)
        self._finish(job, JobStatus.SUCCEEDED, counts={"twins": wiped.twins, "models": wiped.models})


def _write_log(log: Path, job_id: str, report: ImportReport) -> None:
    """The job's output file: one line per refused line, then the counts."""
    stamp = utc_now()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        for issue in report.issues:
            details = {"line": issue.line, "code": issue.code, "message": issue.message}
            out.write(orjson.dumps(_entry(stamp, job_id, "Error", details)) + b"\n")
        summary = {
            "models": report.models,
            "twins": report.twins,
            "relationships": report.relationships,
            "refused": report.issue_count,
        }
        out.write(orjson.dumps(_entry(stamp, job_id, "Info", summary)) + b"\n")


def _entry(stamp: str, job_id: str, kind: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": stamp, "jobId": job_id, "jobType": "Import", "logType": kind, "details": details}


def jobs_router(jobs: AdtJobs) -> APIRouter:
    router = APIRouter(tags=["Jobs"], dependencies=ADMIN)

    @router.get("/jobs/imports")
    async def list_imports() -> dict[str, Any]:
        found = await run_in_threadpool(lambda: jobs.store().list(JobKind.IMPORT))
        return {"value": [job_body(j) for j in found]}

    @router.put("/jobs/imports/{id}", status_code=201)
    async def add_import(id: str, request: Request) -> JSONResponse:
        body = await json_body(request)
        check_job_id(id)
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("inputBlobUri", "outputBlobUri")
        ):
            raise AdtError(400, "ValidationFailed", "an import job needs inputBlobUri and outputBlobUri")
        job = await run_in_threadpool(jobs.start_import, id, body["inputBlobUri"], body["outputBlobUri"])
        return JSONResponse(job_body(job), status_code=201)

    @router.get("/jobs/imports/{id}")
    async def get_import(id: str) -> dict[str, Any]:
        return job_body(await run_in_threadpool(lambda: jobs.store().get(JobKind.IMPORT, id)))

    @router.delete("/jobs/imports/{id}", status_code=204)
    async def delete_import(id: str) -> Response:
        def delete() -> None:
            job = jobs.store().get(JobKind.IMPORT, id)
            if not job.status.finished:
                jobs.cancel(id)
            jobs.store().delete(JobKind.IMPORT, id)

        await run_in_threadpool(delete)
        return Response(status_code=204)

    @router.post("/jobs/imports/{id}/cancel")
    async def cancel_import(id: str) -> dict[str, Any]:
        return job_body(await run_in_threadpool(jobs.cancel, id))

    @router.post("/jobs/deletions", status_code=202)
    async def add_deletion(
        request: Request,
        timeout: Annotated[int | None, Query(alias="timeoutInMinutes", ge=1, le=24 * 60)] = None,
    ) -> JSONResponse:
        job_id = request.headers.get("operation-id") or str(uuid.uuid4())
        check_job_id(job_id)
        job = await run_in_threadpool(jobs.start_deletion, job_id, timeout)
        location = str(
            request.url.replace(
                path=f"{request.scope.get('root_path', '')}/jobs/deletions/{job_id}",
                query=f"api-version={API_VERSION}",
            )
        )
        return JSONResponse(job_body(job), status_code=202, headers={"Operation-Location": location})

    @router.get("/jobs/deletions")
    async def list_deletions() -> dict[str, Any]:
        found = await run_in_threadpool(lambda: jobs.store().list(JobKind.DELETION))
        return {"value": [job_body(j) for j in found]}

    @router.get("/jobs/deletions/{id}")
    async def get_deletion(id: str) -> dict[str, Any]:
        return job_body(await run_in_threadpool(lambda: jobs.store().get(JobKind.DELETION, id)))

    return router

"""Bulk jobs: long-running imports and deletions, and their status, kept in the twin graph.

An import job reads a bulk file (ADT's import format, ``graph.adt_bulk``) into the graph;
a deletion job deletes every twin, relationship and model (``graph.wipe``). Their
status lives as ``(:BulkJob {key, kind, id, ...})`` nodes, so any API process can answer
for a job another one runs. The states are ADT's: ``notstarted`` -> ``running`` ->
``succeeded`` | ``failed``; an import may also go ``cancelling`` -> ``cancelled``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from graph.store import GraphStore
from ontology.errors import BadRequest, Conflict, NotFound

MAX_ID_LENGTH = 256
RETENTION = timedelta(hours=72)
"""How long a finished job's record is kept (its ``purgeDateTime``), as ADT keeps them."""


class JobKind(StrEnum):
    IMPORT = "import"
    DELETION = "deletion"


class JobStatus(StrEnum):
    NOT_STARTED = "notstarted"
    RUNNING = "running"
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.FAILED, JobStatus.SUCCEEDED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class BulkJob:
    """One job: what it reads and writes (imports), its state, and what went wrong if it failed."""

    id: str
    kind: JobKind
    status: JobStatus
    created: str
    last_action: str
    finished: str | None = None
    purge: str | None = None
    input: str | None = None
    output: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def advanced(self, status: JobStatus, **changes: Any) -> BulkJob:
        """This job in ``status`` now (finished ones get their finish and purge times)."""
        now = utc_now()
        finished = now if status.finished else None
        purge = _later(now, RETENTION) if status.finished else None
        return replace(self, status=status, last_action=now, finished=finished, purge=purge, **changes)


# MATCH, not MERGE: a job deleted while it ran stays deleted when its thread reports.
_PUT = """
MATCH (j:BulkJob {key: $key})
SET j = $props
RETURN j.key
"""
# An aggregation answers one row even with no match, so the WHERE sees the count (FalkorDB
# does not filter "OPTIONAL MATCH ... WITH old WHERE old IS NULL" before a CREATE).
_CREATE = """
OPTIONAL MATCH (old:BulkJob {key: $key})
WITH count(old) AS taken
WHERE taken = 0
CREATE (j:BulkJob)
SET j = $props
RETURN j.key
"""
_GET = "MATCH (j:BulkJob {key: $key}) RETURN properties(j)"
_LIST = "MATCH (j:BulkJob {kind: $kind}) RETURN properties(j) ORDER BY j.created, j.id"
_DELETE = "MATCH (j:BulkJob {key: $key}) DELETE j RETURN count(*)"
_PURGE = "MATCH (j:BulkJob) WHERE j.purge IS NOT NULL AND j.purge < $now DELETE j RETURN count(*)"


class JobStore:
    """The bulk jobs of one twin graph."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    def create(self, job: BulkJob) -> BulkJob:
        """Record a new job; ``Conflict`` when a job of that kind and id exists."""
        check_job_id(job.id)
        self._purge()
        rows = self.store.write(_CREATE, {"key": _key(job.kind, job.id), "props": _props(job)}).rows
        if not rows:
            raise Conflict(
                f"{job.kind.value} job {job.id!r} already exists",
                details={"jobId": job.id, "kind": job.kind.value},
            )
        return job

    def save(self, job: BulkJob) -> BulkJob:
        """Write the job's current state over its record (nothing, when the record was deleted)."""
        self.store.write(_PUT, {"key": _key(job.kind, job.id), "props": _props(job)})
        return job

    def get(self, kind: JobKind, job_id: str) -> BulkJob:
        """Job ``job_id`` of ``kind``; ``NotFound`` when there is none."""
        rows = self.store.query_rows(_GET, {"key": _key(kind, job_id)})
        if not rows:
            raise NotFound(
                f"{kind.value} job {job_id!r} does not exist", details={"jobId": job_id, "kind": kind.value}
            )
        return _job(rows[0][0])

    def list(self, kind: JobKind) -> list[BulkJob]:
        """Every job of ``kind``, oldest first."""
        self._purge()
        return [_job(row[0]) for row in self.store.query_rows(_LIST, {"kind": kind.value})]

    def delete(self, kind: JobKind, job_id: str) -> None:
        """Forget job ``job_id`` (a running import is cancelled first by the caller)."""
        rows = self.store.write(_DELETE, {"key": _key(kind, job_id)}).rows
        if not rows or int(rows[0][0]) == 0:
            raise NotFound(
                f"{kind.value} job {job_id!r} does not exist", details={"jobId": job_id, "kind": kind.value}
            )

    def _purge(self) -> None:
        self.store.write(_PURGE, {"now": utc_now()})


def check_job_id(job_id: str) -> None:
    """Refuse an id that is empty, too long or not printable."""
    if not isinstance(job_id, str) or not job_id or len(job_id) > MAX_ID_LENGTH or not job_id.isprintable():
        raise BadRequest(
            f"a job id is 1 to {MAX_ID_LENGTH} printable characters, not {job_id!r}",
            details={"jobId": job_id},
        )


def new_job(kind: JobKind, job_id: str, *, input: str | None = None, output: str | None = None) -> BulkJob:
    """A job not started yet, created now."""
    now = utc_now()
    return BulkJob(job_id, kind, JobStatus.NOT_STARTED, now, now, input=input, output=output)


def utc_now() -> str:
    """RFC 3339 UTC with milliseconds, as ADT writes job times."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _later(stamp: str, delta: timedelta) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + delta
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _key(kind: JobKind, job_id: str) -> str:
    return f"{kind.value}:{job_id}"


_COUNT_PREFIX = "count_"


def _props(job: BulkJob) -> dict[str, Any]:
    props: dict[str, Any] = {
        "key": _key(job.kind, job.id),
        "id": job.id,
        "kind": job.kind.value,
        "status": job.status.value,
        "created": job.created,
        "lastAction": job.last_action,
        "finished": job.finished,
        "purge": job.purge,
        "input": job.input,
        "output": job.output,
        "errorCode": job.error_code,
        "errorMessage": job.error_message,
    }
    props |= {_COUNT_PREFIX + name: value for name, value in job.counts.items()}
    return {k: v for k, v in props.items() if v is not None}


def _job(props: dict[str, Any]) -> BulkJob:
    def text(key: str) -> str | None:
        value = props.get(key)
        return None if value is None else str(value)

    counts = {k[len(_COUNT_PREFIX) :]: int(v) for k, v in props.items() if k.startswith(_COUNT_PREFIX)}
    return BulkJob(
        id=str(props["id"]),
        kind=JobKind(str(props["kind"])),
        status=JobStatus(str(props["status"])),
        created=str(props["created"]),
        last_action=str(props.get("lastAction") or props["created"]),
        finished=text("finished"),
        purge=text("purge"),
        input=text("input"),
        output=text("output"),
        error_code=text("errorCode"),
        error_message=text("errorMessage"),
        counts=counts,
    )

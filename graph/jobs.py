"""Bulk jobs: long-running imports and deletions, and their status, kept in the twin graph.

An import job reads a bulk file (ADT's import format, ``graph.adt_bulk``) into the graph;
a deletion job deletes every twin, relationship and model (``graph.wipe``). Their
status lives as ``(:BulkJob {key, kind, id, ...})`` nodes, so any API process can answer
for a job another one runs. The states are ADT's: ``notstarted`` -> ``running`` ->
``succeeded`` | ``failed``; an import may also go ``cancelling`` -> ``cancelled``.

A job runs on a thread of the process that accepted it, and that process may die. So an
unfinished job holds a lease (``lease``, a UTC time): the runner renews it while it works
(:meth:`JobStore.leased`), and once it has lapsed every reader sees the job ``failed``
with ``JobAbandoned`` (the first read after the lapse writes that down). An import can
then be run again as a new job: twins and relationships are merged, so nothing doubles.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from graph.store import GraphStore
from graph.times import utc_now
from ontology.errors import BadRequest, Conflict, NotFound

MAX_ID_LENGTH = 256
RETENTION = timedelta(hours=72)
"""How long a finished job's record is kept (its ``purgeDateTime``), as ADT keeps them."""
LEASE_S = 60.0
"""How long an unfinished job stays unfinished without a sign of life from its runner."""
ABANDONED = "JobAbandoned"


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
_OPEN = [JobStatus.NOT_STARTED.value, JobStatus.RUNNING.value, JobStatus.CANCELLING.value]
_RENEW = "MATCH (j:BulkJob {key: $key}) WHERE j.status IN $open SET j.lease = $lease RETURN j.key"
# Times are RFC 3339 UTC text of one width, so they compare as text.
_ABANDON = """
MATCH (j:BulkJob) WHERE j.status IN $open AND j.lease IS NOT NULL AND j.lease < $now
SET j.status = $failed, j.errorCode = $code, j.errorMessage = $message, j.lastAction = $now,
    j.finished = $now, j.purge = $purge, j.lease = null
RETURN count(j)
"""
_ABANDONED_MESSAGE = (
    "the process running this job stopped before it finished; run it again as a new job"
    " (an import merges what an earlier run wrote)"
)


class JobStore:
    """The bulk jobs of one twin graph."""

    def __init__(self, store: GraphStore, *, lease_s: float = LEASE_S) -> None:
        self.store = store
        self.lease_s = lease_s

    def create(self, job: BulkJob) -> BulkJob:
        """Record a new job; ``Conflict`` when a job of that kind and id exists."""
        check_job_id(job.id)
        self._purge()
        rows = self.store.write(_CREATE, {"key": _key(job.kind, job.id), "props": self._leased(job)}).rows
        if not rows:
            raise Conflict(
                f"{job.kind.value} job {job.id!r} already exists",
                details={"jobId": job.id, "kind": job.kind.value},
            )
        return job

    def save(self, job: BulkJob) -> BulkJob:
        """Write the job's current state over its record (nothing, when the record was deleted).

        Saving an unfinished job renews its lease: the runner is alive.
        """
        self.store.write(_PUT, {"key": _key(job.kind, job.id), "props": self._leased(job)})
        return job

    @contextmanager
    def leased(self, job: BulkJob) -> Iterator[None]:
        """Renew ``job``'s lease every third of ``lease_s`` while the block runs (the runner works)."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.lease_s / 3):
                lease = _later(utc_now(), timedelta(seconds=self.lease_s))
                self.store.write(_RENEW, {"key": _key(job.kind, job.id), "open": _OPEN, "lease": lease})

        thread = threading.Thread(target=renew, name=f"kgtwin-job-lease-{job.id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _leased(self, job: BulkJob) -> dict[str, Any]:
        props = _props(job)
        if not job.status.finished:
            props["lease"] = _later(utc_now(), timedelta(seconds=self.lease_s))
        return props

    def get(self, kind: JobKind, job_id: str) -> BulkJob:
        """Job ``job_id`` of ``kind``; ``NotFound`` when there is none."""
        self._abandon()
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
        self._abandon()
        self.store.write(_PURGE, {"now": utc_now()})

    def _abandon(self) -> None:
        """Fail every unfinished job whose lease lapsed: its runner stopped (``JobAbandoned``)."""
        now = utc_now()
        params = {"open": _OPEN, "now": now, "failed": JobStatus.FAILED.value, "code": ABANDONED}
        params |= {"message": _ABANDONED_MESSAGE, "purge": _later(now, RETENTION)}
        self.store.write(_ABANDON, params)


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

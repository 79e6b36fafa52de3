"""Live shadows as ``FmuShadow`` nodes: which twin, which FMU, and which worker runs it under a lease.

A shadow is asked for (``active``), claimed by one worker under a lease, renewed while the
worker runs it, and ``stopped`` on request. The lease works as the simulation runs' queue
does (``simulation.jobs``): every transition is one conditional statement; a claim first
writes the node (on Neo4j that takes its write lock before the condition is read), bumps
``attempts``, and the owner's later writes are fenced by its worker id and that attempt
number, so a worker that lost a shadow can never write over its successor. A worker that
dies writes nothing; once its lease passes, another worker claims the shadow.

Times are UTC ISO 8601 text with milliseconds and ``Z`` and compare as text. The
shadow's own settings (bindings, outputs, step) are JSON text the graph does not read.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from graph.store import GraphStore
from graph.times import utc_now
from ontology.errors import BadRequest, NotFound

LABEL = "FmuShadow"
SHADOWS = "SHADOWS"
KEYS = ("id", "twin", "fmu", "spec", "status", "createdAt", "worker", "leaseUntil", "attempts", "error")
_COLUMNS = ", ".join(f"s.`{k}`" for k in KEYS)
_CLAIMABLE = "s.status = 'active' AND (s.worker IS NULL OR s.leaseUntil < $now)"
_MINE = "s.status = 'active' AND s.worker = $worker AND s.attempts = $attempts"

_CREATE = f"""
MATCH (t:Twin {{id: $twin}})
CREATE (s:{LABEL})-[:{SHADOWS}]->(t)
SET s = $props
RETURN {_COLUMNS}
"""
_GET = f"MATCH (s:{LABEL} {{id: $id}}) RETURN {_COLUMNS}"
_LIST = f"""
MATCH (s:{LABEL})
WHERE ($twin IS NULL OR s.twin = $twin) AND ($status IS NULL OR s.status = $status)
RETURN {_COLUMNS} ORDER BY s.createdAt, s.id
"""
_IN_USE = f"MATCH (s:{LABEL}) WHERE s.fmu = $fmu AND s.status = 'active' RETURN s.id ORDER BY s.id"
_CANDIDATES = f"MATCH (s:{LABEL}) WHERE {_CLAIMABLE} RETURN s.id ORDER BY s.createdAt, s.id LIMIT $limit"
_CLAIM = f"""
MATCH (s:{LABEL} {{id: $id}})
SET s._lock = true REMOVE s._lock
WITH s WHERE {_CLAIMABLE}
SET s.worker = $worker, s.leaseUntil = $until, s.attempts = coalesce(s.attempts, 0) + 1, s.claimedAt = $now
RETURN {_COLUMNS}
"""
_RENEW = f"MATCH (s:{LABEL} {{id: $id}}) WHERE {_MINE} SET s.leaseUntil = $until RETURN s.id"
_RELEASE = f"MATCH (s:{LABEL} {{id: $id}}) WHERE {_MINE} SET s.worker = null, s.leaseUntil = null RETURN s.id"
_FAIL = f"""
MATCH (s:{LABEL} {{id: $id}}) WHERE {_MINE}
SET s.status = 'failed', s.error = $error, s.worker = null, s.leaseUntil = null
RETURN {_COLUMNS}
"""
_STOP = f"""
MATCH (s:{LABEL} {{id: $id}})
SET s.status = CASE WHEN s.status = 'active' THEN 'stopped' ELSE s.status END, s.stoppedAt = $now
RETURN {_COLUMNS}
"""


@dataclass(frozen=True)
class ShadowRecord:
    """One live shadow as stored: its twin, FMU, settings (``spec``) and who runs it.

    ``status`` is ``active`` (a worker runs it, or will), ``stopped`` or ``failed`` (with
    ``error``); ``worker``, ``lease_until`` and ``attempts`` say who holds it.
    """

    id: str
    twin: str
    fmu: str
    spec: Mapping[str, Any]
    status: str
    created_at: str
    worker: str | None = None
    lease_until: str | None = None
    attempts: int = 0
    error: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "twin": self.twin,
            "fmu": self.fmu,
            **dict(self.spec),
            "status": self.status,
            "createdAt": self.created_at,
            "worker": self.worker,
            "leaseUntil": self.lease_until,
            "attempts": self.attempts,
            "error": None if self.error is None else dict(self.error),
        }


def _text(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ShadowNodes:
    """The ``FmuShadow`` nodes of one graph, and their leases."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    def ensure_schema(self) -> None:
        if self.store.capabilities.index_if_not_exists:
            self.store.write(f"CREATE INDEX fmu_shadow_id IF NOT EXISTS FOR (s:{LABEL}) ON (s.id)")
            return
        try:
            self.store.write(f"CREATE INDEX FOR (s:{LABEL}) ON (s.id)")
        except BadRequest as exc:
            if "already indexed" not in exc.message:
                raise

    def create(self, twin: str, fmu: str, spec: Mapping[str, Any]) -> ShadowRecord:
        """An active shadow of ``twin``, linked to it by ``SHADOWS``; ``NotFound`` for a missing twin."""
        props = {
            "id": str(uuid.uuid4()),
            "twin": twin,
            "fmu": fmu,
            "spec": json.dumps(spec, sort_keys=True, allow_nan=False),
            "status": "active",
            "createdAt": utc_now(),
            "attempts": 0,
        }
        rows = self.store.write(_CREATE, {"twin": twin, "props": props}).rows
        if not rows:
            raise NotFound(f"twin {twin!r} does not exist", details={"twin": twin})
        return _record(rows[0])

    def get(self, shadow_id: str) -> ShadowRecord:
        rows = self.store.query_rows(_GET, {"id": shadow_id})
        if not rows:
            raise NotFound(f"shadow {shadow_id!r} does not exist", details={"shadow": shadow_id})
        return _record(rows[0])

    def list(self, twin: str | None = None, status: str | None = None) -> builtins.list[ShadowRecord]:
        return [_record(r) for r in self.store.query_rows(_LIST, {"twin": twin, "status": status})]

    def in_use(self, fmu: str) -> builtins.list[str]:
        """The active shadows running FMU ``fmu``."""
        return [str(r[0]) for r in self.store.query_rows(_IN_USE, {"fmu": fmu})]

    def stop(self, shadow_id: str) -> ShadowRecord:
        rows = self.store.write(_STOP, {"id": shadow_id, "now": utc_now()}).rows
        if not rows:
            raise NotFound(f"shadow {shadow_id!r} does not exist", details={"shadow": shadow_id})
        return _record(rows[0])

    # The worker's side: claim, renew, release, fail.

    def claim(self, worker: str, lease: timedelta, now: datetime, limit: int) -> builtins.list[ShadowRecord]:
        """Up to ``limit`` claimable shadows, now ``worker``'s until ``lease`` from ``now``."""
        if limit <= 0:
            return []
        stamp, until = _text(now), _text(now + lease)
        claimed: list[ShadowRecord] = []
        for (shadow_id,) in self.store.query_rows(_CANDIDATES, {"now": stamp, "limit": limit}):
            rows = self.store.write(
                _CLAIM, {"id": shadow_id, "worker": worker, "now": stamp, "until": until}
            ).rows
            if rows:
                claimed.append(_record(rows[0]))
        return claimed

    def renew(self, shadow: ShadowRecord, lease: timedelta, now: datetime) -> bool:
        """Extend the lease; false when the shadow is no longer this worker's (stopped or taken)."""
        rows = self.store.write(_RENEW, {**_owner(shadow), "until": _text(now + lease)}).rows
        return bool(rows)

    def release(self, shadow: ShadowRecord) -> None:
        """Give the shadow back at once (a worker stopping): another may claim it now."""
        self.store.write(_RELEASE, _owner(shadow))

    def fail(self, shadow: ShadowRecord, error: Mapping[str, Any]) -> None:
        """End a shadow that cannot run (its FMU is gone or refuses to start)."""
        self.store.write(_FAIL, {**_owner(shadow), "error": json.dumps(dict(error), default=str)})


def _owner(shadow: ShadowRecord) -> dict[str, Any]:
    return {"id": shadow.id, "worker": shadow.worker, "attempts": shadow.attempts}


def _record(row: Sequence[Any]) -> ShadowRecord:
    values = dict(zip(KEYS, row, strict=True))
    return ShadowRecord(
        id=str(values["id"]),
        twin=str(values["twin"]),
        fmu=str(values["fmu"]),
        spec=json.loads(values["spec"]),
        status=str(values["status"]),
        created_at=str(values["createdAt"]),
        worker=values["worker"],
        lease_until=values["leaseUntil"],
        attempts=int(values["attempts"] or 0),
        error=json.loads(values["error"]) if values["error"] else None,
    )

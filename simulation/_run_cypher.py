"""The Cypher statements of the run store (``simulation.jobs``), one per transition.

Every transition is one conditional statement: the engine makes a statement atomic, and
FalkorDB has nothing larger. ``MINE`` fences a worker's writes by its id and attempt.
"""

from __future__ import annotations

LABEL = "SimulationRun"
SIMULATED = "SIMULATED"

KEYS = (
    "id", "model", "subset", "scenario", "parameters", "replications", "seed", "status",
    "progress", "createdAt", "startedAt", "finishedAt", "result", "error", "worker",
    "leaseUntil", "attempts", "cancelRequested", "compare",
)  # fmt: skip
JSON_KEYS = ("subset", "scenario", "parameters", "result", "error")
COLUMNS = ", ".join(f"r.`{k}`" for k in KEYS)
CLAIMABLE = (
    "NOT coalesce(r.cancelRequested, false) AND "
    "(r.status = 'queued' OR (r.status = 'running' AND r.leaseUntil < $now))"
)
MINE = "r.status = 'running' AND r.worker = $worker AND r.attempts = $attempts"

CREATE = f"CREATE (r:{LABEL}) SET r = $props RETURN r.id"
GET = f"MATCH (r:{LABEL} {{id: $id}}) RETURN {COLUMNS}"
ROOTS = "MATCH (t:Twin) WHERE t.id IN $ids RETURN t.id"
LIST = f"""
MATCH (r:{LABEL})
WHERE ($status IS NULL OR r.status = $status)
  AND ($at IS NULL OR r.createdAt < $at OR (r.createdAt = $at AND r.id < $id))
RETURN {COLUMNS} ORDER BY r.createdAt DESC, r.id DESC LIMIT $limit
"""
CANDIDATES = f"MATCH (r:{LABEL}) WHERE {CLAIMABLE} RETURN r.id ORDER BY r.createdAt, r.id LIMIT $limit"
# Locking by writing first is what makes the status read below see other claims (Neo4j).
CLAIM = f"""
MATCH (r:{LABEL} {{id: $id}})
SET r._lock = true REMOVE r._lock
WITH r WHERE {CLAIMABLE}
SET r.status = 'running', r.worker = $worker, r.leaseUntil = $until, r.startedAt = $now,
    r.attempts = coalesce(r.attempts, 0) + 1, r.progress = 0.0
RETURN {COLUMNS}
"""
RENEW = f"""
MATCH (r:{LABEL} {{id: $id}}) WHERE {MINE}
SET r.leaseUntil = $until, r.progress = $progress
RETURN coalesce(r.cancelRequested, false)
"""
SUCCEED = f"""
MATCH (r:{LABEL} {{id: $id}}) WHERE {MINE}
OPTIONAL MATCH (t:Twin) WHERE t.id IN $twins
WITH r, collect(t) AS twins
FOREACH (t IN twins | MERGE (r)-[:{SIMULATED}]->(t))
SET r.status = 'succeeded', r.progress = 1.0, r.finishedAt = $now, r.result = $result,
    r.leaseUntil = null
RETURN {COLUMNS}
"""
END = f"""
MATCH (r:{LABEL} {{id: $id}}) WHERE {MINE}
SET r.status = $status, r.finishedAt = $now, r.error = $error, r.leaseUntil = null
RETURN {COLUMNS}
"""
REQUEUE = f"""
MATCH (r:{LABEL} {{id: $id}}) WHERE {MINE}
SET r.status = 'queued', r.worker = null, r.leaseUntil = null, r.startedAt = null, r.progress = 0.0
RETURN {COLUMNS}
"""
# A queued run, or a running one whose worker is gone, is cancelled at once; a running one
# with a live lease is flagged, and its worker stops it at its next heartbeat.
CANCEL = f"""
MATCH (r:{LABEL} {{id: $id}})
SET r._lock = true REMOVE r._lock
WITH r, r.status AS old, r.leaseUntil AS lease
WITH r, old, old = 'queued' OR (old = 'running' AND lease < $now) AS stop
SET r.status = CASE WHEN stop THEN 'cancelled' ELSE old END,
    r.finishedAt = CASE WHEN stop THEN $now ELSE r.finishedAt END,
    r.cancelRequested = CASE WHEN old IN ['queued', 'running'] THEN true ELSE r.cancelRequested END
RETURN {COLUMNS}
"""
# Runs whose worker died after a cancel was asked for: nobody will claim them again.
SWEEP = f"""
MATCH (r:{LABEL})
WHERE r.status = 'running' AND r.leaseUntil < $now AND coalesce(r.cancelRequested, false)
SET r.status = 'cancelled', r.finishedAt = $now, r.leaseUntil = null
RETURN {COLUMNS}
"""

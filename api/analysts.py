"""Analysts' Cypher in one API process: how many queries of each role may run at once.

An analyst's query may run for its whole time budget and keep an engine thread busy all
along (FalkorDB runs as many queries at once as it has threads, one per core by default):
a few such queries at once and the twin's own reads and writes wait behind them. So each
role that may run Cypher has a number of slots (``KGTWIN_CYPHER_CONCURRENCY``, per API
process); a caller takes the slot of its most generous role for as long as the engine
works on the query, and a caller finding none free is answered ``LIMIT_EXCEEDED`` at once
rather than queued (a queue would only move the wait into the API, holding the request).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from api.limits import Limits
from api.roles import GRANTS, Permission, Principal
from graph.errors import LimitExceeded
from graph.store import CypherResult, GraphStore
from graph.visibility import read_as_analyst


class CypherBusy(LimitExceeded):
    """Raised when every Cypher slot of the caller's role is taken."""

    def __init__(self, role: str, limit: int) -> None:
        super().__init__(f"Cypher queries of role {role} running at once ({limit} in this process)", limit)
        self.message += "; retry when one has finished"
        self.details["role"] = role


class CypherSlots:
    """The Cypher queries running in this process, counted per role."""

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.limits = dict(limits)
        self._running: dict[str, int] = dict.fromkeys(self.limits, 0)
        self._lock = threading.Lock()

    def role_of(self, principal: Principal) -> str | None:
        """The role whose slots ``principal`` uses: the one with the most slots (None: no limit)."""
        granting = [r.value for r in principal.roles if Permission.CYPHER in GRANTS[r]]
        limited = [r for r in granting if r in self.limits]
        return max(limited, key=lambda r: self.limits[r]) if limited else None

    @contextmanager
    def hold(self, principal: Principal) -> Iterator[None]:
        """A slot for the duration of a query; raises :class:`CypherBusy` when none is free.

        Hold it in the thread that waits for the engine: a request given up by its client
        must not free the slot while the engine still works on its query.
        """
        role = self.role_of(principal)
        if role is None:
            yield
            return
        with self._lock:
            if self._running[role] >= self.limits[role]:
                raise CypherBusy(role, self.limits[role])
            self._running[role] += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[role] -= 1

    def running(self, role: str) -> int:
        return self._running.get(role, 0)


def slots_of(context: Any) -> CypherSlots:
    """The Cypher slots of the app serving a GraphQL ``context`` (``api.auth.secure`` puts them there)."""
    request = getattr(context, "request", None)
    app = getattr(request, "scope", {}).get("app") if request is not None else None
    found = getattr(getattr(app, "state", None), "kgtwin_cypher_slots", None)
    if isinstance(found, CypherSlots):
        return found
    return _DEFAULT_SLOTS


_DEFAULT_SLOTS = CypherSlots(Limits().cypher_concurrency)


async def run_cypher(
    graph: GraphStore,
    slots: CypherSlots,
    principal: Principal,
    query: str,
    params: Mapping[str, Any] | None,
    *,
    timeout_s: float,
    max_rows: int,
    internals: bool = False,
) -> CypherResult:
    """An analyst's query: a slot of its role, the visibility check, then the engine (in a thread).

    ``internals``: the caller asked to see kgtwin's own nodes (its role was checked).
    """

    def run() -> CypherResult:
        with slots.hold(principal):
            return read_as_analyst(
                graph, query, params, timeout_s=timeout_s, max_rows=max_rows, internals=internals
            )

    return await asyncio.to_thread(run)

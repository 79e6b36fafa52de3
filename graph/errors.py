"""Errors of the twin graph, in kgtwin's one hierarchy (``ontology.errors``).

Adapters raise these when an engine refuses or stops an analyst's query, so the API maps
the engine-neutral ``code`` to a response and no driver exception reaches a user.
"""

from __future__ import annotations

from ontology.errors import BadRequest, ErrorCode, KgtwinError


class CypherWriteRefused(BadRequest):
    """Raised when a query sent to the read-only endpoint tries to write; the engine refused it.

    A ``BadRequest`` too, since the query is one the caller may not send there.
    """

    code = ErrorCode.CYPHER_WRITE_REFUSED


class QueryTimeout(KgtwinError):
    """Raised when a query runs longer than its time budget and the engine stops it."""

    code = ErrorCode.TIMEOUT

    def __init__(self, timeout_s: float, cause: str) -> None:
        super().__init__(
            f"query stopped after its {timeout_s:g} s time budget: {cause}",
            details={"timeout_s": timeout_s, "cause": cause},
        )


class LimitExceeded(KgtwinError):
    """Raised when a request asks for more than a configured limit allows (rows, batch size)."""

    code = ErrorCode.LIMIT_EXCEEDED

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"{what} exceeds the limit of {limit}", details={"what": what, "limit": limit})

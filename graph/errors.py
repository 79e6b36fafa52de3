"""Errors of the twin graph, in kgtwin's one hierarchy (``ontology.errors``).

Adapters raise these when an engine refuses or stops an analyst's query, so the API maps
the engine-neutral ``code`` to a response and no driver exception reaches a user.
"""

from __future__ import annotations

from ontology.errors import BackendUnavailable, BadRequest, ErrorCode, KgtwinError


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


class WriteOutcomeUnknown(BackendUnavailable):
    """Raised when a write was sent and no answer came back: it may or may not have been applied.

    ``details.applied`` is ``"unknown"``: the caller must read what it wrote to learn the
    outcome. An adapter raises this rather than retry (which could apply it twice) or
    report a failure (which could be untrue).
    """

    def __init__(self, backend: str, cause: str) -> None:
        super().__init__(backend, f"no answer to a write ({cause}); it may or may not have been applied")
        self.details["applied"] = "unknown"

"""ADT's errors: the body ``{"error": {"code", "message", "details"}}``, the ``x-ms-error-code`` header.

The domain raises kgtwin's own errors (``ontology.errors``); this module is the one place
they become what an ADT client expects: the status and code the 2023-10-31 specification
lists for the operation (``DigitalTwinNotFound``, ``PreconditionFailed``, ``DTDLParserError``
...). Which code applies is read from the error's class and details and, where the same
kgtwin error means different things, from the operation (the matched route). A code the
specification does not list is marked below; docs/adt-compatibility.md names each one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse

from api.roles import Forbidden
from graph.errors import LimitExceeded, QueryTimeout
from ontology.errors import (
    BackendUnavailable,
    Conflict,
    ErrorCode,
    KgtwinError,
    NotFound,
    NotImplementedYet,
    PreconditionFailed,
    ValidationFailed,
)
from ontology.model_errors import ModelError
from ontology.patch import PatchFailed

ERROR_HEADER = "x-ms-error-code"
ADT_PREFIX = "/adt"
"""Where ``api.app`` mounts the ADT surface."""


class AdtError(Exception):
    """An error already in ADT's terms: its HTTP status, ADT code, message and details."""

    def __init__(
        self, status: int, code: str, message: str, details: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = [dict(d) for d in details]


def adt_response(error: AdtError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The response of ``error``: ADT's body and the ``x-ms-error-code`` header."""
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    return JSONResponse(body, status_code=error.status, headers={ERROR_HEADER: error.code, **(headers or {})})


_REFUSALS = {
    ErrorCode.UNAUTHENTICATED: "Unauthorized",
    ErrorCode.LIMIT_EXCEEDED: "QuotaReachedError",
    ErrorCode.BACKEND_UNAVAILABLE: "ServiceUnavailable",
}


def refusal(
    status: int, code: ErrorCode, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """What the main application's middleware answers under ``/adt`` (no credentials, too fast, too big).

    429 is ADT's ``QuotaReachedError``; 401 and 413 have no code in the specification, so
    they get ``Unauthorized`` and ``LimitExceeded``.
    """
    adt_code = "LimitExceeded" if status == 413 else _REFUSALS.get(code, "InvalidArgument")
    return adt_response(AdtError(status, adt_code, message), headers)


def translate(exc: KgtwinError, route: str, method: str) -> AdtError:
    """The ADT error for kgtwin error ``exc`` raised by operation ``method route`` (a route template)."""
    details = _details(exc)
    info = exc.details
    if isinstance(exc, PreconditionFailed):
        return AdtError(412, "PreconditionFailed", exc.message, details)
    if isinstance(exc, PatchFailed):
        return AdtError(400, "JsonPatchInvalid", exc.message, details)
    if isinstance(exc, Forbidden):
        return AdtError(403, "Forbidden", exc.message, details)  # not in the specification
    if isinstance(exc, NotFound):
        return AdtError(404, _not_found_code(info), exc.message, details)
    if isinstance(exc, Conflict):
        return _conflict(exc, route, details)
    if isinstance(exc, ModelError) or (route == "/models" and isinstance(exc, ValidationFailed)):
        return AdtError(400, "DTDLParserError", exc.message, details)
    if isinstance(exc, ValidationFailed):
        codes = {e.get("code") for e in info.get("errors", []) if isinstance(e, Mapping)}
        if route.startswith("/digitaltwins/{id}/relationships") and codes & _RELATIONSHIP_CODES:
            return AdtError(400, "InvalidRelationship", exc.message, details)
        return AdtError(400, "ValidationFailed", exc.message, details)
    if isinstance(exc, QueryTimeout):
        return AdtError(400, "TimeoutError", exc.message, details)
    if "continuationToken" in info:  # a page's token no page made (relationship lists)
        return AdtError(400, "BadRequest", exc.message, details)
    if route == "/query":
        if info.get("construct") == "continuation token":
            return AdtError(400, "BadRequest", exc.message, details)
        return AdtError(400, "SqlQueryError", exc.message, details)
    if isinstance(exc, LimitExceeded) or info.get("limit") is not None:
        return AdtError(400, "LimitExceeded", exc.message, details)
    if isinstance(exc, BackendUnavailable):
        return AdtError(503, "ServiceUnavailable", exc.message, details)  # not in the specification
    if isinstance(exc, NotImplementedYet):
        return AdtError(501, "NotImplemented", exc.message, details)  # not in the specification
    if route == "/eventroutes/{id}" and method == "PUT":
        code = (
            "EventRouteIdInvalid" if "routeId" in info and "filter" not in info else "EventRouteFilterInvalid"
        )
        return AdtError(400, code, exc.message, details)
    if route.startswith("/jobs/"):
        return AdtError(400, "ValidationFailed", exc.message, details)
    if exc.code == ErrorCode.UNAUTHENTICATED:
        return AdtError(401, "Unauthorized", exc.message, details)  # not in the specification
    return AdtError(400, "InvalidArgument", exc.message, details)


_RELATIONSHIP_CODES = {"RELATIONSHIP_UNKNOWN", "TARGET_MODEL_INVALID"}


def _not_found_code(info: Mapping[str, Any]) -> str:
    if "relationshipId" in info:
        return "RelationshipNotFound"
    if "component" in info:
        return "ComponentNotFound"
    if "routeId" in info:
        return "EventRouteNotFound"
    if "jobId" in info:
        return "ImportJobNotFound" if info.get("kind") == "import" else "DeleteJobNotFound"
    if "file" in info:
        return "FileNotFound"  # kgtwin's file uploads: not in the specification
    if "targetId" in info:
        return "TargetTwinNotFound"
    if "twinId" in info:
        return "DigitalTwinNotFound"
    if "dtmi" in info:
        return "ModelNotFound"
    return "NotFound"


def _conflict(exc: Conflict, route: str, details: list[dict[str, Any]]) -> AdtError:
    info = exc.details
    reason = info.get("reason")
    if reason == "DECOMMISSIONED":
        return AdtError(400, "ModelDecommissioned", exc.message, details)
    if reason == "RELATIONSHIPS_EXIST":
        return AdtError(400, "RelationshipsNotDeleted", exc.message, details)
    if reason in ("MODEL_IN_USE", "TWINS_EXIST"):
        return AdtError(409, "ModelReferencesNotDeleted", exc.message, details)
    if route == "/models" and "dtmis" in info:
        return AdtError(409, "ModelAlreadyExists", exc.message, details)
    if "maxMultiplicity" in info:
        return AdtError(400, "InvalidRelationship", exc.message, details)
    if "jobId" in info:
        return AdtError(400, "ValidationFailed", exc.message, details)
    if "model" in info:  # a twin of that id exists with another model
        return AdtError(400, "InvalidArgument", exc.message, details)
    return AdtError(409, "Conflict", exc.message, details)  # not in the specification


def _details(exc: KgtwinError) -> list[dict[str, Any]]:
    """ADT's ``details``: one Error per issue kgtwin listed (a path and why), else none."""
    found = exc.details.get("errors")
    if not isinstance(found, list):
        return []
    details = []
    for issue in found[:100]:
        if isinstance(issue, Mapping):
            where = issue.get("path") or issue.get("file") or ""
            message = str(issue.get("message", ""))
            details.append(
                {
                    "code": str(issue.get("code", exc.code)),
                    "message": f"{where}: {message}" if where else message,
                }
            )
    return details

"""The one error hierarchy of kgtwin.

Every error a user can see carries a stable ``code`` (the GraphQL ``extensions.code``
and the problem+json ``code``) and structured ``details``. It lives in ``ontology``
because that is the bottom layer: every other package may import it, and the API maps
codes to responses in one place. Adapters translate driver errors into these classes
at their boundary, so no driver exception ever reaches a user.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable, documented error codes (never renamed: clients match on them)."""

    VALIDATION_FAILED = "VALIDATION_FAILED"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    CYPHER_WRITE_REFUSED = "CYPHER_WRITE_REFUSED"
    TIMEOUT = "TIMEOUT"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    BAD_REQUEST = "BAD_REQUEST"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    CONFIGURATION_INVALID = "CONFIGURATION_INVALID"
    BACKEND_UNAVAILABLE = "BACKEND_UNAVAILABLE"


class KgtwinError(Exception):
    """Base of every error kgtwin raises on purpose; ``code`` says which kind."""

    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The error as plain JSON data: ``{"code", "message", "details"}``."""
        return {"code": str(self.code), "message": self.message, "details": self.details}


class ValidationFailed(KgtwinError):
    """Raised when input breaks a rule of the ontology or of a file format."""

    code = ErrorCode.VALIDATION_FAILED


class NotFound(KgtwinError):
    """Raised when a twin, relationship, model or run does not exist."""

    code = ErrorCode.NOT_FOUND


class Conflict(KgtwinError):
    """Raised on a stale etag or a change that clashes with the current state."""

    code = ErrorCode.CONFLICT


class PreconditionFailed(Conflict):
    """Raised when an ``If-Match`` etag is stale or an ``If-None-Match: *`` target already exists.

    A kind of ``Conflict`` (same code, so GraphQL clients see no change); HTTP surfaces
    that distinguish preconditions (the ADT API's 412) catch it first.
    """


class BadRequest(KgtwinError):
    """Raised when a request is malformed in a way no other code describes."""

    code = ErrorCode.BAD_REQUEST


class NotImplementedYet(KgtwinError):
    """Raised by a capability that a later release brings; the message says which."""

    code = ErrorCode.NOT_IMPLEMENTED


class ConfigurationInvalid(KgtwinError):
    """Raised when a setting is malformed; ``setting`` names it."""

    code = ErrorCode.CONFIGURATION_INVALID

    def __init__(self, setting: str, cause: str) -> None:
        super().__init__(f"{setting}: {cause}", details={"setting": setting, "cause": cause})
        self.setting = setting
        self.cause = cause


class BackendUnavailable(KgtwinError):
    """Raised when a database or broker cannot be reached or refuses us."""

    code = ErrorCode.BACKEND_UNAVAILABLE

    def __init__(self, backend: str, cause: str) -> None:
        super().__init__(f"{backend} unavailable: {cause}", details={"backend": backend, "cause": cause})
        self.backend = backend
        self.cause = cause

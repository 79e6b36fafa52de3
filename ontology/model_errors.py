"""Structured DTDL violations and the error that carries them.

A modeler fixes a model from the list of violations, so each one says which element
(``dtmi``), where in the input (``path``, a JSON Pointer into the document, or into
the file once ``validate_files`` has located it), which rule (``code``, stable) and
what is wrong (``message``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from ontology.errors import ValidationFailed


class IssueCode(StrEnum):
    """Stable codes of DTDL violations (clients and tests match on them; never renamed)."""

    JSON_INVALID = "JSON_INVALID"
    DOCUMENT_NOT_OBJECT = "DOCUMENT_NOT_OBJECT"
    DOCUMENT_TOO_LARGE = "DOCUMENT_TOO_LARGE"
    NESTING_TOO_DEEP = "NESTING_TOO_DEEP"
    CONTEXT_MISSING = "CONTEXT_MISSING"
    CONTEXT_INVALID = "CONTEXT_INVALID"
    EXTENSION_UNDEFINED = "EXTENSION_UNDEFINED"
    KEYWORD_INVALID = "KEYWORD_INVALID"
    ID_INVALID = "ID_INVALID"
    ID_MISSING = "ID_MISSING"
    ID_DUPLICATE = "ID_DUPLICATE"
    ID_RESERVED = "ID_RESERVED"
    TYPE_MISSING = "TYPE_MISSING"
    TYPE_INVALID = "TYPE_INVALID"
    TYPE_UNDEFINED = "TYPE_UNDEFINED"
    TYPE_NOT_ALLOWED = "TYPE_NOT_ALLOWED"
    TOP_LEVEL_NOT_INTERFACE = "TOP_LEVEL_NOT_INTERFACE"
    PROPERTY_UNDEFINED = "PROPERTY_UNDEFINED"
    PROPERTY_NOT_ALLOWED = "PROPERTY_NOT_ALLOWED"
    PROPERTY_DUPLICATE = "PROPERTY_DUPLICATE"
    PROPERTY_MISSING = "PROPERTY_MISSING"
    TOO_MANY_VALUES = "TOO_MANY_VALUES"
    VALUE_INVALID = "VALUE_INVALID"
    VALUE_OUT_OF_RANGE = "VALUE_OUT_OF_RANGE"
    STRING_TOO_LONG = "STRING_TOO_LONG"
    PATTERN_MISMATCH = "PATTERN_MISMATCH"
    LANGUAGE_INVALID = "LANGUAGE_INVALID"
    REFERENCE_INVALID = "REFERENCE_INVALID"
    REFERENCE_UNRESOLVED = "REFERENCE_UNRESOLVED"
    REFERENCE_NOT_REFERENCEABLE = "REFERENCE_NOT_REFERENCEABLE"
    NAME_DUPLICATE = "NAME_DUPLICATE"
    VALUE_DUPLICATE = "VALUE_DUPLICATE"
    EXTENDS_CYCLE = "EXTENDS_CYCLE"
    EXTENDS_TOO_DEEP = "EXTENDS_TOO_DEEP"
    EXTENDS_TOO_MANY = "EXTENDS_TOO_MANY"
    SCHEMA_TOO_DEEP = "SCHEMA_TOO_DEEP"
    SCHEMA_CYCLE = "SCHEMA_CYCLE"
    CONTENTS_TOO_MANY = "CONTENTS_TOO_MANY"
    COMPONENT_NESTED = "COMPONENT_NESTED"
    EXCLUDED_TYPE = "EXCLUDED_TYPE"
    SIBLING_INVALID = "SIBLING_INVALID"
    FILE_UNREADABLE = "FILE_UNREADABLE"


@dataclass(frozen=True, slots=True)
class ModelIssue:
    """One violation of a DTDL rule: which element, where in the input, which rule, what."""

    dtmi: str | None
    path: str
    code: IssueCode
    message: str
    document: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data, with ``code`` as its string value."""
        data = asdict(self)
        data["code"] = str(self.code)
        return data


class ModelError(ValidationFailed):
    """Raised by ``ontology.parse`` when a batch of DTDL documents breaks any rule.

    ``errors`` lists every violation found in the batch; ``unresolved`` is the set of
    DTMIs referenced but defined neither in the batch nor in the registry (empty when the
    failure has another cause), so that a caller can fetch them and parse again.
    """

    def __init__(self, errors: Iterable[ModelIssue], unresolved: Iterable[str] = ()) -> None:
        self.errors: list[ModelIssue] = list(errors)
        self.unresolved: frozenset[str] = frozenset(unresolved)
        first = self.errors[0].message if self.errors else "invalid model"
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(
            f"{first}{more}",
            details={"errors": [e.to_dict() for e in self.errors], "unresolved": sorted(self.unresolved)},
        )

"""The one error of the ADT query language: a query kgtwin will not run, named and placed.

A ``BadRequest`` (code ``BAD_REQUEST``), so the API answers 400 like any other malformed
request. The message names the construct that is wrong or outside the language and
where it starts; ``details`` carry the same for programs: ``construct``, and ``line`` and
``column`` (from 1) when the construct has a place in the text.
"""

from __future__ import annotations

from typing import Any

from graph.adt_query.syntax import Position
from ontology.errors import BadRequest


class QueryInvalid(BadRequest):
    """Raised when a query is malformed, outside the language, or names what it may not."""

    def __init__(self, message: str, *, construct: str, at: Position | None = None, **details: Any) -> None:
        where = f" (at {at})" if at is not None and at.line else ""
        place = {"line": at.line, "column": at.column} if at is not None and at.line else {}
        super().__init__(message + where, details={"construct": construct, **place, **details})
        self.construct = construct

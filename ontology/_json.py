"""Strict JSON decoding of DTDL documents given as text.

Python's ``json`` accepts ``NaN`` and ``Infinity`` and keeps the last of two equal keys;
neither is JSON (RFC 8259) and both hide mistakes in a model (a ``name`` written twice),
so both are refused here with the position of the problem.
"""

from __future__ import annotations

import json
from typing import Any

from ontology.model_errors import IssueCode


class JsonProblem(Exception):
    """Text that is not a JSON document; ``code`` and ``message`` describe why."""

    def __init__(self, code: IssueCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r} in an object")
        out[key] = value
    return out


def decode_json(text: str | bytes) -> Any:
    """Decode one JSON document; a leading byte-order mark (saved by some editors) is ignored."""
    text = text.removeprefix(b"\xef\xbb\xbf") if isinstance(text, bytes) else text.removeprefix("\ufeff")
    try:
        return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise JsonProblem(IssueCode.NESTING_TOO_DEEP, "JSON is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise JsonProblem(
            IssueCode.JSON_INVALID, f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonProblem(IssueCode.JSON_INVALID, f"not valid JSON: {exc}") from None

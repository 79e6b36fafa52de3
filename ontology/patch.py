"""JSON Patch (RFC 6902) on a twin's property document, and validation of the patched result.

``apply_patch`` never changes its input: it works on a deep copy and returns the patched
document, or raises a :class:`PatchFailed` naming the operation (``/3``) and the reason.
``validate_patch`` reports the same failure, or the property issues of the patched
document, as :class:`~ontology.instances.InstanceIssue` values.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ontology.errors import BadRequest, Conflict, KgtwinError, ValidationFailed
from ontology.instances import InstanceIssue, TwinValidator

_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})
# RFC 6901 §3: "~" is only ever followed by "0" or "1".
_BAD_ESCAPE = re.compile(r"~(?![01])")
# RFC 6901 §4: an array index is "0" or digits without a leading zero.
_INDEX = re.compile(r"0|[1-9][0-9]*")


class PatchFailed(KgtwinError):
    """Raised when one operation of a JSON Patch cannot be applied; the whole patch is refused.

    ``operation`` is the JSON Pointer of the operation in the patch (``/3``), ``path`` the
    pointer it was applied to (when known) and ``reason`` what was wrong.
    """

    def __init__(self, index: int | None, reason: str, *, path: str | None = None) -> None:
        self.index = index
        self.operation = "" if index is None else f"/{index}"
        self.path = path
        self.reason = reason
        where = "patch" if index is None else f"patch operation {index}"
        super().__init__(
            f"{where}: {reason}",
            details={"operation": self.operation, "index": index, "path": path, "reason": reason},
        )


class PatchMalformed(PatchFailed, BadRequest):
    """Raised when an operation breaks RFC 6902 itself (unknown ``op``, missing member, bad pointer)."""


class PatchTargetMissing(PatchFailed, ValidationFailed):
    """Raised when an operation's ``path`` or ``from`` names a location the document does not have."""


class PatchTestFailed(PatchFailed, Conflict):
    """Raised when a ``test`` operation finds another value (RFC 6902 §4.6): the twin has changed."""


def apply_patch(properties: Mapping[str, Any], patch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``properties`` with every operation of ``patch`` applied in order (all or nothing)."""
    if isinstance(patch, str | bytes | Mapping) or not isinstance(patch, Sequence):
        raise PatchMalformed(None, "a JSON Patch must be an array of operations")
    root: Any = copy.deepcopy(dict(properties))
    for index, operation in enumerate(patch):
        root = _apply(root, operation, index)
    return dict(root)


def validate_patch(
    validator: TwinValidator, current: Mapping[str, Any], patch: Sequence[Mapping[str, Any]]
) -> list[InstanceIssue]:
    """Issues of applying ``patch`` to the properties ``current`` of a twin of ``validator``'s Interface.

    A patch that cannot be applied gives one issue at ``/patch/<index>``; otherwise the
    issues are those of the patched property document, at their JSON Pointers.
    """
    try:
        patched = apply_patch(current, patch)
    except PatchFailed as error:
        return [InstanceIssue(f"/patch{error.operation}", _issue_code(error), error.reason)]
    return validator.validate_properties(patched)


def _issue_code(error: PatchFailed) -> str:
    if isinstance(error, PatchTestFailed):
        return "PATCH_TEST_FAILED"
    if isinstance(error, PatchTargetMissing):
        return "PATCH_PATH_MISSING"
    return "PATCH_INVALID"


def _apply(root: Any, operation: Mapping[str, Any], index: int) -> Any:
    if not isinstance(operation, Mapping):
        raise PatchMalformed(index, "an operation must be a JSON object")
    op = operation.get("op")
    if not isinstance(op, str) or op not in _OPS:
        raise PatchMalformed(index, f"op must be one of {', '.join(sorted(_OPS))}, got {op!r}")
    text, path = _pointer(operation, "path", index)
    if op in ("add", "replace", "test") and "value" not in operation:
        raise PatchMalformed(index, f"a {op} operation needs a value", path=text)
    if op == "add":
        return _add(root, path, copy.deepcopy(operation["value"]), index, text)
    if op == "remove":
        _remove(root, path, index, text)
        return root
    if op == "replace":
        _resolve(root, path, index, text)
        if not path:
            return _add(root, path, copy.deepcopy(operation["value"]), index, text)
        # In place, so that a replaced member keeps its position in the document.
        parent = _resolve(root, path[:-1], index, text)
        parent[path[-1] if isinstance(parent, dict) else int(path[-1])] = copy.deepcopy(operation["value"])
        return root
    if op == "test":
        found = _resolve(root, path, index, text)
        if not _same(found, operation["value"]):
            raise PatchTestFailed(index, f"{text or '/'} is {found!r}, not {operation['value']!r}", path=text)
        return root
    source_text, source = _pointer(operation, "from", index)
    value = _resolve(root, source, index, source_text)
    if op == "copy":
        return _add(root, path, copy.deepcopy(value), index, text)
    if path[: len(source)] == source and len(path) > len(source):  # RFC 6902 §4.4
        raise PatchMalformed(index, f"cannot move {source_text} into its own child {text}", path=text)
    if path == source:
        return root
    _remove(root, source, index, source_text)
    return _add(root, path, value, index, text)


def _pointer(operation: Mapping[str, Any], key: str, index: int) -> tuple[str, list[str]]:
    text = operation.get(key)
    if not isinstance(text, str) or (text and not text.startswith("/")) or _BAD_ESCAPE.search(text):
        raise PatchMalformed(index, f"{key} must be a JSON Pointer, got {text!r}")
    # RFC 6901 §4: decode ~1 before ~0, so that "~01" is "~1", not "/".
    return text, [token.replace("~1", "/").replace("~0", "~") for token in text.split("/")[1:]]


def _resolve(root: Any, path: list[str], index: int, text: str) -> Any:
    node = root
    for depth, token in enumerate(path):
        if isinstance(node, dict):
            if token not in node:
                raise _missing(index, text, path[: depth + 1], "does not exist")
            node = node[token]
        elif isinstance(node, list):
            if not _INDEX.fullmatch(token) or int(token) >= len(node):
                raise _missing(index, text, path[: depth + 1], f"is not an index of an array of {len(node)}")
            node = node[int(token)]
        else:
            raise _missing(index, text, path[:depth], "is neither an object nor an array")
    return node


def _add(root: Any, path: list[str], value: Any, index: int, text: str) -> Any:
    if not path:
        if not isinstance(value, dict):
            raise PatchMalformed(index, "the property document must stay a JSON object", path=text)
        return value
    parent = _resolve(root, path[:-1], index, text)
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and last == "-":
        parent.append(value)
    elif isinstance(parent, list) and _INDEX.fullmatch(last) and int(last) <= len(parent):
        parent.insert(int(last), value)
    elif isinstance(parent, list):
        raise _missing(index, text, path, f"is not a place in an array of {len(parent)}")
    else:
        raise _missing(index, text, path[:-1], "is neither an object nor an array")
    return root


def _remove(root: Any, path: list[str], index: int, text: str) -> None:
    if not path:
        raise PatchMalformed(index, "cannot remove the whole property document", path=text)
    _resolve(root, path, index, text)
    parent = _resolve(root, path[:-1], index, text)
    if isinstance(parent, dict):
        del parent[path[-1]]
    else:
        del parent[int(path[-1])]


def _missing(index: int, text: str, where: list[str], what: str) -> PatchTargetMissing:
    pointer = "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in where)
    return PatchTargetMissing(index, f"{pointer or '/'} {what}", path=text)


def _same(a: Any, b: Any) -> bool:
    """JSON equality (RFC 6902 §4.6): ``true`` is not ``1``, ``1`` is ``1.0``, key order is irrelevant."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return bool(a == b)

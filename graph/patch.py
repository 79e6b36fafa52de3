"""JSON Patch (RFC 6902) on a twin's property document, before it is validated and written.

``apply_patch`` never changes its input: it works on a deep copy and returns the patched
document. A malformed operation is a ``BadRequest``; an operation whose target does not
exist is a ``ValidationFailed``; a failed ``test`` is a ``Conflict`` (RFC 5789 §2.2,
conflicting state). Each error names the operation by its index and JSON Pointer.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from ontology.errors import BadRequest, Conflict, ValidationFailed

_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def apply_patch(document: Mapping[str, Any], patch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``document`` with every operation of ``patch`` applied in order (all or nothing)."""
    if not isinstance(patch, list | tuple):
        raise BadRequest("a JSON Patch must be an array of operations")
    root: Any = copy.deepcopy(dict(document))
    for index, operation in enumerate(patch):
        root = _apply(root, operation, index)
    if not isinstance(root, dict):
        raise ValidationFailed("a patched twin document must stay a JSON object", details={"index": None})
    return root


def _apply(root: Any, operation: Mapping[str, Any], index: int) -> Any:
    if not isinstance(operation, Mapping) or operation.get("op") not in _OPS:
        raise BadRequest(
            f"patch operation {index}: op must be one of {sorted(_OPS)}", details={"index": index}
        )
    op = operation["op"]
    path = _pointer(operation, "path", index)
    if op in {"add", "replace", "test"} and "value" not in operation:
        raise BadRequest(f"patch operation {index} ({op}) has no value", details={"index": index})
    if op == "add":
        return _add(root, path, copy.deepcopy(operation["value"]), index)
    if op == "remove":
        _remove(root, path, index)
        return root
    if op == "replace":
        if not path:
            return copy.deepcopy(operation["value"])
        _resolve(root, path, index)
        _remove(root, path, index)
        return _add(root, path, copy.deepcopy(operation["value"]), index)
    if op == "test":
        if not _same(_resolve(root, path, index), operation["value"]):
            raise Conflict(
                f"patch operation {index}: test of {operation['path']!r} failed",
                details={"index": index, "path": operation["path"]},
            )
        return root
    source = _pointer(operation, "from", index)
    value = copy.deepcopy(_resolve(root, source, index))
    if op == "move":
        if path[: len(source)] == source and len(path) > len(source):
            raise BadRequest(
                f"patch operation {index}: cannot move a value into itself", details={"index": index}
            )
        _remove(root, source, index)
    return _add(root, path, value, index)


def _pointer(operation: Mapping[str, Any], key: str, index: int) -> list[str]:
    text = operation.get(key)
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise BadRequest(f"patch operation {index}: {key!r} must be a JSON Pointer", details={"index": index})
    # RFC 6901 §4: ~1 before ~0.
    return [part.replace("~1", "/").replace("~0", "~") for part in text.split("/")[1:]]


def _malformed(index: int, message: str) -> BadRequest:
    return BadRequest(f"patch operation {index}: {message}", details={"index": index})


def _missing(index: int, path: list[str]) -> ValidationFailed:
    pointer = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)
    return ValidationFailed(
        f"patch operation {index}: {pointer} does not exist", details={"index": index, "path": pointer}
    )


def _resolve(root: Any, path: list[str], index: int) -> Any:
    node = root
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _missing(index, path)
    return node


def _add(root: Any, path: list[str], value: Any, index: int) -> Any:
    if not path:
        return value
    parent = _resolve(root, path[:-1], index)
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and last == "-":
        parent.append(value)
    elif isinstance(parent, list) and last.isdigit() and int(last) <= len(parent):
        parent.insert(int(last), value)
    else:
        raise _missing(index, path)
    return root


def _remove(root: Any, path: list[str], index: int) -> None:
    if not path:
        raise BadRequest(
            f"patch operation {index}: cannot remove the whole document", details={"index": index}
        )
    parent = _resolve(root, path[:-1], index)
    _resolve(root, path, index)
    if isinstance(parent, dict):
        del parent[path[-1]]
    else:
        del parent[int(path[-1])]


def _same(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` (RFC 6902 §4.6)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)

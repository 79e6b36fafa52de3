"""Rules on schemas and Components: enum value types, nesting depth, cycles, exclusions.

DTDL v3 §Complex schemas: nested at most 5 levels (v4: 8, ONVIF limits: 24), no cycles
before v4; v2 §Property: no Array anywhere in a Property's schema; §Component: the
schema of a Component contains no Component. Limits come from ``dtmm:descendants``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ontology._nodes import Literal, Node, Ref
from ontology.model_errors import IssueCode

if TYPE_CHECKING:
    from ontology._semantics import Checker, Target

_GEOSPATIAL = "dtmi:standard:schema:geospatial:"
# Deeper than any limit (24 with the ONVIF limits), shallow enough for the interpreter's stack.
_CAP = 64
_COMPLEX_HOPS = ("elementSchema", "schema", "fields", "mapValue", "enumValues", "request", "response")


def check_enum(checker: Checker, node: Node) -> None:
    schema = next((v for v in node.values("valueSchema") if isinstance(v, Ref)), None)
    if schema is None:
        return
    want_int = schema.target.startswith("dtmi:dtdl:instance:Schema:integer")
    for value in checker.children(node, "enumValues"):
        raw = value.literal("enumValue")
        if raw is None:
            continue
        if want_int != (isinstance(raw, int) and not isinstance(raw, bool)):
            kind = "an integer" if want_int else "a string"
            checker.report(
                node,
                value.pointer,
                IssueCode.VALUE_INVALID,
                f"enumValue {raw!r} must be {kind}, as the Enum's valueSchema says",
            )


def check_component(checker: Checker, node: Node) -> None:
    # DTDL v3 §Component: the schema "may not contain nested Component in hierarchy",
    # so a Component inherited through extends counts as well.
    for schema in checker.children(node, "schema"):
        for content in checker.all_contents(schema):
            if checker.is_a(content, "Component"):
                checker.report(
                    node,
                    node.pointer,
                    IssueCode.COMPONENT_NESTED,
                    f"the schema of Component {node.name()!r} contains Component {content.name()!r}",
                )
                return


def check_no_array(checker: Checker, node: Node) -> None:
    # DTDL v2 §Property: the schema "may not contain Array in hierarchy".
    for target in _schema_closure(checker, node):
        if "dtmi:dtdl:class:Array;2" in target.types or target.iri.startswith(_GEOSPATIAL):
            checker.report(
                node,
                node.pointer,
                IssueCode.EXCLUDED_TYPE,
                f"Property {node.name()!r} has an Array in its schema, which DTDL v2 forbids",
            )
            return


def _schema_closure(checker: Checker, node: Node) -> Iterator[Target]:
    seen: set[str] = set()
    stack: list[Node | Ref | Literal] = [*node.values("schema")]
    while stack:
        target = checker.target_of(stack.pop())
        if target is None or target.iri in seen:
            continue
        seen.add(target.iri)
        yield target
        if target.node is not None:
            for term in _COMPLEX_HOPS:
                stack.extend(target.node.values(term))


# -- complex schema depth ----------------------------------------------------------------


def inside_complex_schema(checker: Checker, node: Node) -> bool:
    parent = node.parent
    while parent is not None:
        if checker.is_a(parent, "ComplexSchema"):
            return True
        if checker.is_a(parent, "Interface"):
            return False
        parent = parent.parent
    return False


def check_schema_depth(checker: Checker, node: Node) -> None:
    desc = next((d for d in checker.cls(node).descendants if d.max_depth is not None), None)
    if desc is None or desc.max_depth is None:
        return
    limit = desc.max_depth
    found, cyclic = _depth(checker, node, (), _CAP, checker.schema_depths)
    if cyclic and not desc.allow_self:
        checker.report(node, node.pointer, IssueCode.SCHEMA_CYCLE, f"schema {node.id} contains itself")
    elif found > limit:
        checker.report(
            node,
            node.pointer,
            IssueCode.SCHEMA_TOO_DEEP,
            f"complex schemas are nested {found} deep, the limit is {limit}",
        )


def _depth(
    checker: Checker, node: Node, path: tuple[int, ...], cap: int, memo: dict[int, tuple[int, bool]]
) -> tuple[int, bool]:
    """Nesting depth of complex schemas under ``node`` (counting itself), and whether it reaches a cycle.

    Each schema is measured once and memoized, so a schema shared by many fields (or a
    wide self-referential v4 schema) costs linear time, never exponential. Through a
    cycle (allowed in v4) the depth counts each schema once. Recursion stops at ``cap``.
    """
    if id(node) in path:
        return 0, True
    if id(node) in memo:
        return memo[id(node)]
    if len(path) >= cap:
        return 1, False
    best, cyclic = 0, False
    for child in _schema_children(checker, node):
        d, c = _depth(checker, child, (*path, id(node)), cap, memo)
        best, cyclic = max(best, d), cyclic or c
    memo[id(node)] = (best + 1, cyclic)
    return best + 1, cyclic


def _schema_children(checker: Checker, node: Node) -> Iterator[Node]:
    hops: list[Node] = []
    for term in ("elementSchema", "schema"):
        hops.extend(checker.children(node, term))
    for term in ("fields", "mapValue"):
        for holder in checker.children(node, term):
            hops.extend(checker.children(holder, "schema"))
    for hop in hops:
        # An Enum holds no schema: like a primitive it adds no level, as Microsoft's DTDLParser
        # measures the depth (five Arrays around an Enum are five levels, not six).
        if checker.is_a(hop, "ComplexSchema") and not checker.is_a(hop, "Enum"):
            yield hop

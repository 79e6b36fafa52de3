"""Rules that feature extensions add between sibling contents (``dtmm:siblings``, ``dtmm:uniqueValue``).

Annotation v1/v2: the ``annotates`` value of a ValueAnnotation names another Property or
Telemetry "within the contents of the same Interface". Overriding v1/v2: ``overrides``
names an extension property that the annotated element has, one element is
overridden at most once per property, and the override's ``schema`` is the unit type (or
other parent) of the overridden property's values. MQTT: an ``index`` is unique among siblings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ontology._nodes import Literal, Node, Ref
from ontology.dtmi import short_name
from ontology.model_errors import IssueCode

if TYPE_CHECKING:
    from ontology._semantics import Checker


def _matches(checker: Checker, node: Node, spec: dict[str, Any]) -> bool:
    """Whether ``node`` has one of the classes of ``sh:or`` and none of ``sh:not``."""
    names = {short_name(s) for s in checker.cls(node).supers} | {short_name(c) for c in node.cotypes}
    wanted = {short_name(alt["sh:class"]) for alt in spec.get("sh:or", []) if "sh:class" in alt}
    refused = spec.get("sh:not") or []
    refused_names = {short_name(r["sh:class"]) for r in (refused if isinstance(refused, list) else [refused])}
    return (not wanted or bool(names & wanted)) and not names & refused_names


def _siblings(checker: Checker, node: Node) -> list[Node]:
    parent = node.parent
    if parent is None or node.parent_prop != "contents":
        return []
    return [n for n in checker.all_contents(parent) if n is not node]


def check_siblings(checker: Checker, node: Node, overridden: set[tuple[int, str]]) -> None:
    """Apply the ``dtmm:siblings`` restrictions of the cotypes of ``node``."""
    for cotype in node.cotypes:
        for spec in checker.u.classes[cotype].siblings:
            key, keyref = short_name(spec["dtmm:keyProperty"]), short_name(spec["dtmm:keyrefProperty"])
            wanted = node.literal(keyref)
            if wanted is None:
                continue
            target = next(
                (
                    s
                    for s in _siblings(checker, node)
                    if s.literal(key) == wanted and _matches(checker, s, spec)
                ),
                None,
            )
            if target is None:
                named = [*_siblings(checker, node), node]
                if any(s.literal(key) == wanted for s in named):
                    checker.report(
                        node,
                        node.pointer,
                        IssueCode.SIBLING_INVALID,
                        f"{keyref} {wanted!r} names an element that is not a suitable one",
                    )
                # A name no sibling has is not reported: Microsoft's DTDLParser checks the
                # sibling an annotation names only when there is one.
                return
            path = spec.get("dtmm:path")
            if path is not None and spec.get("dtmm:uniqueReference"):
                _check_override(checker, node, target, short_name(path), overridden)
            elif path is not None and "dtmm:parentOfProperty" in spec:
                _check_parent_of(
                    checker, node, target, short_name(path), short_name(spec["dtmm:parentOfProperty"])
                )


def _check_override(
    checker: Checker, node: Node, target: Node, path: str, overridden: set[tuple[int, str]]
) -> None:
    ref = next((v for v in node.values(path) if isinstance(v, Ref)), None)
    if ref is None:
        return
    extension_props = {
        rule.iri
        for term in target.props
        if (rule := checker.rule(target, term)) is not None and rule.iri not in checker.cls(target).rules
    }
    if ref.target not in extension_props:
        checker.report(
            node,
            ref.pointer,
            IssueCode.SIBLING_INVALID,
            f"{path} {short_name(ref.target)!r} is not an extension property of {target.name()!r}",
        )
    elif (id(target), ref.target) in overridden:
        checker.report(
            node,
            ref.pointer,
            IssueCode.SIBLING_INVALID,
            f"{short_name(ref.target)!r} of {target.name()!r} is overridden twice",
        )
    overridden.add((id(target), ref.target))


def _check_parent_of(checker: Checker, node: Node, target: Node, path: str, keyref: str) -> None:
    """``dtmm:parentOfProperty``: the value of ``path`` is the parent of the values of the named property.

    Overriding v1/v2: "The schema of the overriding Property must match the schema type of
    the overridden property": overriding ``unit`` of a Temperature takes the unit type its
    values are children of (``dtmm:childOf`` TemperatureUnit) as ``schema``.
    """
    ref = next((v for v in node.values(keyref) if isinstance(v, Ref)), None)
    if ref is None:
        return
    parents = {
        rule.child_of
        for cotype in target.cotypes
        if (rule := checker.u.classes[cotype].rules.get(ref.target)) is not None and rule.child_of
    }
    if not parents:
        return  # nothing to match: no dtmm:childOf, or a bad overrides (reported by _check_override)
    value = next(iter(node.values(path)), None)
    if isinstance(value, Ref) and value.target in parents:
        return
    found = short_name(value.target) if isinstance(value, Ref) else "an inline schema"
    wanted = " or ".join(sorted(short_name(p) for p in parents))
    checker.report(
        node,
        value.pointer if isinstance(value, Ref | Node) else node.pointer,
        IssueCode.TYPE_NOT_ALLOWED,
        f"{path} of an override of {short_name(ref.target)!r} of {target.name()!r} "
        f"must be {wanted}, not {found}",
    )


def check_inverse(checker: Checker, node: Node) -> None:
    """``sh:inversePath`` shapes: the element's parent, through that property, has a class.

    MQTT v3: a NormalResult or ErrorResult field belongs to an Object co-typed Result,
    and (``dtmm:onlyOne``) each Result has only one of each.
    """
    for cotype in node.cotypes:
        for prop, parent_class, only_one in checker.u.classes[cotype].inverse:
            parent = node.parent
            if parent is None or node.parent_prop != prop or parent_class not in parent.cotypes:
                checker.report(
                    node,
                    node.pointer,
                    IssueCode.TYPE_NOT_ALLOWED,
                    f"a {short_name(cotype)} must be among the {prop} of a {short_name(parent_class)}",
                )
            elif only_one:
                first = next(s for s in checker.children(parent, prop) if cotype in s.cotypes)
                if first is not node:
                    checker.report(
                        node,
                        node.pointer,
                        IssueCode.VALUE_DUPLICATE,
                        f"a {short_name(parent_class)} has only one {short_name(cotype)}",
                    )


def check_unique_values(checker: Checker, node: Node) -> None:
    """``dtmm:uniqueValue``: e.g. MQTT ``index`` values differ among the siblings of an element."""
    for cotype in node.cotypes:
        for rule in checker.u.classes[cotype].rules.values():
            if not rule.unique_value:
                continue
            mine = node.literal(rule.term)
            if mine is None or node.parent is None or node.parent_prop is None:
                continue
            for other in checker.children(node.parent, node.parent_prop):
                if other is node:
                    break
                values = [v.value for v in other.values(rule.term) if isinstance(v, Literal)]
                if mine in values:
                    checker.report(
                        node,
                        node.pointer,
                        IssueCode.VALUE_DUPLICATE,
                        f"{rule.term} {mine!r} is already used by {other.name()!r}",
                    )
                    break

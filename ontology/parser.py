"""The entry points: ``parse`` (all or nothing) and ``parse_partial`` (valid subset plus errors).

A batch is parsed in three passes: read each JSON object against the metamodel
(``_reader``), check the rules that need the whole batch (``_semantics``), then build
the resolved model (``_build``). ``parse_partial`` keeps every Interface whose document
and dependencies are free of violations, which is how a published ontology with a few
broken models still loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ontology._build import Builder
from ontology._json import JsonProblem, decode_json
from ontology._nodes import Node
from ontology._reader import Reader
from ontology._semantics import Checker, root_of
from ontology.model import ModelSet
from ontology.model_errors import IssueCode, ModelError, ModelIssue
from ontology.policy import DEFAULT_POLICY, DtdlPolicy

# A single JSON text larger than this is refused before parsing: a DTDL partition is at
# most 1 MiB (v3/v4 §Limits), so 16 MiB leaves room for v2 and for arrays of Interfaces.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

Document = dict[str, Any] | list[Any] | str | bytes


@dataclass(frozen=True)
class ParseResult:
    """What a batch yields: the Interfaces that are valid, and every violation found."""

    models: ModelSet
    errors: list[ModelIssue]
    unresolved: frozenset[str]

    @property
    def valid(self) -> bool:
        return not self.errors


def _decode(doc: str | bytes, index: int) -> tuple[Any, ModelIssue | None]:
    if len(doc) > MAX_DOCUMENT_BYTES:
        return None, ModelIssue(
            None,
            "",
            IssueCode.DOCUMENT_TOO_LARGE,
            f"document is larger than {MAX_DOCUMENT_BYTES} bytes",
            index,
        )
    try:
        return decode_json(doc), None
    except JsonProblem as problem:
        return None, ModelIssue(None, "", problem.code, problem.message, index)


def parse_partial(
    documents: Sequence[Document],
    *,
    policy: DtdlPolicy = DEFAULT_POLICY,
    known: ModelSet | None = None,
) -> ParseResult:
    """Parse a batch and return the valid Interfaces together with all violations.

    ``documents`` holds JSON-LD objects, arrays of them, or their JSON text. References
    resolve between the documents of the batch and into ``known`` (models loaded before,
    e.g. from the registry). An Interface is left out of ``models`` when its document, or
    an Interface it extends or uses as a Component, has a violation.

    ``policy`` holds what the specification leaves to the service (undefined extensions,
    limit extensions, optional extensions); the default is what it recommends.
    """
    reader = Reader(policy)
    decode_issues: list[ModelIssue] = []
    for index, doc in enumerate(documents):
        if isinstance(doc, str | bytes):
            doc, issue = _decode(doc, index)
            if issue is not None:
                decode_issues.append(issue)
                continue
        try:
            reader.read_document(doc, index)
        except RecursionError:  # belt and braces: MAX_NESTING should stop this first
            reader.issues.append(
                ModelIssue(None, "", IssueCode.NESTING_TOO_DEEP, "document is nested too deeply", index)
            )
    known_nodes: dict[str, Node] = {}
    if known is not None:
        known_nodes = {k: v for k, v in known.elements.items() if isinstance(v, Node)}
    reader.measure_partitions()
    checker = Checker(reader.nodes, known=known_nodes)
    checker.run()
    errors = decode_issues + reader.issues + checker.issues
    models = _build(checker, errors, reader.nodes)
    return ParseResult(models, errors, frozenset(checker.unresolved))


def _build(checker: Checker, errors: list[ModelIssue], nodes: list[Node]) -> ModelSet:
    interfaces = [n for n in nodes if checker.is_a(n, "Interface") and n.explicit_id]
    bad = _unhealthy(checker, errors, interfaces)
    builder = Builder(checker)
    resolved = {}
    for node in interfaces:
        if id(node) not in bad and node.id not in resolved and checker.index.get(node.id) is node:
            resolved[node.id] = builder.interface(node)
    elements = {k: v for k, v in checker.index.items() if root_of(v).id in resolved}
    return ModelSet(resolved, elements)


def _unhealthy(checker: Checker, errors: list[ModelIssue], interfaces: list[Node]) -> set[int]:
    """Interfaces to leave out: those in a document with a violation, and all that depend on them.

    Badness spreads from an Interface to every Interface that extends it or uses it as a
    Component schema, iteratively (a chain of thousands of ``extends`` must not recurse).
    """
    bad_roots = {e.dtmi for e in errors if e.dtmi is not None}
    bad_docs = {e.document for e in errors if e.dtmi is None}
    dependents: dict[int, list[Node]] = {}
    for node in interfaces:
        deps = [*checker.children(node, "extends")]
        for content in checker.children(node, "contents"):
            if checker.is_a(content, "Component"):
                deps.extend(checker.children(content, "schema"))
        for dep in deps:
            dependents.setdefault(id(dep), []).append(node)
    stack = [n for n in interfaces if root_of(n).id in bad_roots or n.document in bad_docs]
    bad: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in bad:
            continue
        bad.add(id(node))
        stack.extend(dependents.get(id(node), []))
    return bad


def parse(
    documents: Sequence[Document],
    *,
    policy: DtdlPolicy = DEFAULT_POLICY,
    known: ModelSet | None = None,
) -> ModelSet:
    """Parse and validate one batch of DTDL documents; raise :class:`ModelError` on any violation.

    ``ModelError.errors`` lists every violation of the batch; ``ModelError.unresolved``
    is the set of DTMIs referenced but defined neither in the batch nor in ``known``.
    ``policy`` is as for :func:`parse_partial`.
    """
    result = parse_partial(documents, policy=policy, known=known)
    if result.errors:
        raise ModelError(result.errors, result.unresolved)
    return result.models

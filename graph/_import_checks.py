"""The checks a bulk import makes of each relationship line (``graph.importer``).

A relationship is checked against its source's model: its name and properties, the
model of its target, and (later, when written, ``graph._import_edges``) the source's
``maxMultiplicity``. Those lookups repeat for every line of a large file, so the declared
relationship per (model, name) and the target check per (model, target model) are
computed once per import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graph.bulk import RELATIONSHIP_ID, RELATIONSHIP_NAME, TARGET_ID, TWIN_ID, BulkIssue, BulkLine
from graph.physical import DOCUMENT, SYSTEM_KEYS, encode
from ontology.instances import InstanceIssue, validator_for
from ontology.model import ModelSet, Relationship

Refuse = Callable[[BulkIssue], None]
_KEYS = frozenset({TWIN_ID, RELATIONSHIP_ID, RELATIONSHIP_NAME, TARGET_ID})


class RelationshipChecks:
    """Turns valid relationship lines into rows for ``EdgeBatchWriter``; refuses the others."""

    def __init__(self, models: ModelSet, refuse: Refuse) -> None:
        self.models = models
        self.refuse = refuse
        self._declared: dict[tuple[str, str], Relationship | None] = {}
        self._fits: dict[tuple[str, str], bool] = {}

    def row(self, line: BulkLine, known: Mapping[str, str]) -> dict[str, Any] | None:
        """The row of ``line`` (``known``: the models of its batch's twins), or None when refused."""
        value = line.value
        source, rid = value[TWIN_ID], value[RELATIONSHIP_ID]
        name, target = value[RELATIONSHIP_NAME], value[TARGET_ID]
        if source not in known or target not in known:
            role, twin_id = ("source", source) if source not in known else ("target", target)
            message = f"relationship {rid!r} of {source!r}: its {role} twin {twin_id!r} does not exist"
            self.refuse(BulkIssue(line.line, "NOT_FOUND", message))
            return None
        # A line of only the four keys (most relationships) has no properties to pick out.
        properties = {}
        if len(value) > len(_KEYS):
            properties = {k: v for k, v in value.items() if k not in _KEYS}
        declared = self._declared_by(known[source], name)
        issues: list[InstanceIssue] = []
        if properties or declared is None:
            validator = validator_for(self.models, known[source])
            issues = validator.validate_relationship(name, properties) + reserved(properties)
        if declared is not None and not self._fits_target(known[target], declared):
            message = f"{name!r} must point to a {declared.target}, and {target!r} is a {known[target]}"
            issues.append(InstanceIssue("/$targetId", "TARGET_MODEL_INVALID", message))
        if issues:
            refuse_all(self.refuse, line.line, f"relationship {rid!r} of {source!r}", issues)
            return None
        assert declared is not None  # validate_relationship reported an unknown name
        return {
            "line": line.line,
            "source": source,
            "target": target,
            "rid": rid,
            "name": name,
            "max": declared.max_multiplicity,
            "model": known[source],
            "properties": properties,
            "props": encode(properties, {"id": rid}) if properties else {"id": rid, DOCUMENT: "{}"},
        }

    def _declared_by(self, model: str, name: str) -> Relationship | None:
        """The relationship ``name`` of ``model`` (``Interface.relationships`` builds a dict per call)."""
        key = model, name
        if key not in self._declared:
            self._declared[key] = self.models[model].relationships.get(name)
        return self._declared[key]

    def _fits_target(self, model: str, declared: Relationship) -> bool:
        """Whether a twin of ``model`` may be the target of ``declared`` (any twin when it names none)."""
        if declared.target is None:
            return True
        key = model, declared.target
        if key not in self._fits:
            self._fits[key] = self.models.is_a(model, declared.target)
        return self._fits[key]


def reserved(document: Mapping[str, Any]) -> list[InstanceIssue]:
    """Issues for the keys of ``document`` that the twin graph keeps for itself."""
    return [
        InstanceIssue(f"/{name}", "PROPERTY_RESERVED", f"{name!r} is a system property of the twin graph")
        for name in document
        if name in SYSTEM_KEYS
    ]


def refuse_all(refuse: Refuse, line: int, what: str, issues: list[InstanceIssue]) -> None:
    """Refuse ``line`` once per issue, naming ``what`` and the issue's path."""
    for issue in issues:
        refuse(BulkIssue(line, issue.code, f"{what}: {issue.path or '/'}: {issue.message}"))

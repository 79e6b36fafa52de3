"""Model evolution: would the twins of one model version still be valid under the next?

Twins are migrated from ``dtmi:x:Pump;1`` to ``;2`` by rewriting their ``$model``;
before that, an operator wants to know what the move costs. For each twin this module
says which property values the new version no longer has (``dropped``: migration
would lose them), which it types differently and the twin's value no longer fits
(``retyped``), and which values the new version requires but the twin lacks
(``missing``: required Object fields, DTDL v4 Requirement extension). The verdict comes
from the same compiled validator that guards twin writes, so "valid" here means a
write of that twin would be accepted after the migration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ontology.instances import InstanceIssue, validator_for
from ontology.model import Component, Interface, ModelSet, Property
from ontology.resolved import schema_json


@dataclass(frozen=True)
class ModelDiff:
    """How two versions differ: the property-like contents (Properties, Components) by name and
    type, and the Relationships and Telemetry the new version no longer has (edges of those
    names would be orphaned, ingestion mappings to that telemetry would break).
    """

    old: str
    new: str
    removed: tuple[str, ...]
    added: tuple[str, ...]
    retyped: tuple[str, ...]
    removed_relationships: tuple[str, ...] = ()
    removed_telemetry: tuple[str, ...] = ()

    @property
    def compatible(self) -> bool:
        """Whether every twin valid under ``old`` is valid under ``new`` (nothing removed or retyped)."""
        return not self.removed and not self.retyped


@dataclass(frozen=True)
class TwinMigration:
    """What migrating one twin to the new version would do to its properties.

    ``dropped`` and ``retyped`` name top-level properties; ``missing`` holds JSON
    Pointers of required values absent from the twin; ``issues`` is every finding of
    the new version's validator for the twin as it is now.
    """

    twin_id: str
    dropped: tuple[str, ...]
    retyped: tuple[str, ...]
    missing: tuple[str, ...]
    issues: tuple[InstanceIssue, ...]

    @property
    def valid(self) -> bool:
        """Whether the twin, unchanged, validates against the new version."""
        return not self.issues

    def to_dict(self) -> dict[str, Any]:
        return {
            "twinId": self.twin_id,
            "valid": self.valid,
            "dropped": list(self.dropped),
            "retyped": list(self.retyped),
            "missing": list(self.missing),
            "issues": [i.to_dict() for i in self.issues],
        }


@dataclass(frozen=True)
class EvolutionReport:
    """The verdict on moving a population of twins from one model version to another."""

    diff: ModelDiff
    twins: tuple[TwinMigration, ...]

    @property
    def blocked(self) -> tuple[TwinMigration, ...]:
        """The twins that would not validate against the new version as they are."""
        return tuple(t for t in self.twins if not t.valid)

    @property
    def ready(self) -> bool:
        """Whether every twin reported on can be migrated without a change to its data."""
        return not self.blocked

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.diff.old,
            "to": self.diff.new,
            "removed": list(self.diff.removed),
            "added": list(self.diff.added),
            "retyped": list(self.diff.retyped),
            "removedRelationships": list(self.diff.removed_relationships),
            "removedTelemetry": list(self.diff.removed_telemetry),
            "ready": self.ready,
            "twins": [t.to_dict() for t in self.twins],
        }


def diff_models(old: Interface, new: Interface) -> ModelDiff:
    """Compare two Interfaces: Properties and Components by name and schema shape, the rest by name."""
    before, after = _shapes(old), _shapes(new)
    return ModelDiff(
        old=old.dtmi,
        new=new.dtmi,
        removed=tuple(n for n in before if n not in after),
        added=tuple(n for n in after if n not in before),
        retyped=tuple(n for n in before if n in after and before[n] != after[n]),
        removed_relationships=tuple(n for n in old.relationships if n not in new.relationships),
        removed_telemetry=tuple(n for n in old.telemetries if n not in new.telemetries),
    )


def evolution_report(
    models: ModelSet, old_dtmi: str, new_dtmi: str, twins: Iterable[tuple[str, Mapping[str, Any]]]
) -> EvolutionReport:
    """Check each ``(twin_id, properties)`` of ``old_dtmi`` against ``new_dtmi`` of ``models``."""
    diff = diff_models(models[old_dtmi], models[new_dtmi])
    validator = validator_for(models, new_dtmi)
    retyped = set(diff.retyped)
    known = _shapes(models[new_dtmi])
    migrations = []
    for twin_id, properties in twins:
        issues = tuple(validator.validate_properties(properties))
        dropped = tuple(n for n in properties if not n.startswith("$") and n not in known)
        bad = {_top(i.path) for i in issues if i.code != "PROPERTY_UNKNOWN"}
        migrations.append(
            TwinMigration(
                twin_id=twin_id,
                dropped=dropped,
                retyped=tuple(n for n in properties if n in retyped and n in bad),
                missing=tuple(_missing(i) for i in issues if i.code == "FIELD_MISSING"),
                issues=issues,
            )
        )
    return EvolutionReport(diff, tuple(migrations))


def _shapes(iface: Interface) -> dict[str, Any]:
    """Each Property's and Component's type, rendered without identifiers so versions compare."""
    shapes: dict[str, Any] = {}
    for name, content in iface.contents.items():
        if isinstance(content, Property):
            shapes[name] = schema_json(content.schema, ids=False)
        elif isinstance(content, Component):
            shapes[name] = {"component": content.schema}
    return shapes


def _top(path: str) -> str:
    """The property a JSON Pointer into a twin's property document starts at."""
    token = path.split("/", 2)[1] if path.startswith("/") else path
    return token.replace("~1", "/").replace("~0", "~")


def _missing(issue: InstanceIssue) -> str:
    """The JSON Pointer of a missing required field, from the validator's FIELD_MISSING finding.

    The validator names the field as ``'name'`` in its message; DTDL names are
    ``[A-Za-z0-9_]`` (DTDL §Name), so the quotes delimit it unambiguously.
    """
    name = issue.message.split("'")[1] if issue.message.count("'") >= 2 else ""
    return f"{issue.path}/{name.replace('~', '~0').replace('/', '~1')}"

"""Validate twin data (properties, telemetry, relationship properties) against a resolved Interface.

Each schema is compiled once into a small checking function and cached per Interface,
so validating a twin costs a dictionary lookup and a call per value. The value rules
come from the metamodel's ``dtmm:instance`` descriptions (JSON type, ``sh:pattern``,
XSD datatype) of each primitive schema; numeric ranges are those of the XSD datatypes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ontology._metamodel import universe
from ontology.errors import ValidationFailed
from ontology.model import (
    ArraySchema,
    Command,
    CommandPayload,
    Component,
    EnumSchema,
    Interface,
    MapSchema,
    ModelSet,
    PrimitiveSchema,
    Property,
    Relationship,
    Schema,
    Telemetry,
)


@dataclass(frozen=True, slots=True)
class InstanceIssue:
    """One value that does not follow its schema; ``path`` is a JSON Pointer into the instance."""

    path: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


class InstanceInvalid(ValidationFailed):
    """Raised by :meth:`TwinValidator.check_properties` when twin data breaks its model."""

    def __init__(self, dtmi: str, issues: Sequence[InstanceIssue]) -> None:
        self.issues = list(issues)
        first = self.issues[0]
        super().__init__(
            f"{first.path}: {first.message}"
            + (f" (and {len(self.issues) - 1} more)" if len(self.issues) > 1 else ""),
            details={"dtmi": dtmi, "errors": [i.to_dict() for i in self.issues]},
        )


Check = Callable[[Any, str], Sequence[InstanceIssue]]
_OK: tuple[InstanceIssue, ...] = ()
# Self-referential schemas (DTDL v4) admit arbitrarily deep data; deeper than the stack is refused.
_TOO_DEEP = InstanceIssue("", "VALUE_TOO_DEEP", "the value is nested too deeply to validate")

# XSD value spaces (XML Schema Part 2 §3.3) of the integral primitive schemas.
_RANGES: dict[str, tuple[int, int]] = {
    "xsd:byte": (-(2**7), 2**7 - 1),
    "xsd:short": (-(2**15), 2**15 - 1),
    "xsd:int": (-(2**31), 2**31 - 1),
    "xsd:long": (-(2**63), 2**63 - 1),
    "xsd:unsignedByte": (0, 2**8 - 1),
    "xsd:unsignedShort": (0, 2**16 - 1),
    "xsd:unsignedInt": (0, 2**32 - 1),
    "xsd:unsignedLong": (0, 2**64 - 1),
}
_FLOAT_MAX = 3.4028234663852886e38


def _bad(path: str, message: str) -> tuple[InstanceIssue, ...]:
    return (InstanceIssue(path, "VALUE_INVALID", message),)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _instance_spec(schema: PrimitiveSchema) -> dict[str, Any]:
    """The metamodel's ``dtmm:instance`` of a primitive schema (e.g. DateTime;3)."""
    kind = schema.kind[:1].upper() + schema.kind[1:]
    version = schema.dtmi.rsplit(";", 1)[-1] if ";" in schema.dtmi else "4"
    cls = universe().classes.get(f"dtmi:dtdl:class:{kind};{version}")
    return cls.instance if cls is not None else {}


def _temporal_ok(kind: str, text: str) -> bool:
    """Beyond the pattern: the date and time fields must name a real instant."""
    try:
        if kind == "date":
            date.fromisoformat(text)
        elif kind == "dateTime":
            datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _primitive(schema: PrimitiveSchema) -> Check:
    spec = _instance_spec(schema)
    json_type = spec.get("dtmm:jsonType", "")
    datatype = spec.get("sh:datatype", "")
    kind = schema.kind
    if kind == "boolean" or json_type == "dtmm:jsonBool":
        return lambda v, p: _OK if isinstance(v, bool) else _bad(p, f"expected a boolean, got {v!r}")
    if datatype in _RANGES:
        low, high = _RANGES[datatype]

        def integral(v: Any, p: str) -> Sequence[InstanceIssue]:
            if isinstance(v, int) and not isinstance(v, bool) and low <= v <= high:
                return _OK
            return _bad(p, f"expected {kind} (an integer from {low} to {high}), got {v!r}")

        return integral
    if datatype in ("xsd:double", "xsd:float"):
        limit = _FLOAT_MAX if datatype == "xsd:float" else math.inf

        def real(v: Any, p: str) -> Sequence[InstanceIssue]:
            if (
                isinstance(v, int | float)
                and not isinstance(v, bool)
                and math.isfinite(v)
                and abs(v) <= limit
            ):
                return _OK
            return _bad(p, f"expected a finite {kind}, got {v!r}")

        return real
    if json_type == "dtmm:jsonString" or kind in ("string", "date", "dateTime", "time", "duration"):
        pattern = re.compile(spec["sh:pattern"]) if "sh:pattern" in spec else None

        def text(v: Any, p: str) -> Sequence[InstanceIssue]:
            if not isinstance(v, str):
                return _bad(p, f"expected a string ({kind}), got {v!r}")
            if pattern is not None and (pattern.match(v) is None or not _temporal_ok(kind, v)):
                return _bad(p, f"{v!r} is not a valid {kind}")
            return _OK

        return text
    if kind == "scaledDecimal":
        fields = {
            "scale": _primitive(PrimitiveSchema("short", "dtmi:dtdl:instance:Schema:short;4")),
            "value": _primitive(PrimitiveSchema("decimal", "dtmi:dtdl:instance:Schema:decimal;4")),
        }
        return _object_check(fields, frozenset(fields), "scaledDecimal")
    if kind in ("point", "multiPoint", "lineString", "multiLineString", "polygon", "multiPolygon"):
        geo_type = kind[:1].upper() + kind[1:]

        def geo(v: Any, p: str) -> Sequence[InstanceIssue]:
            if isinstance(v, dict) and v.get("type") == geo_type and isinstance(v.get("coordinates"), list):
                return _OK
            return _bad(p, f"expected a GeoJSON {geo_type}")

        return geo
    return lambda v, p: _OK  # a schema this version of kgtwin does not constrain further


def _object_check(fields: Mapping[str, Check], required: frozenset[str], what: str) -> Check:
    def check(v: Any, p: str) -> Sequence[InstanceIssue]:
        if not isinstance(v, dict):
            return _bad(p, f"expected an object ({what}), got {v!r}")
        issues: list[InstanceIssue] = []
        for key, item in v.items():
            field_check = fields.get(key)
            if field_check is None:
                issues.append(
                    InstanceIssue(f"{p}/{_escape(key)}", "FIELD_UNKNOWN", f"{what} has no field {key!r}")
                )
            else:
                issues.extend(field_check(item, f"{p}/{_escape(key)}"))
        for key in required - v.keys():
            issues.append(InstanceIssue(p, "FIELD_MISSING", f"required field {key!r} is missing"))
        return issues or _OK

    return check


class _Compiler:
    """Compiles schemas to checks once, reusing the check of a schema met before (and for cycles)."""

    def __init__(self) -> None:
        self._done: dict[int, Check] = {}

    def compile(self, schema: Schema) -> Check:
        key = id(schema)
        if key in self._done:
            return self._done[key]
        slot: list[Check] = []
        self._done[key] = lambda v, p: slot[0](v, p)  # resolves self-references (DTDL v4)
        check = self._build(schema)
        slot.append(check)
        self._done[key] = check
        return check

    def _build(self, schema: Schema) -> Check:
        if isinstance(schema, PrimitiveSchema):
            return _primitive(schema)
        if isinstance(schema, ArraySchema):
            element = self.compile(schema.element)

            def array(v: Any, p: str) -> Sequence[InstanceIssue]:
                if not isinstance(v, list):
                    return _bad(p, f"expected an array, got {v!r}")
                issues = [i for n, item in enumerate(v) for i in element(item, f"{p}/{n}")]
                return issues or _OK

            return array
        if isinstance(schema, EnumSchema):
            allowed = {v.value for v in schema.values}
            names = ", ".join(repr(v.value) for v in schema.values)

            def enum(v: Any, p: str) -> Sequence[InstanceIssue]:
                if not isinstance(v, bool) and v in allowed and isinstance(v, int | str):
                    return _OK
                return _bad(p, f"{v!r} is not one of {names}")

            return enum
        if isinstance(schema, MapSchema):
            value = self.compile(schema.value)

            def mapping(v: Any, p: str) -> Sequence[InstanceIssue]:
                if not isinstance(v, dict):
                    return _bad(p, f"expected a map (JSON object), got {v!r}")
                issues = [i for k, item in v.items() for i in value(item, f"{p}/{_escape(k)}")]
                return issues or _OK

            return mapping
        fields = {f.name: self.compile(f.schema) for f in schema.fields}
        required = frozenset(f.name for f in schema.fields if f.required)
        return _object_check(fields, required, "Object")


class TwinValidator:
    """Validates the data of twins of one Interface: built once per Interface, then reused."""

    def __init__(self, interface: Interface, models: ModelSet) -> None:
        self.dtmi = interface.dtmi
        compiler = _Compiler()
        self._properties: dict[str, Check] = {}
        # Each property's JSON Pointer step, escaped once: every document of every twin needs it.
        self._steps: dict[str, str] = {}
        self._telemetry: dict[str, Check] = {}
        self._relationships: dict[str, dict[str, Check]] = {}
        self._components: dict[str, str] = {}
        self._commands: dict[str, tuple[Check | None, Check | None]] = {}
        self._writable = frozenset(n for n, c in interface.properties.items() if c.writable)
        self._models = models
        for name, content in interface.contents.items():
            if isinstance(content, Property):
                self._properties[name] = compiler.compile(content.schema)
                self._steps[name] = "/" + _escape(name)
            elif isinstance(content, Telemetry):
                self._telemetry[name] = compiler.compile(content.schema)
            elif isinstance(content, Relationship):
                self._relationships[name] = {p.name: compiler.compile(p.schema) for p in content.properties}
            elif isinstance(content, Component):
                self._components[name] = content.schema
            elif isinstance(content, Command):
                self._commands[name] = (
                    _payload(compiler, content.request),
                    _payload(compiler, content.response),
                )

    def validate_properties(self, properties: Mapping[str, Any], *, base: str = "") -> list[InstanceIssue]:
        """Issues of a twin's property document (``$``-prefixed metadata keys are skipped)."""
        try:
            return self._validate_properties(properties, base)
        except RecursionError:
            return [_TOO_DEEP]

    def _validate_properties(self, properties: Mapping[str, Any], base: str) -> list[InstanceIssue]:
        issues: list[InstanceIssue] = []
        checks, steps = self._properties, self._steps
        for name, value in properties.items():
            check = checks.get(name)
            if check is not None:
                found = check(value, base + steps[name])
                if found:
                    issues.extend(found)
            elif name in self._components:
                issues.extend(self._component(name, value, f"{base}/{_escape(name)}"))
            elif not name.startswith("$"):
                issues.append(
                    InstanceIssue(
                        f"{base}/{_escape(name)}", "PROPERTY_UNKNOWN", f"{self.dtmi} has no property {name!r}"
                    )
                )
        return issues

    def check_properties(self, properties: Mapping[str, Any]) -> None:
        """Raise :class:`InstanceInvalid` listing every issue of a twin's property document."""
        issues = self.validate_properties(properties)
        if issues:
            raise InstanceInvalid(self.dtmi, issues)

    def _component(self, name: str, value: Any, path: str) -> list[InstanceIssue]:
        if not isinstance(value, dict):
            return [InstanceIssue(path, "VALUE_INVALID", f"component {name!r} must be an object")]
        target = self._models.get(self._components[name])
        if target is None:
            return []
        return validator_for(self._models, target.dtmi)._validate_properties(value, path)

    def validate_telemetry(self, message: Mapping[str, Any]) -> list[InstanceIssue]:
        """Issues of one telemetry message (a JSON object of telemetry names to values)."""
        try:
            return self._validate_telemetry(message)
        except RecursionError:
            return [_TOO_DEEP]

    def _validate_telemetry(self, message: Mapping[str, Any]) -> list[InstanceIssue]:
        issues: list[InstanceIssue] = []
        for name, value in message.items():
            check = self._telemetry.get(name)
            if check is None:
                issues.append(
                    InstanceIssue(
                        f"/{_escape(name)}", "TELEMETRY_UNKNOWN", f"{self.dtmi} has no telemetry {name!r}"
                    )
                )
            else:
                issues.extend(check(value, f"/{_escape(name)}"))
        return issues

    def validate_relationship(self, name: str, properties: Mapping[str, Any]) -> list[InstanceIssue]:
        """Issues of the properties of one relationship instance named ``name``."""
        checks = self._relationships.get(name)
        if checks is None:
            return [InstanceIssue("", "RELATIONSHIP_UNKNOWN", f"{self.dtmi} has no relationship {name!r}")]
        issues: list[InstanceIssue] = []
        for key, value in properties.items():
            check = checks.get(key)
            if check is not None:
                try:
                    issues.extend(check(value, f"/{_escape(key)}"))
                except RecursionError:
                    issues.append(_TOO_DEEP)
            elif not key.startswith("$"):
                issues.append(
                    InstanceIssue(
                        f"/{_escape(key)}",
                        "PROPERTY_UNKNOWN",
                        f"relationship {name!r} has no property {key!r}",
                    )
                )
        return issues

    def validate_command(self, name: str, payload: Any, *, response: bool = False) -> list[InstanceIssue]:
        """Issues of the request (or response) payload of command ``name``.

        A command without a request takes no payload (``None``); a ``nullable`` payload
        (DTDL v4 §CommandRequest) may be ``None``.
        """
        found = self._commands.get(name)
        if found is None:
            return [InstanceIssue("", "COMMAND_UNKNOWN", f"{self.dtmi} has no command {name!r}")]
        check = found[1] if response else found[0]
        if check is None:
            if payload is None:
                return []
            return [InstanceIssue("", "VALUE_INVALID", f"command {name!r} takes no payload here")]
        try:
            return list(check(payload, ""))
        except RecursionError:
            return [_TOO_DEEP]

    def is_writable(self, name: str) -> bool:
        """Whether clients may set property ``name`` (DTDL §Property ``writable``)."""
        return name in self._writable


def _payload(compiler: _Compiler, payload: CommandPayload | None) -> Check | None:
    if payload is None:
        return None
    check = compiler.compile(payload.schema)
    if not payload.nullable:
        return check
    return lambda v, p: _OK if v is None else check(v, p)


_CACHE_KEY = "_twin_validators"


def validator_for(models: ModelSet, dtmi: str) -> TwinValidator:
    """The compiled validator of Interface ``dtmi`` of ``models``, built on first use and cached."""
    cache: dict[str, TwinValidator] = models.cache.setdefault(_CACHE_KEY, {})
    found = cache.get(dtmi)
    if found is None:
        found = cache[dtmi] = TwinValidator(models[dtmi], models)
    return found

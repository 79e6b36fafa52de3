"""What an FMU is, read from its archive, and the checks an upload must pass.

An FMU (FMI 2.0 or 3.0, fmi-standard.org) is a zip archive: ``modelDescription.xml``
(the variables, their causality, type, unit and start value), a shared library per
platform under ``binaries/`` and, optionally, the C sources under ``sources/``.
:func:`inspect_fmu` refuses, before anything is stored, an archive kgtwin could not run:
too large, not a zip, unsafe member names, no or an invalid ``modelDescription.xml``, an
FMI version other than 2.0 or 3.0, no co-simulation interface (model exchange needs an
integrator kgtwin does not drive), or no binary for this platform and no sources that
fmpy can compile here. Each refusal is one ``ValidationFailed`` naming the problem.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import fmpy
from fmpy.model_description import ModelDescription, ModelVariable

from ontology.errors import ValidationFailed

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
UNZIPPED_FACTOR = 8
"""An archive may unpack to at most this many times its size bound (a zip bomb is refused)."""

Kind = Literal["real", "integer", "boolean", "string", "other"]
_KINDS: Mapping[str, Kind] = {
    "Real": "real",
    "Float64": "real",
    "Float32": "real",
    "Integer": "integer",
    "Enumeration": "integer",
    **dict.fromkeys(("Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64"), "integer"),
    "Boolean": "boolean",
    "String": "string",
}


@dataclass(frozen=True)
class FmuVariable:
    """One variable of the FMU as a binding sees it.

    ``kind`` is what a value must be to be set (``real`` for FMI 2 ``Real`` and FMI 3
    ``Float64``/``Float32``; ``integer`` for the integer types and enumerations);
    ``start`` is the declared start value, converted to that kind, or ``None``.
    """

    name: str
    value_reference: int
    type: str
    kind: Kind
    causality: str
    variability: str
    unit: str | None = None
    start: float | int | bool | str | None = None
    description: str | None = None

    @property
    def settable(self) -> bool:
        """Whether a binding may give it a value: an input, or a parameter that is not fixed by the FMU."""
        return self.causality == "input" or (
            self.causality == "parameter" and self.variability in ("fixed", "tunable")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "valueReference": self.value_reference,
            "type": self.type,
            "kind": self.kind,
            "causality": self.causality,
            "variability": self.variability,
            "unit": self.unit,
            "start": self.start,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FmuVariable:
        return cls(
            name=str(data["name"]),
            value_reference=int(data["valueReference"]),
            type=str(data["type"]),
            kind=data["kind"],
            causality=str(data["causality"]),
            variability=str(data["variability"]),
            unit=data.get("unit"),
            start=data.get("start"),
            description=data.get("description"),
        )


@dataclass(frozen=True)
class FmuDescription:
    """An FMU's identity and variables, as read from its ``modelDescription.xml``.

    ``platforms`` are those fmpy finds binaries for (``linux64``, ``win64`` ...) plus
    ``c-code`` when it carries sources; ``needs_build`` says the sources must be compiled
    here because there is no binary for this platform.
    """

    fmi_version: str
    model_name: str
    model_identifier: str
    guid: str
    generation_tool: str | None
    description: str | None
    platforms: tuple[str, ...]
    needs_build: bool
    variable_step: bool
    default_step: float | None
    variables: tuple[FmuVariable, ...]

    def variable(self, name: str) -> FmuVariable | None:
        return next((v for v in self.variables if v.name == name), None)

    @property
    def inputs(self) -> list[FmuVariable]:
        return [v for v in self.variables if v.causality == "input"]

    @property
    def outputs(self) -> list[FmuVariable]:
        return [v for v in self.variables if v.causality == "output"]

    @property
    def parameters(self) -> list[FmuVariable]:
        return [v for v in self.variables if v.causality == "parameter"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fmiVersion": self.fmi_version,
            "modelName": self.model_name,
            "modelIdentifier": self.model_identifier,
            "guid": self.guid,
            "generationTool": self.generation_tool,
            "description": self.description,
            "platforms": list(self.platforms),
            "needsBuild": self.needs_build,
            "variableStep": self.variable_step,
            "defaultStep": self.default_step,
            "variables": [v.to_dict() for v in self.variables],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FmuDescription:
        return cls(
            fmi_version=str(data["fmiVersion"]),
            model_name=str(data["modelName"]),
            model_identifier=str(data["modelIdentifier"]),
            guid=str(data["guid"]),
            generation_tool=data.get("generationTool"),
            description=data.get("description"),
            platforms=tuple(data.get("platforms") or ()),
            needs_build=bool(data.get("needsBuild")),
            variable_step=bool(data.get("variableStep")),
            default_step=data.get("defaultStep"),
            variables=tuple(FmuVariable.from_dict(v) for v in data.get("variables") or ()),
        )


def inspect_fmu(data: bytes, *, name: str = "the FMU", max_bytes: int = DEFAULT_MAX_BYTES) -> FmuDescription:
    """The description of the FMU in ``data``, after every check an upload must pass."""
    if len(data) > max_bytes:
        _refuse(name, f"is {len(data)} bytes; an FMU may have at most {max_bytes}", "too_large")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        _refuse(name, f"is not a readable zip archive ({exc})", "not_a_zip")
    unzipped = 0
    for member in members:
        path = member.filename
        if path.startswith("/") or "\\" in path or ":" in path or ".." in path.split("/"):
            _refuse(name, f"holds a member with an unsafe path: {path!r}", "unsafe_path")
        unzipped += member.file_size
    if unzipped > max_bytes * UNZIPPED_FACTOR:
        _refuse(name, f"unpacks to {unzipped} bytes; at most {max_bytes * UNZIPPED_FACTOR}", "too_large")
    if "modelDescription.xml" not in archive.namelist():
        _refuse(name, "has no modelDescription.xml at the top of the archive", "no_model_description")
    try:
        archive.testzip()
        found = fmpy.read_model_description(io.BytesIO(data), validate=True)
    except Exception as exc:  # fmpy and lxml raise plain Exceptions for every kind of bad XML
        _refuse(name, f"has an invalid modelDescription.xml: {exc}", "invalid_model_description")
    return _description(name, found, data)


def _description(name: str, found: ModelDescription, data: bytes) -> FmuDescription:
    version = str(found.fmiVersion)
    if version != "2.0" and not version.startswith("3."):
        _refuse(name, f"is FMI {version}; kgtwin runs FMI 2.0 and 3.0", "fmi_version")
    cosim = found.coSimulation
    if cosim is None:
        _refuse(
            name,
            "supports model exchange only; kgtwin runs co-simulation FMUs (export it for co-simulation)",
            "model_exchange_only",
        )
    platforms = tuple(fmpy.supported_platforms(io.BytesIO(data)))
    needs_build = fmpy.platform not in platforms
    if needs_build:
        if "c-code" not in platforms:
            shown = ", ".join(p for p in platforms) or "none"
            _refuse(
                name,
                f"has no binary for this platform ({fmpy.platform}) and no sources; it has: {shown}",
                "no_binary",
            )
        if shutil.which("cmake") is None or shutil.which("cc") is None:
            _refuse(
                name,
                f"has no binary for {fmpy.platform}, and its sources cannot be compiled here "
                "(fmpy needs cmake and a C compiler)",
                "no_binary",
            )
    experiment = found.defaultExperiment
    step = _float(experiment.stepSize) if experiment is not None else None
    return FmuDescription(
        fmi_version=version,
        model_name=str(found.modelName),
        model_identifier=str(cosim.modelIdentifier),
        guid=str(found.guid),
        generation_tool=found.generationTool,
        description=found.description,
        platforms=platforms,
        needs_build=needs_build,
        variable_step=bool(cosim.canHandleVariableCommunicationStepSize),
        default_step=step,
        variables=tuple(_variable(v) for v in found.modelVariables),
    )


def _variable(v: ModelVariable) -> FmuVariable:
    kind = _KINDS.get(str(v.type), "other")
    unit = v.unit
    if unit is None and v.declaredType is not None:
        unit = getattr(v.declaredType, "unit", None)
    return FmuVariable(
        name=str(v.name),
        value_reference=int(v.valueReference),
        type=str(v.type),
        kind=kind,
        causality=str(v.causality or "local"),
        variability=str(v.variability or "continuous"),
        unit=unit,
        start=_start(kind, v.start),
        description=v.description,
    )


def _start(kind: Kind, text: str | None) -> float | int | bool | str | None:
    if text is None:
        return None
    try:
        if kind == "real":
            return float(text)
        if kind == "integer":
            return int(text)
        if kind == "boolean":
            return text.strip().lower() in ("true", "1")
    except ValueError:
        return None
    return str(text)


def _float(value: object) -> float | None:
    try:
        return None if value is None else float(str(value))
    except ValueError:
        return None


def _refuse(name: str, problem: str, reason: str) -> NoReturn:
    raise ValidationFailed(f"{name} {problem}", details={"fmu": name, "reason": reason})

"""Bindings: where each FMU input and parameter of a twin gets its value.

A binding maps one FMU variable to one source:

- ``{"property": "thermalCapacitance"}``: a property of the twin, by name or by JSON
  Pointer (``"/location/lat"``);
- ``{"latest": "temperature"}``: the twin's latest value of a telemetry (a batch run reads it
  as of the window's start; a live shadow at every step);
- ``{"series": "outdoorTemperature", "interpolation": "hold" | "linear"}``: the telemetry
  over the simulated window, resampled to the step: ``hold`` takes the last point at or
  before each step's start, ``linear`` interpolates between the points around it; either
  way the value is held over the step (FMI co-simulation sets inputs at communication
  points);
- ``{"constant": 21.5}``, or ``{"distribution": {"kind": "normal", "mean": 2e6, "std": 1e5}}``:
  a value drawn per twin and replication (replications then give 95% intervals);
- ``{"output": "flow", "along": "feeds", "direction": "in"}``: the output of the FMU of the
  twins related by ``feeds`` (``in``: the twins whose ``feeds`` point at this one; ``out``:
  the twins this one ``feeds``), summed when several (``combine``: sum, mean, min, max).

``property``, ``latest`` and ``series`` read another twin's with ``"twin": "<id>"``, and
multiply a number by ``scale`` (units: a capacitance in kJ/K into an FMU's J/K is 1000).
Time-varying sources (``series``, ``output``) feed inputs only: a parameter takes one
value at initialisation. :func:`check_bindings` checks bindings against the FMU's
variables (names, causality, types); :func:`check_interface` against the twin's model
(properties and telemetries it declares); both before any work starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ontology.errors import ValidationFailed
from ontology.model import Interface, Property, Telemetry
from simulation.fmu.archive import FmuDescription, FmuVariable

_STRICT = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")


class PropertySource(BaseModel):
    model_config = _STRICT
    property: str = Field(min_length=1)
    twin: str | None = None
    scale: float = 1.0
    """A factor for a number (units: a capacitance in kJ/K into an FMU's J/K is 1000)."""


class LatestSource(BaseModel):
    model_config = _STRICT
    latest: str = Field(min_length=1)
    twin: str | None = None
    scale: float = 1.0


class SeriesSource(BaseModel):
    model_config = _STRICT
    series: str = Field(min_length=1)
    twin: str | None = None
    interpolation: Literal["hold", "linear"] = "hold"
    scale: float = 1.0


class ConstantSource(BaseModel):
    model_config = _STRICT
    constant: float | int | bool | str


class Distribution(BaseModel):
    """A random value per twin and replication; ``normal`` and ``lognormal`` use mean and std."""

    model_config = _STRICT
    kind: Literal["normal", "lognormal", "uniform", "triangular"]
    mean: float = 0.0
    std: float = Field(default=0.0, ge=0)
    low: float | None = None
    high: float | None = None
    mode: float | None = None

    @model_validator(mode="after")
    def _shape(self) -> Distribution:
        if self.kind in ("uniform", "triangular") and (self.low is None or self.high is None):
            raise ValueError(f"a {self.kind} distribution needs low and high")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError("low must not be above high")
        if self.kind == "triangular" and self.mode is None:
            raise ValueError("a triangular distribution needs mode")
        if self.kind == "lognormal" and self.mean <= 0:
            raise ValueError("a lognormal distribution needs a positive mean")
        return self


class DistributionSource(BaseModel):
    model_config = _STRICT
    distribution: Distribution


class OutputSource(BaseModel):
    model_config = _STRICT
    output: str = Field(min_length=1)
    along: str = Field(min_length=1)
    direction: Literal["in", "out"] = "in"
    combine: Literal["sum", "mean", "min", "max"] = "sum"
    default: float | None = None
    """The value when no related twin has the output (without it, that is an error)."""


Source = PropertySource | LatestSource | SeriesSource | ConstantSource | DistributionSource | OutputSource
_BY_KEY: dict[str, type[BaseModel]] = {
    "property": PropertySource,
    "latest": LatestSource,
    "series": SeriesSource,
    "constant": ConstantSource,
    "distribution": DistributionSource,
    "output": OutputSource,
}
TIME_VARYING = (SeriesSource, OutputSource)


def parse_source(value: Any, pointer: str) -> Source:
    """One binding's source; ``ValidationFailed`` naming ``pointer`` and what is wrong."""
    keys = [k for k in _BY_KEY if isinstance(value, Mapping) and k in value]
    if len(keys) != 1:
        raise ValidationFailed(
            f"binding {pointer}: give exactly one source of {', '.join(_BY_KEY)}",
            details={"pointer": pointer},
        )
    try:
        found: Source = _BY_KEY[keys[0]].model_validate(value)  # type: ignore[assignment]
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = pointer + "".join(f"/{p}" for p in first["loc"])
        raise ValidationFailed(f"binding {where}: {first['msg']}", details={"pointer": where}) from None
    return found


def parse_bindings(value: Any, pointer: str) -> dict[str, Source]:
    """A bindings object ``{variable: source}``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationFailed(
            f"{pointer} must be an object of variable: source", details={"pointer": pointer}
        )
    return {str(k): parse_source(v, f"{pointer}/{_escape(str(k))}") for k, v in value.items()}


def check_bindings(description: FmuDescription, bindings: Mapping[str, Source], pointer: str) -> None:
    """Every bound variable exists, may be set, and can take the source's kind of value."""
    for name, source in bindings.items():
        where = f"{pointer}/{_escape(name)}"
        variable = description.variable(name)
        if variable is None:
            settable = ", ".join(v.name for v in description.variables if v.settable) or "none"
            _fail(where, f"the FMU {description.model_name} has no variable {name!r}; it can set: {settable}")
        if not variable.settable:
            _fail(
                where,
                f"{name!r} is a {variable.variability} {variable.causality} of the FMU; "
                "only inputs and tunable or fixed parameters can be bound",
            )
        if isinstance(source, TIME_VARYING) and variable.causality != "input":
            _fail(
                where,
                f"{name!r} is a parameter: it takes one value at initialisation, so it cannot follow a "
                f"{'series' if isinstance(source, SeriesSource) else 'coupled output'}",
            )
        if isinstance(source, ConstantSource):
            _check_value(variable, source.constant, where)
        elif isinstance(source, DistributionSource | SeriesSource | OutputSource) and variable.kind != "real":
            _fail(where, f"{name!r} is {variable.type}; only a real variable takes a {_kind(source)}")
        elif isinstance(source, LatestSource) and variable.kind not in ("real", "integer", "boolean"):
            _fail(where, f"{name!r} is {variable.type}; a latest value binds to numbers and booleans")


def check_outputs(description: FmuDescription, outputs: Sequence[str], pointer: str) -> None:
    """The outputs to record exist and are real outputs."""
    for n, name in enumerate(outputs):
        variable = description.variable(name)
        if variable is None or variable.causality != "output":
            known = ", ".join(v.name for v in description.outputs) or "none"
            _fail(
                f"{pointer}/{n}",
                f"the FMU {description.model_name} has no output {name!r}; its outputs: {known}",
            )
        if variable.kind != "real":
            _fail(f"{pointer}/{n}", f"output {name!r} is {variable.type}; kgtwin records real outputs")


def check_interface(interface: Interface, bindings: Mapping[str, Source], pointer: str) -> None:
    """Properties and telemetries the bindings name are declared by the twins' model."""
    for name, source in bindings.items():
        where = f"{pointer}/{_escape(name)}"
        if getattr(source, "twin", None) is not None:
            continue  # another twin's: checked on that twin when the run starts
        if isinstance(source, PropertySource):
            head = source.property.lstrip("/").split("/", 1)[0].replace("~1", "/").replace("~0", "~")
            content = interface.contents.get(head)
            if not isinstance(content, Property):
                _fail(where, f"{interface.dtmi} declares no property {head!r}")
        elif isinstance(source, LatestSource | SeriesSource):
            field = source.latest if isinstance(source, LatestSource) else source.series
            if not isinstance(interface.contents.get(field), Telemetry):
                _fail(where, f"{interface.dtmi} declares no telemetry {field!r}")


def check_value(variable: FmuVariable, value: Any, where: str) -> Any:
    """``value`` converted to what ``variable`` takes; ``ValidationFailed`` for the wrong type."""
    return _check_value(variable, value, where)


def _check_value(variable: FmuVariable, value: Any, where: str) -> Any:
    kind = variable.kind
    if kind == "real" and isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value):
            return float(value)
    elif kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    elif (kind == "boolean" and isinstance(value, bool)) or (kind == "string" and isinstance(value, str)):
        return value
    raise ValidationFailed(
        f"binding {where}: {variable.name!r} is {variable.type} and cannot take {value!r}",
        details={"pointer": where},
    )


def _kind(source: Source) -> str:
    return {DistributionSource: "distribution", SeriesSource: "series", OutputSource: "coupled output"}.get(
        type(source), "value"
    )


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _fail(pointer: str, message: str) -> NoReturn:
    raise ValidationFailed(f"binding {pointer}: {message}", details={"pointer": pointer})


def scaled(value: Any, source: Source) -> Any:
    """``value`` times the source's ``scale`` when it is a number (booleans and text unchanged)."""
    factor = getattr(source, "scale", 1.0)
    if factor != 1.0 and isinstance(value, int | float) and not isinstance(value, bool):
        return value * factor
    return value

"""What a live shadow is asked to do, checked before it is stored.

``startShadow(twin, fmu, bindings, outputs, step)``: an instance of ``fmu`` follows
``twin`` in real time. ``bindings`` give inputs and parameters their values as a batch
run's do, except that a shadow lives in the present: ``latest`` gives an input the twin's
newest value at every step (a parameter: its value when the shadow starts), and
``series``, ``distribution`` and coupled ``output`` sources are for batch runs only.
``outputs`` maps FMU outputs to the twin's telemetry they predict:
``{"T": {"telemetry": "temperature", "band": 0.5}}`` writes ``temperature.predicted`` and
``temperature.residual`` (measured minus predicted) and raises a ``shadow.drift`` event
when the residual leaves ``[-0.5, 0.5]`` (``band`` may also be ``[low, high]``).
``historyS`` is how much recent telemetry a shadow replays when a worker (re)starts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ontology.errors import ValidationFailed
from ontology.model import ModelSet, Telemetry
from simulation.fmu.archive import FmuDescription
from simulation.fmu.bindings import (
    DistributionSource,
    LatestSource,
    OutputSource,
    SeriesSource,
    Source,
    check_bindings,
    check_interface,
    parse_bindings,
)

MIN_STEP_S = 0.05
SUFFIXES = (".predicted", ".residual")
"""What a shadow writes beside a telemetry ``temperature``: ``temperature.predicted`` and ``.residual``."""


def measured_name(name: str) -> str:
    """The telemetry a shadow's series is derived from (``temperature`` of ``temperature.residual``)."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


class ShadowOutput(BaseModel):
    """One predicted output: the telemetry it is compared with, and the band of the residual."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    telemetry: str | None = Field(default=None, min_length=1)
    """The measured telemetry (default: the output's name)."""
    band: float | tuple[float, float] | None = None

    @model_validator(mode="after")
    def _band(self) -> ShadowOutput:
        band = self.band
        if isinstance(band, tuple) and band[0] > band[1]:
            raise ValueError("band [low, high] needs low <= high")
        if isinstance(band, float | int) and band < 0:
            raise ValueError("band must be >= 0")
        return self

    @property
    def limits(self) -> tuple[float, float] | None:
        if self.band is None:
            return None
        if isinstance(self.band, tuple):
            return self.band
        return (-float(self.band), float(self.band))


class ShadowSpec(BaseModel):
    """A shadow's settings as stored on its node (see the module docstring)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    bindings: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, ShadowOutput] = Field(min_length=1)
    step: float = Field(ge=MIN_STEP_S, le=3600)
    history_s: float = Field(default=60.0, ge=0, le=7 * 86400, alias="historyS")

    def sources(self) -> dict[str, Source]:
        return parse_bindings(self.bindings, "/bindings")

    def telemetry_of(self, output: str) -> str:
        return self.outputs[output].telemetry or output


def spec_of(data: Mapping[str, Any]) -> ShadowSpec:
    """``data`` checked as a shadow's settings; ``ValidationFailed`` naming the first problem."""
    try:
        spec = ShadowSpec.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        pointer = "/" + "/".join(str(p) for p in first["loc"])
        raise ValidationFailed(f"shadow {pointer}: {first['msg']}", details={"pointer": pointer}) from None
    for name, source in spec.sources().items():
        if isinstance(source, LatestSource) and source.twin is not None:
            raise ValidationFailed(
                f"shadow /bindings/{name}: a shadow reads its own twin's telemetry; drop 'twin'",
                details={"pointer": f"/bindings/{name}/twin"},
            )
        if isinstance(source, SeriesSource | DistributionSource | OutputSource):
            kind = type(source).__name__.removesuffix("Source").lower()
            raise ValidationFailed(
                f"shadow /bindings/{name}: a {kind} source is for batch runs; a shadow takes property, "
                "latest and constant sources",
                details={"pointer": f"/bindings/{name}"},
            )
    return spec


def check_shadow(
    spec: ShadowSpec, description: FmuDescription, interface: str, twin_model: str, models: ModelSet
) -> None:
    """The FMU serves the twin's model, and bindings and outputs fit the FMU and the model."""
    if twin_model != interface and not (twin_model in models and models.is_a(twin_model, interface)):
        raise ValidationFailed(
            f"the FMU serves {interface}, and the twin is a {twin_model}",
            details={"pointer": "/twin", "interface": interface, "model": twin_model},
        )
    sources = spec.sources()
    check_bindings(description, sources, "/bindings")
    declared = models.get(twin_model)
    if declared is not None:
        check_interface(declared, sources, "/bindings")
    for name in spec.outputs:
        variable = description.variable(name)
        if variable is None or variable.causality != "output" or variable.kind != "real":
            known = ", ".join(v.name for v in description.outputs if v.kind == "real") or "none"
            raise ValidationFailed(
                f"shadow /outputs/{name}: the FMU {description.model_name} has no real output {name!r}; "
                f"its outputs: {known}",
                details={"pointer": f"/outputs/{name}"},
            )
        telemetry = spec.telemetry_of(name)
        if declared is not None and not isinstance(declared.contents.get(telemetry), Telemetry):
            raise ValidationFailed(
                f"shadow /outputs/{name}: {twin_model} declares no telemetry {telemetry!r} to compare with",
                details={"pointer": f"/outputs/{name}/telemetry"},
            )

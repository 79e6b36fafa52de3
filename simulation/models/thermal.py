"""``thermal``: room temperatures under HVAC, comfort-band violations and energy per AHU.

Each Room is one lumped RC node: ``C dT/dt = UA (T_out - T) + Q_people + Q_hvac`` with
``C`` = ``thermalCapacitance`` (kJ/K) and ``UA`` = ``envelopeConductance`` (W/K). Over a
step of ``stepS`` seconds the inputs are held constant and the equation is solved
exactly (an exponential approach to the equilibrium), for all rooms at once in numpy.

HVAC is an ideal thermostat within capacity: a room is heated just enough to end the
step at its ``heatingSetpoint``, or cooled to its ``coolingSetpoint``, and floats in
between. A Room is served by an AirHandlingUnit directly (AHU ``serves`` Room) or
through a VAV (AHU ``feeds`` VAV ``serves`` Room); the rooms of one AHU share its
``heatingCapacity`` / ``coolingCapacity`` (kW) in proportion to their demand. An AHU or
VAV with ``mtbf``/``mttr`` fails and is repaired at random (SimPy processes); while it
is down its rooms float. A room nothing serves always floats.

Inputs: the outdoor temperature (the ``outdoorTemperature`` profile, e.g. from an AHU's
``outsideAirTemperature`` history, else a daily sine around ``outdoorMean``) plus hourly
noise, and occupancy (the room's ``occupancyProfiles`` entry, else a share of
``maxOccupancy`` drawn hourly in occupied hours), each person giving ``gainPerPersonW``.
A comfort violation is an occupied hour outside the setpoints widened by
``comfortToleranceK``; energy is the thermal energy the AHUs deliver.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import networkx as nx
import numpy as np
import simpy
from pydantic import BaseModel, ConfigDict, Field
from simpy.events import Event

from simulation.models._base import Problems, Replication, events_processed, model_of, number, relationship
from simulation.models._base import twin_stream as stream

ROOM = "dtmi:kgtwin:space:Room;1"
AHU = "dtmi:kgtwin:hvac:AirHandlingUnit;1"
VAV = "dtmi:kgtwin:hvac:VAV;1"
_HOUR = 3600.0
Profile = list[tuple[float, float]]


class ThermalParameters(BaseModel):
    """Run parameters of the thermal model; rooms and AHUs carry their own properties."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    horizon_s: float = Field(default=7 * 86400.0, gt=0, alias="horizonS")
    step_s: float = Field(default=300.0, gt=0, le=3600, alias="stepS")
    outdoor_temperature: Profile | None = Field(default=None, alias="outdoorTemperature")
    outdoor_mean: float = Field(default=5.0, alias="outdoorMean")
    outdoor_amplitude: float = Field(default=5.0, ge=0, alias="outdoorAmplitude")
    outdoor_noise: float = Field(default=1.0, ge=0, alias="outdoorNoise")
    occupancy_profiles: dict[str, Profile] = Field(default_factory=dict, alias="occupancyProfiles")
    occupied_hours: tuple[float, float] = Field(default=(8.0, 18.0), alias="occupiedHours")
    occupied_days: tuple[int, ...] = Field(default=(0, 1, 2, 3, 4), alias="occupiedDays")
    occupancy_share: float = Field(default=0.7, ge=0, le=1, alias="occupancyShare")
    gain_per_person_w: float = Field(default=100.0, ge=0, alias="gainPerPersonW")
    comfort_tolerance_k: float = Field(default=0.5, ge=0, alias="comfortToleranceK")
    initial_temperature: float = Field(default=20.0, alias="initialTemperature")
    samples: int = Field(default=100, ge=0, le=10_000)


@dataclass(frozen=True)
class ThermalPlan:
    """Rooms as arrays, which AHU (index) and which equipment serve each, and the inputs."""

    rooms: tuple[str, ...]
    ahus: tuple[str, ...]
    capacitance: tuple[float, ...]  # J/K
    conductance: tuple[float, ...]  # W/K
    heating: tuple[float, ...]
    cooling: tuple[float, ...]
    people: tuple[float, ...]
    ahu_of: tuple[int, ...]  # -1: unconditioned
    path: tuple[tuple[str, ...], ...]  # failing equipment between a room and its AHU, the AHU included
    heat_kw: tuple[float, ...]
    cool_kw: tuple[float, ...]
    failing: tuple[tuple[str, float, float], ...]  # (twin, mtbf s, mttr s)
    parameters: ThermalParameters


class ThermalModel:
    """The ``thermal`` model (see the module docstring)."""

    name: ClassVar[str] = "thermal"
    parameters: ClassVar[type[BaseModel]] = ThermalParameters
    headline: ClassVar[tuple[str, str]] = ("energyKWh", "HVAC energy")

    def prepare(self, graph: nx.MultiDiGraph, parameters: BaseModel) -> ThermalPlan:
        """The plan; ``ValidationFailed`` naming rooms or AHUs with missing or bad properties."""
        assert isinstance(parameters, ThermalParameters)
        problems = Problems("thermal")
        rooms = tuple(sorted(t for t, a in graph.nodes(data=True) if model_of(a) == ROOM))
        if not rooms:
            problems.add("the subgraph has no Room", twins=sorted(graph)[:20])
            problems.raise_if_any()
        outside = sorted(set(parameters.occupancy_profiles) - set(rooms))
        if outside:
            problems.add("occupancyProfiles names twins that are not Rooms of the subgraph", twins=outside)
        servers = _servers(graph, rooms)
        ahus = tuple(sorted({a for a, _ in servers.values() if a is not None}))
        columns: dict[str, list[float]] = {k: [] for k in ("c", "ua", "heat", "cool", "people")}
        for room in rooms:
            a = graph.nodes[room]
            columns["c"].append(number(problems, room, a, "thermalCapacitance", strict=True) * 1000.0)
            columns["ua"].append(number(problems, room, a, "envelopeConductance", strict=True))
            heat = number(problems, room, a, "heatingSetpoint", minimum=-math.inf)
            cool = number(problems, room, a, "coolingSetpoint", minimum=-math.inf)
            if heat > cool:
                problems.add(f"Room {room!r}: heatingSetpoint is above coolingSetpoint", twins=[room])
            columns["heat"].append(heat)
            columns["cool"].append(cool)
            columns["people"].append(number(problems, room, a, "maxOccupancy", default=0.0))
        heat_kw = [number(problems, h, graph.nodes[h], "heatingCapacity") for h in ahus]
        cool_kw = [number(problems, h, graph.nodes[h], "coolingCapacity") for h in ahus]
        equipment = sorted({t for _, path in servers.values() for t in path})
        failing = []
        for twin in equipment:
            a = graph.nodes[twin]
            if a.get("mtbf") is not None or a.get("mttr") is not None:
                mtbf = number(problems, twin, a, "mtbf", strict=True) * _HOUR
                failing.append((twin, mtbf, number(problems, twin, a, "mttr", strict=True) * _HOUR))
        problems.raise_if_any()
        index = {a: i for i, a in enumerate(ahus)}
        return ThermalPlan(
            rooms=rooms,
            ahus=ahus,
            capacitance=tuple(columns["c"]),
            conductance=tuple(columns["ua"]),
            heating=tuple(columns["heat"]),
            cooling=tuple(columns["cool"]),
            people=tuple(columns["people"]),
            ahu_of=tuple(index[servers[r][0]] if servers[r][0] is not None else -1 for r in rooms),  # type: ignore[index]
            path=tuple(servers[r][1] for r in rooms),
            heat_kw=tuple(heat_kw),
            cool_kw=tuple(cool_kw),
            failing=tuple(failing),
            parameters=parameters,
        )

    def twins(self, plan: ThermalPlan) -> list[str]:
        """The rooms and the HVAC equipment serving them."""
        return sorted({*plan.rooms, *plan.ahus, *(t for p in plan.path for t in p)})

    def replicate(self, plan: ThermalPlan, seed: np.random.SeedSequence) -> Replication:
        """Step the rooms through the horizon; equipment fails and is repaired meanwhile."""
        env = simpy.Environment()
        down: set[str] = set()
        for twin, mtbf, mttr in plan.failing:
            env.process(_life(env, down, twin, mtbf, mttr, stream(seed, twin)))
        state = _Rooms(plan, seed)
        env.process(state.run(env, down))
        env.run(until=plan.parameters.horizon_s + plan.parameters.step_s / 2)
        return state.outcome(plan, events_processed(env))

    def summarise(self, plan: ThermalPlan, replications: Sequence[Replication]) -> dict[str, Any]:
        """Which rooms are unconditioned (served by no AHU)."""
        return {"unconditioned": [r for r, a in zip(plan.rooms, plan.ahu_of, strict=True) if a < 0]}


def _servers(graph: nx.MultiDiGraph, rooms: Iterable[str]) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """Each room's AHU and the equipment on the way (VAV, AHU); the first by id when several."""
    found: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    for room in rooms:
        found[room] = (None, ())
        for s, _, a in sorted(graph.in_edges(room, data=True), key=lambda e: e[0]):
            if relationship(a) != "serves":
                continue
            kind = model_of(graph.nodes[s])
            if kind == AHU:
                found[room] = (s, (s,))
                break
            if kind == VAV:
                ahus = sorted(
                    u
                    for u, _, b in graph.in_edges(s, data=True)
                    if relationship(b) == "feeds" and model_of(graph.nodes[u]) == AHU
                )
                if ahus:
                    found[room] = (ahus[0], (s, ahus[0]))
                    break
    return found


class _Rooms:
    """The temperatures of all rooms in one replication, stepped in numpy."""

    def __init__(self, plan: ThermalPlan, seed: np.random.SeedSequence) -> None:
        p = plan.parameters
        n, m = len(plan.rooms), len(plan.ahus)
        self.plan = plan
        self.rng = stream(seed, "$weather")
        self.occupancy_rng = stream(seed, "$occupancy")
        self.temperature = np.full(n, p.initial_temperature)
        self.c = np.array(plan.capacitance)
        self.ua = np.array(plan.conductance)
        self.heat_sp, self.cool_sp = np.array(plan.heating), np.array(plan.cooling)
        self.ahu = np.array(plan.ahu_of, dtype=int)
        self.heat_w, self.cool_w = np.array(plan.heat_kw) * 1000, np.array(plan.cool_kw) * 1000
        self.heat_j, self.cool_j = np.zeros(m), np.zeros(m)
        self.violation_h, self.degree_h, self.temp_sum = np.zeros(n), np.zeros(n), np.zeros(n)
        self.steps = 0
        self.times: list[float] = []
        self.samples: list[list[float]] = [[] for _ in range(n)]

    def run(self, env: simpy.Environment, down: set[str]) -> Generator[Event, Any, None]:
        """One step every ``stepS`` until the horizon; an hourly draw of noise and occupancy."""
        p = self.plan.parameters
        dt = p.step_s
        steps = math.ceil(p.horizon_s / dt)
        every = max(1, steps // p.samples) if p.samples else 0
        noise, people = 0.0, self._people(0.0)
        for k in range(steps):
            t = k * dt
            if k == 0 or math.floor(t / _HOUR) != math.floor((t - dt) / _HOUR):
                noise = 0.7 * noise + p.outdoor_noise * math.sqrt(1 - 0.49) * float(
                    self.rng.standard_normal()
                )
                people = self._people(t)
            self._step(t, dt, _outdoor(p, t) + noise, people, down)
            if every and (k + 1) % every == 0:
                self.times.append(t + dt)
                for i, value in enumerate(self.temperature.tolist()):
                    self.samples[i].append(value)
            yield env.timeout(dt)

    def _people(self, t: float) -> np.ndarray:
        p = self.plan.parameters
        hour = (t / _HOUR) % 24
        day = int(t // 86400) % 7
        occupied = p.occupied_hours[0] <= hour < p.occupied_hours[1] and day in p.occupied_days
        counts = np.array(self.plan.people)
        drawn = self.occupancy_rng.binomial(counts.astype(int), p.occupancy_share) if occupied else counts * 0
        for i, room in enumerate(self.plan.rooms):
            profile = p.occupancy_profiles.get(room)
            if profile:
                drawn[i] = _at(profile, t)
        return drawn.astype(float)

    def _step(self, t: float, dt: float, outdoor: float, people: np.ndarray, down: set[str]) -> None:
        p = self.plan.parameters
        gains = people * p.gain_per_person_w
        decay = np.exp(-self.ua * dt / self.c)
        equilibrium = outdoor + gains / self.ua
        floating = equilibrium + (self.temperature - equilibrium) * decay
        working = self.ahu >= 0
        if down:
            working = working & np.array([not down.intersection(path) for path in self.plan.path])

        # Power that ends the step exactly at the setpoint: T_end = T_eq(Q) + (T - T_eq(Q)) * decay.
        def needed(target: np.ndarray) -> np.ndarray:
            q: np.ndarray = self.ua * ((target - self.temperature * decay) / (1 - decay) - outdoor) - gains
            return q

        heat = np.where(working & (floating < self.heat_sp), np.maximum(needed(self.heat_sp), 0), 0.0)
        cool = np.where(working & (floating > self.cool_sp), np.maximum(-needed(self.cool_sp), 0), 0.0)
        heat = self._share(heat, self.heat_w)
        cool = self._share(cool, self.cool_w)
        q = heat - cool
        equilibrium = outdoor + (gains + q) / self.ua
        self.temperature = equilibrium + (self.temperature - equilibrium) * decay
        served = self.ahu >= 0
        m = len(self.plan.ahus)
        self.heat_j += np.bincount(self.ahu[served], heat[served] * dt, minlength=m)
        self.cool_j += np.bincount(self.ahu[served], cool[served] * dt, minlength=m)
        occupied = (people > 0) | self._occupied(t)
        if occupied.any():
            tol = p.comfort_tolerance_k
            miss = np.maximum(self.heat_sp - tol - self.temperature, 0)
            miss += np.maximum(self.temperature - self.cool_sp - tol, 0)
            self.violation_h += ((miss > 0) & occupied) * dt / _HOUR
            self.degree_h += miss * occupied * dt / _HOUR
        self.temp_sum += self.temperature
        self.steps += 1

    def _occupied(self, t: float) -> bool:
        p = self.plan.parameters
        hour = (t / _HOUR) % 24
        return p.occupied_hours[0] <= hour < p.occupied_hours[1] and int(t // 86400) % 7 in p.occupied_days

    def _share(self, demand: np.ndarray, capacity: np.ndarray) -> np.ndarray:
        """Demand of each room, scaled down where its AHU's total exceeds the AHU's capacity."""
        served = self.ahu >= 0
        total = np.bincount(self.ahu[served], demand[served], minlength=len(capacity))
        scale = np.where(total > capacity, capacity / np.maximum(total, 1e-12), 1.0)
        return np.where(served, demand * scale[np.maximum(self.ahu, 0)], 0.0)

    def outcome(self, plan: ThermalPlan, events: int) -> Replication:
        """Per-room comfort, per-AHU energy, and the totals."""
        kwh = 1 / 3.6e6
        twins: dict[str, dict[str, float]] = {}
        for i, room in enumerate(plan.rooms):
            twins[room] = {
                "meanTemperature": float(self.temp_sum[i] / max(self.steps, 1)),
                "discomfortHours": float(self.violation_h[i]),
                "discomfortDegreeHours": float(self.degree_h[i]),
            }
        for j, ahu in enumerate(plan.ahus):
            twins[ahu] = {
                "heatingKWh": float(self.heat_j[j] * kwh),
                "coolingKWh": float(self.cool_j[j] * kwh),
            }
        heating, cooling = float(self.heat_j.sum() * kwh), float(self.cool_j.sum() * kwh)
        return Replication(
            metrics={
                "energyKWh": heating + cooling,
                "heatingKWh": heating,
                "coolingKWh": cooling,
                "discomfortHours": float(self.violation_h.sum()),
                "discomfortDegreeHours": float(self.degree_h.sum()),
            },
            twin_metrics=twins,
            times=self.times,
            series={(room, "temperature"): self.samples[i] for i, room in enumerate(plan.rooms)},
            events=events,
        )


def _outdoor(p: ThermalParameters, t: float) -> float:
    if p.outdoor_temperature:
        return _at(p.outdoor_temperature, t)
    # Coldest at 04:00, warmest at 16:00.
    return p.outdoor_mean - p.outdoor_amplitude * math.cos(2 * math.pi * ((t / _HOUR - 4) % 24) / 24)


def _at(profile: Profile, t: float) -> float:
    """The profile's value at ``t``: linear between points, repeated with the profile's period."""
    times = [x for x, _ in profile]
    period = times[-1] + (times[-1] - times[-2] if len(times) > 1 else 1.0)
    return float(np.interp(t % period, times, [v for _, v in profile]))


def _life(
    env: simpy.Environment, down: set[str], twin: str, mtbf: float, mttr: float, rng: np.random.Generator
) -> Generator[Event, Any, None]:
    while True:
        yield env.timeout(rng.exponential(mtbf))
        down.add(twin)
        yield env.timeout(rng.exponential(mttr))
        down.discard(twin)


MODEL = ThermalModel()
__all__ = ["MODEL", "ThermalModel", "ThermalParameters", "ThermalPlan"]

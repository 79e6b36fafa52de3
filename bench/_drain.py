"""The backlog-drain measurement of ``bench/ingest.py``: its CPU accounting and its table.

A drain times ``kgtwin ingest`` alone: the backlog already waits at the broker, so no
load generator shares the cores while it is read. Where the cores went during the drain
is the other half of the answer, hence :class:`CpuAccount`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

# The columns of the CPU accounting, in the order printed; "rest" is every other process
# on the machine (other users' work included), "idle" what no process used.
CPU_COLUMNS = ("ingest", "falkordb", "mosquitto", "influxd", "harness", "rest", "idle")
# The processes a point passes through: points per CPU second of these together does not
# depend on what else runs, and times the cores it bounds points/s on a machine of one's
# own, however many ingest processes share the work.
SETUP_CPU = ("ingest", "falkordb", "mosquitto", "influxd")


class CpuAccount:
    """CPU seconds used by named groups of processes and by the whole machine, between samples.

    ``ingest`` is the ``kgtwin ingest`` processes, ``falkordb`` the redis-servers of their
    embedded FalkorDB (daemons, so not their children: found by their working folder, the
    graph's data folder), ``harness`` this script. Build it once the processes are up.
    """

    def __init__(self, ingest: list[int], servers: dict[str, int], graphs: list[Path]) -> None:
        self.ingest = [psutil.Process(pid) for pid in ingest]
        self.servers = {name: psutil.Process(pid) for name, pid in servers.items()}
        self.harness = psutil.Process()
        self.falkordb = [p for p in psutil.process_iter(["name"]) if _serves(p, graphs)]

    def sample(self) -> dict[str, float]:
        """Cumulative CPU seconds per group, per ingest process (``ingest-<n>``) and machine-wide."""
        machine = psutil.cpu_times()
        idle = machine.idle + getattr(machine, "iowait", 0.0)
        busy = sum(machine) - idle - getattr(machine, "guest", 0.0) - getattr(machine, "guest_nice", 0.0)
        per_ingest = [_cpu(p) for p in self.ingest]
        found = {
            "ingest": sum(per_ingest),
            "falkordb": sum(_cpu(p) for p in self.falkordb),
            **{name: _cpu(p) for name, p in self.servers.items()},
            "harness": _cpu(self.harness),
            "idle": idle,
        }
        found["rest"] = busy - sum(v for k, v in found.items() if k != "idle")
        found.update({f"ingest-{n}": v for n, v in enumerate(per_ingest)})
        return found


def _serves(process: psutil.Process, graphs: list[Path]) -> bool:
    try:
        return process.info["name"] == "redis-server" and Path(process.cwd()) in graphs
    except psutil.Error:
        return False


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


@dataclass
class DrainResult:
    """One drain: how long ``processes`` ingest processes took to store a queued backlog."""

    setup: str
    processes: int
    points: int
    messages: int
    startup_s: float  # from spawning the process(es) to the last one's session being up
    skew_s: float  # between the first and the last process's session coming up
    seconds: float  # from the first session up to everything durable
    points_s: float
    received: list[int]  # messages each process took from the broker (sentinels included)
    cpu_s: dict[str, float]  # CPU seconds per group over ``window_s``
    window_s: float
    stored_ok: bool
    at: str  # time of day (UTC) the drain ended
    load_1m: float  # the machine's one-minute load average then
    notes: list[str] = field(default_factory=list)


def report(results: list[DrainResult], points: int, started: datetime) -> None:
    """Print the drain table; the two-process speed-up is taken against the one-process row."""
    table = Table(
        title=f"Ingest backlog drain, {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, {points:,} points",
        caption="at: end of the drain (UTC); load: one-minute load average then. CPU seconds over the "
        "drain, and their share of all cores over it; rest: every other process on the machine; "
        "set-up CPU-s: ingest + falkordb + mosquitto + influxd",
    )
    columns = ["set-up", "at", "load", "procs", "points/s", "drain s", "start-up s", "messages each"]
    columns += [*CPU_COLUMNS, "ingest each", "points per ingest CPU-s", "points per set-up CPU-s"]
    columns += ["stored", "vs one process"]
    for column in columns:
        table.add_column(column, justify="right")
    one = {r.setup: r for r in results if r.processes == 1}
    cores = os.cpu_count() or 1
    for r in results:
        base = one.get(r.setup.removesuffix("2")) if r.processes > 1 else None
        cpu = [
            f"{r.cpu_s[c]:.1f} ({r.cpu_s[c] / (r.window_s * cores):.0%})" if c in r.cpu_s else "-"
            for c in CPU_COLUMNS
        ]
        table.add_row(
            r.setup,
            r.at,
            f"{r.load_1m:.2f}",
            str(r.processes),
            f"{r.points_s:,.0f}",
            f"{r.seconds:.2f}",
            f"{r.startup_s:.2f}" + (f" (skew {r.skew_s:.2f})" if r.processes > 1 else ""),
            " + ".join(f"{n:,}" for n in r.received),
            *cpu,
            " + ".join(f"{r.cpu_s[f'ingest-{n}']:.1f}" for n in range(r.processes)),
            f"{r.points / r.cpu_s['ingest']:,.0f}" if r.cpu_s.get("ingest") else "-",
            f"{r.points / sum(r.cpu_s.get(c, 0.0) for c in SETUP_CPU):,.0f}",
            "ok" if r.stored_ok else "NO",
            (f"{r.points_s / base.points_s:.2f}x (target 1.7x)" if base else "")
            + (" " + " ".join(r.notes) if r.notes else ""),
        )
    Console(width=260).print(table)

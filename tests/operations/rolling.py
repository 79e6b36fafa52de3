"""A rolling update of two ``kgtwin api`` processes behind a real load balancer, under steady load.

Shared by ``tests/operations/test_rolling_update.py`` (a CI-length run) and
``bench/rolling_update.py`` (the 60-second run, with its table). The balancer is Debian's
HAProxy, configured as an operator would put it in front of API replicas (the
configuration is :data:`HAPROXY_CONFIG`, and docs/deployment.md shows it): it checks each
process's ``/readyz`` every second, every 250 ms once a check has failed, takes a process
out of rotation after three failed checks in a row (a stopping process fails them all,
so it is out within about 1.5 s; one slow answer from a busy process does not take it
out) and back in after two good ones. Each process gets at most 16 requests at once;
more wait in HAProxy's queue, so a process that carries the whole load during a switch
is busy but not swamped, and answers its checks. A connection refused (a process between its stop
and its successor's start) is retried at once on the other process: a request that
never reached a process is safe to send again, even a mutation. Nothing else is retried.

The load is open loop: a request is due every ``1/rate`` seconds whatever the answers,
half GraphQL reads (one twin) and half writes (a JSON Patch of one of twenty twins), each
on its own connection to the balancer. A request fails when it gets no answer, a status
other than 200, or GraphQL errors.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.servers.process import free_port, port_answers

ROOM = "dtmi:kgtwin:space:Room;1"
READ = "query($id: ID!) { twin(id: $id) { id etag properties } }"
WRITE = "mutation($id: ID!, $p: JSON!) { updateTwin(id: $id, patch: $p) { id etag } }"
CREATE = "mutation($id: ID!, $m: String!) { createTwin(id: $id, model: $m, properties: {}) { id } }"
TWINS = [f"rolling-{i:02d}" for i in range(20)]

HAPROXY_CONFIG = """
global
    maxconn 4096
defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    # A check's answer may take this long (the probe answers from memory: a slow one is a busy process).
    timeout check 2s
    # A connection refused is tried again on another server, at once (redispatch on every retry).
    retries 2
    retry-on conn-failure
    option redispatch 1
frontend twin
    bind 127.0.0.1:{port}
    default_backend api
listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
backend api
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    # Every second; every 250 ms while a server goes down, every 500 ms while it is down.
    # At most 16 requests in a process at once (more add latency, not throughput: its thread
    # pool has 6 threads); the rest wait here, so a process carrying the whole load alone
    # keeps answering its checks. A request waits at most 30 s for a free slot.
    default-server inter 1s fastinter 250ms downinter 500ms fall 3 rise 2 maxconn 16
    timeout queue 30s
{servers}
"""


def haproxy_binary() -> str | None:
    """Debian's ``haproxy`` (the CI installs it), or None."""
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None
    )


class Haproxy:
    """HAProxy in the foreground, balancing ``backends`` (name -> port) on a port of its own."""

    def __init__(self, binary: str, workdir: Path, backends: dict[str, int]) -> None:
        self.port, self.stats_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        servers = "\n".join(f"    server {name} 127.0.0.1:{port} check" for name, port in backends.items())
        config = workdir / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=self.port, stats_port=self.stats_port, servers=servers))
        self.log = (workdir / "haproxy.log").open("wb")
        self.process = subprocess.Popen(
            [binary, "-db", "-f", str(config)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while not port_answers(self.port):
            assert self.process.poll() is None, (workdir / "haproxy.log").read_text()
            assert time.monotonic() < deadline, "haproxy did not listen"
            time.sleep(0.05)

    def _servers(self) -> list[list[str]]:
        csv = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5).text
        lines = [line.split(",") for line in csv.splitlines() if line and not line.startswith("#")]
        return [row for row in lines if row[0] == "api" and row[1] != "BACKEND"]

    def states(self) -> dict[str, str]:
        """Each backend server's state as HAProxy sees it (UP, DOWN, ...)."""
        return {row[1]: row[17].split(" ")[0] for row in self._servers()}

    def sessions(self) -> dict[str, int]:
        """Requests HAProxy has sent each backend server so far (one per connection here)."""
        return {row[1]: int(row[7] or 0) for row in self._servers()}

    def wait_state(self, name: str, state: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.states().get(name) != state:
            assert time.monotonic() < deadline, f"{name} not {state}: {self.states()}"
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()


@dataclass
class Outcome:
    """One request of the load: when it was due, how long it took, and what went wrong if anything."""

    due: float
    seconds: float
    kind: str
    error: str | None = None


@dataclass
class Load:
    """Open-loop GraphQL reads and writes through ``url`` at ``rate`` per second for ``seconds``."""

    url: str
    rate: float
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list)
    began: float = 0.0
    end: float = 0.0
    """When the load stops (monotonic): ``seconds`` after it began, or later if extended."""

    def run(self) -> None:
        asyncio.run(self._drive())

    async def _drive(self) -> None:
        limits = httpx.Limits(max_keepalive_connections=0, max_connections=1000)
        async with httpx.AsyncClient(base_url=self.url, limits=limits, timeout=60) as client:
            self.end = time.monotonic() + self.seconds
            self.began = time.monotonic()
            tasks = []
            n = 0
            while (due := self.began + n / self.rate) < self.end:
                # Always yield: a generator that fell behind must still let its requests run.
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                tasks.append(asyncio.create_task(self._one(client, n, due)))
                n += 1
            await asyncio.gather(*tasks)

    async def _one(self, client: httpx.AsyncClient, n: int, due: float) -> None:
        twin = TWINS[n % len(TWINS)]
        if n % 2:
            kind, body = "write", {"query": WRITE, "variables": {"id": twin, "p": _patch(n)}}
        else:
            kind, body = "read", {"query": READ, "variables": {"id": twin}}
        error = None
        try:
            response = await client.post("/graphql", json=body)
            if response.status_code != 200:
                error = f"HTTP {response.status_code}: {response.text[:200]}"
            elif response.json().get("errors"):
                error = f"GraphQL errors: {response.json()['errors']}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        self.outcomes.append(Outcome(due - self.began, time.monotonic() - due, kind, error))


def _patch(n: int) -> list[dict[str, Any]]:
    return [{"op": "add", "path": "/name", "value": f"write {n}"}]


def seed(url: str) -> None:
    """The twins the load reads and writes (kept when a previous run left them)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for twin in TWINS:
            answer = client.post("/graphql", json={"query": CREATE, "variables": {"id": twin, "m": ROOM}})
            errors = answer.json().get("errors") or []
            assert all(e.get("extensions", {}).get("code") == "CONFLICT" for e in errors), answer.text


@dataclass
class Switch:
    """One replacement: from SIGTERM of the old process to the balancer sending to its successor."""

    name: str
    began: float
    ended: float
    stop_seconds: float
    requests: int
    """Requests the old process was sent from the start of the load to its SIGTERM."""
    cpu_seconds: float
    """CPU time the old process used over the same time: per request, what serving costs."""

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds * 1000 / self.requests if self.requests else float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


@dataclass
class Report:
    """What the load saw: failures, and latency in steady state and during each switch."""

    load: Load
    switches: list[Switch]

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.load.outcomes if o.error is not None]

    def rows(self) -> list[tuple[str, int, float, float, float]]:
        """(window, requests, p50 ms, p99 ms, max ms) for steady state and each switch."""

        def row(name: str, picked: list[Outcome]) -> tuple[str, int, float, float, float]:
            ms = [o.seconds * 1000 for o in picked]
            return name, len(ms), percentile(ms, 0.5), percentile(ms, 0.99), max(ms, default=float("nan"))

        outcomes = self.load.outcomes
        inside = [[o for o in outcomes if s.began <= o.due <= s.ended] for s in self.switches]
        during = {id(o) for group in inside for o in group}
        rows = [row("steady", [o for o in outcomes if id(o) not in during])]
        rows += [row(f"switch {s.name}", group) for s, group in zip(self.switches, inside, strict=True)]
        return rows


def rolling_update(
    start: Callable[[str, int], Any], workdir: Path, *, rate: float, seconds: float, haproxy: str
) -> Report:
    """Two API processes behind HAProxy under load; each replaced in turn (SIGTERM, start, ready).

    ``start(name, port)`` starts ``kgtwin api`` on ``port`` and returns its
    ``tests.operations.conftest.Service``.
    """
    ports = {"a": free_port(), "b": free_port()}
    running = {name: start(f"api-{name}-1", port) for name, port in ports.items()}
    for service in running.values():
        service.wait_ready()
    balancer = Haproxy(haproxy, workdir, ports)
    try:
        for name in ports:
            balancer.wait_state(name, "UP")
        seed(balancer.url)
        load = Load(balancer.url, rate, seconds)
        driver = threading.Thread(target=load.run, daemon=True)  # a hung load must not hang the caller
        driver.start()
        while not load.began:
            time.sleep(0.01)
        load.end = float("inf")  # until the last switch is over, however long the starts take
        sent, cpu = balancer.sessions(), {name: _cpu_seconds(s.process.pid) for name, s in running.items()}
        switches = []
        for name, at in (("a", 0.25), ("b", 0.6)):
            time.sleep(max(0.0, load.began + at * seconds - time.monotonic()))
            began = time.monotonic() - load.began
            old = running[name]
            requests, cpu_seconds = (
                balancer.sessions()[name] - sent[name],
                _cpu_seconds(old.process.pid) - cpu[name],
            )
            code = old.terminate(60)
            assert code == 0, old.text()[-3000:]
            running[name] = start(f"api-{name}-2", ports[name])
            running[name].wait_ready()
            balancer.wait_state(name, "UP")
            ended = time.monotonic() - load.began
            switches.append(Switch(name, began, ended, old.stop_seconds or 0.0, requests, cpu_seconds))
        load.end = max(load.began + seconds, time.monotonic() + 2.0)
        driver.join(300)  # a machine slower than the rate drains its backlog after the load ends
        if driver.is_alive():
            answered = len(load.outcomes)
            due = int((time.monotonic() - load.began) * rate)
            raise AssertionError(f"the load did not finish: {answered} of about {due} requests answered")
        return Report(load, switches)
    finally:
        balancer.stop()


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)

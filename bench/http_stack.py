"""What the HTTP stack (uvicorn, Starlette, FastAPI, kgtwin's middleware) costs per GraphQL request.

Run ``python bench/http_stack.py`` (``--refs main,.`` compares the code of ``main`` with
the working tree in one run; ``--duration 4 --repetitions 1`` for a quick look). Servers:

- ``bare ASGI``: uvicorn, configured as ``kgtwin serve`` configures it, serving an ASGI
  callable that answers every request with a fixed GraphQL answer: what uvicorn alone
  costs, the floor no GraphQL server on it can go below;
- one ``kgtwin serve`` per ref (edge profile: FalkorDB + DuckDB, the demo plus
  ``--rooms`` rooms, no auth, log level warning), run from that ref's tree (``git
  archive`` into a temporary folder; ``.`` is the working tree as it is), so code before
  and after a change is measured side by side.

Queries: ``{ __typename }`` (no backend: the request path and GraphQL alone) and one
twin by id with two fields (``twin(id) { id name }``, compiled to one Cypher statement).
Each server is loaded alone, servers in alternating order per repetition, per query a
2-second warm-up, then a closed loop (``--concurrency`` connections) and a fixed rate
(``--rate``) with ``bench/api.py``'s load generator. The table gives medians over the
repetitions: requests/s, p50/p99, and the server's CPU per request (``/proc``, its child
processes such as FalkorDB's included), the figure other load on a shared machine does
not distort.

A second table, the application alone: each ref's ``create_app`` on the same graph,
called in one process as uvicorn calls it (an ASGI scope, ``receive`` and ``send``,
``--concurrency`` requests at a time) without sockets, ``--calls`` requests after a
warm-up, in a process of its own per ref and repetition (refs in alternating order); the
process's CPU time per request, median of ``--repetitions`` (the spread in brackets). It
is steadier than the served figures on a busy machine, and with the bare server's figure
it splits a request's cost between uvicorn and the app.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import cpu_seconds, drive, embedded, free_port  # noqa: E402

TYPENAME = "{ __typename }"
TWIN = 'query($id: ID!) { twin(id: $id) { id name: property(name: "name") } }'
QUERIES = {"{ __typename }": TYPENAME, "twin(id) { id name }": TWIN}
BARE = "bare ASGI"
_ANSWER = b'{"data":{"__typename":"Query"}}'


async def bare_asgi(scope: dict[str, object], receive: object, send: object) -> None:
    """Answers every HTTP request with a fixed GraphQL answer, reading its body first."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()  # type: ignore[operator]
        more = message.get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_ANSWER)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": _ANSWER})  # type: ignore[operator]


def serve_bare(port: int) -> None:
    """The bare server's process: uvicorn as ``kgtwin.services`` configures it."""
    import uvicorn

    config = uvicorn.Config(bare_asgi, host="127.0.0.1", port=port, log_config=None, access_log=True)
    uvicorn.Server(config).run()


def source_tree(ref: str, into: Path) -> Path:
    """The project's files at ``ref`` (``.``: the working tree itself)."""
    if ref == ".":
        return ROOT
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    archive_path = into.with_suffix(".tar")
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(into, filter="data")
    return into


@contextlib.contextmanager
def running(name: str, argv: list[str], env: dict[str, str], workdir: Path) -> Iterator[tuple[str, int]]:
    """A server process on ``env["KGTWIN_PORT"]``, its URL once ``/readyz`` (or ``/``) answers."""
    import httpx

    url = f"http://127.0.0.1:{env['KGTWIN_PORT']}"
    log = (workdir / f"server-{name.replace(' ', '-')}.log").open("wb")
    process = subprocess.Popen(argv, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} stopped (exit {process.returncode}); see {log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not get ready; see {log.name}")
            time.sleep(0.5)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


IN_PROCESS = r"""
import asyncio, json, statistics, sys, time
from pathlib import Path
import uvloop
from api import create_app
from api.context import twin_context
from graph.falkordb import FalkorGraphStore

job = json.loads(sys.argv[1])
graph = FalkorGraphStore(Path(job["graph"]))
app = create_app(twin_context("bench", graph, load_base=False))


async def request(body: bytes) -> None:
    sent = []
    read = False

    async def receive():
        nonlocal read
        if read:
            await asyncio.Event().wait()  # the client stays connected
        read = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
               (b"accept", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/graphql", "raw_path": b"/graphql",
             "root_path": "", "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "state": {}}
    await app(scope, receive, send)
    if sent[0]["status"] != 200 or b'"errors"' in sent[1]["body"]:
        raise RuntimeError(sent)


async def rounds(bodies: list[bytes]) -> list[float]:
    counter = 0

    async def worker(calls: int) -> None:
        nonlocal counter
        for _ in range(calls):
            counter += 1
            await request(bodies[counter % len(bodies)])

    async def run(calls: int) -> None:
        await asyncio.gather(*(worker(calls // job["concurrency"]) for _ in range(job["concurrency"])))

    await run(job["calls"] // 2)  # warm-up
    spent = []
    for _ in range(job["rounds"]):
        before = time.process_time()
        await run(job["calls"])
        done = job["calls"] // job["concurrency"] * job["concurrency"]
        spent.append((time.process_time() - before) * 1000 / done)
    return spent


found = {}
for label, query in job["queries"].items():
    variables = [{"id": i} for i in job["ids"]] if "$id" in query else [{}]
    bodies = [json.dumps({"query": query, "variables": v}).encode() for v in variables]
    found[label] = uvloop.run(rounds(bodies))
graph.close()
Path(job["result"]).write_text(json.dumps(found))
"""
"""The app alone, in one process (``PYTHONPATH`` names the tree): CPU ms per request per round."""


def app_alone(tree: Path, graph: Path, ids: list[str], args: argparse.Namespace) -> dict[str, list[float]]:
    """Each query's CPU ms per request in each round, the app of ``tree`` called without a server."""
    result = graph.parent / "in-process.json"
    job = {"graph": str(graph), "ids": ids[:300], "queries": QUERIES, "result": str(result)}
    job |= {"calls": args.calls, "rounds": 1, "concurrency": args.concurrency}
    env = {**os.environ, "PYTHONPATH": str(tree), "KGTWIN_LOG_LEVEL": "warning"}
    subprocess.run([sys.executable, "-c", IN_PROCESS, json.dumps(job)], env=env, cwd=graph.parent, check=True)
    found: dict[str, list[float]] = json.loads(result.read_text())
    return found


@dataclass
class Row:
    """One server, query and load in one repetition."""

    rate: float
    p50: float
    p99: float
    cpu_ms: float


def load_server(url: str, pid: int, ids: list[str], args: argparse.Namespace) -> dict[tuple[str, str], Row]:
    found: dict[tuple[str, str], Row] = {}
    for label, query in QUERIES.items():
        variables = [{"id": i} for i in ids[:300]] if "$id" in query else [{}]
        bodies = [{"query": query, "variables": v} for v in variables]
        drive(url, bodies, args.concurrency, 2.0, None)  # warm-up
        for mode in ("closed", f"@{args.rate:g}/s"):
            before = cpu_seconds(pid)
            result = drive(
                url, bodies, args.concurrency, args.duration, None if mode == "closed" else args.rate
            )
            spent = cpu_seconds(pid) - before
            if result.errors:
                raise RuntimeError(f"{label}: {result.errors} errors, first: {result.first_error}")
            answered = max(1, len(result.latencies))
            found[label, mode] = Row(result.rate, result.pct(0.5), result.pct(0.99), spent * 1000 / answered)
    return found


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--refs", default="main,.", help="git refs of kgtwin to serve; '.' is the working tree"
    )
    parser.add_argument("--rooms", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per query, load and server")
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s of the fixed-rate load")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--calls", type=int, default=4000, help="requests per round of the app alone")
    parser.add_argument("--skip-served", action="store_true", help="measure the app alone only")
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    refs = [r.strip() for r in args.refs.split(",") if r.strip()]
    folder = Path(tempfile.mkdtemp(prefix="kgtwin-http-stack-"))
    runs: dict[tuple[str, str, str], list[Row]] = {}
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        trees = {ref: source_tree(ref, folder / f"tree-{i}") for i, ref in enumerate(refs)}
        with embedded(folder / "data", args.rooms) as (_command, data_env, ids):
            alone: dict[str, dict[str, list[float]]] = {ref: {} for ref in refs}
            for repetition in range(args.repetitions):  # one round each, refs in alternating order
                for ref in refs if repetition % 2 == 0 else refs[::-1]:
                    for label, spent in app_alone(trees[ref], folder / "data" / "graph", ids, args).items():
                        alone[ref].setdefault(label, []).extend(spent)
            names = [BARE, *refs]
            for repetition in range(0 if args.skip_served else args.repetitions):
                for name in names if repetition % 2 == 0 else names[::-1]:
                    env = {
                        **os.environ,
                        **data_env,
                        "KGTWIN_HOST": "127.0.0.1",
                        "KGTWIN_PORT": str(free_port()),
                    }
                    env |= {"KGTWIN_LOG_LEVEL": "warning", "KGTWIN_EXECUTOR_URL": "local://?workers=1"}
                    env["KGTWIN_BROKER_URL"] = f"embedded://127.0.0.1:{free_port()}"
                    if name == BARE:
                        argv_ = [sys.executable, __file__, "_bare", env["KGTWIN_PORT"]]
                    else:
                        env["PYTHONPATH"] = str(trees[name])
                        code = (
                            "import sys; from kgtwin.cli import main; sys.argv = ['kgtwin', 'serve']; main()"
                        )
                        argv_ = [sys.executable, "-c", code]
                    with running(name, argv_, env, folder) as (url, pid):
                        for (label, mode), row in load_server(url, pid, ids, args).items():
                            runs.setdefault((name, label, mode), []).append(row)
                            print(f"{name} | {label} | {mode} | {row}", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()
    table = Table(
        title=f"GraphQL request path, {started}, {args.concurrency} connections, "
        f"{args.duration:g} s per row, median of {args.repetitions}; "
        f"load average at the end {load[0]:.1f} on {os.cpu_count()} cores"
    )
    for column in (
        "query",
        "load",
        "server",
        "req/s",
        "p50 ms",
        "p99 ms",
        "server CPU ms/req",
        "CPU vs first ref",
    ):
        table.add_column(column, justify="right" if column not in ("query", "load", "server") else "left")
    for label in QUERIES:
        for mode in ("closed", f"@{args.rate:g}/s"):
            first = None
            for name in [BARE, *refs]:
                rows = runs.get((name, label, mode))
                if not rows:
                    continue
                cpu = statistics.median(r.cpu_ms for r in rows)
                if name != BARE and first is None:
                    first = cpu
                ratio = f"{cpu / first:.2f}x" if name != BARE and first else ""
                table.add_row(
                    label,
                    mode,
                    name if name == BARE else f"kgtwin {name}",
                    f"{statistics.median(r.rate for r in rows):.0f}",
                    f"{statistics.median(r.p50 for r in rows):.1f}",
                    f"{statistics.median(r.p99 for r in rows):.1f}",
                    f"{cpu:.3f}",
                    ratio,
                )
    Console(width=200).print(table)
    by_app = Table(
        title=f"The app alone (no server, no sockets), {args.calls} requests per round, {args.concurrency} "
        f"at a time, median of {args.repetitions} rounds; load average {load[0]:.1f}"
    )
    for column in ("query", "kgtwin", "app CPU ms/req", "CPU vs first"):
        by_app.add_column(column, justify="left" if column in ("query", "kgtwin") else "right")
    for label in QUERIES:
        first_cpu = None
        for ref in refs:
            cpu = statistics.median(alone[ref][label])
            first_cpu = first_cpu or cpu
            spread = f"({min(alone[ref][label]):.3f}-{max(alone[ref][label]):.3f})"
            by_app.add_row(label, ref, f"{cpu:.3f} {spread}", f"{cpu / first_cpu:.2f}x")
    Console(width=200).print(by_app)


if __name__ == "__main__":
    if sys.argv[1:2] == ["_bare"]:
        serve_bare(int(sys.argv[2]))
    else:
        main()

"""Run inside a test's network namespace: wait for kgtwin services, ask GraphQL, probe latency.

``python -m tests.uplink.netns_probe ready URL...`` waits until each ``URL/readyz``
answers 200; ``... graphql URL QUERY`` prints the answer's JSON;
``... probe URL SECONDS TWIN [operate]`` asks for a twin every 100 ms for SECONDS and
prints JSON: latencies (ms), errors. With ``operate``, an operator changes the site on
the way: a sensor created in the twin's room (a quarter in), its name changed (half-way),
another twin created and deleted again (three quarters in).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import httpx

SENSOR = "dtmi:kgtwin:asset:Sensor;1"
RENAMED = "renamed during the cut"


def ready(urls: list[str], timeout_s: float = 180) -> int:
    deadline = time.monotonic() + timeout_s
    waiting = list(urls)
    while waiting and time.monotonic() < deadline:
        try:
            if httpx.get(f"{waiting[0]}/readyz", timeout=2).status_code == 200:
                waiting.pop(0)
                continue
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    if waiting:
        print(f"not ready: {waiting}", file=sys.stderr)
    return 1 if waiting else 0


def graphql(url: str, query: str) -> int:
    print(json.dumps(httpx.post(f"{url}/graphql", json={"query": query}, timeout=30).json()))
    return 0


def operations(twin: str) -> list[list[tuple[str, dict[str, Any]]]]:
    """The operator's changes, in three steps: (GraphQL, variables) each."""
    create = (
        "mutation($id: ID!, $m: String!, $p: JSON) { createTwin(id: $id, model: $m, properties: $p) { id } }"
    )
    relate = (
        "mutation($s: ID!, $t: ID!) "
        '{ createRelationship(source: $s, target: $t, name: "locatedIn", id: "in") { id } }'
    )
    return [
        [
            (create, {"id": "probe-sensor", "m": SENSOR, "p": {"name": "added during the cut"}}),
            (relate, {"s": "probe-sensor", "t": twin}),
        ],
        [
            (
                'mutation($p: JSON!) { updateTwin(id: "probe-sensor", patch: $p) { id } }',
                {"p": [{"op": "replace", "path": "/name", "value": RENAMED}]},
            )
        ],
        [
            (create, {"id": "probe-gone", "m": SENSOR, "p": {"name": "created and deleted during the cut"}}),
            (relate, {"s": "probe-gone", "t": twin}),
            ('mutation { deleteTwin(id: "probe-gone", cascade: true) }', {}),
        ],
    ]


def probe(url: str, seconds: float, twin: str, operate: bool) -> int:
    latencies: list[float] = []
    errors: list[str] = []
    steps = operations(twin) if operate else []
    began = time.monotonic()
    with httpx.Client(timeout=10) as http:
        while (elapsed := time.monotonic() - began) < seconds:
            if steps and elapsed > seconds * (4 - len(steps)) / 4:
                for query, variables in steps.pop(0):
                    body = http.post(f"{url}/graphql", json={"query": query, "variables": variables}).json()
                    errors += [str(e) for e in body.get("errors", [])]
            start = time.perf_counter()
            body = http.post(
                f"{url}/graphql", json={"query": f'{{ twin(id: "{twin}") {{ id etag }} }}'}
            ).json()
            latencies.append((time.perf_counter() - start) * 1000)
            errors += [str(e) for e in body.get("errors", [])]
            time.sleep(0.1)
    print(json.dumps({"latencies_ms": latencies, "errors": errors, "operations_left": len(steps)}))
    return 0


if __name__ == "__main__":
    command, url = sys.argv[1], sys.argv[2]
    if command == "ready":
        sys.exit(ready(sys.argv[2:]))
    if command == "graphql":
        sys.exit(graphql(url, sys.argv[3]))
    sys.exit(probe(url, float(sys.argv[3]), sys.argv[4], sys.argv[5:] == ["operate"]))

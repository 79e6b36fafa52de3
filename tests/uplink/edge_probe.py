"""Run inside the edge's network namespace: wait for ``kgtwin serve``, or probe its GraphQL.

``python -m tests.uplink.edge_probe ready URL`` waits until ``/readyz`` answers 200;
``... probe URL SECONDS TWIN`` asks for a twin every 100 ms for SECONDS, and once
half-way adds a sensor located in it (an operator's change); prints JSON: latencies (ms), errors.
"""

from __future__ import annotations

import json
import sys
import time

import httpx


def ready(url: str, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return 0
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    return 1


def probe(url: str, seconds: float, twin: str) -> int:
    latencies: list[float] = []
    errors: list[str] = []
    renamed = False
    began = time.monotonic()
    with httpx.Client(timeout=10) as http:
        while time.monotonic() - began < seconds:
            if not renamed and time.monotonic() - began > seconds / 2:
                # An operator adds a sensor to the twin's room while the link is cut.
                for query in (
                    'mutation { createTwin(id: "probe-sensor", model: "dtmi:kgtwin:asset:Sensor;1", '
                    'properties: {name: "added during the cut"}) { id } }',
                    f'mutation {{ createRelationship(source: "probe-sensor", target: "{twin}", '
                    'name: "locatedIn", id: "in") { id } }',
                ):
                    body = http.post(f"{url}/graphql", json={"query": query}).json()
                    errors += [str(e) for e in body.get("errors", [])]
                renamed = True
            start = time.perf_counter()
            body = http.post(
                f"{url}/graphql", json={"query": f'{{ twin(id: "{twin}") {{ id etag }} }}'}
            ).json()
            latencies.append((time.perf_counter() - start) * 1000)
            errors += [str(e) for e in body.get("errors", [])]
            time.sleep(0.1)
    print(json.dumps({"latencies_ms": latencies, "errors": errors}))
    return 0


if __name__ == "__main__":
    command, url = sys.argv[1], sys.argv[2]
    if command == "ready":
        sys.exit(ready(url))
    sys.exit(probe(url, float(sys.argv[3]), sys.argv[4]))

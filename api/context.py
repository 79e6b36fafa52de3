"""What the API needs from the rest of kgtwin, handed over by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from graph.store import GraphStore
from ingest.broker import Broker
from ingest.store import TelemetryStore
from ontology.errors import KgtwinError


@dataclass
class BackendHealth:
    """One backend's state as the readiness probe saw it."""

    port: str
    backend: str
    ok: bool
    error: str | None = None


@dataclass
class ApiContext:
    """The backends the API serves from; any of them may be absent in a given profile."""

    version: str
    graph: GraphStore | None = None
    telemetry: TelemetryStore | None = None
    broker: Broker | None = None

    def health(self) -> list[BackendHealth]:
        """Ping every configured backend; never raises."""
        checks: list[BackendHealth] = []
        for port, target in (("graph", self.graph), ("telemetry", self.telemetry), ("broker", self.broker)):
            if target is None:
                continue
            name = getattr(target, "backend", type(target).__name__)
            try:
                target.ping()
            except KgtwinError as exc:
                checks.append(BackendHealth(port=port, backend=name, ok=False, error=exc.message))
            else:
                checks.append(BackendHealth(port=port, backend=name, ok=True))
        return checks

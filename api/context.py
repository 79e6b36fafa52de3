"""What the API needs from the rest of kgtwin, handed over by the composition root.

:class:`ApiContext` lives for the process: the backends and the twin services built on
them (model registry, twin graph, change events). :class:`RequestContext` lives for one
GraphQL request or websocket: the caller (``principal``), the request's DataLoaders (so
one request batches and caches its reads) and the instant relative times are read from.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog
from strawberry.fastapi import BaseContext

from api.adt.options import AdtOptions
from api.auth import AuthConfig
from api.lifecycle import Lifecycle
from api.limits import Limits
from api.observation import Observability
from api.roles import ANONYMOUS, LOCAL_ADMIN, Permission, Principal, Unauthenticated
from api.windows import aggregate, window
from graph.api_keys import ApiKeyStore
from graph.events import EventBus
from graph.model_store import GraphModelStore
from graph.store import GraphStore
from graph.twins import TwinGraph
from ingest.broker import Broker
from ontology.base import base_models
from ontology.errors import BackendUnavailable, Conflict, KgtwinError
from ontology.policy import DEFAULT_POLICY, DtdlPolicy
from ontology.registry import ModelRegistry
from simulation.jobs import RunStore
from telemetry.latest_values import LatestValues
from telemetry.points import Aggregate
from telemetry.store import TelemetryStore

if TYPE_CHECKING:
    from api.loaders import Loaders
    from simulation.fmu.library import FmuLibrary
    from simulation.fmu.shadow import Shadows

_log = structlog.get_logger("api.context")

Window = tuple[datetime, datetime, float | None, Aggregate]
"""A telemetry read's start, stop, window length in seconds (None: raw points) and function."""


@dataclass
class BackendHealth:
    """One backend's state as the readiness probe saw it."""

    port: str
    backend: str
    ok: bool
    error: str | None = None


@dataclass
class ApiContext:
    """The backends the API serves from; any of them may be absent in a given profile.

    ``registry``, ``twins`` and ``keys`` exist when a graph is configured (see
    :func:`twin_context`); ``events`` carries every committed graph change to subscriptions
    and MQTT. Resolvers take what they need with the ``require_*`` methods, which say
    ``BACKEND_UNAVAILABLE`` in a profile without it.
    """

    version: str
    graph: GraphStore | None = None
    telemetry: TelemetryStore | None = None
    broker: Broker | None = None
    registry: ModelRegistry | None = None
    model_store: GraphModelStore | None = None
    twins: TwinGraph | None = None
    keys: ApiKeyStore | None = None
    """The API keys callers may present (``api.auth``), kept in the graph."""
    events: EventBus = field(default_factory=EventBus)
    latest: LatestValues | None = None
    """The ingest's last-value cache, when ingest runs in this process (the edge profile)."""
    runs: RunStore | None = None
    fmus: FmuLibrary | None = None
    """The FMU library (files and reference nodes), when the service has one."""
    shadows: Shadows | None = None
    """Live shadows to start, stop and list (workers run them)."""
    telemetry_poll_s: float = 1.0
    """How often the ``telemetry`` subscription looks for new values."""
    auth: AuthConfig = field(default_factory=AuthConfig)
    """How callers authenticate (``api.auth``); the default, auth off, is the loopback edge profile."""
    limits: Limits = field(default_factory=Limits)
    """Body size, rate, GraphQL depth and complexity, Cypher time and rows (``api.limits``)."""
    adt: AdtOptions = field(default_factory=AdtOptions)
    """The Azure Digital Twins surface's endpoints, files folder and event router (``api.adt``)."""
    models_check_s: float = 1.0
    """How often the models' version token is read, to pick up another replica's model changes."""
    ingest_health: Callable[[], str | None] | None = None
    """Why the ingest running in this process takes no messages (None: it does), for ``/readyz``."""
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    """Serving or stopping: ``/readyz`` is 503 once the composition root starts the shutdown."""
    observability: Observability = field(default_factory=Observability)
    """Who is told of each request (metrics), what ``/metrics`` answers, the slow-request threshold."""
    _models_seen: tuple[float, str | None] = (-math.inf, None)

    def health(self) -> list[BackendHealth]:
        """Ping every configured backend, and ask ingest when it runs in this process; never raises."""
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
        if self.ingest_health is not None:
            try:
                problem = self.ingest_health()
            except Exception as exc:  # a readiness probe answers, whatever happens
                problem = str(exc) or type(exc).__name__
            checks.append(BackendHealth(port="ingest", backend="ingest", ok=problem is None, error=problem))
        return checks

    def require_graph(self) -> GraphStore:
        """The twin graph's store; ``BACKEND_UNAVAILABLE`` in a profile without one."""
        if self.graph is None:
            raise _no_graph()
        return self.graph

    def require_registry(self) -> ModelRegistry:
        """The model registry (kept in the graph)."""
        if self.registry is None:
            raise _no_graph()
        return self.registry

    def require_twins(self) -> TwinGraph:
        """The twin operations, validating against the registry's current models."""
        if self.twins is None:
            raise _no_graph()
        return self.twins

    def require_runs(self) -> RunStore:
        """The simulation runs; ``BACKEND_UNAVAILABLE`` in a profile without them."""
        if self.runs is None:
            raise BackendUnavailable("simulation", "this service runs without simulation runs")
        return self.runs

    def require_fmus(self) -> FmuLibrary:
        """The FMU library; ``BACKEND_UNAVAILABLE`` in a profile without one."""
        if self.fmus is None:
            raise BackendUnavailable("fmu", "this service runs without an FMU library")
        return self.fmus

    def require_shadows(self) -> Shadows:
        """The live shadows; ``BACKEND_UNAVAILABLE`` in a profile without them."""
        if self.shadows is None:
            raise BackendUnavailable("shadow", "this service runs without live shadows")
        return self.shadows

    def models_due(self) -> bool:
        """Whether :meth:`follow_models` would read the models' token now (a clock check only)."""
        return self.model_store is not None and time.monotonic() - self._models_seen[0] >= self.models_check_s

    def follow_models(self) -> None:
        """Reload the registry when the models changed in the graph, read at most every ``models_check_s``.

        Replicas of the API each hold the registry in memory; a model uploaded, decommissioned
        or deleted through one of them renews the models' token (``graph._version``), and
        the others reload within a second. This process's own changes move it too, but its
        registry holds them already: no reload for those (``GraphModelStore.changed_since``).
        The app calls it once as each request or connection starts (``api.app``).
        """
        if self.model_store is None or self.registry is None:
            return
        checked, seen = self._models_seen
        now = time.monotonic()
        if now - checked < self.models_check_s:
            return
        version = self.model_store.version()
        if checked != -math.inf and self.model_store.changed_since(seen, version):
            self.registry.reload()
            _log.info("ontology.reloaded", models=len(self.registry.models))
        self._models_seen = (now, version)

    def require_telemetry(self) -> TelemetryStore:
        """The time-series store; ``BACKEND_UNAVAILABLE`` in a profile without one."""
        if self.telemetry is None:
            raise BackendUnavailable("telemetry", "this service runs without a time-series store")
        return self.telemetry


def twin_context(
    version: str,
    graph: GraphStore,
    *,
    telemetry: TelemetryStore | None = None,
    broker: Broker | None = None,
    events: EventBus | None = None,
    latest: LatestValues | None = None,
    runs: RunStore | None = None,
    fmus: FmuLibrary | None = None,
    shadows: Shadows | None = None,
    auth: AuthConfig | None = None,
    limits: Limits | None = None,
    telemetry_poll_s: float = 1.0,
    models_check_s: float = 1.0,
    lifecycle: Lifecycle | None = None,
    observability: Observability | None = None,
    load_base: bool = True,
    policy: DtdlPolicy = DEFAULT_POLICY,
    ingest_health: Callable[[], str | None] | None = None,
    adt: AdtOptions | None = None,
    guard: Callable[[str], None] | None = None,
) -> ApiContext:
    """An :class:`ApiContext` on ``graph``, whole: its model registry (kept in the graph), twin
    graph and API keys, with the other backends and settings given.

    With ``load_base``, the base ontology's models that the graph lacks are uploaded first,
    so a fresh graph can hold twins at once. The registry reads models with ``policy``.
    ``guard`` refuses changes to some twins (``graph.TwinGraph``): in the cloud, those of edge sites.
    """
    bus = events or EventBus()
    model_store = GraphModelStore(graph, events=bus)
    seen = (time.monotonic(), model_store.version())  # before loading: a change meanwhile is not missed
    registry = ModelRegistry(model_store, policy=policy, version=model_store.version)
    if load_base:
        load_base_ontology(registry)
    # The twins validate against the registry's models as they are at each call.
    twins = TwinGraph(graph, lambda: registry.models, events=bus, guard=guard)
    return ApiContext(
        version=version,
        graph=graph,
        telemetry=telemetry,
        broker=broker,
        registry=registry,
        model_store=model_store,
        twins=twins,
        keys=ApiKeyStore(graph),
        events=bus,
        latest=latest,
        runs=runs,
        fmus=fmus,
        shadows=shadows,
        telemetry_poll_s=telemetry_poll_s,
        auth=auth or AuthConfig(),
        limits=limits or Limits(),
        models_check_s=models_check_s,
        ingest_health=ingest_health,
        adt=adt or AdtOptions(),
        lifecycle=lifecycle or Lifecycle(),
        observability=observability or Observability(),
        _models_seen=seen,
    )


def load_base_ontology(registry: ModelRegistry, *, attempts: int = 3) -> list[str]:
    """Upload the base ontology's models the registry does not hold yet; their DTMIs.

    Processes that start together on an empty graph (API workers, replicas) race to load
    it: the one whose upload finds the models taken reads back what the other stored and
    uploads what is still missing, if anything.
    """
    for attempt in range(attempts):
        missing: Sequence[dict[str, object]] = [
            doc for doc in base_models() if str(doc["@id"]) not in registry.models
        ]
        if not missing:
            return []
        try:
            stored = registry.upload(list(missing))
        except Conflict:
            if attempt == attempts - 1:
                raise
            _log.info("ontology.base_loaded_elsewhere")
            registry.reload()
            continue
        _log.info("ontology.base_loaded", models=len(stored))
        return [m.dtmi for m in stored]
    return []


class RequestContext(BaseContext):
    """One GraphQL request's context: ``info.context`` in every resolver."""

    def __init__(self, api: ApiContext, principal: Principal, loaders: Loaders) -> None:
        super().__init__()
        self.api = api
        self.principal = principal
        self.loaders = loaders
        # One "now" per request: every twin's ``start: "-1h"`` names the same window,
        # so the telemetry reads of a list of twins batch into one query.
        self.now = datetime.now(UTC)
        self.granted: set[Permission] = set()
        """Permissions already checked in this request (``api.types.context``)."""
        self._windows: dict[tuple[str, str | None, str | None, str], Window] = {}

    def allow(self, permission: Permission) -> None:
        """Check the caller is allowed ``permission`` (once per request and permission).

        A caller without credentials (``ANONYMOUS``, when auth is on) is ``UNAUTHENTICATED``
        rather than ``FORBIDDEN``: presenting a key would help, asking for a role would not.
        """
        # Checked once per request and permission: a list of 50 twins asks 100 times.
        if permission in self.granted:
            return
        if self.principal == ANONYMOUS:
            raise Unauthenticated(
                "this operation needs credentials: an API key or a bearer token",
                details={"permission": permission.value},
            )
        self.principal.require(permission)
        self.granted.add(permission)

    def window(self, start: str, stop: str | None, every: str | None, fn: str) -> Window:
        """A ``telemetry`` field's arguments read once per request, whatever the number of twins.

        Raises ``BadRequest`` for a bad time, duration or function (``api.windows``).
        """
        key = (start, stop, every, fn)
        found = self._windows.get(key)
        if found is None:
            begin, end, every_s = window(start, stop, every, self.now)
            found = self._windows[key] = (begin, end, every_s, aggregate(fn))
        return found


def principal_of(state: object) -> Principal:
    """The caller ``api.auth`` put on the connection's state, or the loopback admin without auth."""
    found = getattr(state, "principal", None)
    return found if isinstance(found, Principal) else LOCAL_ADMIN


def _no_graph() -> BackendUnavailable:
    return BackendUnavailable("graph", "this service runs without a twin graph")

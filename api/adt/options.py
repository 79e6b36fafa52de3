"""What the ADT surface is told by the composition root: endpoints, the files folder, the event source."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.broker import topic_level

API_VERSION = "2023-10-31"
"""The ADT data-plane version whose paths, shapes and codes this surface follows."""

ACCEPTED_VERSIONS = frozenset({"2020-10-31", "2022-05-31", "2023-06-30", API_VERSION})
"""Stable versions a client may ask for: each earlier one is a subset of 2023-10-31 (the
Node SDK 1.1 sends 2022-05-31), so they are answered the same way."""

DEFAULT_ROUTE_PREFIX = "kgtwin/routes"

RoutedPublisher = Callable[[Mapping[str, Any], Any], None]
"""Publishes one routed event (CloudEvents attributes, data) to the endpoints whose routes pass it."""


@dataclass
class AdtOptions:
    """The ADT surface's settings, and the event router when a broker is configured.

    ``endpoints`` maps an event route's endpoint name to an MQTT topic prefix; empty, any
    name is an endpoint publishing under ``kgtwin/routes/<name>``.
    """

    endpoints: Mapping[str, str] = field(default_factory=dict)
    files_dir: Path = Path("data/adt-files")
    event_source: str = "kgtwin"
    job_lease_s: float = 60.0
    """How long a job outlives its process before readers see it failed (``graph.jobs``)."""
    publish_telemetry: RoutedPublisher | None = None
    """Set by the composition root with the event router: telemetry sent through the API is routed too."""
    refresh_routes: Callable[[], None] | None = None
    """Tells the event router that this process changed the routes (it reloads them at once)."""

    def topic_prefix(self, endpoint: str) -> str | None:
        """The topic prefix of endpoint ``endpoint``, or None when it is not an endpoint."""
        if not self.endpoints:
            return f"{DEFAULT_ROUTE_PREFIX}/{topic_level(endpoint)}" if endpoint else None
        return self.endpoints.get(endpoint)

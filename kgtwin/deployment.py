"""What ``GET /system`` says about the processes of this deployment (``api.system``).

Only the composition root knows which services run in this process: in the edge profile
(``kgtwin serve``) the API, ingest and a simulation worker share it; with ``kgtwin api``
ingest and workers are other processes, which report on their own health port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.system import Deployment, DeploymentReport, IngestFigures, ServiceState
from kgtwin.settings import Settings
from kgtwin.urls import EmbeddedBrokerUrl, MqttUrl

if TYPE_CHECKING:  # imported by the services that run them, not by kgtwin api
    from ingest.service import IngestService
    from simulation.worker import Worker


def deployment_report(
    settings: Settings, profile: str, ingest: IngestService | None, worker: Worker | None
) -> DeploymentReport:
    """The report for ``/system``: counters and flags read on each call, no I/O."""
    url = settings.broker
    broker = None
    if isinstance(url, EmbeddedBrokerUrl):
        broker = f"embedded mqtt://{url.host}:{url.port}"
    elif isinstance(url, MqttUrl):
        broker = f"{'mqtts' if url.tls else 'mqtt'}://{url.host}:{url.port}"  # no credentials
    executor = settings.executor_url.split("?", 1)[0]

    def report() -> Deployment:
        services = [ServiceState("api", "running", f"{settings.host}:{settings.port}")]
        figures = None
        if ingest is not None:
            connected = ingest.subscriber.is_connected()
            services.append(ServiceState("ingest", "running" if connected else "disconnected", "in process"))
            stats = ingest.stats
            figures = IngestFigures(
                devices=len(ingest.latest.twins()),
                messages=stats.messages,
                values=stats.values,
                dead_letters=dict(stats.rejected),
                spooled_points=stats.spooled_points,
                connected=connected,
            )
        else:
            services.append(ServiceState("ingest", "elsewhere", "kgtwin ingest"))
        if worker is not None:
            state = "stopping" if worker.stopping else "running"
            services.append(ServiceState("worker", state, f"in process, executor {executor}"))
        else:
            services.append(ServiceState("worker", "elsewhere", "kgtwin worker"))
        return Deployment(profile=profile, services=services, ingest=figures, broker=broker)

    return report

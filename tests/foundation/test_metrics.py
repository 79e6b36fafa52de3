"""The Prometheus side of the observers: names, labels, and the sum over several API workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from kgtwin.metrics import MULTIPROCESS_ENV, ApiMetrics, Metrics, WorkerMetrics

ROOT = Path(__file__).resolve().parents[2]


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_api_metrics_carry_operation_field_and_code_labels() -> None:
    metrics = Metrics("api")
    api = ApiMetrics(metrics)
    for seconds in (0.002, 0.3):
        api.request_started()
        api.request_finished("query", "twin", seconds)
    api.request_started()
    api.error("NOT_FOUND")
    api.subscription_opened("twinChanged")
    api.subscription_opened("twinChanged")
    api.subscription_closed("twinChanged")
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    found = samples(body)
    labels = (("field", "twin"), ("operation", "query"))
    assert found[("kgtwin_api_request_duration_seconds_count", labels)] == 2
    fastest = (("field", "twin"), ("le", "0.005"), ("operation", "query"))
    assert found[("kgtwin_api_request_duration_seconds_bucket", fastest)] == 1
    assert found[("kgtwin_api_requests_in_flight", ())] == 1
    assert found[("kgtwin_api_errors_total", (("code", "NOT_FOUND"),))] == 1
    assert found[("kgtwin_api_subscriptions_open", (("field", "twinChanged"),))] == 1
    assert found[("kgtwin_info", (("service", "api"), ("version", _version())))] == 1
    assert ("process_cpu_seconds_total", ()) in found  # one process: its own CPU and memory too


def test_worker_metrics_count_outcomes_replications_and_lost_leases() -> None:
    metrics = Metrics("worker")
    worker = WorkerMetrics(metrics)
    worker.claimed()
    worker.replications(7)
    worker.replications(3)
    worker.ended("succeeded", 4.0)
    worker.claimed()
    worker.lease_lost()
    worker.ended("lost", 40.0)
    found = samples(metrics.exposition()[0])
    assert found[("kgtwin_worker_runs_claimed_total", ())] == 2
    assert found[("kgtwin_worker_runs_ended_total", (("outcome", "succeeded"),))] == 1
    assert found[("kgtwin_worker_runs_ended_total", (("outcome", "lost"),))] == 1
    assert found[("kgtwin_worker_run_duration_seconds_sum", (("outcome", "lost"),))] == 40.0
    assert found[("kgtwin_worker_replications_total", ())] == 10
    assert found[("kgtwin_worker_lease_renewals_lost_total", ())] == 1


# A worker process of `kgtwin api --workers N`, as far as its metrics go: argv[1] requests of
# `twin`, one of them still in flight, then its exposition (of every worker) on stdout.
WORKER = """
import sys
from kgtwin.metrics import ApiMetrics, Metrics
metrics = Metrics("api")
api = ApiMetrics(metrics)
for _ in range(int(sys.argv[1])):
    api.request_started()
    api.request_finished("query", "twin", 0.01)
api.request_started()
api.error("CONFLICT")
sys.stdout.buffer.write(metrics.exposition()[0])
"""


def test_the_workers_metrics_add_up_whichever_worker_is_scraped(tmp_path: Path) -> None:
    env = {**os.environ, MULTIPROCESS_ENV: str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", WORKER, str(n)], env=env, cwd=ROOT, capture_output=True, check=True
        )
        for n in (3, 5)
    ]
    found = samples(runs[-1].stdout)  # the second worker's answer covers the first one's requests
    labels = (("field", "twin"), ("operation", "query"))
    assert found[("kgtwin_api_request_duration_seconds_count", labels)] == 8
    assert found[("kgtwin_api_errors_total", (("code", "CONFLICT"),))] == 2
    assert found[("kgtwin_api_requests_in_flight", ())] == 2  # live gauges: no process marked dead
    assert not any(name.startswith("process_") for name, _ in found)


def _version() -> str:
    from kgtwin import __version__

    return __version__

"""The ``dask`` executor: replications fanned out to a dask.distributed cluster.

``DaskExecutor("tcp://scheduler:8786")`` sends work to an existing cluster (its workers
must have kgtwin installed, since functions travel by reference to their module);
``DaskExecutor(None)`` starts a ``LocalCluster`` of worker processes on this machine,
for tests and for trying the executor out. Replications are independent and seeded by
the runner, so the cluster's scheduling order never changes a result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from distributed import Client, LocalCluster

from ontology.errors import BackendUnavailable

T = TypeVar("T")
R = TypeVar("R")


class DaskExecutor:
    """Runs each item as one dask task; ``workers`` is the cluster's total thread count."""

    def __init__(self, address: str | None, *, local_workers: int = 2, timeout_s: float = 10.0) -> None:
        self._cluster: LocalCluster | None = None
        try:
            if address is None:
                # One thread per process: SimPy models are pure Python and hold the GIL.
                self._cluster = LocalCluster(
                    n_workers=local_workers, threads_per_worker=1, processes=True, dashboard_address=None
                )  # type: ignore[no-untyped-call]
                address = self._cluster.scheduler_address
            self._client = Client(address, timeout=timeout_s, set_as_default=False)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise BackendUnavailable("dask", f"cannot reach the scheduler at {address}: {exc}") from exc
        self.address = address

    @property
    def workers(self) -> int:
        info: dict[str, Any] = self._client.scheduler_info()
        return sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()) or 1

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        # pure=False: equal items (two replications with the same arguments) are still run twice.
        futures = self._client.map(fn, list(items), pure=False)
        return list(self._client.gather(futures))  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]
        if self._cluster is not None:
            self._cluster.close()

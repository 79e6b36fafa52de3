"""What a simulation worker reports about its runs, for the composition root's metrics."""

from __future__ import annotations

from typing import Protocol


class WorkerObserver(Protocol):
    """Told of claims, ends (with the outcome), replications done and leases lost."""

    def claimed(self) -> None:
        """The worker claimed a run."""
        ...

    def ended(self, outcome: str, seconds: float) -> None:
        """A claimed run left this worker ``seconds`` after its claim.

        ``outcome``: ``succeeded``, ``failed``, ``cancelled``, ``requeued`` (the worker is
        stopping) or ``lost`` (its lease passed to another worker).
        """
        ...

    def replications(self, count: int) -> None:
        """``count`` more replications finished (both sides of a comparison count)."""
        ...

    def lease_lost(self) -> None:
        """A lease renewal found the run taken by another worker."""
        ...


class Unobserved:
    """The observer of a worker nobody watches."""

    def claimed(self) -> None:
        return None

    def ended(self, outcome: str, seconds: float) -> None:
        return None

    def replications(self, count: int) -> None:
        return None

    def lease_lost(self) -> None:
        return None

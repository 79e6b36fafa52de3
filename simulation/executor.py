"""The ``Executor`` port: where simulation replications run.

``local`` (a process pool on this machine, ``simulation.local``) is the default;
``dask`` (``simulation.dask``) fans the work out to a dask.distributed cluster. Both take
the same pure functions, so results do not depend on which one ran them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs independent pieces of work (replications) and returns results in order."""

    @property
    def workers(self) -> int:
        """How many pieces can run at once."""
        ...

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Apply ``fn`` to every item, in parallel where possible; results keep item order."""
        ...

    def close(self) -> None:
        """Stop the workers."""
        ...

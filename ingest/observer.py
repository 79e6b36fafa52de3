"""What the ingest service reports as it works, for the composition root's metrics.

Reported once per batch or spooled write, never per message: a batch is thousands of
values, so an observer costs nothing measurable on the hot path (bench/ingest.py). States
(spool depth, broker connection, cache sizes) are read when metrics are scraped, from the
service's own attributes, and need no call here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class IngestObserver(Protocol):
    """Told of messages taken in, dead letters, writes and acknowledgements."""

    def received(self, messages: int) -> None:
        """A batch of messages was taken from the broker and decoded."""
        ...

    def rejected(self, reasons: Mapping[str, int]) -> None:
        """Messages were dead-lettered (or points refused by the store), by reason."""
        ...

    def stored(self, points: int, seconds: float) -> None:
        """One store write took ``points`` in ``seconds`` (a fresh batch or a spooled one)."""
        ...

    def spooled(self, points: int) -> None:
        """Points went to the spool because the store refused them or older ones wait there."""
        ...

    def acknowledged(self, messages: int, lag_s: float) -> None:
        """A durable batch was acknowledged, ``lag_s`` after its first message arrived."""
        ...


class Unobserved:
    """The observer of an ingest service nobody watches."""

    def received(self, messages: int) -> None:
        return None

    def rejected(self, reasons: Mapping[str, int]) -> None:
        return None

    def stored(self, points: int, seconds: float) -> None:
        return None

    def spooled(self, points: int) -> None:
        return None

    def acknowledged(self, messages: int, lag_s: float) -> None:
        return None

"""The backends' tables: every scheme reaches an adapter that takes what its URL says."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from kgtwin.backends import PORTS, TELEMETRY, Backend, open_backends
from kgtwin.settings import load_settings
from telemetry import MemoryTelemetryStore, Sample, TelemetryPoint, TelemetryRef


@pytest.mark.parametrize(
    ("scheme", "backend"),
    [(scheme, backend) for port in PORTS for scheme, backend in port.backends.items()],
    ids=[f"{port.name}:{scheme}" for port in PORTS for scheme in port.backends],
)
def test_each_scheme_names_an_adapter_that_takes_its_urls_fields(scheme: str, backend: Backend) -> None:
    adapter = backend.load()
    url_type = backend.url.__self__  # type: ignore[attr-defined]  # the URL type's ``parse``
    fields = {f.name: None for f in dataclasses.fields(url_type)}
    inspect.signature(adapter).bind(**fields)  # raises TypeError when a field is no parameter


def test_an_unknown_scheme_names_the_ones_there_are() -> None:
    with pytest.raises(
        ValueError, match=r"unknown telemetry backend 'sqlite': use duckdb:///<file>, .*memory://"
    ):
        TELEMETRY.parse("sqlite:///x.db")


def test_the_memory_telemetry_store_is_opened_by_its_url() -> None:
    backends = open_backends(load_settings(telemetry_url="memory://"), ["telemetry"])
    try:
        store = backends.telemetry
        assert isinstance(store, MemoryTelemetryStore)
        store.write([TelemetryPoint("telemetry", "Room", {"twin_id": "r1"}, {"t": 21.5}, 0)])
        [latest] = store.latest([TelemetryRef("telemetry", "Room", {"twin_id": "r1"})])
        assert latest == {"t": Sample(latest["t"].time, 21.5)}
    finally:
        backends.close()

"""Telemetry references: where a twin's time series live in the time-series store.

The graph never holds raw points. Each twin carries a ``TelemetryRef`` naming its series:
a bucket, a measurement, a tag set (always ``twin_id``) and the fields (the Telemetry
names of the twin's model). The default reference is derived from the model; a twin may
override it to point at series that another system already writes (an existing InfluxDB
measurement with its own tags). The API and the simulations read telemetry only through
a reference. How a reference is stored on a twin's node is the graph's business
(``graph.telemetry``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ontology import ModelSet, Telemetry
from ontology.dtmi import short_name

DEFAULT_BUCKET = "telemetry"
TWIN_TAG = "twin_id"


@dataclass(frozen=True)
class TelemetryRef:
    """One twin's series: ``measurement`` in ``bucket``, selected by ``tags``, holding ``fields``."""

    bucket: str
    measurement: str
    tags: Mapping[str, str] = field(default_factory=dict)
    fields: tuple[str, ...] = ()

    @property
    def twin_id(self) -> str:
        """The twin whose series these are (the ``twin_id`` tag)."""
        return self.tags[TWIN_TAG]

    def to_dict(self) -> dict[str, Any]:
        """The reference as JSON (API responses, bulk files)."""
        return {
            "bucket": self.bucket,
            "measurement": self.measurement,
            "tags": dict(sorted(self.tags.items())),
            "fields": list(self.fields),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TelemetryRef:
        """The reference from its JSON form; the caller has checked the shape."""
        return cls(
            bucket=str(data["bucket"]),
            measurement=str(data["measurement"]),
            tags={str(k): str(v) for k, v in dict(data.get("tags") or {}).items()},
            fields=tuple(str(f) for f in data.get("fields") or ()),
        )


def telemetry_fields(models: ModelSet, model: str) -> tuple[str, ...]:
    """The Telemetry names of ``model`` (inherited ones included), sorted."""
    interface = models.get(model)
    if interface is None:
        return ()
    return tuple(sorted(n for n, c in interface.contents.items() if isinstance(c, Telemetry)))


def default_ref(models: ModelSet, model: str, twin_id: str, *, bucket: str = DEFAULT_BUCKET) -> TelemetryRef:
    """The reference a twin of ``model`` gets unless it names its own.

    The measurement is the model's short name (``Room`` for ``dtmi:kgtwin:space:Room;1``),
    so that one measurement holds the series of one kind of asset and a query for all
    rooms of a floor stays within it.
    """
    return TelemetryRef(
        bucket=bucket,
        measurement=short_name(model),
        tags={TWIN_TAG: twin_id},
        fields=telemetry_fields(models, model),
    )


def bare_ref(model: str, twin_id: str, *, bucket: str = DEFAULT_BUCKET) -> TelemetryRef:
    """The default reference of a twin when its model's fields are not known: no fields."""
    return TelemetryRef(bucket, short_name(model), {TWIN_TAG: twin_id})

"""InfluxDB 2 through ``influxdb-client``: the production telemetry store."""

from __future__ import annotations

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.rest import ApiException
from urllib3.exceptions import HTTPError

from ontology.errors import BackendUnavailable


class InfluxTelemetryStore:
    """Telemetry points in one bucket of an InfluxDB 2 organisation."""

    backend = "influxdb"

    def __init__(self, url: str, token: str, org: str, bucket: str, timeout_ms: int = 10_000) -> None:
        self.url = url
        self.org = org
        self.bucket = bucket
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=timeout_ms)

    def ping(self) -> None:
        """Check the server answers, the token is accepted and the bucket exists."""
        try:
            if not self._client.ping():
                raise BackendUnavailable("influxdb", f"{self.url} does not answer")
            found = self._client.buckets_api().find_bucket_by_name(self.bucket)
        except ApiException as exc:
            raise BackendUnavailable("influxdb", f"{self.url}: HTTP {exc.status} {exc.reason}") from exc
        except (HTTPError, OSError) as exc:
            raise BackendUnavailable("influxdb", f"{self.url}: {exc}") from exc
        if found is None:
            raise BackendUnavailable("influxdb", f"bucket {self.bucket!r} not found in org {self.org!r}")

    def close(self) -> None:
        self._client.close()

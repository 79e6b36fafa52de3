"""Backend URLs: one per port, parsed into typed values before anything connects.

Paths follow SQLAlchemy's convention, which users of embedded databases already know:
``falkordb:///data`` is the folder ``./data`` relative to the working directory, and
``falkordb:////var/lib/kgtwin`` (four slashes) is absolute. A malformed URL raises
``ValueError`` with a message that says what is wrong; settings turn it into one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

_NEO4J_SCHEMES = {"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"}


@dataclass(frozen=True)
class FalkorUrl:
    """Embedded FalkorDB persisted in ``data_dir``, holding the graph named ``graph``."""

    data_dir: Path
    graph: str = "kgtwin"


@dataclass(frozen=True)
class Neo4jUrl:
    """A Neo4j server; ``uri`` is what the driver is given, credentials apart."""

    uri: str
    user: str | None
    password: str | None
    database: str | None = None

    def redacted(self) -> str:
        return self.uri


@dataclass(frozen=True)
class DuckDbUrl:
    """Embedded DuckDB in one file (or ``:memory:``)."""

    path: Path | None  # None means in memory


@dataclass(frozen=True)
class InfluxUrl:
    """An InfluxDB 2 server, its token, organisation and bucket."""

    url: str
    token: str
    org: str
    bucket: str

    def redacted(self) -> str:
        return f"{self.url}?org={self.org}&bucket={self.bucket}"


@dataclass(frozen=True)
class EmbeddedBrokerUrl:
    """The in-process amqtt broker kgtwin starts itself, listening on host:port."""

    host: str = "127.0.0.1"
    port: int = 1883


@dataclass(frozen=True)
class MqttUrl:
    """An external MQTT broker (Mosquitto, EMQX, ...)."""

    host: str
    port: int
    user: str | None
    password: str | None
    tls: bool = False

    def redacted(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"


GraphUrl = FalkorUrl | Neo4jUrl
TelemetryUrl = DuckDbUrl | InfluxUrl
BrokerUrl = EmbeddedBrokerUrl | MqttUrl


def _path_of(rest: str, what: str) -> Path:
    """The path part of ``scheme:///path``: relative after three slashes, absolute after four."""
    if not rest.startswith("///"):
        raise ValueError(f"{what} URL must look like {what}:///<path> (three slashes), got {what}:{rest}")
    path = rest[3:].split("?", 1)[0]
    if not path:
        raise ValueError(f"{what} URL has no path")
    return Path(unquote(path))


def _port(parts_port: int | None, default: int, url: str) -> int:
    if parts_port is None:
        return default
    if not 0 < parts_port < 65536:
        raise ValueError(f"port out of range in {url!r}")
    return parts_port


def _split(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.partition(":")
    if not sep or not scheme:
        raise ValueError(f"not a URL (no scheme): {url!r}")
    return scheme.lower(), rest


def parse_graph_url(url: str) -> GraphUrl:
    """``falkordb:///<data-dir>[?graph=name]`` or ``neo4j://user:pass@host:7687[/database]``."""
    scheme, rest = _split(url)
    if scheme == "falkordb":
        query = parse_qs(urlsplit(url).query)
        graph = query.get("graph", ["kgtwin"])[0]
        return FalkorUrl(data_dir=_path_of(rest, "falkordb"), graph=graph)
    if scheme in _NEO4J_SCHEMES:
        try:
            parts = urlsplit(url)
            port = _port(parts.port, 7687, url)
        except ValueError as exc:
            raise ValueError(f"malformed Neo4j URL: {exc}") from None
        if not parts.hostname:
            raise ValueError("Neo4j URL has no host: expected neo4j://user:pass@host:7687")
        database = parts.path.strip("/") or None
        return Neo4jUrl(
            uri=f"{scheme}://{parts.hostname}:{port}",
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            database=database,
        )
    raise ValueError(f"unknown graph backend {scheme!r}: use falkordb:///<data-dir> or neo4j://host:7687")


def parse_telemetry_url(url: str) -> TelemetryUrl:
    """``duckdb:///<file>`` or ``influxdb://<token>@host:8086?org=<org>&bucket=<bucket>``."""
    scheme, rest = _split(url)
    if scheme == "duckdb":
        if rest in {"///:memory:", ":memory:"}:
            return DuckDbUrl(path=None)
        return DuckDbUrl(path=_path_of(rest, "duckdb"))
    if scheme in {"influxdb", "influxdbs"}:
        try:
            parts = urlsplit(url)
            port = _port(parts.port, 8086, url)
        except ValueError as exc:
            raise ValueError(f"malformed InfluxDB URL: {exc}") from None
        if not parts.hostname:
            raise ValueError(
                "InfluxDB URL has no host: expected influxdb://<token>@host:8086?org=..&bucket=.."
            )
        if not parts.username:
            raise ValueError(
                "InfluxDB URL has no token: expected influxdb://<token>@host:8086?org=..&bucket=.."
            )
        query = parse_qs(parts.query)
        missing = [key for key in ("org", "bucket") if not query.get(key)]
        if missing:
            raise ValueError(f"InfluxDB URL lacks {' and '.join(missing)}: add ?org=<org>&bucket=<bucket>")
        http = "https" if scheme == "influxdbs" else "http"
        return InfluxUrl(
            url=f"{http}://{parts.hostname}:{port}",
            token=unquote(parts.username),
            org=query["org"][0],
            bucket=query["bucket"][0],
        )
    raise ValueError(
        f"unknown telemetry backend {scheme!r}: use duckdb:///<file> or influxdb://<token>@host:8086"
    )


def parse_broker_url(url: str) -> BrokerUrl:
    """``embedded``, ``embedded://host:port`` or ``mqtt://user:pass@host:1883`` (``mqtts`` for TLS)."""
    if url == "embedded":
        return EmbeddedBrokerUrl()
    scheme, _ = _split(url)
    try:
        parts = urlsplit(url)
        port = _port(parts.port, 8883 if scheme == "mqtts" else 1883, url)
    except ValueError as exc:
        raise ValueError(f"malformed broker URL: {exc}") from None
    if scheme == "embedded":
        return EmbeddedBrokerUrl(host=parts.hostname or "127.0.0.1", port=port)
    if scheme in {"mqtt", "mqtts"}:
        if not parts.hostname:
            raise ValueError("broker URL has no host: expected mqtt://user:pass@host:1883")
        return MqttUrl(
            host=parts.hostname,
            port=port,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=scheme == "mqtts",
        )
    raise ValueError(f"unknown broker {scheme!r}: use embedded or mqtt://host:1883")


@dataclass(frozen=True)
class LocalExecutorUrl:
    """A process pool on this machine; ``workers`` ``None`` means one per core."""

    workers: int | None = None


@dataclass(frozen=True)
class DaskUrl:
    """A dask.distributed scheduler, as its client is given it (``tcp://host:8786``)."""

    address: str


ExecutorUrl = LocalExecutorUrl | DaskUrl


def parse_executor_url(url: str) -> ExecutorUrl:
    """``local``, ``local://?workers=N`` or ``dask://host:8786`` (``tls://`` kept for dask's TLS)."""
    if url == "local":
        return LocalExecutorUrl()
    scheme, _ = _split(url)
    try:
        parts = urlsplit(url)
        port = _port(parts.port, 8786, url)
    except ValueError as exc:
        raise ValueError(f"malformed executor URL: {exc}") from None
    if scheme == "local":
        workers = parse_qs(parts.query).get("workers", [None])[0]
        if workers is None:
            return LocalExecutorUrl()
        if not workers.isdigit() or int(workers) < 1:
            raise ValueError(f"workers must be a positive integer in {url!r}")
        return LocalExecutorUrl(int(workers))
    if scheme in {"dask", "tcp", "tls"}:
        if not parts.hostname:
            raise ValueError("dask URL has no host: expected dask://scheduler-host:8786")
        protocol = "tls" if scheme == "tls" else "tcp"
        return DaskUrl(f"{protocol}://{parts.hostname}:{port}")
    raise ValueError(f"unknown executor {scheme!r}: use local, local://?workers=N or dask://host:8786")

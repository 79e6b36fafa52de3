"""Backend URLs as typed values: what each backend's URL says, parsed before anything connects.

Each type reads its own URL (``parse``); which type a URL is, by its scheme, is the port's
table in ``kgtwin.backends``. Paths follow SQLAlchemy's convention, which users of embedded
databases already know: ``falkordb:///data`` is the folder ``./data`` relative to the
working directory, and ``falkordb:////var/lib/kgtwin`` (four slashes) is absolute. A
malformed URL raises ``ValueError`` with a message that says what is wrong; settings turn
it into one line. Nothing here imports a driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit


def scheme_of(url: str) -> str:
    """The scheme of ``url``, lower case; ``ValueError`` when it has none."""
    scheme, sep, _ = url.partition(":")
    if not sep or not scheme:
        raise ValueError(f"not a URL (no scheme): {url!r}")
    return scheme.lower()


def _path_of(url: str, what: str) -> Path:
    """The path part of ``scheme:///path``: relative after three slashes, absolute after four."""
    rest = url.partition(":")[2]
    if not rest.startswith("///"):
        raise ValueError(f"{what} URL must look like {what}:///<path> (three slashes), got {what}:{rest}")
    path = rest[3:].split("?", 1)[0]
    if not path:
        raise ValueError(f"{what} URL has no path")
    return Path(unquote(path))


def _split(url: str, default_port: int, what: str) -> tuple[SplitResult, int]:
    """``url``'s parts and its port (``default_port`` when none); a malformed one names ``what``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"malformed {what} URL: {exc}") from None
    if port is None:
        return parts, default_port
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {url!r}")
    return parts, port


# -- graph ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FalkorUrl:
    """Embedded FalkorDB persisted in ``data_dir``, holding the graph named ``graph``."""

    data_dir: Path
    graph: str = "kgtwin"

    @classmethod
    def parse(cls, url: str) -> Self:
        """``falkordb:///<data-dir>[?graph=name]``."""
        graph = parse_qs(urlsplit(url).query).get("graph", ["kgtwin"])[0]
        return cls(data_dir=_path_of(url, "falkordb"), graph=graph)


@dataclass(frozen=True)
class Neo4jUrl:
    """A Neo4j server; ``uri`` is what the driver is given, credentials apart."""

    uri: str
    user: str | None
    password: str | None
    database: str | None = None

    @classmethod
    def parse(cls, url: str) -> Self:
        """``neo4j://user:pass@host:7687[/database][?policy=name]`` (or ``neo4j+s``, ``bolt``, ...).

        The query of a routing URL is the driver's routing context: a Neo4j cluster's
        server policy (``?policy=analysts``) picks which members serve this process's
        reads, so analysts' replicas can be pointed at read replicas by configuration.
        A direct ``bolt`` connection has no routing, and the driver refuses a context there.
        """
        parts, port = _split(url, 7687, "Neo4j")
        if not parts.hostname:
            raise ValueError("Neo4j URL has no host: expected neo4j://user:pass@host:7687")
        scheme = scheme_of(url)
        if parts.query and not scheme.startswith("neo4j"):
            raise ValueError(
                f"a {scheme}:// URL connects to one server and takes no routing context "
                f"(?{parts.query}): use neo4j:// for a cluster's routing policies"
            )
        return cls(
            uri=f"{scheme}://{parts.hostname}:{port}" + (f"?{parts.query}" if parts.query else ""),
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            database=parts.path.strip("/") or None,
        )


# -- telemetry -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuckDbUrl:
    """Embedded DuckDB in one file (or ``:memory:``)."""

    path: Path | None  # None means in memory

    @classmethod
    def parse(cls, url: str) -> Self:
        """``duckdb:///<file>`` or ``duckdb:///:memory:``."""
        if url.partition(":")[2] in {"///:memory:", ":memory:"}:
            return cls(path=None)
        return cls(path=_path_of(url, "duckdb"))


@dataclass(frozen=True)
class MemoryUrl:
    """The in-memory store: points kept by this process only, gone when it ends (tests, tools)."""

    @classmethod
    def parse(cls, url: str) -> Self:
        """``memory://``."""
        return cls()


@dataclass(frozen=True)
class InfluxUrl:
    """An InfluxDB 2 server, its token, organisation and bucket."""

    url: str
    token: str
    org: str
    bucket: str

    @classmethod
    def parse(cls, url: str) -> Self:
        """``influxdb://<token>@host:8086?org=<org>&bucket=<bucket>`` (``influxdbs`` for HTTPS)."""
        parts, port = _split(url, 8086, "InfluxDB")
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
        http = "https" if scheme_of(url) == "influxdbs" else "http"
        return cls(
            url=f"{http}://{parts.hostname}:{port}",
            token=unquote(parts.username),
            org=query["org"][0],
            bucket=query["bucket"][0],
        )


# -- broker --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddedBrokerUrl:
    """The in-process amqtt broker kgtwin starts itself, listening on host:port."""

    host: str = "127.0.0.1"
    port: int = 1883

    @classmethod
    def parse(cls, url: str) -> Self:
        """``embedded`` or ``embedded://host:port``."""
        if url == "embedded":
            return cls()
        parts, port = _split(url, 1883, "broker")
        return cls(host=parts.hostname or "127.0.0.1", port=port)


@dataclass(frozen=True)
class MqttUrl:
    """An external MQTT broker (Mosquitto, EMQX, ...)."""

    host: str
    port: int
    user: str | None
    password: str | None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> Self:
        """``mqtt://user:pass@host:1883``, or ``mqtts://...`` for TLS (port 8883)."""
        tls = scheme_of(url) == "mqtts"
        parts, port = _split(url, 8883 if tls else 1883, "broker")
        if not parts.hostname:
            raise ValueError("broker URL has no host: expected mqtt://user:pass@host:1883")
        return cls(
            host=parts.hostname,
            port=port,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )


# -- executor ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalExecutorUrl:
    """A process pool on this machine; ``workers`` ``None`` means one per core."""

    workers: int | None = None

    @classmethod
    def parse(cls, url: str) -> Self:
        """``local`` or ``local://?workers=N``."""
        if url == "local":
            return cls()
        parts, _ = _split(url, 0, "executor")
        workers = parse_qs(parts.query).get("workers", [None])[0]
        if workers is None:
            return cls()
        if not workers.isdigit() or int(workers) < 1:
            raise ValueError(f"workers must be a positive integer in {url!r}")
        return cls(int(workers))


@dataclass(frozen=True)
class DaskUrl:
    """A dask.distributed scheduler, as its client is given it (``tcp://host:8786``)."""

    address: str

    @classmethod
    def parse(cls, url: str) -> Self:
        """``dask://host:8786`` (``tcp://`` and ``tls://``, dask's own, are taken too)."""
        parts, port = _split(url, 8786, "executor")
        if not parts.hostname:
            raise ValueError("dask URL has no host: expected dask://scheduler-host:8786")
        protocol = "tls" if scheme_of(url) == "tls" else "tcp"
        return cls(f"{protocol}://{parts.hostname}:{port}")


GraphUrl = FalkorUrl | Neo4jUrl
TelemetryUrl = DuckDbUrl | InfluxUrl | MemoryUrl
BrokerUrl = EmbeddedBrokerUrl | MqttUrl
ExecutorUrl = LocalExecutorUrl | DaskUrl

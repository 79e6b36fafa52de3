"""Settings: one pydantic-settings model, read once by the composition root.

Each port has one URL; its scheme picks the backend (the tables in ``kgtwin.backends``).
Values come, highest priority first, from keyword arguments, ``KGTWIN_*`` environment
variables, and an optional ``kgtwin.toml`` in the working directory (or the file named by
``KGTWIN_CONFIG``). The defaults run everything embedded under ``./data``, so a fresh
machine needs nothing else.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from ingest.messages import TopicMapping
from kgtwin import security_checks
from kgtwin.backends import parse_broker_url, parse_executor_url, parse_graph_url, parse_telemetry_url
from kgtwin.urls import BrokerUrl, ExecutorUrl, GraphUrl, MqttUrl, TelemetryUrl
from ontology.errors import ConfigurationInvalid
from ontology.policy import DtdlPolicy

ENV_PREFIX = "KGTWIN_"


def _config_file() -> Path:
    return Path(os.environ.get("KGTWIN_CONFIG", "kgtwin.toml"))


class Settings(BaseSettings):
    """Everything kgtwin can be told, with defaults that work on a fresh machine."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    graph_url: str = Field(
        default="falkordb:///data",
        description="Twin graph: falkordb:///<data-dir> (embedded) or neo4j://user:pass@host:7687.",
    )
    telemetry_url: str = Field(
        default="duckdb:///data/telemetry.duckdb",
        description="Time-series store: duckdb:///<file> (embedded), "
        "influxdb://<token>@host:8086?org=<org>&bucket=<bucket>, or memory:// (kept by this process only).",
    )
    broker_url: str = Field(
        default="embedded",
        description="MQTT broker: embedded (in-process amqtt on 127.0.0.1:1883), "
        "embedded://host:port, or mqtt://user:pass@host:1883.",
    )
    host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the API listens on.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info")
    log_format: Literal["json", "console"] = Field(
        default="json", description="json: one JSON object per line; console: for humans."
    )
    # Authentication (docs/security.md). Off by default: the edge profile on loopback has
    # one caller, the machine's owner; any other bind address refuses to start without it.
    api_keys: bool = Field(
        default=False, description="Accept (and require) API keys made with `kgtwin keys create`."
    )
    oidc_jwks_url: str | None = Field(
        default=None, description="Accept (and require) OIDC bearer tokens signed by a key of this JWKS."
    )
    oidc_issuer: str | None = Field(default=None, description="The `iss` every bearer token must carry.")
    oidc_audience: str | None = Field(default=None, description="The `aud` every bearer token must carry.")
    oidc_roles_claim: str = Field(
        default="roles", description="Dotted path of the token claim holding kgtwin role names."
    )
    # Limits (docs/security.md); 0 switches the rate limit off.
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, description="Largest request body.")
    rate_limit_per_second: float = Field(default=20.0, ge=0, description="Requests per second per key.")
    rate_limit_burst: int = Field(default=100, ge=1, description="Requests a key may send at once.")
    auth_failures_per_second: float = Field(
        default=1.0,
        ge=0,
        description="Failed authentications a client address may make a second once its burst is "
        "spent; past it, its credentials are refused unchecked (429). 0 switches the throttle off.",
    )
    auth_failure_burst: int = Field(
        default=10, ge=1, description="Failed authentications a client address may make at once."
    )
    graphql_max_depth: int = Field(default=12, ge=1, description="Deepest nesting of a GraphQL query.")
    graphql_max_complexity: int = Field(
        default=10_000, ge=1, description="Most fields a GraphQL query may ask for, lists counted by size."
    )
    graphql_max_tokens: int = Field(
        default=10_000, ge=100, description="Most tokens a GraphQL document may hold."
    )
    cypher_timeout_s: float = Field(default=30.0, gt=0, le=600, description="Budget of one Cypher query.")
    cypher_max_rows: int = Field(default=10_000, ge=1, le=100_000, description="Rows a Cypher query returns.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins (https://app.example.com) allowed to call the API from their "
        "pages, with credentials; comma-separated or a JSON list. None by default: same origin only.",
    )
    cypher_concurrency: dict[str, int] = Field(
        default_factory=lambda: {"analyst": 2, "admin": 2},
        description="Cypher queries one API process runs at once for callers of each role, e.g. "
        '{"analyst": 2, "admin": 2}; a caller past it gets LIMIT_EXCEEDED at once.',
    )
    http_keepalive_s: int = Field(
        default=75,
        ge=1,
        le=3600,
        description="Seconds an idle HTTP connection stays open for its next request. Longer than the "
        "idle timeout of the load balancer or client pool in front (AWS ALB: 60 s), so the server never "
        "closes a connection just as the other end sends a request on it.",
    )
    ws_init_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="How long a websocket may take to send connection_init."
    )

    # TLS (docs/security.md): both files or neither. The Azure Digital Twins SDKs send their
    # bearer token over https only, so the ADT surface (docs/adt-compatibility.md) needs it.
    tls_cert_file: Path | None = Field(
        default=None, description="PEM certificate (chain) the API serves https with; needs tls_key_file."
    )
    tls_key_file: Path | None = Field(default=None, description="PEM private key of tls_cert_file.")

    # The Azure Digital Twins data plane under /adt (docs/adt-compatibility.md).
    adt_endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="Event route endpoint name -> MQTT topic prefix. Empty: any endpoint name is "
        "accepted and publishes under kgtwin/routes/<name>.",
    )
    adt_files_dir: Path = Field(
        default=Path("data/adt-files"),
        description="Where files uploaded with PUT /adt/files/<name> (import job input and output) live.",
    )
    adt_job_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="An import or deletion job whose process shows no sign of life for this long is "
        "failed (JobAbandoned); its runner renews the lease every third of it.",
    )
    adt_event_source: str = Field(
        default="kgtwin",
        min_length=1,
        description="The CloudEvents source of routed events (ADT's instance host name; route filters "
        "may test it).",
    )

    # MQTT ingest (docs/ingest.md).
    ingest_client_id: str = Field(
        default="kgtwin-ingest",
        min_length=1,
        description="MQTT client id of the ingest session: fixed, so the broker keeps the session "
        "(and what arrives meanwhile) across restarts; give each ingest process its own.",
    )
    ingest_shared_group: str = Field(
        default="kgtwin",
        description="Shared-subscription group: ingest processes of one group split the stream "
        "($share/<group>/...). Empty for a plain subscription; the embedded broker always uses one.",
    )
    ingest_session_expiry_s: int = Field(
        default=7 * 24 * 3600,
        ge=1,
        description="How long the broker keeps a stopped ingest process's session and its share "
        "of the stream (MQTT 5); past it, what the session held is dropped by the broker.",
    )
    ingest_mappings: list[TopicMapping] = Field(
        default_factory=list,
        description="Topic mappings for devices that cannot publish to kgtwin/twins/<id>/telemetry.",
    )
    ingest_spool_dir: Path = Field(
        default=Path("data/ingest-spool"),
        description="Where points wait on disk while the telemetry store is unreachable.",
    )
    ingest_spool_max_points: int = Field(default=2_000_000, ge=1, description="Points the spool may hold.")
    ingest_batch_points: int = Field(default=5000, ge=1, description="Values written per store call.")
    ingest_batch_wait_ms: int = Field(default=50, ge=1, description="Longest wait to fill a batch.")
    ingest_max_payload_bytes: int = Field(default=256 * 1024, ge=64, description="Largest message taken.")
    ingest_max_twin_id_length: int = Field(
        default=256, ge=1, le=65_535, description="Longest twin id a message may name (characters)."
    )
    ingest_max_future_skew_s: float = Field(
        default=600.0,
        ge=0,
        description="How far ahead of the server's clock a message's ts may be; later ones are dead letters.",
    )
    ingest_twin_cache_ttl_s: float = Field(
        default=60.0, gt=0, description="How long a twin's model and telemetry reference are cached."
    )
    ingest_twin_cache_max_bytes: int = Field(
        default=128 * 1024 * 1024,
        ge=1024 * 1024,
        description="Memory the twin cache may take (known twins; unknown ids take an eighth more).",
    )
    ingest_warm_twins: int = Field(
        default=100_000,
        ge=0,
        description="Twins whose model and telemetry reference ingest caches before its first message.",
    )
    ingest_stats_interval_s: float = Field(
        default=10.0, gt=0, description="How often `kgtwin ingest` logs its counters and lag."
    )
    ingest_latest_interval_s: float = Field(
        default=1.0, gt=0, description="How often latest values are copied onto twin nodes."
    )
    uplink_url: str | None = Field(
        default=None,
        description="The cloud's MQTT broker an edge forwards its site to (mqtt://user:pass@host:1883); "
        "off when unset (docs/edge-cloud.md).",
    )
    uplink_site: str | None = Field(
        default=None, min_length=1, description="The site twin this edge owns (it and all it contains)."
    )
    uplink_queue_dir: Path = Field(
        default=Path("data/uplink"),
        description="Where messages for the cloud wait on disk while the link is down.",
    )
    uplink_max_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=64 * 1024,
        description="Bytes of messages the uplink queue holds; past it telemetry is dropped oldest first "
        "and queued graph changes give way to a resync.",
    )
    uplink_max_age_s: float = Field(
        default=7 * 24 * 3600.0, gt=0, description="Age past which queued messages are treated as overflow."
    )
    uplink_client_id: str | None = Field(
        default=None,
        min_length=1,
        description="MQTT client id of the uplink session (default kgtwin-uplink-<site>).",
    )
    uplink_receiver_client_id: str = Field(
        default="kgtwin-uplink-receiver",
        min_length=1,
        description="MQTT client id of `kgtwin uplink-receiver`'s persistent session.",
    )
    demo_interval_s: float = Field(
        default=5.0,
        ge=0,
        description="How often `serve --demo`'s simulated devices publish telemetry; 0: they do not "
        "(the demo's twins are loaded, telemetry comes from real devices only).",
    )

    # Simulation runs (docs/simulation-jobs.md).
    executor_url: str = Field(
        default="local",
        description="Where replications run: local (a process pool, one process per core), "
        "local://?workers=N, or dask://scheduler-host:8786.",
    )
    worker_lease_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a claimed run stays a worker's without a heartbeat; a run whose "
        "worker died is claimed again after it.",
    )
    run_time_limit_s: float = Field(
        default=3600.0, gt=0, description="Wall-clock limit of one run; past it the run fails."
    )

    # DTDL: what the specification leaves to the service (docs/conformance.md). The defaults are
    # the specification's recommendations, which Microsoft's DTDLParser follows too.
    dtdl_undefined_extensions: Literal["per-version", "accept", "reject"] = Field(
        default="per-version",
        description="Models naming an extension context kgtwin does not know: per-version accepts "
        "them in DTDL v2 and rejects them in v3 and v4, as the specification recommends.",
    )
    dtdl_limit_extensions: list[str] = Field(
        default_factory=list,
        description='Limit extensions accepted after a "#limitless" context, '
        'e.g. ["dtmi:dtdl:limits:onvif"].',
    )
    dtdl_later_extensions: list[str] = Field(
        default_factory=list,
        description="Extensions to recognize that Microsoft's DTDLParser 1.1.3 does not, "
        'e.g. ["dtmi:dtdl:extension:mqtt;3"].',
    )

    # FMUs and live shadows (docs/simulation.md).
    fmu_dir: Path = Field(
        default=Path("data/fmus"),
        description="Where FMU files are kept, content-addressed; in the cloud profile a volume "
        "the API and every worker mount.",
    )
    fmu_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest FMU accepted (REST uploads are also bounded by KGTWIN_MAX_BODY_BYTES).",
    )
    shadow_lease_s: float = Field(
        default=10.0,
        gt=0,
        description="How long a live shadow stays a worker's without renewal; another worker takes "
        "over a dead one's shadows after it.",
    )
    shadow_capacity: int = Field(default=200, ge=0, description="Live shadows one worker runs at most.")

    # Operations (docs/operations.md): processes, health, metrics, shutdown.
    api_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes `kgtwin api` serves its port with (`--workers N`); more than one needs "
        "backends several processes can share (neo4j://, influxdb://, mqtt://).",
    )
    health_port: int = Field(
        default=8001,
        ge=0,
        le=65535,
        description="Port of `kgtwin ingest`'s and `kgtwin worker`'s /healthz, /readyz and /metrics "
        "(on KGTWIN_HOST); 0 for none. `serve` and `api` answer them on their main port.",
    )
    shutdown_grace_s: float = Field(
        default=25.0,
        gt=0,
        le=3600,
        description="Longest a service takes to stop after SIGTERM: the drain, in-flight work "
        "finished or handed back, then exit 0.",
    )
    shutdown_drain_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="After SIGTERM an API process answers /readyz 503 but keeps serving until "
        "requests stop arriving for a second (its load balancer has taken it out), at most this long.",
    )
    slow_request_ms: float = Field(
        default=1000.0, gt=0, description="API requests slower than this are logged (`request.slow`)."
    )

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        return security_checks.non_blank(value)

    @field_validator("oidc_jwks_url")
    @classmethod
    def _check_jwks_url(cls, value: str | None) -> str | None:
        return None if value is None else security_checks.jwks_url(value)

    @field_validator("oidc_issuer", "oidc_audience")
    @classmethod
    def _check_oidc_value(cls, value: str | None) -> str | None:
        return None if value is None else security_checks.non_blank(value)

    @field_validator("oidc_roles_claim")
    @classmethod
    def _check_roles_claim(cls, value: str) -> str:
        return security_checks.claim_path(value)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # The environment gives one string: a JSON list, or origins separated by commas.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",")] if text else []
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        origins = [security_checks.origin(v) for v in value]
        if len(set(origins)) != len(origins):
            raise ValueError("lists an origin twice")
        return origins

    @field_validator("cypher_concurrency")
    @classmethod
    def _check_cypher_concurrency(cls, value: dict[str, int]) -> dict[str, int]:
        # Only roles granting Cypher may be named: a limit on any other would never apply.
        allowed = ("analyst", "admin")
        for role, limit in value.items():
            if role not in allowed:
                raise ValueError(f"{role!r} is not a role that may run Cypher ({', '.join(allowed)})")
            if limit < 1:
                raise ValueError(f"{role}: {limit} must be at least 1")
        return value

    @field_validator("graph_url")
    @classmethod
    def _check_graph_url(cls, value: str) -> str:
        parse_graph_url(value)
        return value

    @field_validator("telemetry_url")
    @classmethod
    def _check_telemetry_url(cls, value: str) -> str:
        parse_telemetry_url(value)
        return value

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str) -> str:
        parse_broker_url(value)
        return value

    @field_validator("uplink_url")
    @classmethod
    def _check_uplink_url(cls, value: str | None) -> str | None:
        if value is not None and not isinstance(parse_broker_url(value), MqttUrl):
            raise ValueError("the uplink goes to an external broker: mqtt://user:pass@host:1883")
        return value

    @field_validator("executor_url")
    @classmethod
    def _check_executor_url(cls, value: str) -> str:
        parse_executor_url(value)
        return value

    @model_validator(mode="after")
    def _check_dtdl_policy(self) -> Settings:
        self.dtdl_policy  # noqa: B018 - raises ValueError (a settings error) for an unknown extension
        return self

    @model_validator(mode="after")
    def _check_oidc(self) -> Settings:
        given = [v is not None for v in (self.oidc_jwks_url, self.oidc_issuer, self.oidc_audience)]
        if any(given) and not all(given):
            # A token checked without its issuer or audience would let any tenant of the
            # identity provider in: all three or none.
            names = ", ".join(f"{ENV_PREFIX}OIDC_{n}" for n in ("JWKS_URL", "ISSUER", "AUDIENCE"))
            raise ValueError(f"{names} are set together or not at all")
        return self

    @model_validator(mode="after")
    def _check_shutdown(self) -> Settings:
        # The drain is the first part of the grace, not added to it: an orchestrator kills
        # the process once its own grace period (set from KGTWIN_SHUTDOWN_GRACE_S) is over.
        if self.shutdown_drain_s >= self.shutdown_grace_s:
            raise ValueError(
                f"{ENV_PREFIX}SHUTDOWN_DRAIN_S ({self.shutdown_drain_s:g}) must be shorter than "
                f"{ENV_PREFIX}SHUTDOWN_GRACE_S ({self.shutdown_grace_s:g}), of which it is a part"
            )
        return self

    @model_validator(mode="after")
    def _check_uplink(self) -> Settings:
        if (self.uplink_url is None) != (self.uplink_site is None):
            raise ValueError(
                f"{ENV_PREFIX}UPLINK_URL and {ENV_PREFIX}UPLINK_SITE are set together or not at all"
            )
        return self

    @property
    def uplink(self) -> MqttUrl | None:
        """The cloud's broker an edge forwards to, or None."""
        if self.uplink_url is None:
            return None
        url = parse_broker_url(self.uplink_url)
        assert isinstance(url, MqttUrl)  # checked by _check_uplink_url
        return url

    @field_validator("tls_cert_file", "tls_key_file")
    @classmethod
    def _check_tls_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value}: no such file")
        return value

    @model_validator(mode="after")
    def _check_tls(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError(
                f"{ENV_PREFIX}TLS_CERT_FILE and {ENV_PREFIX}TLS_KEY_FILE are set together or not at all"
            )
        return self

    @field_validator("adt_endpoints")
    @classmethod
    def _check_endpoints(cls, value: dict[str, str]) -> dict[str, str]:
        for name, prefix in value.items():
            if not name or not prefix or any(c in prefix for c in "+#\0") or prefix.endswith("/"):
                raise ValueError(
                    f"endpoint {name!r}: the topic prefix {prefix!r} must be a non-empty MQTT topic "
                    "without wildcards or a trailing /"
                )
        return value

    @property
    def tls(self) -> bool:
        """Whether the API serves https."""
        return self.tls_cert_file is not None

    @property
    def auth_enabled(self) -> bool:
        """Whether requests must carry an API key or a bearer token."""
        return self.api_keys or self.oidc_jwks_url is not None

    def check_exposure(self) -> None:
        """Refuse to serve without authentication on anything but a loopback address.

        Raises ``ConfigurationInvalid`` naming ``KGTWIN_HOST``, for the one-line, exit-2 start-up error.
        """
        if self.auth_enabled or security_checks.is_loopback(self.host):
            return
        raise ConfigurationInvalid(
            f"{ENV_PREFIX}HOST",
            f"{self.host} is not a loopback address and authentication is off: "
            f"set {ENV_PREFIX}API_KEYS=true or {ENV_PREFIX}OIDC_JWKS_URL (see docs/security.md)",
        )

    @property
    def dtdl_policy(self) -> DtdlPolicy:
        """How the ontology reads models where DTDL leaves the choice to the service."""
        undefined = {"per-version": None, "accept": True, "reject": False}[self.dtdl_undefined_extensions]
        return DtdlPolicy(
            undefined_extensions=undefined,
            limit_extensions=frozenset(self.dtdl_limit_extensions),
            later_extensions=frozenset(self.dtdl_later_extensions),
        )

    @property
    def graph(self) -> GraphUrl:
        return parse_graph_url(self.graph_url)

    @property
    def telemetry(self) -> TelemetryUrl:
        return parse_telemetry_url(self.telemetry_url)

    @property
    def broker(self) -> BrokerUrl:
        return parse_broker_url(self.broker_url)

    @property
    def executor(self) -> ExecutorUrl:
        return parse_executor_url(self.executor_url)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning any invalid value into one ``ConfigurationInvalid``.

    The error names the setting as the user writes it (``KGTWIN_GRAPH_URL``) and the
    cause, so the CLI can print one line and exit 2.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        setting = f"{ENV_PREFIX}{field.upper()}"
        cause = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigurationInvalid(setting, cause) from None
    except SettingsError as exc:  # a value that is not JSON where JSON is expected, e.g. a dict
        found = re.search(r'field "(\w+)" from source "(\w+)"', str(exc))
        if found is None:
            raise ConfigurationInvalid(str(_config_file()), str(exc)) from None
        field, source = found.groups()
        where = f"{ENV_PREFIX}{field.upper()}" if source.startswith("Env") else f"{_config_file()}: {field}"
        raise ConfigurationInvalid(where, "is not valid JSON") from None
    except (OSError, ValueError) as exc:  # an unreadable or malformed kgtwin.toml
        raise ConfigurationInvalid(str(_config_file()), str(exc)) from None

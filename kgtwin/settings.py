"""Settings: one pydantic-settings model, read once by the composition root.

Each port has one URL; its scheme picks the backend (the registries in ``kgtwin.wiring``).
Values come, highest priority first, from keyword arguments, ``KGTWIN_*`` environment
variables, and an optional ``kgtwin.toml`` in the working directory (or the file named by
``KGTWIN_CONFIG``). The defaults run everything embedded under ``./data``, so a fresh
machine needs nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from kgtwin.urls import (
    BrokerUrl,
    GraphUrl,
    TelemetryUrl,
    parse_broker_url,
    parse_graph_url,
    parse_telemetry_url,
)
from ontology.errors import ConfigurationInvalid

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
        description="Time-series store: duckdb:///<file> (embedded) or "
        "influxdb://<token>@host:8086?org=<org>&bucket=<bucket>.",
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

    @property
    def graph(self) -> GraphUrl:
        return parse_graph_url(self.graph_url)

    @property
    def telemetry(self) -> TelemetryUrl:
        return parse_telemetry_url(self.telemetry_url)

    @property
    def broker(self) -> BrokerUrl:
        return parse_broker_url(self.broker_url)

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
    except (OSError, ValueError) as exc:  # an unreadable or malformed kgtwin.toml
        raise ConfigurationInvalid(str(_config_file()), str(exc)) from None

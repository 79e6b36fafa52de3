"""Settings: one URL per port, from KGTWIN_* variables or kgtwin.toml, malformed values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgtwin.backends import parse_broker_url, parse_graph_url, parse_telemetry_url
from kgtwin.settings import load_settings
from kgtwin.urls import DuckDbUrl, EmbeddedBrokerUrl, FalkorUrl, InfluxUrl, MqttUrl, Neo4jUrl
from ontology.errors import ConfigurationInvalid


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "KGTWIN_GRAPH_URL",
        "KGTWIN_TELEMETRY_URL",
        "KGTWIN_BROKER_URL",
        "KGTWIN_PORT",
        "KGTWIN_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_embedded_under_data() -> None:
    settings = load_settings()
    assert settings.graph == FalkorUrl(data_dir=Path("data"), graph="kgtwin")
    assert settings.telemetry == DuckDbUrl(path=Path("data/telemetry.duckdb"))
    assert settings.broker == EmbeddedBrokerUrl("127.0.0.1", 1883)
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGTWIN_GRAPH_URL", "neo4j://neo:s3cret@db.example:7688")
    monkeypatch.setenv("KGTWIN_PORT", "9000")
    settings = load_settings()
    assert settings.graph == Neo4jUrl(uri="neo4j://db.example:7688", user="neo", password="s3cret")
    assert settings.port == 9000


def test_toml_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "kgtwin.toml").write_text(
        'telemetry_url = "influxdb://tok%2Fen@influx:8086?org=acme&bucket=plant"\nport = 8100\n'
    )
    monkeypatch.setenv("KGTWIN_PORT", "8200")
    settings = load_settings()
    assert settings.telemetry == InfluxUrl(
        url="http://influx:8086", token="tok/en", org="acme", bucket="plant"
    )
    assert settings.port == 8200


def test_malformed_url_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGTWIN_TELEMETRY_URL", "influxdb://token@host:8086?org=acme")
    with pytest.raises(ConfigurationInvalid) as caught:
        load_settings()
    assert caught.value.setting == "KGTWIN_TELEMETRY_URL"
    assert "bucket" in caught.value.cause


def test_unknown_setting_in_toml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "kgtwin.toml").write_text('grpah_url = "falkordb:///x"\n')
    with pytest.raises(ConfigurationInvalid) as caught:
        load_settings()
    assert caught.value.setting == "KGTWIN_GRPAH_URL"


def test_broken_toml_is_reported_with_its_file(tmp_path: Path) -> None:
    (tmp_path / "kgtwin.toml").write_text("graph_url = \n")
    with pytest.raises(ConfigurationInvalid) as caught:
        load_settings()
    assert caught.value.setting == "kgtwin.toml"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("falkordb:///data", FalkorUrl(Path("data"))),
        ("falkordb:////var/lib/kgtwin?graph=plant", FalkorUrl(Path("/var/lib/kgtwin"), "plant")),
        ("bolt://127.0.0.1:7999", Neo4jUrl("bolt://127.0.0.1:7999", None, None)),
        ("neo4j+s://u:p@host/twins", Neo4jUrl("neo4j+s://host:7687", "u", "p", "twins")),
        # A cluster's routing policy travels to the driver as its routing context.
        (
            "neo4j://u:p@lb:7687/twins?policy=analysts",
            Neo4jUrl("neo4j://lb:7687?policy=analysts", "u", "p", "twins"),
        ),
    ],
)
def test_graph_urls(url: str, expected: object) -> None:
    assert parse_graph_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("falkordb://data", "three slashes"),
        ("neo4j://", "no host"),
        ("neo4j://host:99999", "(?i)port"),
        ("bolt://host:7687?policy=analysts", "no routing context"),
        ("postgres://host", "unknown graph backend"),
        ("no-scheme", "no scheme"),
    ],
)
def test_bad_graph_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_graph_url(url)


def test_telemetry_and_broker_urls() -> None:
    assert parse_telemetry_url("duckdb:///:memory:") == DuckDbUrl(path=None)
    assert parse_telemetry_url("influxdbs://t@h?org=o&bucket=b") == InfluxUrl("https://h:8086", "t", "o", "b")
    assert parse_broker_url("embedded://127.0.0.1:1999") == EmbeddedBrokerUrl("127.0.0.1", 1999)
    assert parse_broker_url("mqtts://dev:pw@broker") == MqttUrl("broker", 8883, "dev", "pw", tls=True)
    with pytest.raises(ValueError, match="no token"):
        parse_telemetry_url("influxdb://host:8086?org=o&bucket=b")
    with pytest.raises(ValueError, match="unknown broker"):
        parse_broker_url("amqp://host")


def test_demo_devices_can_be_silent_but_not_negative(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGTWIN_DEMO_INTERVAL_S", "0")
    assert load_settings().demo_interval_s == 0
    monkeypatch.setenv("KGTWIN_DEMO_INTERVAL_S", "-1")
    with pytest.raises(ConfigurationInvalid) as caught:
        load_settings()
    assert caught.value.setting == "KGTWIN_DEMO_INTERVAL_S"

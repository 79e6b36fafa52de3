"""Security settings: an empty or malformed value stops start-up, naming the setting.

Regression (issue 21, defect 3): ``KGTWIN_OIDC_JWKS_URL=""`` counted as configured for the
exposure check while the API switched OIDC off, so ``kgtwin serve --host 0.0.0.0`` served
anonymous mutations and Cypher to the network.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kgtwin.services import security
from kgtwin.settings import load_settings
from ontology.errors import ConfigurationInvalid
from tests.foundation.conftest import RunKgtwin

OIDC = {
    "KGTWIN_OIDC_JWKS_URL": "https://idp.example.com/certs",
    "KGTWIN_OIDC_ISSUER": "https://idp.example.com",
    "KGTWIN_OIDC_AUDIENCE": "kgtwin",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("KGTWIN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_an_empty_jwks_url_off_loopback_refuses_to_start(run_kgtwin: RunKgtwin, tmp_path: Path) -> None:
    result = run_kgtwin("serve", "--host", "0.0.0.0", env={"KGTWIN_OIDC_JWKS_URL": ""}, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("kgtwin: KGTWIN_OIDC_JWKS_URL: is empty")
    assert not (tmp_path / "data").exists()  # refused before anything opened


def test_three_empty_oidc_settings_are_not_a_configuration(run_kgtwin: RunKgtwin) -> None:
    empty = dict.fromkeys(OIDC, "")
    result = run_kgtwin("serve", "--host", "0.0.0.0", env=empty, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("kgtwin: KGTWIN_OIDC_")


@pytest.mark.parametrize(
    ("name", "value", "cause"),
    [
        ("KGTWIN_OIDC_JWKS_URL", "", "is empty"),
        ("KGTWIN_OIDC_JWKS_URL", "   ", "is empty"),
        ("KGTWIN_OIDC_JWKS_URL", "certs.json", "not an absolute http(s) URL"),
        ("KGTWIN_OIDC_JWKS_URL", "ftp://idp.example.com/certs", "not an absolute http(s) URL"),
        ("KGTWIN_OIDC_JWKS_URL", "http://idp.example.com/certs", "must use https"),
        ("KGTWIN_OIDC_JWKS_URL", " https://idp.example.com/certs", "white space"),
        ("KGTWIN_OIDC_ISSUER", "", "is empty"),
        ("KGTWIN_OIDC_AUDIENCE", "", "is empty"),
        ("KGTWIN_OIDC_ROLES_CLAIM", "", "is empty"),
        ("KGTWIN_OIDC_ROLES_CLAIM", "realm_access..roles", "not a dotted path"),
    ],
)
def test_a_malformed_oidc_setting_is_a_start_up_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, cause: str
) -> None:
    for other, good in OIDC.items():
        monkeypatch.setenv(other, good)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationInvalid) as raised:
        load_settings()
    assert raised.value.details["setting"] == name
    assert cause in raised.value.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KGTWIN_API_KEYS", ""),
        ("KGTWIN_API_KEYS", "maybe"),
        ("KGTWIN_HOST", ""),
        ("KGTWIN_RATE_LIMIT_PER_SECOND", ""),
        ("KGTWIN_RATE_LIMIT_BURST", "-1"),
        ("KGTWIN_MAX_BODY_BYTES", ""),
        ("KGTWIN_GRAPHQL_MAX_DEPTH", "0"),
        ("KGTWIN_WS_INIT_TIMEOUT_S", "0"),
        ("KGTWIN_CYPHER_CONCURRENCY", '{"viewer": 1}'),
        ("KGTWIN_CYPHER_CONCURRENCY", '{"analyst": 0}'),
        ("KGTWIN_CYPHER_CONCURRENCY", ""),
        ("KGTWIN_AUTH_FAILURE_BURST", "0"),
        ("KGTWIN_AUTH_FAILURES_PER_SECOND", "-1"),
        ("KGTWIN_CORS_ORIGINS", "*"),
        ("KGTWIN_CORS_ORIGINS", "https://app.example.com/"),
        ("KGTWIN_CORS_ORIGINS", "app.example.com"),
        ("KGTWIN_CORS_ORIGINS", "https://app.example.com/path"),
        ("KGTWIN_CORS_ORIGINS", "https://App.example.com"),
        ("KGTWIN_CORS_ORIGINS", "https://app.example.com:443"),
        ("KGTWIN_CORS_ORIGINS", "https://a.example.com,,https://b.example.com"),
        ("KGTWIN_CORS_ORIGINS", "https://a.example.com,https://a.example.com"),
        ("KGTWIN_CORS_ORIGINS", '["https://a.example.com"'),
    ],
)
def test_an_empty_or_malformed_security_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationInvalid) as raised:
        load_settings()
    assert raised.value.details["setting"] == name


def test_origins_come_comma_separated_or_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGTWIN_CORS_ORIGINS", "https://app.example.com, http://127.0.0.1:5173")
    assert load_settings().cors_origins == ["https://app.example.com", "http://127.0.0.1:5173"]
    monkeypatch.setenv("KGTWIN_CORS_ORIGINS", '["https://app.example.com"]')
    assert load_settings().cors_origins == ["https://app.example.com"]
    monkeypatch.delenv("KGTWIN_CORS_ORIGINS")
    assert load_settings().cors_origins == []


def test_a_loopback_identity_provider_may_serve_its_jwks_over_http() -> None:
    settings = load_settings(
        oidc_jwks_url="http://127.0.0.1:8080/certs",
        oidc_issuer="http://127.0.0.1:8080",
        oidc_audience="kgtwin",
    )
    auth, _ = security(settings)
    assert auth.oidc is not None
    assert auth.oidc.jwks_url == "http://127.0.0.1:8080/certs"

"""The image's HEALTHCHECK script picks the port that tells the running service's health."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.servers.process import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "docker" / "healthcheck.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = _load()


@pytest.mark.parametrize(
    ("argv", "env", "port"),
    [
        ([], {}, 8000),  # the image's default command, serve
        (["serve", "--demo"], {}, 8000),
        (["serve"], {"KGTWIN_PORT": "8080"}, 8080),
        (["api", "--host", "0.0.0.0", "--port", "9000"], {"KGTWIN_PORT": "8080"}, 9000),
        (["api", "--port=9001"], {}, 9001),
        (["ingest"], {}, 8001),
        (["worker"], {"KGTWIN_HEALTH_PORT": "9101", "KGTWIN_PORT": "8080"}, 9101),
        (["import", "twins.ndjson"], {}, None),
        (["keys", "list"], {}, None),
    ],
)
def test_each_service_is_asked_on_its_own_port(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str], port: int | None
) -> None:
    for name in ("KGTWIN_PORT", "KGTWIN_HEALTH_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert healthcheck.port_to_ask(argv) == port


def test_a_port_without_a_service_is_unhealthy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(healthcheck, "kgtwin_argv", lambda: ["api", "--port", str(free_port())])
    assert healthcheck.main() == 1

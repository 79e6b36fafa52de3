"""The command line: every verb listed, unfinished verbs say so, bad settings end in one line."""

from __future__ import annotations

from pathlib import Path

from tests.foundation.conftest import RunKgtwin
from tests.servers.process import free_port

VERBS = ["serve", "api", "ingest", "worker", "import", "export", "models", "demo"]


def test_help_lists_every_verb(run_kgtwin: RunKgtwin) -> None:
    result = run_kgtwin("--help")
    assert result.returncode == 0
    for verb in VERBS:
        assert f" {verb} " in result.stdout, verb
    models = run_kgtwin("models", "--help")
    assert " validate " in models.stdout
    serve = run_kgtwin("serve", "--help")
    assert "--demo" in serve.stdout


def test_demo_loads_the_demo_twin_into_the_configured_graph_and_again_harmlessly(
    run_kgtwin: RunKgtwin, tmp_path: Path
) -> None:
    env = {"KGTWIN_GRAPH_URL": f"falkordb:///{tmp_path}/graph"}
    for _ in range(2):
        result = run_kgtwin("demo", env=env)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
    assert "35 twin(s)" in result.stderr
    exported = run_kgtwin("export", env=env)
    assert exported.returncode == 0, exported.stderr
    assert '"$dtId":"room-a101"' in exported.stdout


def test_malformed_url_stops_start_up_with_one_line(run_kgtwin: RunKgtwin) -> None:
    result = run_kgtwin("serve", env={"KGTWIN_GRAPH_URL": "falkordb://relative"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kgtwin: KGTWIN_GRAPH_URL: falkordb URL must look like falkordb:///<path> (three slashes), "
        "got falkordb://relative"
    ]


def test_unreachable_neo4j_stops_start_up_with_one_line(run_kgtwin: RunKgtwin) -> None:
    port = free_port()  # nothing listens there
    result = run_kgtwin("api", env={"KGTWIN_GRAPH_URL": f"bolt://127.0.0.1:{port}"})
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("kgtwin:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"kgtwin: KGTWIN_GRAPH_URL: neo4j unavailable: bolt://127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


def test_unreachable_broker_stops_start_up_with_one_line(run_kgtwin: RunKgtwin) -> None:
    port = free_port()
    result = run_kgtwin(
        "serve", env={"KGTWIN_BROKER_URL": f"mqtt://127.0.0.1:{port}", "KGTWIN_LOG_LEVEL": "error"}
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"kgtwin: KGTWIN_BROKER_URL: mqtt unavailable: 127.0.0.1:{port}")
    )
    assert "Traceback" not in result.stderr


def test_busy_embedded_broker_port_is_reported(run_kgtwin: RunKgtwin) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_kgtwin(
            "serve", env={"KGTWIN_BROKER_URL": f"embedded://127.0.0.1:{port}", "KGTWIN_LOG_LEVEL": "error"}
        )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"kgtwin: KGTWIN_BROKER_URL: embedded broker unavailable: cannot listen on 127.0.0.1:{port}"
    )

"""``kgtwin models validate``: what a modeler runs in their own CI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.foundation.conftest import RunKgtwin

PUMP = {
    "@context": "dtmi:dtdl:context;3",
    "@id": "dtmi:example:Pump;1",
    "@type": "Interface",
    "extends": "dtmi:example:Equipment;1",
    "contents": [{"@type": "Property", "name": "flowRate", "schema": "double"}],
}
EQUIPMENT = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:example:Equipment;1", "@type": "Interface"}


def test_valid_folder_exits_0(run_kgtwin: RunKgtwin, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "pump.json").write_text(json.dumps(PUMP))
    (models / "equipment.json").write_text(json.dumps([EQUIPMENT]))
    result = run_kgtwin("models", "validate", str(models))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "2 interface(s) valid" in result.stderr


def test_errors_are_printed_as_file_path_code_message(run_kgtwin: RunKgtwin, tmp_path: Path) -> None:
    broken = dict(PUMP, contents=[{"@type": "Property", "name": "flow rate", "schema": "double"}])
    (tmp_path / "pump.json").write_text(json.dumps(broken))
    result = run_kgtwin("models", "validate", str(tmp_path / "pump.json"))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    # the name is bad, and Equipment is referenced but not defined in the batch
    assert any(line.startswith(f"{tmp_path / 'pump.json'}:/contents/0") for line in lines), lines
    assert any("dtmi:example:Equipment;1" in line for line in lines), lines


def test_json_output(run_kgtwin: RunKgtwin, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    result = run_kgtwin("models", "validate", "--json", str(tmp_path / "bad.json"))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["errors"][0]["file"] == str(tmp_path / "bad.json")
    assert {"file", "path", "code", "message"} <= set(report["errors"][0])


def test_extension_policy_follows_the_settings_and_the_flags(run_kgtwin: RunKgtwin, tmp_path: Path) -> None:
    acme = ["dtmi:dtdl:context;3", "dtmi:acme:extension;1"]
    (tmp_path / "pump.json").write_text(json.dumps([dict(PUMP, **{"@context": acme}), EQUIPMENT]))
    path = str(tmp_path / "pump.json")
    refused = run_kgtwin("models", "validate", path)
    assert refused.returncode == 1
    assert "EXTENSION_UNDEFINED" in refused.stdout
    setting = {"KGTWIN_DTDL_UNDEFINED_EXTENSIONS": "accept"}
    assert run_kgtwin("models", "validate", path, env=setting).returncode == 0
    assert run_kgtwin("models", "validate", "--allow-undefined-extensions", path).returncode == 0
    flag_wins = run_kgtwin("models", "validate", "--reject-undefined-extensions", path, env=setting)
    assert flag_wins.returncode == 1


def test_an_unknown_limit_extension_is_a_usage_error(run_kgtwin: RunKgtwin, tmp_path: Path) -> None:
    (tmp_path / "equipment.json").write_text(json.dumps(EQUIPMENT))
    result = run_kgtwin("models", "validate", "--limit-extension", "dtmi:acme:limits", str(tmp_path))
    assert result.returncode == 2
    assert "unknown limit extension" in result.stderr

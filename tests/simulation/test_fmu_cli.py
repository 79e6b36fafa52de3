"""``kgtwin fmu add/list/delete`` as a modeler runs them: on the embedded defaults, then on Neo4j."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.simulation.fmus import BuiltFmus

KGTWIN = str(Path(sys.executable).parent / "kgtwin")
ROOM = "dtmi:kgtwin:space:Room;1"


def kgtwin(tmp_path: Path, *args: str, graph: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    env |= {"KGTWIN_CONFIG": str(tmp_path / "none.toml"), "KGTWIN_LOG_LEVEL": "warning", **graph}
    return subprocess.run([KGTWIN, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_a_modeler_adds_lists_and_deletes_an_fmu_for_an_interface(
    tmp_path: Path, test_fmus: BuiltFmus, service_graph: dict[str, str]
) -> None:
    assert kgtwin(tmp_path, "demo", graph=service_graph).returncode == 0  # the base ontology and a campus
    added = kgtwin(tmp_path, "fmu", "add", str(test_fmus.room), "--for", ROOM, graph=service_graph)
    assert added.returncode == 0, added.stderr
    fmu_id = added.stdout.split()[0]
    assert f"FMI 2.0  {ROOM}  2 inputs, 1 outputs, 3 parameters" in added.stdout
    assert "input     T_out: Real start=5.0" in added.stdout
    assert len(list((tmp_path / "data" / "fmus").rglob("*.fmu"))) == 1
    assert kgtwin(tmp_path, "fmu", "list", graph=service_graph).stdout.startswith(fmu_id)
    (tmp_path / "bad.fmu").write_bytes(b"not a zip")
    bad = kgtwin(tmp_path, "fmu", "add", "bad.fmu", "--for", ROOM, graph=service_graph)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "kgtwin: bad.fmu is not a readable zip archive (File is not a zip file)"
    assert kgtwin(tmp_path, "fmu", "delete", fmu_id, graph=service_graph).returncode == 0
    assert kgtwin(tmp_path, "fmu", "list", graph=service_graph).stdout == ""
    assert list((tmp_path / "data" / "fmus").rglob("*.fmu")) == []

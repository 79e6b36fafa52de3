"""``kgtwin import`` and ``kgtwin export`` as a user runs them, on the embedded FalkorDB."""

from __future__ import annotations

import io
from pathlib import Path

from graph.bulk import relationship_line, twin_line, write_bulk
from tests.foundation.conftest import RunKgtwin
from tests.graph.plant import DOCS, PUMP, TANK

ENV = {"KGTWIN_GRAPH_URL": "falkordb:///data"}


def test_import_then_export_round_trips_and_reports_bad_lines(run_kgtwin: RunKgtwin, tmp_path: Path) -> None:
    text = io.StringIO()
    twins = [twin_line("pump-1", PUMP, {"flow": 1.5}), twin_line("tank-1", TANK, {"capacity": 9.0})]
    write_bulk(text, DOCS, twins, [relationship_line("pump-1", "f1", "feeds", "tank-1", {})])
    (tmp_path / "plant.ndjson").write_text(text.getvalue())

    dry = run_kgtwin("import", "plant.ndjson", "--dry-run", env=ENV)
    assert dry.returncode == 0, dry.stderr
    assert "would import 4 model(s), 2 twin(s), 1 relationship(s)" in dry.stderr

    done = run_kgtwin("import", "plant.ndjson", "--batch-size", "1", env=ENV)
    assert done.returncode == 0, done.stderr
    exported = run_kgtwin("export", env=ENV)
    assert exported.returncode == 0, exported.stderr
    again = run_kgtwin("export", "copy.ndjson", env=ENV)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "copy.ndjson").read_text() == exported.stdout
    assert '{"$dtId":"pump-1","$metadata":{"$model":"dtmi:ex:plant:Pump;1"},"flow":1.5}' in exported.stdout

    (tmp_path / "bad.ndjson").write_text(text.getvalue().replace('"flow":1.5', '"flow":"fast"'))
    bad = run_kgtwin("import", "bad.ndjson", env=ENV)
    assert bad.returncode == 1
    assert bad.stdout.splitlines()[0].startswith("line 9: VALUE_INVALID: twin 'pump-1': /flow:")
    assert "Traceback" not in bad.stderr


def test_import_of_a_missing_file_exits_2(run_kgtwin: RunKgtwin) -> None:
    result = run_kgtwin("import", "nowhere.ndjson", env=ENV)
    assert result.returncode == 2
    assert result.stderr.strip() == "kgtwin: nowhere.ndjson: no such file"

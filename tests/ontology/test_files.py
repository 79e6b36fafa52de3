"""``validate_files``: what ``kgtwin models validate`` prints, located in each file."""

from __future__ import annotations

import json
from pathlib import Path

from ontology import validate_files
from tests.ontology.conftest import interface


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_references_resolve_across_files_and_folders(tmp_path: Path) -> None:
    write(tmp_path / "a" / "base.json", interface("dtmi:ex:Base;1"))
    write(
        tmp_path / "b" / "many.json",
        [interface("dtmi:ex:X;1", extends="dtmi:ex:Base;1"), interface("dtmi:ex:Y;1")],
    )
    report = validate_files([tmp_path / "a", tmp_path / "b" / "many.json"])
    assert report.valid
    assert report.to_json() == {"valid": True, "errors": []}
    assert set(report.models) == {"dtmi:ex:Base;1", "dtmi:ex:X;1", "dtmi:ex:Y;1"}


def test_errors_name_the_file_and_the_pointer_inside_it(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", interface("dtmi:ex:Good;1"))
    bad = write(
        tmp_path / "bad.json", [interface("dtmi:ex:Ok;1"), interface("dtmi:ex:Bad;1", {"@type": "Property"})]
    )
    report = validate_files([tmp_path])
    assert not report.valid
    assert {e.file for e in report.errors} == {bad}
    assert f"{bad}:/1/contents/0: PROPERTY_MISSING: Property requires property 'name'" in report.lines()
    assert good.exists()
    assert "dtmi:ex:Good;1" in report.models


def test_unreadable_and_malformed_files_are_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    (tmp_path / "latin.json").write_bytes(b"\xff\xfe\xfa")
    (tmp_path / "bom.json").write_text("\ufeff" + json.dumps(interface("dtmi:ex:Bom;1")), encoding="utf-8")
    report = validate_files([tmp_path, tmp_path / "missing"])
    assert sorted((e.file.name, e.code) for e in report.errors) == [
        ("broken.json", "JSON_INVALID"),
        ("latin.json", "FILE_UNREADABLE"),
        ("missing", "FILE_UNREADABLE"),
    ]
    assert "dtmi:ex:Bom;1" in report.models
    assert report.to_json()["valid"] is False

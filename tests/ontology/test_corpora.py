"""The real RealEstateCore ontologies (buildings, energy grid, smart cities) load in full."""

from __future__ import annotations

from pathlib import Path

import pytest

from ontology import parse, validate_files

CORPORA = {"building": 767, "energygrid": 113, "smartcities": 63}


@pytest.mark.parametrize(("corpus", "interfaces"), sorted(CORPORA.items()))
def test_corpus_loads_in_full(shared_dir: Path, corpus: str, interfaces: int) -> None:
    report = validate_files([shared_dir / "ontologies" / corpus / "Ontology"])
    assert report.lines() == []
    assert len(report.models) == interfaces


def test_building_inherits_contents_through_extends(shared_dir: Path) -> None:
    files = sorted((shared_dir / "ontologies" / "building" / "Ontology").rglob("*.json"))
    models = parse([f.read_text(encoding="utf-8-sig") for f in files])
    room = next(i for d, i in models.items() if d.startswith("dtmi:digitaltwins:rec_3_3:core:Room;"))
    assert "dtmi:digitaltwins:rec_3_3:core:Space;1" in room.ancestors
    assert "isPartOf" in room.relationships  # declared on Space, inherited by Room


def test_a_broken_model_in_a_corpus_is_named_and_the_rest_loads(shared_dir: Path, tmp_path: Path) -> None:
    source = shared_dir / "ontologies" / "energygrid" / "Ontology"
    copy = tmp_path / "Ontology"
    files = sorted(source.rglob("*.json"))
    for f in files:
        target = copy / f.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.read_text(encoding="utf-8-sig"), encoding="utf-8")
    leaf = next(
        p
        for p in sorted(copy.rglob("*.json"))
        if '"extends"' in p.read_text() and "contents" in p.read_text()
    )
    leaf.write_text(leaf.read_text().replace('"contents"', '"contents_"', 1), encoding="utf-8")
    report = validate_files([copy])
    assert report.errors
    assert {e.file for e in report.errors} == {leaf}
    assert len(report.models) >= len(files) - 5

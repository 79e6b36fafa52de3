"""Relabelling on both engines: a model upload that lengthens labels keeps twins findable."""

from __future__ import annotations

import io
from typing import Any

from graph.bulk import twin_line, write_bulk
from graph.importer import import_bulk
from graph.model_store import GraphModelStore
from graph.relabel import relabel_twins
from graph.search import find_twins
from graph.store import GraphStore
from ontology import parse
from ontology.registry import ModelRegistry

CTX = "dtmi:dtdl:context;3"
A_PUMP = "dtmi:ex:a:Pump;1"
B_PUMP = "dtmi:ex:b:Pump;1"


def model(dtmi: str) -> dict[str, Any]:
    return {"@context": CTX, "@id": dtmi, "@type": "Interface", "contents": []}


def bulk(models: list[dict[str, Any]], twins: list[dict[str, Any]]) -> io.BytesIO:
    out = io.StringIO()
    write_bulk(out, models, twins, [])
    return io.BytesIO(out.getvalue().encode())


def labels(store: GraphStore, twin_id: str) -> list[str]:
    return sorted(store.query_rows("MATCH (t:Twin {id: $id}) RETURN labels(t)", {"id": twin_id})[0][0])


def test_an_upload_that_lengthens_a_label_relabels_the_existing_twins(store: GraphStore) -> None:
    assert import_bulk(store, bulk([model(A_PUMP)], [twin_line("p-1", A_PUMP, {})])).ok
    assert labels(store, "p-1") == ["Pump", "Twin"]
    # Another Pump: both models now need longer labels (ontology.labels).
    assert import_bulk(store, bulk([model(B_PUMP)], [twin_line("p-2", B_PUMP, {})])).ok
    assert labels(store, "p-1") == ["Twin", "a_Pump"]
    assert labels(store, "p-2") == ["Twin", "b_Pump"]
    models = ModelRegistry(GraphModelStore(store)).models
    assert [t.id for t in find_twins(store, models, A_PUMP).twins] == ["p-1"]
    assert [t.id for t in find_twins(store, models, B_PUMP).twins] == ["p-2"]


def test_relabel_reports_what_it_changed_and_a_second_run_changes_nothing(store: GraphStore) -> None:
    assert import_bulk(store, bulk([model(A_PUMP)], [twin_line("p-1", A_PUMP, {})])).ok
    before, after = parse([model(A_PUMP)]), parse([model(A_PUMP), model(B_PUMP)])
    [change] = relabel_twins(store, before, after)
    assert (change.model, change.removed, change.added, change.twins) == (A_PUMP, ("Pump",), ("a_Pump",), 1)
    [again] = relabel_twins(store, before, after)
    assert again.twins == 0  # matched by the old label, which no twin carries any more
    assert labels(store, "p-1") == ["Twin", "a_Pump"]
    assert relabel_twins(store, after, after) == []

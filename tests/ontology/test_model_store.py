"""The ``ModelStore`` contract, run against every backend (graph adapters add theirs to ``STORES``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from ontology import Conflict, InMemoryModelStore, ModelStore, NotFound, StoredModel

STORES: dict[str, Callable[[], ModelStore]] = {"memory": InMemoryModelStore}
WHEN = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest) -> ModelStore:
    return STORES[request.param]()


def model(dtmi: str) -> StoredModel:
    return StoredModel(dtmi, {"@id": dtmi, "@type": "Interface", "@context": "dtmi:dtdl:context;3"}, WHEN)


def test_models_come_back_as_stored_in_upload_order(store: ModelStore) -> None:
    store.add([model("dtmi:x:B;1"), model("dtmi:x:A;1")])
    store.add([model("dtmi:x:C;1")])
    assert [m.dtmi for m in store.list()] == ["dtmi:x:B;1", "dtmi:x:A;1", "dtmi:x:C;1"]
    assert store.get("dtmi:x:A;1") == model("dtmi:x:A;1")
    assert store.get("dtmi:x:Z;1") is None


def test_a_batch_with_a_taken_dtmi_is_refused_whole(store: ModelStore) -> None:
    store.add([model("dtmi:x:A;1")])
    with pytest.raises(Conflict):
        store.add([model("dtmi:x:B;1"), model("dtmi:x:A;1")])
    assert [m.dtmi for m in store.list()] == ["dtmi:x:A;1"]


def test_the_decommissioned_flag_is_kept(store: ModelStore) -> None:
    store.add([model("dtmi:x:A;1")])
    store.set_decommissioned("dtmi:x:A;1", True)
    found = store.get("dtmi:x:A;1")
    assert found is not None
    assert found.decommissioned
    assert found.uploaded_at == WHEN


def test_a_deleted_model_is_gone(store: ModelStore) -> None:
    store.add([model("dtmi:x:A;1"), model("dtmi:x:B;1")])
    store.delete("dtmi:x:A;1")
    assert [m.dtmi for m in store.list()] == ["dtmi:x:B;1"]


def test_changing_an_unknown_model_is_not_found(store: ModelStore) -> None:
    with pytest.raises(NotFound):
        store.delete("dtmi:x:A;1")
    with pytest.raises(NotFound):
        store.set_decommissioned("dtmi:x:A;1", True)

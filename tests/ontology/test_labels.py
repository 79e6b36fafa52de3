"""Graph labels and display names derived from the model."""

from __future__ import annotations

from ontology import display_name, label_index, parse
from tests.ontology.conftest import interface


def test_labels_are_short_unique_and_include_ancestors() -> None:
    models = parse(
        [
            interface("dtmi:ex:core:Space;1"),
            interface("dtmi:ex:core:Room;1", extends="dtmi:ex:core:Space;1"),
            interface("dtmi:ex:asset:Room;2"),
            interface("dtmi:ex:core:Office;1", extends="dtmi:ex:core:Room;1"),
        ]
    )
    index = label_index(models)
    assert index.labels("dtmi:ex:core:Office;1") == ("Office", "core_Room", "Space")
    assert index.label("dtmi:ex:asset:Room;2") == "asset_Room"
    assert index.path_of("Space") == "dtmi:ex:core:Space"
    assert label_index(models) is index


def test_display_names_fall_back_by_language() -> None:
    doc = interface(
        "dtmi:ex:Pump;1",
        {"@type": "Property", "name": "speed", "schema": "double"},
        displayName={"en-US": "Pump", "de": "Pumpe"},
    )
    pump = parse([doc])["dtmi:ex:Pump;1"]
    assert display_name(pump, "de") == "Pumpe"
    assert display_name(pump, "de-AT") == "Pumpe"
    assert display_name(pump, "fr") == "Pump"
    assert display_name(pump.properties["speed"]) == "speed"
    assert display_name(parse([interface("dtmi:ex:Bare;1")])["dtmi:ex:Bare;1"]) == "Bare"


def test_labels_of_kgtwin_nodes_are_never_given_to_interfaces() -> None:
    docs = [
        {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Model;1", "@type": "Interface"},
        {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:Twin;1", "@type": "Interface"},
        {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Pump;1", "@type": "Interface"},
    ]
    labels = label_index(parse(docs))
    assert labels.label("dtmi:ex:Model;1") == "ex_Model"
    assert labels.label("dtmi:Twin;1") == "Twin_"
    assert labels.label("dtmi:ex:Pump;1") == "Pump"

"""Event route filters: ADT's syntax subset, what passes, and clear refusals (no database)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph.route_filter import parse_filter
from ontology.errors import BadRequest

CREATE = {
    "type": "Microsoft.DigitalTwins.Twin.Create",
    "source": "kgtwin",
    "subject": "room-1",
    "id": "e1",
    "specversion": "1.0",
    "datacontenttype": "application/json",
}
BODY: dict[str, Any] = {
    "$dtId": "room-1",
    "$metadata": {"$model": "dtmi:ex:Room;1"},
    "area": 12,
    "name": "Lab",
}


@pytest.mark.parametrize(
    ("text", "passes"),
    [
        ("true", True),
        ("false", False),
        ("type = 'Microsoft.DigitalTwins.Twin.Create'", True),
        ("TYPE = 'Microsoft.DigitalTwins.Twin.Delete'", False),
        ("type != 'Microsoft.DigitalTwins.Twin.Delete'", True),
        ("type <> 'Microsoft.DigitalTwins.Twin.Create'", False),
        ("source = 'kgtwin' AND subject = 'room-1'", True),
        ("subject = 'room-2' OR specversion = '1.0'", True),
        ("NOT (subject = 'room-1')", False),
        ("STARTS_WITH(subject, 'room')", True),
        ("ends_with(subject, '-1') and contains(type, 'Twin')", True),
        ("CONTAINS(subject, 'pump')", False),
        ("$body.$metadata.$model = 'dtmi:ex:Room;1'", True),
        ("$body.area = 12", True),
        ("$body.area = 12.0", True),
        ("$body.area = '12'", False),
        ("$body.missing = null", True),
        ("$body.name = 'it''s'", False),
        ("type = 'Microsoft.DigitalTwins.Twin.Create' AND (subject = 'x' OR $body.name = 'Lab')", True),
    ],
)
def test_a_filter_passes_the_events_it_describes(text: str, passes: bool) -> None:
    assert parse_filter(text).matches(CREATE, BODY) is passes


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("type =", 7),
        ("type = 'open", 8),
        ("colour = 'red'", 1),
        ("type = 'x' AND", 15),
        ("(type = 'x'", 12),
        ("STARTS_WITH(subject, 3)", 22),
        ("type = 'x' extra", 12),
    ],
)
def test_a_bad_filter_names_the_position(text: str, position: int) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_filter(text)
    assert caught.value.details["position"] == position


def test_an_empty_filter_says_to_use_true() -> None:
    with pytest.raises(BadRequest, match="'true'"):
        parse_filter("  ")


@given(st.text(max_size=80))
def test_any_text_either_parses_or_is_a_bad_request(text: str) -> None:
    try:
        route_filter = parse_filter(text)
    except BadRequest:
        return
    assert isinstance(route_filter.matches(CREATE, BODY), bool)

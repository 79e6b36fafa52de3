"""Dead letters of a batch (a JSON array payload) name the object that failed (issue 21 §6.8).

``path`` is a JSON Pointer into the message as the device sent it: ``/1/ts`` for the
``ts`` of the second object, ``/2`` for a third object refused whole, the payload key a
mapping renamed rather than the Telemetry name. The pipeline runs here without a broker,
over a fake of our own twin resolver; tests/ingest/test_service.py checks the same
letters on the real broker, store refusals included.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from graph.telemetry import TwinTarget
from ingest.dead_letters import pointer_step
from ingest.messages import DEFAULT_MAPPING, MessageDecoder, Reading, TopicMapping
from ingest.pipeline import Models, Outcome, Pipeline
from ingest.subscriber import Inbound
from ingest.targets import TwinTargets
from telemetry.refs import TelemetryRef
from tests.ingest.helpers import SENSOR, sensor_models, topic

NOW_NS = 1_764_000_000_000_000_000
GATEWAY = TopicMapping(topic="gw/#", twin_id_key="dev/id", fields={"T~1": "v0"}, drop_unmapped=True)


def run(messages: Sequence[tuple[str, object]]) -> tuple[Outcome, list[dict[str, Any]]]:
    """The outcome of one batch of (topic, payload) messages, and its dead letters parsed."""
    models = sensor_models()
    known = {"s1": SENSOR, "odd": "dtmi:ex:NotRegistered;1"}

    def resolve(ids: Sequence[str]) -> dict[str, TwinTarget]:
        ref = TelemetryRef("telemetry", "Sensor", {})
        return {i: TwinTarget(known[i], ref) for i in ids if i in known}

    decoder = MessageDecoder([GATEWAY, DEFAULT_MAPPING])
    pipeline = Pipeline(decoder, TwinTargets(resolve), Models(lambda: models))
    inbound = [
        Inbound(t, p if isinstance(p, bytes) else json.dumps(p).encode(), i, 1, NOW_NS, 1)
        for i, (t, p) in enumerate(messages)
    ]
    outcome = pipeline.process(inbound)
    return outcome, [json.loads(letter) for letter in outcome.letters]


def by_object(letters: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(reason, path) of each letter, in the order of the objects they name.

    Letters of objects refused at the door (shape, time) are published before those the
    model refuses; a device reads the index, not the order.
    """
    found = [(letter["reason"], letter["path"]) for letter in letters]
    return sorted(found, key=lambda letter: int(letter[1].split("/")[1]))


def resolve_pointer(document: Any, pointer: str) -> Any:
    """What a JSON Pointer (RFC 6901) names in ``document``; raises when it names nothing."""
    found = document
    for step in pointer.split("/")[1:]:
        token = step.replace("~1", "/").replace("~0", "~")
        found = found[int(token)] if isinstance(found, list) else found[token]
    return found


def test_each_refused_object_of_a_batch_is_named_by_its_index() -> None:
    batch = [
        {"v0": 1.0},
        {"v0": "hot"},
        {"nope": 1},
        {"v0": 1.0, "ts": "noon"},
        5,
        {},
        {"state": "on\x00off"},
        {"a/b~c": 1},
        {"v1": 2.0, "ts": 10},
    ]
    outcome, letters = run([(topic("s1"), batch)])
    assert by_object(letters) == [
        ("WRONG_TYPE", "/1/v0"),
        ("UNKNOWN_FIELD", "/2/nope"),
        ("BAD_TIMESTAMP", "/3/ts"),
        ("BAD_SHAPE", "/4"),
        ("BAD_SHAPE", "/5"),
        ("WRONG_TYPE", "/6/state"),
        ("UNKNOWN_FIELD", "/7/a~1b~0c"),
    ]
    assert all(json.loads(letter["payload"]) == batch for letter in letters)
    assert outcome.paths == ["/0", "/8"]  # where each stored point came from
    for letter in letters:
        resolve_pointer(batch, letter["path"])


def test_a_single_object_is_named_without_an_index() -> None:
    _, letters = run([(topic("s1"), {"v0": "hot"}), (topic("ghost"), {"v0": 1.0})])
    assert [(letter["reason"], letter.get("path")) for letter in letters] == [
        ("WRONG_TYPE", "/v0"),
        ("UNKNOWN_TWIN", None),  # the topic names the twin: nothing in the payload to point at
    ]


def test_unknown_twins_of_a_batch_name_each_object_or_its_twin_id_key() -> None:
    _, letters = run(
        [
            (topic("ghost"), [{"v0": 1.0}, {"v1": 2.0}]),
            (topic("odd"), [{"v0": 1.0}]),  # a twin whose model is not registered
            (
                "gw/site-1",
                [{"dev/id": "s1", "T~1": 1.0}, {"dev/id": "ghost", "T~1": 2.0}, {"dev/id": "s1", "T~1": "x"}],
            ),
        ]
    )
    assert [(letter["reason"], letter["path"], letter["twinId"]) for letter in letters] == [
        ("UNKNOWN_TWIN", "/0", "ghost"),
        ("UNKNOWN_TWIN", "/1", "ghost"),
        ("UNKNOWN_TWIN", "/0", "odd"),
        ("UNKNOWN_TWIN", "/1/dev~1id", "ghost"),
        ("WRONG_TYPE", "/2/T~01", "s1"),  # the payload key as sent, not the Telemetry name v0
    ]


def test_a_key_kept_as_sent_is_named_as_sent_beside_a_mapping_that_renames_another() -> None:
    decoder = MessageDecoder([TopicMapping(topic="keep/+", twin_id_segment=1, fields={"T": "v0"})])

    def where_v0_is(payload: bytes) -> str:
        [reading] = decoder.decode("keep/s1", payload, NOW_NS)
        assert isinstance(reading, Reading)
        return reading.in_message("/v0")

    assert where_v0_is(b'{"v0": "hot"}') == "/v0"  # no T: v0 is the payload's own key
    assert where_v0_is(b'{"T": 1.0, "v0": "hot"}') == "/v0"  # the later key wins, as in the values
    assert where_v0_is(b'{"v0": 1.0, "T": "hot"}') == "/T"


def test_a_pointer_step_escapes_tilde_before_slash() -> None:
    assert pointer_step("a~/b") == "a~0~1b"
    assert resolve_pointer({"a~/b": 1}, "/" + pointer_step("a~/b")) == 1


# --- every refused object, whatever the batch ----------------------------------------------

NAMES = {"v0", "v1", "state", "count", "ts", *(f"v{i}" for i in range(10))}
# (object, the reason it is refused or None, the pointer below the object's index)
ELEMENT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: ({"v0": v}, None, "")),
    st.just(({"v0": "hot"}, "WRONG_TYPE", "/v0")),
    st.just(({"count": 1.5, "ts": 1}, "WRONG_TYPE", "/count")),
    st.text(max_size=8)
    .filter(lambda n: n not in NAMES)
    .map(lambda n: ({n: 1}, "UNKNOWN_FIELD", "/" + pointer_step(n))),
    st.sampled_from(["noon", True, "2026-11-25T08:00:00"]).map(
        lambda ts: ({"v1": 1.0, "ts": ts}, "BAD_TIMESTAMP", "/ts")
    ),
    st.sampled_from([5, None, "x", [1], {}]).map(lambda v: (v, "BAD_SHAPE", "")),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(ELEMENT, min_size=1, max_size=12))
def test_every_refused_object_of_any_batch_gets_one_letter_pointing_at_it(
    elements: list[tuple[object, str | None, str]],
) -> None:
    batch = [element for element, _, _ in elements]
    outcome, letters = run([(topic("s1"), batch)])
    expected = [(why, f"/{i}{below}") for i, (_, why, below) in enumerate(elements) if why is not None]
    assert by_object(letters) == expected
    assert outcome.paths == [f"/{i}" for i, (_, why, _) in enumerate(elements) if why is None]
    for letter in letters:
        resolve_pointer(batch, letter["path"])  # names a place in the message as sent

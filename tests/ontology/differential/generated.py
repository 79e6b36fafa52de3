"""Interfaces drawn by hypothesis: small batches of plausible models, right and wrong.

The strategy writes what a modeler writes (Properties, Telemetry, Relationships,
Commands, Components, nested schemas, semantic types with units, extends between the
Interfaces of the batch) from small vocabularies, so that names collide, units miss
their quantity and references dangle often enough to matter. ``generated_batches``
draws a fixed number of them for a seed, the same ones each time.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

_IDS = tuple(f"dtmi:com:example:gen:I{i};1" for i in range(4))
_NAMES = ("temp", "level", "mode", "speed", "on", "temp", "1st", "x_y", "a" * 65)
_PRIMITIVES = (
    "boolean",
    "double",
    "float",
    "integer",
    "long",
    "string",
    "dateTime",
    "duration",
    "date",
    "time",
    "byte",
    "uuid",
    "decimal",
    "unsignedShort",
    "point",
    "polygon",
    "Double",
)
_SEMANTIC = {
    "Temperature": "degreeCelsius",
    "Length": "metre",
    "DataSize": "byte",
    "Power": "watt",
    "Pressure": "pascal",
}
_UNITS = ("degreeCelsius", "metre", "byte", "watt", "pascal", "second", "percent")
_EXTENSIONS = (
    "dtmi:dtdl:extension:quantitativeTypes;1",
    "dtmi:dtdl:extension:quantitativeTypes;2",
    "dtmi:dtdl:extension:historization;1",
    "dtmi:com:example:extension;1",
)

names = st.sampled_from(_NAMES)


def _complex_of(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda e: {"@type": "Array", "elementSchema": e}, children),
        st.builds(
            lambda fs: {"@type": "Object", "fields": [{"name": n, "schema": s} for n, s in fs]},
            st.lists(st.tuples(names, children), max_size=3),
        ),
        st.builds(
            lambda k, v: {
                "@type": "Map",
                "mapKey": {"name": "key", "schema": k},
                "mapValue": {"name": "value", "schema": v},
            },
            st.sampled_from(("string", "integer")),
            children,
        ),
        st.builds(
            lambda vs, vals: {
                "@type": "Enum",
                "valueSchema": vs,
                "enumValues": [{"name": f"v{i}", "enumValue": v} for i, v in enumerate(vals)],
            },
            st.sampled_from(("string", "integer")),
            st.lists(st.one_of(st.integers(0, 3), st.sampled_from(("a", "b"))), max_size=3),
        ),
    )


schemas = st.recursive(st.sampled_from(_PRIMITIVES), _complex_of, max_leaves=4)

_value = st.builds(
    lambda kind, name, schema, writable: {"@type": kind, "name": name, "schema": schema, **writable},
    st.sampled_from(("Property", "Telemetry")),
    names,
    schemas,
    st.sampled_from(({}, {"writable": True})),
)
_quantity = st.builds(
    lambda kind, sem, name, schema, unit: {
        "@type": [kind, sem],
        "name": name,
        "schema": schema,
        "unit": unit,
    },
    st.sampled_from(("Property", "Telemetry", "Relationship")),
    st.sampled_from(sorted(_SEMANTIC)),
    names,
    st.sampled_from(("double", "integer", "byte")),
    st.sampled_from(_UNITS),
)
_relationship = st.builds(
    lambda name, target, multiplicity: {"@type": "Relationship", "name": name, **target, **multiplicity},
    names,
    st.one_of(st.just({}), st.sampled_from(_IDS).map(lambda t: {"target": t})),
    st.sampled_from(({}, {"maxMultiplicity": 1}, {"minMultiplicity": 0, "maxMultiplicity": 0})),
)
_component = st.builds(
    lambda name, schema: {"@type": "Component", "name": name, "schema": schema}, names, st.sampled_from(_IDS)
)
_command = st.builds(
    lambda name, request: {"@type": "Command", "name": name, **request},
    names,
    st.one_of(st.just({}), schemas.map(lambda s: {"request": {"name": "arg", "schema": s}})),
)
content = st.one_of(_value, _quantity, _relationship, _component, _command)


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One to three Interfaces of one DTDL version, referring to each other."""
    version = draw(st.sampled_from((2, 3, 4)))
    count = draw(st.integers(1, 3))
    out = []
    for dtmi in _IDS[:count]:
        context: list[str] = [f"dtmi:dtdl:context;{version}"]
        context += draw(st.lists(st.sampled_from(_EXTENSIONS), max_size=2, unique=True))
        doc: dict[str, Any] = {"@context": context, "@id": dtmi, "@type": "Interface"}
        doc["contents"] = draw(st.lists(content, max_size=5))
        if draw(st.booleans()):
            doc["extends"] = draw(st.lists(st.sampled_from(_IDS), min_size=1, max_size=2, unique=True))
        out.append(doc)
    return out


def generated_batches(seed_value: int, count: int) -> list[list[dict[str, Any]]]:
    """``count`` batches drawn for ``seed_value`` (fewer if hypothesis runs out of new ones)."""
    drawn: list[list[dict[str, Any]]] = []

    @seed(seed_value)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(batches())
    def collect(batch: list[dict[str, Any]]) -> None:
        drawn.append(batch)

    collect()
    return drawn

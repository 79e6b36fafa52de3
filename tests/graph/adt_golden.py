"""Golden ADT queries on the building of ``tests.graph.adt_building``, with the rows they answer.

Each expected row is simplified (``simplify`` in test_adt_query_golden.py): a twin is its
id, a relationship ``source/id``, ``SELECT *``'s bare twin or relationship likewise, and
``COUNT()`` its number; projections are dicts of those. Rows are in kgtwin's order (by
their key: twin ids, then a relationship's source and id), so the lists are exact.
"""

from __future__ import annotations

from typing import Any

from tests.graph.adt_building import (
    AHU,
    ASSET,
    EQUIPMENT,
    FLOOR,
    MOTOR,
    PUMP,
    ROOM,
    SENSOR,
    SITE,
    SMART_PUMP,
    SPACE,
    TANK,
)

ALL = [
    "ahu-1",
    "floor-0",
    "floor-1",
    "pump-1",
    "pump-2",
    "pump-3",
    "room-a",
    "room-b",
    "room-c",
    "room-d",
    "sensor-1",
    "site-1",
    "tank-1",
    "tank-2",
]
NAMED = [t for t in ALL if t != "sensor-1"]
ROOMS = ["room-a", "room-b", "room-c", "room-d"]
RELATIONSHIPS = [
    "ahu-1/l-1",
    "ahu-1/s-1",
    "ahu-1/s-2",
    "floor-0/c-1",
    "floor-0/c-2",
    "floor-1/c-1",
    "floor-1/c-2",
    "pump-1/f-1",
    "pump-1/f-2",
    "pump-1/l-1",
    "pump-2/f-1",
    "pump-2/l-1",
    "pump-3/f-1",
    "pump-3/l-1",
    "pump-3/m-1",
    "pump-3/s-1",
    "sensor-1/m-1",
    "site-1/c-1",
    "site-1/c-2",
    "tank-1/f-1",
    "tank-1/l-1",
    "tank-2/l-1",
]
DT = "SELECT * FROM DIGITALTWINS T WHERE"


def _col(key: str, *values: Any) -> list[dict[str, Any]]:
    return [{key: v} for v in values]


GOLDEN: list[tuple[str, Any]] = [
    # -- SELECT *, TOP, COUNT ---------------------------------------------------------------
    ("SELECT * FROM DIGITALTWINS", ALL),
    ("select * from digitaltwins", ALL),
    ("SELECT * FROM DIGITALTWINS T", ALL),
    ("SELECT * FROM DIGITALTWINS AS T", ALL),
    ("SELECT T FROM DIGITALTWINS T", _col("T", *ALL)),
    ("SELECT TOP(3) FROM DIGITALTWINS", ["ahu-1", "floor-0", "floor-1"]),
    (f"SELECT TOP (2) * FROM DIGITALTWINS WHERE IS_OF_MODEL('{ROOM}')", ["room-a", "room-b"]),
    (
        f"SELECT TOP(2) T.name FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{PUMP}')",
        _col("name", "Feed pump", "Return pump"),
    ),
    ("SELECT TOP(100) FROM DIGITALTWINS WHERE STARTSWITH($dtId, 'tank')", ["tank-1", "tank-2"]),
    ("SELECT COUNT() FROM DIGITALTWINS", 14),
    ("SELECT COUNT() FROM RELATIONSHIPS", 22),
    (f"SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('{ROOM}')", 4),
    (f"SELECT COUNT() FROM DIGITALTWINS c WHERE IS_OF_MODEL('{ROOM}') AND c.capacity > 5", 2),
    ("SELECT COUNT() FROM DIGITALTWINS WHERE name = 'nobody'", 0),
    (f"SELECT COUNT() FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE IS_OF_MODEL(F, '{FLOOR}')", 4),
    ("SELECT COUNT() FROM DIGITALTWINS MATCH (s)-[:contains*2]->(r) WHERE s.$dtId = 'site-1'", 4),
    ("SELECT COUNT() FROM RELATIONSHIPS R WHERE R.$relationshipName = 'feeds'", 5),
    ("SELECT COUNT() FROM DIGITALTWINS WHERE true", 14),
    ("SELECT COUNT() FROM DIGITALTWINS WHERE false", 0),
    # -- $dtId and the metadata ---------------------------------------------------------------
    (f"{DT} T.$dtId = 'room-a'", ["room-a"]),
    ("SELECT * FROM DIGITALTWINS WHERE $dtId = 'room-a'", ["room-a"]),
    (f"{DT} T.$dtid = 'room-a'", ["room-a"]),
    (f"{DT} T.$dtId IN ['room-a', 'tank-2', 'nope']", ["room-a", "tank-2"]),
    (f"{DT} T.$dtId NIN ['room-a', 'tank-2']", [t for t in ALL if t not in ("room-a", "tank-2")]),
    (f"{DT} T.$dtId != 'room-a' AND IS_OF_MODEL(T, '{ROOM}')", ["room-b", "room-c", "room-d"]),
    (f"{DT} T.$dtId > 'site'", ["site-1", "tank-1", "tank-2"]),
    (f"{DT} T.$dtId <= 'floor-0'", ["ahu-1", "floor-0"]),
    (f"{DT} T.$dtId >= 'tank-2'", ["tank-2"]),
    (f"{DT} T.$dtId < 'b'", ["ahu-1"]),
    (f"SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{TANK}')", _col("$dtId", "tank-1", "tank-2")),
    ("SELECT T.$metadata.$model FROM DIGITALTWINS T WHERE T.$dtId = 'pump-3'", _col("$model", SMART_PUMP)),
    (
        "SELECT T.$metadata.$model AS model FROM DIGITALTWINS T WHERE T.$dtId IN ['site-1', 'sensor-1']",
        _col("model", SENSOR, SITE),
    ),
    (f"{DT} T.$metadata.$model = '{TANK}'", ["tank-1", "tank-2"]),
    (f"{DT} T.$metadata.$model IN ['{PUMP}', '{SMART_PUMP}']", ["pump-1", "pump-2", "pump-3"]),
    ("SELECT COUNT() FROM DIGITALTWINS T WHERE IS_STRING(T.$etag) AND STARTSWITH(T.$etag, 'W/')", 14),
    ("SELECT COUNT() FROM DIGITALTWINS T WHERE T.$metadata.$lastUpdateTime > '2000-01-01'", 14),
    ("SELECT COUNT() FROM DIGITALTWINS T WHERE IS_DEFINED(T.$dtId)", 14),
    ("SELECT T.$metadata.$model AS m FROM DIGITALTWINS T WHERE T.$dtId = 'ahu-1'", _col("m", AHU)),
    # -- comparisons --------------------------------------------------------------------------
    (f"{DT} T.capacity = 40", ["room-a"]),
    (f"{DT} T.capacity = 40.0", ["room-a"]),
    (f"{DT} T.capacity != 40", ["room-b", "room-c"]),
    (f"{DT} T.capacity > 4", ["room-a", "room-c"]),
    (f"{DT} T.capacity >= 4", ["room-a", "room-b", "room-c"]),
    (f"{DT} T.capacity < 12", ["room-b"]),
    (f"{DT} T.capacity <= 12", ["room-b", "room-c"]),
    (f"{DT} T.temperature > 21.9", ["room-b", "room-c"]),
    (f"{DT} T.temperature < 22", ["room-a"]),
    (f"{DT} T.level = 0", ["floor-0"]),
    (f"{DT} T.level >= 0", ["floor-0", "floor-1"]),
    (f"{DT} T.area > 100", ["floor-0", "floor-1"]),
    (f"{DT} T.area = 450.5", ["floor-1"]),
    (f"{DT} T.name = 'Lobby'", ["room-a"]),
    ("SELECT * FROM DIGITALTWINS WHERE name = 'Lobby'", ["room-a"]),
    (f'{DT} T.name = "Lobby"', ["room-a"]),
    (f"{DT} T.name != 'Lobby'", [t for t in NAMED if t != "room-a"]),
    (f"{DT} T.name > 'Return'", ["pump-2", "pump-3", "room-d", "tank-2"]),
    (f"{DT} T.occupied = true", ["room-a", "room-c"]),
    (f"{DT} T.occupied = false", ["room-b"]),
    (f"{DT} T.running = true AND IS_OF_MODEL(T, '{PUMP}')", ["pump-1", "pump-3"]),
    (f"{DT} T.running != true", ["pump-2"]),
    (f"{DT} T.serial = 'P-100'", ["pump-1"]),
    (f"{DT} T.installed >= '2020-01-01'", ["pump-1"]),
    (f"{DT} T.installed < '2020-01-01'", ["ahu-1"]),
    (f"{DT} T.capacity = '40'", []),
    (f"{DT} T.name = 40", []),
    (f"{DT} T.occupied = 1", []),
    (f"{DT} T.capacity > 'a'", []),
    (f"{DT} T.name < 5", []),
    (f"{DT} NOT T.capacity < 12", ["room-a", "room-c"]),
    (f"{DT} NOT T.capacity <= 12", ["room-a"]),
    (f"{DT} T.capacity = null", []),
    (f"{DT} T.capacity != null", ["room-a", "room-b", "room-c"]),
    (f"{DT} 40 = T.capacity", ["room-a"]),
    ("SELECT * FROM DIGITALTWINS WHERE 'Lobby' = name", ["room-a"]),
    (f"{DT} T.level = T.level", ["floor-0", "floor-1"]),
    (f"{DT} T.ratedFlow > T.ratedFlow", []),
    (f"{DT} T.capacity > T.temperature", ["room-a"]),
    (f"{DT} T.ratedFlow >= 10", ["pump-1", "pump-3"]),
    (f"{DT} T.ratedFlow > -1e3", ["pump-1", "pump-2", "pump-3"]),
    (f"{DT} T.volume < 1e1", ["tank-1"]),
    (f"{DT} T.accuracy = 0.5", ["sensor-1"]),
    # kgtwin's own keys are never properties of a twin
    (f"{DT} T.id = 'room-a'", []),
    (f"{DT} T.model = '{ROOM}'", []),
    (f"{DT} T._document != ''", []),
    # -- Objects, Maps and Components ----------------------------------------------------------
    (f"{DT} T.location.x = 1.0", ["room-a"]),
    (f"{DT} T.location.x > 2", ["room-c"]),
    (f"{DT} T.location.y < 2", ["room-c"]),
    (f"{DT} T.address.city = 'Oslo'", ["site-1"]),
    (f"{DT} T.address.zip = '0150'", ["site-1"]),
    (f"{DT} T.tags.zone = 'technical'", ["room-b"]),
    (f"{DT} T.tags.zone IN ['technical', 'storage']", ["room-b", "room-d"]),
    (f"{DT} T.motor.power > 1", ["pump-1"]),
    (f"{DT} T.motor.power <= 1", ["pump-2"]),
    (f"{DT} T.motor.voltage = 400", ["pump-1"]),
    (f"{DT} IS_DEFINED(T.tags)", ["pump-1", "room-b", "room-d", "site-1"]),
    ("SELECT * FROM DIGITALTWINS WHERE IS_DEFINED(tags.zone)", ["room-b", "room-d"]),
    (f"{DT} NOT IS_DEFINED(T.tags.zone) AND IS_DEFINED(T.tags)", ["pump-1", "site-1"]),
    (f"{DT} IS_OBJECT(T.location)", ["room-a", "room-c"]),
    # pump-3's motor is an empty Component: nothing of it is stored, so it reads as undefined
    (f"{DT} IS_OBJECT(T.motor)", ["pump-1", "pump-2"]),
    (f"{DT} IS_OBJECT(T.name)", []),
    (f"{DT} IS_OBJECT(T.location.x)", []),
    (f"{DT} IS_DEFINED(T.location.x)", ["room-a", "room-c"]),
    (f"{DT} IS_PRIMITIVE(T.location)", []),
    (f"{DT} IS_OBJECT(T.address) AND NOT IS_DEFINED(T.address.street)", ["site-1"]),
    # -- type functions ----------------------------------------------------------------------
    (f"{DT} IS_DEFINED(T.temperature)", ["room-a", "room-b", "room-c"]),
    (f"{DT} NOT IS_DEFINED(T.name)", ["sensor-1"]),
    (f"{DT} IS_NUMBER(T.capacity)", ["room-a", "room-b", "room-c"]),
    (f"{DT} IS_NUMBER(T.name)", []),
    (f"{DT} IS_STRING(T.serial)", ["pump-1", "pump-2", "pump-3", "tank-1"]),
    (f"{DT} IS_STRING(T.serial) AND T.serial != 'T-1'", ["pump-1", "pump-2", "pump-3"]),
    (f"{DT} IS_BOOL(T.occupied)", ["room-a", "room-b", "room-c"]),
    (f"{DT} IS_BOOL(T.occupied) AND T.occupied != false", ["room-a", "room-c"]),
    (f"{DT} IS_BOOL(T.name)", []),
    (f"{DT} IS_PRIMITIVE(T.unit)", ["pump-3", "sensor-1"]),
    (f"{DT} IS_PRIMITIVE(T.features)", []),
    (f"{DT} IS_NULL(T.name)", []),
    (f"{DT} NOT IS_NULL(T.accuracy)", ALL),
    (f"{DT} IS_STRING(T.$dtId) AND IS_OF_MODEL(T, '{SENSOR}', exact)", ["sensor-1"]),
    (f"{DT} IS_NUMBER(T.level) AND T.level != 0", ["floor-1"]),
    (f"{DT} is_number(T.airflow)", ["ahu-1"]),
    (f"{DT} IS_STRING(T.installed)", ["ahu-1", "pump-1"]),
    (f"{DT} IS_NUMBER(T.ratings)", []),
    (f"{DT} IS_DEFINED(T.ratings)", ["pump-1", "tank-2"]),
    (f"{DT} IS_PRIMITIVE('text') AND T.level = 1", ["floor-1"]),
    (f"{DT} IS_NULL(null) AND IS_NUMBER(1.5) AND NOT IS_STRING(3) AND T.level = 1", ["floor-1"]),
    # -- string functions --------------------------------------------------------------------
    (f"{DT} STARTSWITH(T.$dtId, 'room-')", ROOMS),
    (f"{DT} STARTS_WITH(T.name, 'Storage')", ["room-d", "tank-2"]),
    (f"{DT} ENDSWITH(T.name, 'pump')", ["pump-1", "pump-2", "pump-3"]),
    (f"{DT} ENDS_WITH(T.$dtId, '-1')", ["ahu-1", "floor-1", "pump-1", "sensor-1", "site-1", "tank-1"]),
    (f"{DT} CONTAINS(T.name, 'oo')", ["floor-0", "floor-1", "room-b"]),
    (f"{DT} CONTAINS(T.$dtId, '-')", ALL),
    (f"{DT} STARTSWITH(T.capacity, '4')", []),
    (
        f"{DT} NOT STARTSWITH(T.name, 'S')",
        ["ahu-1", "floor-0", "floor-1", "pump-1", "pump-2", "room-a", "room-b", "room-c", "site-1", "tank-1"],
    ),
    (f"{DT} CONTAINS(T.name, '')", NAMED),
    (f"{DT} startswith(T.serial, 'P-') OR endswith(T.serial, '300')", ["pump-1", "pump-2", "pump-3"]),
    (f"{DT} CONTAINS(T.firmware, '.1.')", ["pump-3"]),
    (f"{DT} STARTSWITH(T.name, T.name)", NAMED),
    # -- ARRAY_CONTAINS ----------------------------------------------------------------------
    (f"{DT} ARRAY_CONTAINS(T.features, 'wifi')", ["room-a"]),
    (f"{DT} ARRAY_CONTAINS(T.features, 'drain')", ["room-b"]),
    (f"{DT} ARRAY_CONTAINS(T.ratings, 5)", ["pump-1"]),
    (f"{DT} ARRAY_CONTAINS(T.ratings, 1)", ["tank-2"]),
    (f"{DT} ARRAY_CONTAINS(T.ratings, 5.0)", ["pump-1"]),
    (f"{DT} ARRAY_CONTAINS(T.name, 'Lobby')", []),
    (f"{DT} NOT ARRAY_CONTAINS(T.features, 'wifi')", ["room-b"]),
    (f"{DT} ARRAY_CONTAINS(T.features, 'WIFI')", []),
    # -- IN and NIN --------------------------------------------------------------------------
    (f"{DT} T.name IN ['Lobby', 'Storage']", ["room-a", "room-d"]),
    (f"{DT} T.capacity IN [4, 12]", ["room-b", "room-c"]),
    (f"{DT} T.capacity IN [4.0, '12']", ["room-b"]),
    (f"{DT} T.capacity NIN [4, 12]", ["room-a"]),
    (f"{DT} T.capacity NOT IN [4, 12]", ["room-a"]),
    (f"{DT} T.level IN []", []),
    (f"{DT} T.level NIN []", ["floor-0", "floor-1"]),
    (f"{DT} T.occupied IN [true]", ["room-a", "room-c"]),
    (f"{DT} T.$dtId IN ['pump-1', 'pump-2'] AND T.running IN [false]", ["pump-2"]),
    # -- AND, OR, NOT and parentheses --------------------------------------------------------
    (f"{DT} IS_OF_MODEL(T, '{ROOM}') AND (T.capacity > 20 OR T.temperature > 25)", ["room-a", "room-b"]),
    (f"{DT} IS_OF_MODEL(T, '{ROOM}') AND NOT (T.capacity > 20 OR T.temperature > 25)", ["room-c"]),
    (f"{DT} T.level = 0 OR T.volume = 12.0 OR T.unit = 'degC'", ["floor-0", "sensor-1", "tank-2"]),
    (f"{DT} (T.level = 0 OR T.level = 1) AND T.area > 460", ["floor-0"]),
    (f"{DT} NOT NOT T.level = 1", ["floor-1"]),
    (f"{DT} T.capacity > 5 AND T.capacity < 30 OR T.level = 1", ["floor-1", "room-c"]),
    (f"{DT} T.capacity > 5 AND (T.capacity < 30 OR T.level = 1)", ["room-c"]),
    (f"{DT} ((T.level = 1))", ["floor-1"]),
    # -- IS_OF_MODEL ---------------------------------------------------------------------------
    (f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{ASSET}')", NAMED),
    (f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{SPACE}')", ["floor-0", "floor-1", *ROOMS, "site-1"]),
    (
        f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{EQUIPMENT}')",
        ["ahu-1", "pump-1", "pump-2", "pump-3", "tank-1", "tank-2"],
    ),
    (f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{PUMP}')", ["pump-1", "pump-2", "pump-3"]),
    (f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{PUMP}', exact)", ["pump-1", "pump-2"]),
    (f"{DT} IS_OF_MODEL(T, '{PUMP}', exact)", ["pump-1", "pump-2"]),
    (f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{SENSOR}')", ["pump-3", "sensor-1"]),
    (f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{SENSOR}', EXACT)", ["sensor-1"]),
    (f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{MOTOR}')", []),
    ("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:ex:adt:Nothing;1')", []),
    ("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:ex:adt:Pump;2')", []),
    (
        f"SELECT * FROM DIGITALTWINS WHERE NOT IS_OF_MODEL('{EQUIPMENT}') AND NOT IS_OF_MODEL('{SPACE}')",
        ["sensor-1"],
    ),
    (f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{PUMP}') AND IS_OF_MODEL('{SENSOR}')", ["pump-3"]),
    (f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{SMART_PUMP}', exact)", ["pump-3"]),
    (f"SELECT * FROM DIGITALTWINS WHERE is_of_model('{TANK}')", ["tank-1", "tank-2"]),
    # -- FROM RELATIONSHIPS --------------------------------------------------------------------
    ("SELECT * FROM RELATIONSHIPS", RELATIONSHIPS),
    (
        "SELECT * FROM RELATIONSHIPS WHERE $sourceId IN ['pump-1', 'pump-2']",
        ["pump-1/f-1", "pump-1/f-2", "pump-1/l-1", "pump-2/f-1", "pump-2/l-1"],
    ),
    (
        "SELECT * FROM RELATIONSHIPS R WHERE R.$relationshipName = 'serves'",
        ["ahu-1/s-1", "ahu-1/s-2", "pump-3/s-1"],
    ),
    (
        "SELECT * FROM RELATIONSHIPS R WHERE R.$targetId = 'room-b'",
        ["floor-0/c-2", "pump-1/l-1", "pump-2/l-1", "pump-3/l-1", "pump-3/s-1", "tank-1/l-1"],
    ),
    (
        "SELECT * FROM RELATIONSHIPS R WHERE R.$relationshipId = 'f-1'",
        ["pump-1/f-1", "pump-2/f-1", "pump-3/f-1", "tank-1/f-1"],
    ),
    ("SELECT * FROM RELATIONSHIPS R WHERE R.medium = 'water'", ["pump-1/f-1", "pump-1/f-2", "tank-1/f-1"]),
    ("SELECT * FROM RELATIONSHIPS R WHERE R.flow > 3", ["pump-1/f-1", "pump-3/f-1"]),
    ("SELECT * FROM RELATIONSHIPS R WHERE R.priority >= 2", ["ahu-1/s-2", "pump-3/s-1"]),
    ("SELECT * FROM RELATIONSHIPS R WHERE IS_DEFINED(R.since)", ["ahu-1/s-1", "ahu-1/s-2"]),
    (
        "SELECT R.$sourceId, R.$targetId FROM RELATIONSHIPS R WHERE R.$relationshipName = 'monitors'",
        [{"$sourceId": "pump-3", "$targetId": "tank-2"}, {"$sourceId": "sensor-1", "$targetId": "room-a"}],
    ),
    (
        "SELECT R.$relationshipId AS id, R.medium FROM RELATIONSHIPS R WHERE R.$relationshipName = 'feeds'",
        [
            {"id": "f-1", "medium": "water"},
            {"id": "f-2", "medium": "water"},
            {"id": "f-1"},
            {"id": "f-1", "medium": "glycol"},
            {"id": "f-1", "medium": "water"},
        ],
    ),
    ("SELECT R FROM RELATIONSHIPS R WHERE R.$sourceId = 'site-1'", _col("R", "site-1/c-1", "site-1/c-2")),
    ("SELECT COUNT() FROM RELATIONSHIPS WHERE $relationshipName = 'locatedIn'", 6),
    (
        "SELECT * FROM RELATIONSHIPS R WHERE STARTSWITH(R.$sourceId, 'floor') "
        "AND R.$targetId IN ['room-a', 'room-d']",
        ["floor-0/c-1", "floor-1/c-2"],
    ),
    (
        "SELECT R.$relationshipName AS name FROM RELATIONSHIPS R WHERE R.$sourceId = 'ahu-1'",
        _col("name", "locatedIn", "serves", "serves"),
    ),
    ("SELECT TOP(2) FROM RELATIONSHIPS", ["ahu-1/l-1", "ahu-1/s-1"]),
    # -- JOIN ------------------------------------------------------------------------------------
    (
        "SELECT T, CT FROM DIGITALTWINS T JOIN CT RELATED T.contains WHERE T.$dtId = 'site-1'",
        [{"T": "site-1", "CT": "floor-0"}, {"T": "site-1", "CT": "floor-1"}],
    ),
    (
        "SELECT CT FROM DIGITALTWINS T JOIN CT RELATED T.contains WHERE T.$dtId = 'floor-0'",
        _col("CT", "room-a", "room-b"),
    ),
    (
        "SELECT Room FROM DIGITALTWINS Floor JOIN Room RELATED Floor.contains "
        "WHERE Floor.$dtId IN ['floor-0', 'floor-1'] AND Room.temperature > 21.9",
        _col("Room", "room-b", "room-c"),
    ),
    (
        "SELECT source FROM DIGITALTWINS source JOIN target RELATED source.feeds "
        "WHERE target.$dtId = 'tank-2'",
        _col("source", "pump-1", "pump-3"),
    ),
    (
        "SELECT T, SBT, R FROM DIGITALTWINS T JOIN SBT RELATED T.serves R "
        "WHERE T.$dtId = 'ahu-1' AND R.priority = 2",
        [{"T": "ahu-1", "SBT": "room-c", "R": "ahu-1/s-2"}],
    ),
    (
        "SELECT R FROM DIGITALTWINS S JOIN F RELATED S.contains JOIN R RELATED F.contains "
        "WHERE S.$dtId = 'site-1'",
        _col("R", *ROOMS),
    ),
    (
        "SELECT COUNT() FROM DIGITALTWINS S JOIN F RELATED S.contains JOIN R RELATED F.contains "
        f"WHERE IS_OF_MODEL(R, '{ROOM}') AND R.occupied = true",
        2,
    ),
    (
        f"SELECT P, T FROM DIGITALTWINS P JOIN T RELATED P.feeds WHERE IS_OF_MODEL(T, '{TANK}')",
        [{"P": "pump-1", "T": "tank-1"}, {"P": "pump-1", "T": "tank-2"}, {"P": "pump-3", "T": "tank-2"}],
    ),
    (
        "SELECT P.name, T.name AS tank FROM DIGITALTWINS P JOIN T RELATED P.feeds WHERE T.volume > 5",
        [{"name": "Feed pump", "tank": "Storage tank"}, {"name": "Smart pump", "tank": "Storage tank"}],
    ),
    (
        "SELECT Consumer.name, Edge.medium, Factory.serial FROM DIGITALTWINS Factory "
        "JOIN Consumer RELATED Factory.feeds Edge WHERE Factory.$dtId = 'pump-1'",
        [
            {"name": "Buffer tank", "medium": "water", "serial": "P-100"},
            {"name": "Storage tank", "medium": "water", "serial": "P-100"},
        ],
    ),
    ("SELECT A, B FROM DIGITALTWINS A JOIN B RELATED A.feeds WHERE A.$dtId = B.$dtId", []),
    (
        "SELECT C FROM DIGITALTWINS A JOIN B RELATED A.feeds JOIN C RELATED B.feeds WHERE A.$dtId = 'pump-1'",
        _col("C", "pump-2"),
    ),
    (
        "SELECT D FROM DIGITALTWINS A JOIN B RELATED A.feeds JOIN C RELATED B.feeds JOIN D RELATED C.feeds "
        "WHERE A.$dtId = 'pump-1'",
        _col("D", "pump-1"),
    ),
    (
        "SELECT R.$relationshipId, R.$targetId FROM DIGITALTWINS T JOIN X RELATED T.locatedIn R "
        "WHERE T.$dtId = 'tank-2'",
        [{"$relationshipId": "l-1", "$targetId": "room-d"}],
    ),
    (
        "SELECT T.$dtId AS equipment, X.name AS room FROM DIGITALTWINS T JOIN X RELATED T.locatedIn "
        "WHERE X.$dtId = 'room-b'",
        [{"equipment": e, "room": "Plant room"} for e in ("pump-1", "pump-2", "pump-3", "tank-1")],
    ),
    (
        "SELECT * FROM DIGITALTWINS T JOIN X RELATED T.monitors R",
        [
            {"T": "pump-3", "X": "tank-2", "R": "pump-3/m-1"},
            {"T": "sensor-1", "X": "room-a", "R": "sensor-1/m-1"},
        ],
    ),
    ("SELECT X FROM DIGITALTWINS T JOIN X RELATED T.nothing", []),
    (
        "SELECT F FROM DIGITALTWINS A JOIN B RELATED A.feeds JOIN C RELATED B.feeds JOIN D RELATED C.feeds "
        "JOIN E RELATED D.feeds JOIN F RELATED E.feeds WHERE A.$dtId = 'pump-1'",
        _col("F", "pump-2"),
    ),
    (
        "SELECT L, S FROM DIGITALTWINS E JOIN L RELATED E.locatedIn JOIN S RELATED E.serves "
        "WHERE E.$dtId = 'ahu-1'",
        [{"L": "room-c", "S": "room-a"}, {"L": "room-c", "S": "room-c"}],
    ),
    (
        f"SELECT X FROM DIGITALTWINS T JOIN X RELATED T.feeds WHERE IS_OF_MODEL(X, '{PUMP}')",
        _col("X", "pump-1", "pump-2"),
    ),
    ("SELECT COUNT() FROM DIGITALTWINS T JOIN X RELATED T.feeds", 5),
    # -- MATCH ------------------------------------------------------------------------------------
    (
        "SELECT B, S FROM DIGITALTWINS MATCH (B)-[]->(S) WHERE B.$dtId = 'site-1'",
        [{"B": "site-1", "S": "floor-0"}, {"B": "site-1", "S": "floor-1"}],
    ),
    (
        "SELECT S FROM DIGITALTWINS MATCH (B)<-[]-(S) WHERE B.$dtId = 'room-a'",
        _col("S", "ahu-1", "floor-0", "sensor-1"),
    ),
    (
        "SELECT X FROM DIGITALTWINS MATCH (A)-[]-(X) WHERE A.$dtId = 'tank-2'",
        _col("X", "pump-1", "pump-3", "pump-3", "room-d"),
    ),
    (
        "SELECT X FROM DIGITALTWINS MATCH (A)-[:feeds]-(X) WHERE A.$dtId = 'tank-2'",
        _col("X", "pump-1", "pump-3"),
    ),
    (
        "SELECT X FROM DIGITALTWINS MATCH (A)-[:feeds|monitors]->(X) WHERE A.$dtId = 'pump-3'",
        _col("X", "tank-2", "tank-2"),
    ),
    ("SELECT R FROM DIGITALTWINS MATCH (S)-[:contains*2]->(R) WHERE S.$dtId = 'site-1'", _col("R", *ROOMS)),
    # ADT reads *1..2 as more than one hop and at most two
    (
        "SELECT X FROM DIGITALTWINS MATCH (S)-[:contains*1..2]->(X) WHERE S.$dtId = 'site-1'",
        _col("X", *ROOMS),
    ),
    (
        "SELECT X FROM DIGITALTWINS MATCH (S)-[:contains*..2]->(X) WHERE S.$dtId = 'site-1'",
        _col("X", "floor-0", "floor-1", *ROOMS),
    ),
    (
        "SELECT X FROM DIGITALTWINS MATCH (S)-[:contains*0..1]->(X) WHERE S.$dtId = 'site-1'",
        _col("X", "floor-0", "floor-1"),
    ),
    ("SELECT X FROM DIGITALTWINS MATCH (A)-[:feeds*3]->(X) WHERE A.$dtId = 'pump-2'", _col("X", "pump-2")),
    (
        "SELECT X FROM DIGITALTWINS MATCH (A)-[:feeds*..10]->(X) WHERE A.$dtId = 'pump-1'",
        _col("X", "pump-1", "pump-2", "tank-1", "tank-2"),
    ),
    (
        "SELECT X FROM DIGITALTWINS MATCH (A)-[:contains*2]-(X) WHERE A.$dtId = 'room-a'",
        _col("X", "room-b", "site-1"),
    ),
    (
        "SELECT F, R FROM DIGITALTWINS MATCH (S)-[:contains]->(F)-[:contains]->(R) "
        "WHERE S.$dtId = 'site-1' AND R.occupied = true",
        [{"F": "floor-0", "R": "room-a"}, {"F": "floor-1", "R": "room-c"}],
    ),
    (
        "SELECT E FROM DIGITALTWINS MATCH (F)-[:contains]->(R)<-[:locatedIn]-(E) WHERE F.$dtId = 'floor-0'",
        _col("E", "pump-1", "pump-2", "pump-3", "tank-1"),
    ),
    (
        "SELECT A, X, r FROM DIGITALTWINS MATCH (A)-[r:serves]->(X) WHERE r.priority < 3",
        [{"A": "ahu-1", "X": "room-a", "r": "ahu-1/s-1"}, {"A": "ahu-1", "X": "room-c", "r": "ahu-1/s-2"}],
    ),
    (
        "SELECT r.$relationshipName AS name FROM DIGITALTWINS MATCH (A)-[r]->(X) WHERE A.$dtId = 'pump-3'",
        _col("name", "locatedIn", "serves", "feeds", "monitors"),
    ),
    ("SELECT T FROM DIGITALTWINS MATCH (T) WHERE T.level = 1", _col("T", "floor-1")),
    (
        f"SELECT P FROM DIGITALTWINS MATCH (P)-[:feeds]->(T) WHERE IS_OF_MODEL(T, '{PUMP}')",
        _col("P", "pump-2", "tank-1"),
    ),
    (
        "SELECT * FROM DIGITALTWINS MATCH (A)-[:monitors]->(B)",
        [{"A": "pump-3", "B": "tank-2"}, {"A": "sensor-1", "B": "room-a"}],
    ),
    ("SELECT COUNT() FROM DIGITALTWINS MATCH (A)-[:contains*..2]->(B) WHERE A.$dtId = 'site-1'", 6),
    (
        "SELECT X FROM DIGITALTWINS MATCH (A)-[:contains]->()-[:contains]->(X) WHERE A.$dtId = 'site-1'",
        _col("X", *ROOMS),
    ),
    ("SELECT A FROM DIGITALTWINS MATCH (A)-[:serves]->()", _col("A", "ahu-1", "ahu-1", "pump-3")),
    (
        "SELECT T FROM DIGITALTWINS T MATCH (T)-[:locatedIn]->(R) WHERE R.$dtId = 'room-d'",
        _col("T", "tank-2"),
    ),
    (
        "SELECT X.name FROM DIGITALTWINS MATCH (A)<-[:contains*2]-(X) WHERE A.$dtId = 'room-c'",
        _col("name", "North campus"),
    ),
    (
        "SELECT r FROM DIGITALTWINS MATCH (A)-[r:feeds*1]->(X) WHERE A.$dtId = 'pump-1'",
        _col("r", "pump-1/f-1", "pump-1/f-2"),
    ),
    (
        f"SELECT E FROM DIGITALTWINS MATCH (R)<-[:locatedIn]-(E) WHERE IS_OF_MODEL(E, '{TANK}')",
        _col("E", "tank-1", "tank-2"),
    ),
    (
        "SELECT Floor, Room FROM DIGITALTWINS MATCH (Floor)-[:contains|serves*..1]->(Room) "
        "WHERE Floor.$dtId = 'floor-1'",
        [{"Floor": "floor-1", "Room": "room-c"}, {"Floor": "floor-1", "Room": "room-d"}],
    ),
    # -- projections ---------------------------------------------------------------------------
    (
        f"SELECT name, capacity FROM DIGITALTWINS WHERE IS_OF_MODEL('{ROOM}')",
        [
            {"name": "Lobby", "capacity": 40},
            {"name": "Plant room", "capacity": 4},
            {"name": "Office 101", "capacity": 12},
            {"name": "Storage"},
        ],
    ),
    (
        f"SELECT T.location FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{ROOM}')",
        [{"location": {"x": 1.0, "y": 2.0}}, {}, {"location": {"x": 5.5, "y": 1.25}}, {}],
    ),
    ("SELECT T.location.x AS x FROM DIGITALTWINS T WHERE IS_DEFINED(T.location)", _col("x", 1.0, 5.5)),
    (
        "SELECT T.features FROM DIGITALTWINS T WHERE T.$dtId = 'room-a'",
        _col("features", ["wifi", "projector"]),
    ),
    (
        f"SELECT T.motor FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{PUMP}')",
        _col("motor", {"power": 1.5, "voltage": 400}, {"power": 0.75}, {}),
    ),
    ("SELECT T.tags FROM DIGITALTWINS T WHERE T.$dtId = 'site-1'", _col("tags", {"owner": "facilities"})),
    (
        "SELECT T.name AS n, T.$dtId AS id FROM DIGITALTWINS T WHERE T.level = 0",
        [{"n": "Ground floor", "id": "floor-0"}],
    ),
    (
        "SELECT T.name, T.[[count]] FROM DIGITALTWINS T WHERE T.$dtId = 'floor-0'",
        _col("name", "Ground floor"),
    ),
    ("SELECT [[Group]] FROM DIGITALTWINS WHERE [[Group]] = 'x'", []),
    ("SELECT T.nothing FROM DIGITALTWINS T WHERE T.$dtId = 'floor-0'", [{}]),
    ("SELECT T.id FROM DIGITALTWINS T WHERE T.$dtId = 'floor-0'", [{}]),
    (
        "SELECT T, T.name FROM DIGITALTWINS T WHERE T.$dtId = 'floor-1'",
        [{"T": "floor-1", "name": "First floor"}],
    ),
    (
        f"SELECT T.unit, T.accuracy FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{SENSOR}')",
        [{"unit": "m3/h"}, {"unit": "degC", "accuracy": 0.5}],
    ),
    ("SELECT T.motor.power FROM DIGITALTWINS T WHERE T.$dtId = 'pump-2'", _col("power", 0.75)),
    # -- literals, escapes, layout -------------------------------------------------------------
    ("SELECT * FROM DIGITALTWINS WHERE name = 'D\\'Souza'", []),
    ("SELECT * FROM DIGITALTWINS WHERE name = 'Office\\u0020101'", ["room-c"]),
    ("SELECT *\nFROM DIGITALTWINS\nWHERE name = 'Lobby'", ["room-a"]),
    ("SeLeCt * FrOm DiGiTaLtWiNs WhErE name = 'Lobby'", ["room-a"]),
    ("SELECT * FROM DIGITALTWINS WHERE NaMe = 'Lobby'", []),
    ('SELECT * FROM DIGITALTWINS WHERE name = "Plant \\"room\\""', []),
    # values that look like Cypher stay values
    ("SELECT * FROM DIGITALTWINS WHERE name = '\\' OR 1=1 --'", []),
    ('SELECT * FROM DIGITALTWINS WHERE name = "x\\") RETURN 1 //"', []),
    ("SELECT * FROM DIGITALTWINS WHERE name = '}) MATCH (n) DETACH DELETE n //'", []),
    ("SELECT * FROM DIGITALTWINS WHERE $dtId IN ['room-a', '\\' OR \\'\\'=\\'']", ["room-a"]),
    ("SELECT * FROM DIGITALTWINS WHERE name = '`) RETURN 1 //'", []),
]

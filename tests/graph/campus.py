"""A small campus in the base ontology for the query and subgraph tests.

site-1 contains building-1 contains floor-1, floor-2
room-1 isPartOf floor-1; floor-2 contains room-2
pump-1, tank-1 locatedIn room-1; pump-2 locatedIn room-2
pump-1 feeds tank-1 feeds pump-2 feeds pump-1 (a loop)
"""

from __future__ import annotations

from graph.twins import TwinGraph

SITE = "dtmi:kgtwin:space:Site;1"
BUILDING = "dtmi:kgtwin:space:Building;1"
FLOOR = "dtmi:kgtwin:space:Floor;1"
ROOM = "dtmi:kgtwin:space:Room;1"
SPACE = "dtmi:kgtwin:space:Space;1"
EQUIPMENT = "dtmi:kgtwin:asset:Equipment;1"
PUMP = "dtmi:kgtwin:fluid:Pump;1"
TANK = "dtmi:kgtwin:fluid:Tank;1"


def build_campus(twins: TwinGraph) -> None:
    """Write the campus twins and relationships."""
    twins.put_twin("site-1", SITE, {"name": "Main site"})
    twins.put_twin("building-1", BUILDING, {"name": "Hall A", "yearBuilt": 1998})
    twins.put_twin("floor-1", FLOOR, {"level": 0})
    twins.put_twin("floor-2", FLOOR, {"level": 1})
    twins.put_twin("room-1", ROOM, {"name": "Pump room", "volume": 120.0})
    twins.put_twin("room-2", ROOM, {"name": "Boiler room"})
    twins.put_twin(
        "pump-1",
        PUMP,
        {"name": "Feed pump", "ratedFlow": 12.5, "serialNumber": "P-100", "externalIds": {"sap": "4711"}},
    )
    twins.put_twin("pump-2", PUMP, {"name": "Return pump", "ratedFlow": 8.0, "serialNumber": "P-200"})
    twins.put_twin("tank-1", TANK, {"name": "Buffer tank", "volume": 3.0})
    twins.put_relationship("site-1", "c-1", "contains", "building-1")
    twins.put_relationship("building-1", "c-2", "contains", "floor-1")
    twins.put_relationship("building-1", "c-3", "contains", "floor-2")
    twins.put_relationship("room-1", "p-1", "isPartOf", "floor-1")
    twins.put_relationship("floor-2", "c-4", "contains", "room-2")
    twins.put_relationship("pump-1", "l-1", "locatedIn", "room-1")
    twins.put_relationship("tank-1", "l-1", "locatedIn", "room-1")
    twins.put_relationship("pump-2", "l-1", "locatedIn", "room-2")
    twins.put_relationship("pump-1", "f-1", "feeds", "tank-1", {"routingProbability": 0.7, "medium": "water"})
    twins.put_relationship("tank-1", "f-1", "feeds", "pump-2", {"medium": "water"})
    twins.put_relationship("pump-2", "f-1", "feeds", "pump-1")

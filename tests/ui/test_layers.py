"""The layered placing of a large twin graph (``ui/src/explorer/layers.js``), run by Node.

The explorer places a graph of thousands of twins itself, in one pass, before drawing it;
these tests check the picture it promises: every twin placed once, a parent one layer
above its children and over their middle, a floor's rooms packed in a grid under it,
twins apart, and a chain of thousands placed without overflowing the stack.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

LAYERS = Path(__file__).resolve().parents[2] / "ui" / "src" / "explorer" / "layers.js"
GAP, LAYER_GAP = 28, 160


def _place(ids: list[str], links: list[tuple[str, str]], roots: list[str], *, directed: bool) -> Any:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is not installed (Node 20 builds the explorer)")
        pytest.skip("node is not installed")
    script = (
        'import { readFileSync } from "node:fs";\n'
        f"import {{ layeredPositions }} from {json.dumps(LAYERS.as_uri())};\n"
        'const [ids, links, roots, directed] = JSON.parse(readFileSync(0, "utf8"));\n'
        "const edges = links.map(([source, target]) => ({ source, target }));\n"
        "const positions = layeredPositions(ids, edges, roots, { directed });\n"
        "process.stdout.write(JSON.stringify(positions));\n"
    )
    found = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=json.dumps([ids, links, roots, directed]),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(found.stdout)


def _campus(floors: int, rooms: int) -> tuple[list[str], list[tuple[str, str]]]:
    ids, links = ["site"], []
    for f in range(floors):
        floor = f"floor-{f}"
        ids.append(floor)
        links.append(("site", floor))
        for r in range(rooms):
            ids.append(f"room-{f}-{r}")
            links.append((floor, f"room-{f}-{r}"))
    return ids, links


def test_every_twin_is_placed_once_and_apart() -> None:
    ids, links = _campus(floors=6, rooms=20)
    positions = _place(ids, links, ["site"], directed=False)
    assert sorted(positions) == sorted(ids)
    spots = [(p["x"], p["y"]) for p in positions.values()]
    assert len(set(spots)) == len(spots)


def test_a_parent_sits_a_layer_above_over_the_middle_of_its_children() -> None:
    ids, links = _campus(floors=3, rooms=2)  # two rooms a floor: a row, not a grid
    positions = _place(ids, links, ["site"], directed=False)
    site, floors = positions["site"], [positions[f"floor-{f}"] for f in range(3)]
    assert all(floor["y"] == site["y"] + LAYER_GAP for floor in floors)
    assert site["x"] == (floors[0]["x"] + floors[-1]["x"]) / 2
    rooms = [positions["room-1-0"], positions["room-1-1"]]
    assert all(room["y"] == floors[1]["y"] + LAYER_GAP for room in rooms)
    assert floors[1]["x"] == (rooms[0]["x"] + rooms[1]["x"]) / 2


def test_the_rooms_of_a_floor_are_packed_in_a_grid_under_it() -> None:
    ids, links = _campus(floors=2, rooms=20)
    positions = _place(ids, links, ["site"], directed=False)
    rooms = [positions[f"room-0-{r}"] for r in range(20)]
    columns = {room["x"] for room in rooms}
    rows = {room["y"] for room in rooms}
    assert (len(columns), len(rows)) == (5, 4)  # ceil(sqrt(20)) columns
    floor = positions["floor-0"]
    assert min(rows) == floor["y"] + LAYER_GAP
    assert min(columns) <= floor["x"] <= max(columns)
    # The next floor's rooms start to the right of this floor's grid.
    assert min(positions[f"room-1-{r}"]["x"] for r in range(20)) > max(columns)


def test_links_are_followed_one_way_when_directed_and_unreached_twins_start_their_own_tree() -> None:
    ids = ["ahu", "room-1", "room-2", "meter"]
    links = [("ahu", "room-1"), ("ahu", "room-2")]
    positions = _place(ids, links, ["room-1"], directed=True)  # a root that feeds nothing
    assert positions["room-1"]["y"] == 0
    assert positions["ahu"]["y"] == 0  # not reached from room-1 against the links
    assert positions["room-2"]["y"] == LAYER_GAP
    assert positions["meter"]["y"] == 0
    assert positions["ahu"]["x"] == positions["room-2"]["x"]  # over its only child
    assert len({positions[twin]["x"] for twin in ("room-1", "room-2", "meter")}) == 3


def test_a_chain_of_thousands_is_placed_without_overflowing_the_stack() -> None:
    ids = [f"station-{i}" for i in range(20_000)]
    links = list(itertools.pairwise(ids))
    positions = _place(ids, links, [ids[0]], directed=True)
    assert positions[ids[-1]]["y"] == (len(ids) - 1) * LAYER_GAP
    assert positions[ids[0]]["x"] == positions[ids[-1]]["x"]

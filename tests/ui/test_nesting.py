"""The nested placing of twins (``ui/src/explorer/nesting.js``), run by Node.

The explorer draws containment as boxes around their contents, placed by its own packing
before anything is drawn; these tests check the picture it promises: every twin placed, a
container's box holding its contents with its padding and its label above, neighbours
apart, the same picture on every visit, a cycle of containment broken, and thousands of
twins placed without overflowing the stack.
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

NESTING = Path(__file__).resolve().parents[2] / "ui" / "src" / "explorer" / "nesting.js"
NODE, PADDING, LABEL = 18, 14, 16


def _boxes(ids: list[str], inside: dict[str, str], cells: dict[str, tuple[int, int]] | None = None) -> Any:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is not installed (Node 20 builds the explorer)")
        pytest.skip("node is not installed")
    script = (
        'import { readFileSync } from "node:fs";\n'
        f"import {{ nestedBoxes }} from {json.dumps(NESTING.as_uri())};\n"
        'const [ids, inside, cells] = JSON.parse(readFileSync(0, "utf8"));\n'
        f"const cell = (id) => {{ const [w, h] = cells[id] ?? [{NODE}, {NODE}]; return {{ w, h }}; }};\n"
        "const boxes = nestedBoxes(ids, new Map(Object.entries(inside)), cell);\n"
        "process.stdout.write(JSON.stringify(boxes));\n"
    )
    found = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=json.dumps([ids, inside, cells or {}]),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(found.stdout)


def _campus(buildings: int, floors: int, rooms: int) -> tuple[list[str], dict[str, str]]:
    ids, inside = ["site"], {}
    for b in range(buildings):
        building = f"building-{b}"
        ids.append(building)
        inside[building] = "site"
        for f in range(floors):
            floor = f"floor-{b}-{f}"
            ids.append(floor)
            inside[floor] = building
            for r in range(rooms):
                ids.append(f"room-{b}-{f}-{r}")
                inside[f"room-{b}-{f}-{r}"] = floor
    return ids, inside


def _body(box: dict[str, float]) -> tuple[float, float, float, float]:
    """The node drawn: its corners."""
    half_w, half_h = box["w"] / 2, box["h"] / 2
    return (box["x"] - half_w, box["y"] - half_h, box["x"] + half_w, box["y"] + half_h)


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["x1"] < b["x2"] and b["x1"] < a["x2"] and a["y1"] < b["y2"] and b["y1"] < a["y2"]


def test_every_container_holds_its_contents_within_its_padding_and_under_its_label() -> None:
    ids, inside = _campus(buildings=3, floors=4, rooms=7)
    boxes = _boxes(ids, inside)
    assert sorted(boxes) == sorted(ids)
    for inner, outer in inside.items():
        x1, y1, x2, y2 = _body(boxes[outer])
        child = boxes[inner]
        assert child["x1"] >= x1 + PADDING, (inner, outer)
        assert child["y1"] >= y1 + PADDING, (inner, outer)
        assert child["x2"] <= x2 - PADDING, (inner, outer)
        assert child["y2"] <= y2 - PADDING, (inner, outer)
        assert boxes[outer]["y1"] + LABEL == y1  # the label's strip is above the box
        assert child["depth"] == boxes[outer]["depth"] + 1
    # A container's box is just large enough: its contents touch its padding on every side.
    floor = "floor-1-2"
    rooms = [boxes[twin] for twin, outer in inside.items() if outer == floor]
    x1, y1, x2, y2 = _body(boxes[floor])
    assert min(r["x1"] for r in rooms) == x1 + PADDING
    assert max(r["x2"] for r in rooms) == x2 - PADDING
    assert min(r["y1"] for r in rooms) == y1 + PADDING
    assert max(r["y2"] for r in rooms) == y2 - PADDING


def test_neighbours_do_not_overlap_and_a_twin_is_drawn_at_the_top_of_its_cell() -> None:
    ids, inside = _campus(buildings=2, floors=3, rooms=9)
    ids += ["meter-1", "meter-2"]  # outermost twins with nothing inside, beside the site
    cells = {f"room-0-0-{r}": (60, 34) for r in range(9)}  # labelled rooms: wider than their node
    boxes = _boxes(ids, inside, cells)
    siblings: dict[str | None, list[str]] = {}
    for twin in ids:
        siblings.setdefault(inside.get(twin), []).append(twin)
    for group in siblings.values():
        for a, b in itertools.combinations(group, 2):
            assert not _overlap(boxes[a], boxes[b]), (a, b)
    room = boxes["room-0-0-4"]
    assert (room["w"], room["h"]) == (NODE, NODE)
    assert room["y"] == room["y1"] + NODE / 2
    assert room["x"] == (room["x1"] + room["x2"]) / 2
    assert room["x2"] - room["x1"] == 60


def test_the_picture_is_the_same_on_every_visit_and_follows_the_given_order() -> None:
    ids, inside = _campus(buildings=2, floors=2, rooms=6)
    assert _boxes(ids, inside) == _boxes(ids, inside)
    boxes = _boxes(ids, inside)
    # Rooms of a floor, in the order given: left to right, then the next row.
    rooms = [boxes[f"room-0-0-{r}"] for r in range(6)]
    assert [(r["y1"], r["x1"]) for r in rooms] == sorted((r["y1"], r["x1"]) for r in rooms)


def test_a_container_is_as_wide_as_its_label() -> None:
    boxes = _boxes(["hall", "press"], {"press": "hall"}, {"hall": (200, 0)})
    assert boxes["hall"]["x2"] - boxes["hall"]["x1"] == 200
    # Its contents, and the box drawn around them, stay in the middle.
    assert boxes["press"]["x"] == boxes["hall"]["x"]
    assert boxes["hall"]["w"] == NODE + 2 * PADDING


def test_a_cycle_of_containment_is_broken_and_every_twin_still_placed() -> None:
    inside = {"a": "b", "b": "c", "c": "a", "d": "a", "e": "missing"}
    boxes = _boxes(["a", "b", "c", "d", "e"], inside)
    assert sorted(boxes) == ["a", "b", "c", "d", "e"]
    assert sorted(box["depth"] for box in boxes.values()).count(0) == 2  # one of the cycle, and e


def test_thousands_of_twins_in_a_deep_chain_are_placed_without_overflowing_the_stack() -> None:
    ids = [f"level-{i}" for i in range(5_000)]
    inside = {inner: outer for outer, inner in itertools.pairwise(ids)}
    boxes = _boxes(ids, inside)
    assert boxes[ids[-1]]["depth"] == len(ids) - 1
    assert boxes[ids[0]]["w"] == NODE + 2 * PADDING * (len(ids) - 1)

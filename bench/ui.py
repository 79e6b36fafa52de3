"""Benchmark the explorer in headless Chromium: time to the first drawn graph, and asset bytes.

Run ``python bench/ui.py`` (``--runs 3`` for a quick look). It starts ``kgtwin serve`` twice,
the way a user does (a process of its own, embedded backends, loopback, no auth):

1. ``--demo``: the demo twin (35 twins, 60 relationships);
2. a generated campus of about ``--elements`` twins plus relationships (buildings of floors
   of rooms, an air handler per floor serving its rooms), imported with ``kgtwin import``
   before the service starts.

For each, Debian's Chromium (``/usr/bin/chromium``, driven by Playwright, every host but
loopback unresolvable) opens ``/explorer`` in a fresh browser context (empty cache) ``--runs``
times; a row reports the median of:

- **first drawn**: from navigation start to the frame after the layout stopped (the page's
  own ``performance.now()``, kept in ``window.kgtwinDrawn``): assets, the ``/me`` and models
  requests, the ``twinGraph`` request, building the elements, the layout and the first paint;
- **layout**: the part of it from building the elements to that frame;
- **page CPU**: CPU seconds of the page's renderer process over the same span (``/proc``,
  sampled every 10 ms: Playwright notices the drawing up to a second later on a loaded
  machine, and the page meanwhile caches its drawing for the first drag, which is not part
  of drawing it): parsing and running the scripts, styles, layout and painting; on a shared
  machine the figure other load distorts least (wall time there includes waiting for a
  core); and that per element drawn (twins + relationships), in microseconds;
- for the large graph, **drag**: the mouse drags the view by an empty spot for 1.5 s right
  after the drawing, as a user pans (Playwright's mouse, one move of 3 px at a time, each
  sent when the page took the last): the **first step** (button pressed to the first frame
  showing the view moved) and the median **step** after it (ms between frames showing a new
  position: 17 is every frame at 60 Hz); the same two once the drawing has settled (a
  second drag 2 s later, when cytoscape has cached its textures of the graph): a first step
  right after drawing no longer than this one means the drag did not wait for that cache
  (what is left of either is the mouse's way through Playwright and a frame); and **tap to
  inspector**: from a click on a twin to its properties shown.

Targets (issue 15): the demo drawn < 1 s after navigation on loopback; 5,000 elements laid
out < 3 s. Asset bytes are each page's scripts and styles, raw and gzipped (level 9, as
served). Prints one table (markdown), then the machine and the load average.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ontology import base_models  # noqa: E402
from tests.ui.service import KGTWIN, environment, running_twin  # noqa: E402

STATIC = ROOT / "api" / "ui_static"
CHROMIUM = "/usr/bin/chromium"
MARK = "--kgtwin-bench-browser"  # an unknown switch Chromium ignores: finds its processes in /proc
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    MARK,
]
SPACE, HVAC = "dtmi:kgtwin:space:", "dtmi:kgtwin:hvac:"
ROOMS_PER_FLOOR = 20
FLOORS_PER_BUILDING = 10
TICKS = os.sysconf("SC_CLK_TCK")
SETTLE_MS = 2000


# -- the large twin --------------------------------------------------------------------------


def campus_bulk(elements: int) -> tuple[bytes, int, int]:
    """A campus of about ``elements`` twins plus relationships, as a bulk file; and its counts.

    A floor with its air handler and rooms is 2 + R twins and 2 + 2R relationships
    (building contains floor, AHU locatedIn floor, floor contains each room, AHU serves it).
    """
    per_floor = 4 + 3 * ROOMS_PER_FLOOR
    floors = max(1, round((elements - 1) / (per_floor + 0.2)))
    twins: list[dict[str, Any]] = [_twin("site-1", "Site", {"name": "Bench campus"})]
    links: list[tuple[str, str, str]] = []
    for f in range(floors):
        b, level = divmod(f, FLOORS_PER_BUILDING)
        building = f"building-{b:03d}"
        if level == 0:
            twins.append(_twin(building, "Building", {"name": f"Building {b}", "floorsAboveGround": 10}))
            links.append(("site-1", "contains", building))
        floor, ahu = f"floor-{b:03d}-{level:02d}", f"ahu-{b:03d}-{level:02d}"
        twins.append(_twin(floor, "Floor", {"name": f"Floor {b}.{level}", "level": level}))
        twins.append(_twin(ahu, "AirHandlingUnit", {"name": f"AHU {b}.{level}"}, HVAC))
        links += [(building, "contains", floor), (ahu, "locatedIn", floor)]
        for r in range(ROOMS_PER_FLOOR):
            room = f"room-{b:03d}-{level:02d}-{r:02d}"
            twins.append(_twin(room, "Room", {"name": f"Room {b}.{level}.{r:02d}", "area": 20.0}))
            links += [(floor, "contains", room), (ahu, "serves", room)]
    lines: list[dict[str, Any]] = [
        {"Section": "Header"},
        {"fileVersion": "1.0.0", "format": "kgtwin", "description": "bench/ui.py campus"},
        {"Section": "Models"},
        *base_models(),
        {"Section": "Twins"},
        *twins,
        {"Section": "Relationships"},
    ]
    lines += [
        {"$dtId": s, "$relationshipId": f"{n}-{t}", "$relationshipName": n, "$targetId": t}
        for s, n, t in links
    ]
    return "".join(json.dumps(line) + "\n" for line in lines).encode(), len(twins), len(links)


def _twin(twin_id: str, model: str, properties: dict[str, Any], prefix: str = SPACE) -> dict[str, Any]:
    return {"$dtId": twin_id, "$metadata": {"$model": f"{prefix}{model};1"}, **properties}


# -- the service -----------------------------------------------------------------------------


@contextmanager
def service(folder: Path, bulk: bytes | None, demo: bool) -> Iterator[str]:
    """``kgtwin serve`` in ``folder`` (with ``bulk`` imported first); its base URL."""
    folder.mkdir(parents=True, exist_ok=True)
    if bulk is not None:
        (folder / "twin.ndjson").write_bytes(bulk)
        subprocess.run(
            [KGTWIN, "import", "-q", "twin.ndjson"],
            cwd=folder,
            env=environment(),
            check=True,
            capture_output=True,
        )
    with running_twin(folder, demo=demo) as twin:
        yield twin.url


# -- the browser -----------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, bytes]]:
    """Every process: its parent and command line."""
    found: dict[int, tuple[int, bytes]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        found[int(entry.name)] = (int(stat[stat.rindex(")") + 2 :].split()[1]), cmdline)
    return found


def page_renderers() -> list[int]:
    """The benchmark Chromium's page renderers (process ids).

    Only renderers of web pages count: Chromium also starts a renderer of its own UI
    (``--top-chrome-webui``) for every new context, and its browser and GPU processes do
    their share whatever the page; neither says anything about the explorer.
    """
    procs = _processes()
    found: list[int] = []
    frontier = {pid for pid, (_, cmdline) in procs.items() if MARK.encode() in cmdline}
    while frontier:
        found += [
            pid
            for pid in frontier
            if b"--type=renderer" in procs[pid][1] and b"--top-chrome-webui" not in procs[pid][1]
        ]
        frontier = {pid for pid, (ppid, _) in procs.items() if ppid in frontier}
    return found


def cpu_s(pids: Sequence[int]) -> float:
    """CPU seconds used so far by processes ``pids`` (those gone count nothing)."""
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


class CpuTrace:
    """The CPU seconds of some processes, sampled every few milliseconds in a thread.

    Playwright sees the page's mark of its drawing a while after the page set it (on a
    loaded machine, most of a second), and the page works on meanwhile (cytoscape caches its
    drawing): the trace gives the CPU used up to the moment itself.
    """

    def __init__(self, pids: Sequence[int], every_s: float = 0.01) -> None:
        self.samples: list[tuple[float, float]] = []
        self._pids, self._every, self._stop = list(pids), every_s, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.samples.append((time.time(), cpu_s(self._pids)))
            if self._stop.wait(self._every):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), cpu_s(self._pids)))

    def since(self, moment: float) -> float:
        """CPU seconds used after ``moment`` (seconds since the epoch), interpolated."""
        last = self.samples[-1][1]
        for (t0, c0), (t1, c1) in zip(self.samples, self.samples[1:], strict=False):
            if t1 >= moment:
                share = 0.0 if t1 <= t0 else max(0.0, (moment - t0) / (t1 - t0))
                return last - (c0 + share * (c1 - c0))
        return 0.0


@dataclass
class Sample:
    drawn_ms: float
    layout_ms: float
    cpu_s: float
    nodes: int
    edges: int
    drag_first_ms: float | None = None
    drag_step_ms: float | None = None
    settled_first_ms: float | None = None
    settled_step_ms: float | None = None
    tap_ms: float | None = None


def measure(browser: Any, url: str, *, interact: bool, timeout_s: float = 120) -> Sample | None:
    """One cold visit of ``url``: a new context, so nothing is cached; None past ``timeout_s``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        before = {pid: cpu_s([pid]) for pid in page_renderers()}
        page.goto(url)
        trace = CpuTrace(page_renderers())
        try:
            page.wait_for_selector("body[data-graph=drawn]", timeout=timeout_s * 1000)
        except PlaywrightTimeout:
            return None
        finally:
            trace.stop()
        drawn = page.evaluate("window.kgtwinDrawn")
        moment = page.evaluate("performance.timeOrigin + window.kgtwinDrawn.at") / 1000
        cpu = sum(cpu_s([pid]) - before.get(pid, 0.0) for pid in page_renderers()) - trace.since(moment)
        sample = Sample(drawn["at"], drawn["layoutMs"], cpu, drawn["nodes"], drawn["edges"])
        if interact:
            sample.drag_first_ms, sample.drag_step_ms = drag_view(page)
            # Cytoscape builds its cached textures of the graph in the frames after the first
            # drawing; a drag in that time redraws every element each step.
            page.wait_for_timeout(SETTLE_MS)
            sample.settled_first_ms, sample.settled_step_ms = drag_view(page)
            sample.tap_ms = tap_to_inspector(page)
        return sample
    finally:
        context.close()


# Records, each animation frame, whether the view moved since the last: the time between
# frames that showed a new position is what a user dragging the view sees.
FOLLOW_VIEW = """() => {
  const graph = window.kgtwinGraph; const steps = []; let last = performance.now(); let at = graph.pan();
  window.kgtwinSteps = steps; window.kgtwinFollowing = true;
  const frame = (now) => {
    const pan = graph.pan();
    if (pan.x !== at.x || pan.y !== at.y) { steps.push(now - last); last = now; at = pan; }
    if (window.kgtwinFollowing) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}"""


def drag_view(page: Any, seconds: float = 1.5) -> tuple[float | None, float | None]:
    """Drag the view by an empty spot, as a user pans, as soon as the graph is drawn.

    Returns the first step (from pressing the button to the first frame that moved) and
    the median step after it (ms); None when the view never moved.
    """
    spot = page.evaluate("window.kgtwinGraph.emptySpot()")
    page.mouse.move(spot["x"], spot["y"])
    page.evaluate(FOLLOW_VIEW)
    page.mouse.down()
    started, moves = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        moves += 1
        page.mouse.move(spot["x"] + 3 * moves, spot["y"] + moves)
    page.mouse.up()
    steps: list[float] = page.evaluate("window.kgtwinFollowing = false, window.kgtwinSteps")
    if not steps:
        return None, None
    return steps[0], statistics.median(steps[1:]) if len(steps) > 1 else None


def tap_to_inspector(page: Any) -> float | None:
    """From a click on a twin in view to its id in the inspector; None if none showed in 30 s."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.evaluate("window.kgtwinGraph.someTwin()")
    started = time.perf_counter()
    page.mouse.click(box["x"], box["y"])
    # Twins drawn close together may overlap at that zoom: whichever was hit is shown.
    try:
        page.wait_for_selector("#twin-id", timeout=30_000)
    except PlaywrightTimeout:
        return None
    return (time.perf_counter() - started) * 1000


# -- the table -------------------------------------------------------------------------------


def asset_rows() -> list[tuple[str, int, int, int]]:
    """Per page: how many files it may load (its HTML's and the chunks it imports), raw and gzipped bytes."""
    manifest = json.loads((STATIC / "manifest.json").read_text())
    rows = []
    for page in ("explorer", "graphiql"):
        names = re.findall(r'"ui/assets/([^"]+)"', (STATIC / f"{page}.html").read_text())
        files = dict.fromkeys([*names, *manifest[page]["chunks"]])  # preloaded chunks are named twice
        data = [(STATIC / "assets" / n).read_bytes() for n in files]
        rows.append((page, len(data), sum(map(len, data)), sum(len(gzip.compress(d, 9)) for d in data)))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="cold visits per row (the median is reported)")
    parser.add_argument("--elements", type=int, default=5000, help="twins + relationships of the large twin")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    campus, twins, links = campus_bulk(args.elements)
    started = os.getloadavg()
    print_head()
    with tempfile.TemporaryDirectory(prefix="kgtwin-bench-ui-") as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        with service(Path(tmp) / "demo", None, demo=True) as url:
            print_row("demo", [measure(browser, f"{url}/explorer", interact=False) for _ in range(args.runs)])
        with service(Path(tmp) / "campus", campus, demo=False) as url:
            for layout in ("nested", "tree", "flow", "force"):
                page = f"{url}/explorer?first=10000&layout={layout}"
                samples = [measure(browser, page, interact=True) for _ in range(args.runs)]
                print_row(f"{twins + links:,} elements, {layout}", samples)
        browser.close()
    print_tail(args.runs, started)


def _median(values: Sequence[float | None], digits: int = 0) -> str:
    found = [v for v in values if v is not None]
    return f"{statistics.median(found):,.{digits}f}" if found else "-"


def print_head() -> None:
    print(
        "| twin, layout | twins + relationships drawn | first drawn ms | layout ms | page CPU s "
        "| CPU µs / element | drag: first step ms | drag: step ms | drag 2 s later: first step ms "
        "| drag 2 s later: step ms | tap to inspector ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")


def print_row(name: str, found: list[Sample | None]) -> None:
    """One row, printed as soon as it is measured (a visit past its timeout counts as missing)."""
    samples = [s for s in found if s is not None]
    missed = (
        f" ({len(found) - len(samples)} of {len(found)} not drawn in 120 s)"
        if len(samples) < len(found)
        else ""
    )
    if not samples:
        print(f"| {name}{missed} | - | - | - | - | - | - | - | - | - | - |", flush=True)
        return
    first = samples[0]
    print(
        f"| {name}{missed} | {first.nodes:,} + {first.edges:,} | {_median([s.drawn_ms for s in samples])} "
        f"| {_median([s.layout_ms for s in samples])} | {_median([s.cpu_s for s in samples], 2)} "
        f"| {_median([s.cpu_s * 1e6 / (s.nodes + s.edges) for s in samples])} "
        f"| {_median([s.drag_first_ms for s in samples])} | {_median([s.drag_step_ms for s in samples])} "
        f"| {_median([s.settled_first_ms for s in samples])} "
        f"| {_median([s.settled_step_ms for s in samples])} "
        f"| {_median([s.tap_ms for s in samples])} |",
        flush=True,
    )


def print_tail(runs: int, started: tuple[float, float, float]) -> None:
    print()
    print("| page | assets | raw bytes | gzipped bytes |")
    print("|---|---|---|---|")
    for page, count, raw, packed in asset_rows():
        print(f"| {page} | {count} | {raw:,} | {packed:,} |")
    print()
    load = os.getloadavg()
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, {chromium}, "
        f"median of {runs} cold visits; load average (1 min) {started[0]:.1f} at the start, "
        f"{load[0]:.1f} at the end"
    )


if __name__ == "__main__":
    main()

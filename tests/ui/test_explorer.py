"""The explorer in a real browser, on the demo twin: every step the issue lists, as a user does it."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.ui.conftest import Visit
from tests.ui.service import TwinService, wait_for


def _open(visit: Visit, twin: TwinService, path: str = "/") -> None:
    visit.page.goto(twin.url + path)
    expect(visit.page.locator("body")).to_have_attribute("data-graph", "drawn", timeout=60_000)


def _drawn(visit: Visit) -> dict[str, int]:
    drawn: dict[str, int] = visit.page.evaluate("window.kgtwinDrawn")
    return drawn


def test_the_root_opens_the_explorer_on_the_demo(visit: Visit, twin: TwinService) -> None:
    _open(visit, twin)
    assert visit.page.url.startswith(twin.url + "/explorer")
    drawn = _drawn(visit)
    assert drawn["nodes"] == 35  # the demo's twins
    assert drawn["layout"] == "nested"  # the demo has containment: drawn as nesting
    expect(visit.page.locator("#graph-status")).to_contain_text("35 twins")
    expect(visit.page.locator("#legend")).to_contain_text("Room")
    visit.shot("explorer-demo")


def test_clicking_a_twin_shows_its_properties_and_relationships(visit: Visit, twin: TwinService) -> None:
    _open(visit, twin)
    _click_twin(visit, "weld-1")
    inspector = visit.page.locator("#inspector")
    expect(inspector.locator("#twin-id")).to_have_text("weld-1")
    expect(inspector.locator("tr[data-property='cycleTimeMean'] td.value")).to_have_text("50")
    expect(inspector.locator("#relationships")).to_contain_text("feeds")
    expect(inspector.locator("#relationships")).to_contain_text("buffer-2")
    visit.shot("inspector-machine")


def _click_twin(visit: Visit, twin_id: str) -> None:
    """Click the twin's node where the drawing put it."""
    position = visit.page.evaluate("(id) => window.kgtwinGraph.locate(id)", twin_id)
    visit.page.mouse.click(position["x"], position["y"])


def test_a_container_is_inspected_from_its_box_and_grows_with_a_twin_dragged_out(
    visit: Visit, twin: TwinService
) -> None:
    _open(visit, twin)  # the demo is drawn nested: the assembly hall holds the line
    page = visit.page
    hall = page.evaluate("(id) => window.kgtwinGraph.box(id)", "hall-1")
    # A click in the hall's padding, where no twin is drawn, inspects the hall.
    page.mouse.click(hall["x1"] + 5, hall["y2"] - 5)
    expect(page.locator("#twin-id")).to_have_text("hall-1")
    welder = page.evaluate("(id) => window.kgtwinGraph.locate(id)", "weld-1")
    page.mouse.move(welder["x"], welder["y"])
    page.mouse.down()
    page.mouse.move(welder["x"] + 80, welder["y"] + 120, steps=8)
    page.mouse.up()
    grown = page.evaluate("(id) => window.kgtwinGraph.box(id)", "hall-1")
    moved = page.evaluate("(id) => window.kgtwinGraph.box(id)", "weld-1")
    assert grown["y2"] > hall["y2"] + 60  # the hall followed its welder down
    assert grown["y2"] >= moved["y2"]
    assert grown["x2"] >= moved["x2"]
    visit.shot("graph-nested-drag")


def test_a_value_published_over_mqtt_appears_live_and_in_the_chart(visit: Visit, twin: TwinService) -> None:
    # The assembly hall is a Room the demo devices never publish for: what it shows is ours.
    _open(visit, twin, "/explorer?twin=hall-1")
    telemetry = visit.page.locator("#telemetry")
    expect(visit.page.locator("#twin-id")).to_have_text("hall-1")
    expect(telemetry.locator("tr[data-telemetry='temperature']")).to_have_class(re.compile("charted"))
    cell = telemetry.locator("tr[data-telemetry='temperature'] td.value")
    expect(cell).to_have_text("\u2013")  # nothing yet
    twin.publish("hall-1", {"temperature": 23.75, "humidity": 41.5})
    expect(cell).to_have_text("23.75")
    expect(telemetry.locator("tr[data-telemetry='humidity'] td.value")).to_have_text("41.5")
    expect(telemetry).to_have_attribute("data-live", "1")
    twin.publish("hall-1", {"temperature": 24.5})
    expect(cell).to_have_text("24.5")
    expect(telemetry).to_have_attribute("data-live", "2")
    # The window means come from the API: once the points are stored (ingest writes them in
    # batches, after the live value went out), a reload charts them.
    stored = '{ twin(id: "hall-1") { telemetry(name: "temperature", start: "-1h") { value } } }'
    wait_for(lambda: len(twin.graphql(stored)["twin"]["telemetry"]) >= 2, timeout_s=30)
    visit.page.reload()
    expect(visit.page.locator("#twin-id")).to_have_text("hall-1")
    expect(visit.page.locator("#telemetry")).to_have_attribute("data-points", re.compile("[1-9]"))
    expect(visit.page.locator("tr[data-telemetry='temperature'] td.value")).to_have_text("24.5")
    visit.shot("inspector-telemetry")


def test_an_operator_edits_a_property_after_seeing_the_patch(visit: Visit, twin: TwinService) -> None:
    _open(visit, twin, "/explorer?twin=buffer-1")
    page = visit.page
    page.click("#edit-properties")
    page.fill("tr[data-property='capacity'] input", "12")
    page.click("#review-patch")
    preview = page.locator("#patch-preview")
    expect(preview).to_contain_text('"op": "replace"')
    expect(preview).to_contain_text('"path": "/capacity"')
    expect(page.locator("#patch-area")).to_contain_text("etag")
    visit.shot("inspector-patch")
    page.click("#send-patch")
    expect(page.locator("tr[data-property='capacity'] td.value")).to_have_text("12")
    assert twin.graphql('{ twin(id: "buffer-1") { property(name: "capacity") } }')["twin"]["property"] == 12


def test_a_conflict_is_explained(visit: Visit, twin: TwinService) -> None:
    _open(visit, twin, "/explorer?twin=buffer-2")
    page = visit.page
    page.click("#edit-properties")
    page.fill("tr[data-property='capacity'] input", "7")
    page.click("#review-patch")
    # Someone else writes the twin between the review and the send.
    patch = '[{op: "replace", path: "/capacity", value: 6}]'
    twin.graphql(f'mutation {{ updateTwin(id: "buffer-2", patch: {patch}) {{ id }} }}')
    expect(page.locator("#twin-banner")).to_contain_text("changed this twin meanwhile")
    page.click("#send-patch")
    expect(page.locator("#patch-area")).to_contain_text("the twin changed since you opened it")
    visit.shot("inspector-conflict")
    assert twin.graphql('{ twin(id: "buffer-2") { property(name: "capacity") } }')["twin"]["property"] == 6


def test_search_filter_and_expand(visit: Visit, twin: TwinService) -> None:
    _open(visit, twin, "/explorer?first=500")
    page = visit.page
    page.fill("#twin-search", "Welder 2")
    page.press("#twin-search", "Enter")
    expect(page.locator("#twin-id")).to_have_text("weld-2")
    page.select_option("#model-filter", "dtmi:kgtwin:production:Machine;1")
    expect(page.locator("#graph-status")).to_contain_text(
        "4 twins of"
    )  # the press, two welders and the paint booth
    page.select_option("#model-filter", "")
    page.select_option("#layout", "flow")
    # A function, not an expression: Playwright polls an expression with eval(), which the
    # page's Content-Security-Policy forbids.
    page.wait_for_function("() => window.kgtwinDrawn?.layout === 'flow'")
    expect(page.locator("body")).to_have_attribute("data-graph", "drawn")
    visit.shot("graph-flow-layout")


def test_expanding_a_twin_brings_the_twins_not_drawn_yet(visit: Visit, twin: TwinService) -> None:
    # The first ten twins by id: ahu-1 ... hall-1, no room among them.
    _open(visit, twin, "/explorer?first=10&twin=ahu-1")
    page = visit.page
    expect(page.locator("#graph-status")).to_contain_text("10 twins")
    expect(page.locator(".graph-message")).to_contain_text("Showing 10 of 35 twins")
    expect(page.locator("#twin-id")).to_have_text("ahu-1")
    relationships = page.locator("#relationships")
    relationships.get_by_label("Direction").select_option("OUT")
    relationships.get_by_label("Relationship").select_option("serves")
    page.click("#expand")
    expect(relationships).to_contain_text("12 twins added")  # the rooms of floors 1 and 2
    expect(page.locator("body")).to_have_attribute("data-graph", "drawn")
    assert _drawn(visit)["nodes"] == 22
    visit.shot("graph-expanded")


def test_a_cypher_query_gives_rows_and_a_graph_and_a_write_is_refused(
    visit: Visit, twin: TwinService
) -> None:
    _open(visit, twin, "/explorer#cypher")
    page = visit.page
    page.fill(
        "#cypher-query", "MATCH (r:Room) WHERE r.id STARTS WITH 'room-a1' RETURN r.id, r.name ORDER BY r.id"
    )
    page.click("#run-cypher")
    expect(page.locator("#cypher-summary")).to_contain_text("6 rows")
    expect(page.locator("#cypher-table tbody tr").first).to_contain_text("room-a101")
    visit.shot("cypher-table")
    page.fill("#cypher-query", "MATCH (a:AirHandlingUnit)-[s:serves]->(r:Room) RETURN a, s, r")
    page.click("#run-cypher")
    page.get_by_role("button", name=re.compile("Graph")).click()
    expect(page.locator("#cypher-graph canvas").first).to_be_visible()
    visit.shot("cypher-graph")
    page.fill("#cypher-query", "CREATE (x:Twin {id: 'intruder'}) RETURN x")
    page.click("#run-cypher")
    expect(page.locator("#cypher-result")).to_contain_text("Refused: this console is read-only")
    # Kept in the browser: the queries run are listed, newest first.
    expect(page.locator("#cypher-history li").first).to_contain_text("CREATE")
    assert twin.graphql('{ twin(id: "intruder") { id } }')["twin"] is None


INVALID_MODEL = """{
  "@context": "dtmi:dtdl:context;3",
  "@id": "dtmi:example:Pump;1",
  "@type": "Interface",
  "displayName": "Pump",
  "contents": [
    { "@type": "Property", "name": "flow", "schema": "double" },
    { "@type": "Property", "name": "speed", "schema": "doubel" }
  ]
}
"""


def test_an_invalid_model_upload_shows_the_error_at_its_line(
    visit: Visit, twin: TwinService, tmp_path: Path
) -> None:
    model = tmp_path / "pump.json"
    model.write_text(INVALID_MODEL)
    _open(visit, twin, "/explorer#models")
    page = visit.page
    page.set_input_files("#model-files", str(model))
    page.click("#validate-models")
    errors = page.locator(".file-errors[data-file='pump.json']")
    expect(errors).to_be_visible()
    expect(errors.locator("li.has-error")).to_have_attribute("data-line", "8")
    expect(errors.locator("li.error-at")).to_contain_text("line 8")
    expect(errors.locator("li.error-at")).to_contain_text("doubel")
    visit.shot("model-upload-error")
    assert twin.graphql('{ model(id: "dtmi:example:Pump;1") { id } }')["model"] is None


def test_the_models_panel_shows_the_tree_with_twin_counts(visit: Visit, twin: TwinService) -> None:
    _open(visit, twin, "/explorer#models/" + "dtmi:kgtwin:space:Room;1".replace(";", "%3B"))
    page = visit.page
    expect(page.locator("#model-detail h2")).to_contain_text("Room")
    expect(page.locator("#model-detail")).to_contain_text("19 twins of exactly this model")
    expect(page.locator("#model-contents")).to_contain_text("temperature")
    expect(page.locator("#model-tree")).to_contain_text("Space")
    visit.shot("models-tree")


def test_a_simulation_runs_to_its_end_with_results(visit: Visit, twin: TwinService) -> None:
    _open(visit, twin, "/explorer?twin=source-1")
    page = visit.page
    expect(page.locator("#twin-id")).to_have_text("source-1")
    page.get_by_role("button", name="Simulate from this twin…").click()
    expect(page.locator("#sim-roots")).to_have_value("source-1")
    page.fill("#sim-parameters", '{"horizonS": 7200, "warmupS": 600}')
    page.check("#sim-compare")
    page.fill("#sim-replications", "3")
    page.click("#start-simulation")
    expect(page.locator("#sim-run")).to_have_attribute("data-status", "SUCCEEDED", timeout=120_000)
    expect(page.locator("#sim-progress")).to_have_attribute("value", "1")
    expect(page.locator("#sim-sentence")).to_contain_text("twice the raw parts")
    expect(page.locator("#sim-metrics")).to_contain_text("throughputPerHour")
    expect(page.locator("#sim-chart")).to_be_visible()
    visit.shot("simulation-flow")
    expect(page.locator("#sim-runs li").first).to_contain_text("succeeded")


def test_the_system_panel_shows_the_five_dimensions(visit: Visit, twin: TwinService) -> None:
    _open(visit, twin, "/explorer#system")
    page = visit.page
    for dimension in ("physical", "virtual", "data", "services", "connection"):
        expect(page.locator(f"#dimension-{dimension}")).to_be_visible()
    expect(page.locator("#dimension-data")).to_contain_text("falkordb")
    expect(page.locator("#dimension-data")).to_contain_text("duckdb")
    expect(page.locator("#dimension-services")).to_contain_text("worker")
    devices = page.locator("#dimension-physical .kv").first
    wait_for(lambda: int(devices.locator(".num").inner_text() or 0) > 0, timeout_s=30)
    visit.shot("system")


VALVE = """{{
  "@context": "dtmi:dtdl:context;3",
  "@id": "dtmi:example:Valve;{version}",
  "@type": "Interface",
  "displayName": "Valve",
  "contents": [
    {{ "@type": "Property", "name": "opening", "schema": "double" }}{extra}
  ]
}}
"""


def test_a_modeler_uploads_dry_runs_a_new_version_and_decommissions(
    visit: Visit, twin: TwinService, tmp_path: Path
) -> None:
    first, second = tmp_path / "valve.json", tmp_path / "valve-2.json"
    first.write_text(
        VALVE.format(version=1, extra=', { "@type": "Property", "name": "maker", "schema": "string" }')
    )
    second.write_text(VALVE.format(version=2, extra=""))
    _open(visit, twin, "/explorer#models")
    page = visit.page
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_input_files("#model-files", str(first))
    page.click("#validate-models")
    expect(page.locator("#upload-result")).to_contain_text("Valid: 1 interface(s) would be registered")
    page.click("#upload-models")
    expect(page.locator("#upload-result")).to_contain_text("Uploaded 1 interface(s)")
    expect(page.locator("#model-tree")).to_contain_text("Valve")
    twin.graphql(
        'mutation { createTwin(id: "valve-1", model: "dtmi:example:Valve;1", '
        'properties: { opening: 0.5, maker: "Acme" }) { id } }'
    )
    # Version 2 drops maker: the dry run says which twin would break, before anything is stored.
    page.set_input_files("#model-files", str(second))
    page.click("#validate-models")
    report = page.locator("#upload-result .evolution")
    expect(report).to_contain_text("dtmi:example:Valve;1 → dtmi:example:Valve;2")
    expect(report).to_contain_text("1 would break")
    expect(report).to_contain_text("valve-1")
    visit.shot("model-dry-run")
    page.click("#upload-models")
    expect(page.locator("#upload-result")).to_contain_text("Uploaded 1 interface(s)")
    page.goto(twin.url + "/explorer#models/" + "dtmi:example:Valve;1".replace(";", "%3B"))
    expect(page.locator("#model-detail h2")).to_contain_text("Valve")
    page.get_by_role("button", name="Dry run", exact=True).click()
    expect(page.locator("#evolution")).to_contain_text("1 would break")
    page.click("#decommission")
    expect(page.locator("#model-detail h2")).to_contain_text("decommissioned")
    found = twin.graphql('{ model(id: "dtmi:example:Valve;1") { decommissioned } }')
    assert found["model"]["decommissioned"] is True

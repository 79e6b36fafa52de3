// The twin inspector: properties (editable by operators, the JSON Patch shown before it is
// sent), relationships in and out, expanding the drawing from the twin, and its telemetry:
// the latest value of each, live through the ``telemetry`` subscription, and a chart.
import { ApiError, gql, subscribe } from "./api.js";
import { ago, fill, h, note, show } from "./dom.js";

const TWIN = `query Twin($id: ID!) {
  twin(id: $id) {
    id etag createdAt updatedAt properties
    model { id displayName contents { name kind schema unit writable displayName } }
    relationships(direction: BOTH) { id name source target }
    telemetryRef { fields }
  }
}`;
const UPDATE = `mutation Update($id: ID!, $etag: String, $patch: JSON!) {
  updateTwin(id: $id, ifMatch: $etag, patch: $patch) { etag }
}`;
const SERIES = `query Series($id: ID!, $name: String!, $start: String!, $every: String!) {
  twin(id: $id) { telemetry(name: $name, start: $start, every: $every) { time value } }
}`;
const LIVE = `subscription Live($ids: [ID!]!) { telemetry(twinIds: $ids) { twinId name value time } }`;
const CHANGES = `subscription Changes($ids: [ID!]!) { twinChanged(ids: $ids) { kind data } }`;

const WINDOWS = { hour: { start: "-1h", every: "1m", label: "last hour" }, day: { start: "-1d", every: "15m", label: "last day" } };
const NUMERIC = new Set(["double", "float", "integer", "long"]);

export class Inspector {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.twin = null;
    this.stops = [];
    this.window = "hour";
    fill(root, h("p", { class: "muted", id: "inspector-empty" }, "Click a twin in the drawing, or find one by id or name."));
  }

  /** Show twin ``id``; its live subscriptions replace the previous twin's. */
  async show(id) {
    this.close();
    let data;
    try {
      data = await gql(TWIN, { id });
    } catch (error) {
      fill(this.root, note("error", `Twin ${id} could not be read: ${error.message}`));
      return;
    }
    if (!data.twin) {
      fill(this.root, note("warning", `There is no twin ${id} (any more).`));
      return;
    }
    this.twin = data.twin;
    this.app.graph.update(this.twin);
    this.render();
    this.follow();
  }

  close() {
    for (const stop of this.stops) stop();
    this.stops = [];
    this.chart?.destroy();
    this.chart = null;
  }

  render() {
    const twin = this.twin;
    this.latestCells = new Map();
    this.banner = h("div", { id: "twin-banner" });
    fill(
      this.root,
      h(
        "header",
        { class: "inspector-head" },
        h("h2", { id: "twin-id" }, twin.id),
        h("a", { href: `#models/${encodeURIComponent(twin.model.id)}`, class: "model-link" }, twin.model.displayName || twin.model.id),
        h("div", { class: "muted small" }, `etag ${twin.etag} · updated ${ago(twin.updatedAt)}`),
      ),
      this.banner,
      this.propertiesSection(),
      this.telemetrySection(),
      this.relationshipsSection(),
      this.actionsSection(),
    );
    if (this.chartCanvas) this.loadChart();
  }

  // -- properties ------------------------------------------------------------------------

  propertiesSection() {
    const twin = this.twin;
    const declared = twin.model.contents.filter((c) => c.kind === "Property");
    const names = new Set([...declared.map((c) => c.name), ...Object.keys(twin.properties ?? {})]);
    this.propertyBody = h("tbody");
    const rows = [...names].sort().map((name) =>
      h("tr", { dataset: { property: name } }, h("th", {}, name), h("td", { class: "value" }, show(twin.properties?.[name])), h("td", { class: "muted" }, unitOf(declared, name))),
    );
    fill(this.propertyBody, rows);
    this.patchArea = h("div", { id: "patch-area" });
    const edit = this.app.can("write_twins")
      ? h("button", { type: "button", id: "edit-properties", onclick: () => this.edit(declared) }, "Edit properties")
      : null;
    return h("section", { id: "properties" }, h("h3", {}, "Properties ", edit), h("table", { class: "props" }, this.propertyBody), this.patchArea);
  }

  edit(declared) {
    const twin = this.twin;
    const inputs = new Map();
    for (const row of this.propertyBody.querySelectorAll("tr")) {
      const name = row.dataset.property;
      const content = declared.find((c) => c.name === name);
      const input = inputFor(content?.schema, twin.properties?.[name]);
      input.name = name;
      inputs.set(name, { input, content });
      fill(row.querySelector(".value"), input);
    }
    this.editing = true;
    fill(
      this.patchArea,
      h("div", { class: "buttons" },
        h("button", { type: "button", id: "review-patch", onclick: () => this.review(inputs) }, "Review changes"),
        h("button", { type: "button", class: "secondary", onclick: () => this.cancelEdit() }, "Cancel"),
      ),
    );
  }

  cancelEdit() {
    this.editing = false;
    this.render();
  }

  /** The JSON Patch the inputs make, shown with the etag it will be sent with. */
  review(inputs) {
    const twin = this.twin;
    const patch = [];
    const problems = [];
    for (const [name, { input, content }] of inputs) {
      const before = twin.properties?.[name];
      let after;
      try {
        after = valueOf(input, content?.schema);
      } catch (error) {
        problems.push(`${name}: ${error.message}`);
        continue;
      }
      const path = `/${name.replaceAll("~", "~0").replaceAll("/", "~1")}`;
      if (after === undefined && before !== undefined) patch.push({ op: "remove", path });
      else if (after !== undefined && before === undefined) patch.push({ op: "add", path, value: after });
      else if (after !== undefined && JSON.stringify(after) !== JSON.stringify(before)) patch.push({ op: "replace", path, value: after });
    }
    if (problems.length) {
      fill(this.patchArea, note("error", problems.join("; ")), this.patchArea.lastChild);
      return;
    }
    if (!patch.length) {
      fill(this.patchArea, note("info", "Nothing changed."), h("button", { type: "button", onclick: () => this.cancelEdit() }, "Close"));
      return;
    }
    fill(
      this.patchArea,
      h("p", {}, "This JSON Patch (RFC 6902) will be sent as ", h("code", {}, "updateTwin"), ", only if the twin is still at etag ", h("code", {}, twin.etag), ":"),
      h("pre", { id: "patch-preview", class: "code" }, JSON.stringify(patch, null, 2)),
      h("div", { class: "buttons" },
        h("button", { type: "button", id: "send-patch", onclick: () => this.send(patch) }, "Send"),
        h("button", { type: "button", class: "secondary", onclick: () => this.cancelEdit() }, "Cancel"),
      ),
    );
  }

  async send(patch) {
    const twin = this.twin;
    try {
      await gql(UPDATE, { id: twin.id, etag: twin.etag, patch });
    } catch (error) {
      fill(this.patchArea, explain(error, twin), h("pre", { class: "code" }, JSON.stringify(patch, null, 2)),
        h("div", { class: "buttons" }, h("button", { type: "button", onclick: () => this.show(twin.id) }, "Reload the twin")));
      return;
    }
    this.editing = false;
    await this.show(twin.id);
    fill(this.banner, note("ok", `Saved: ${patch.length} change${patch.length === 1 ? "" : "s"}.`));
  }

  // -- telemetry -------------------------------------------------------------------------

  telemetrySection() {
    const fields = this.twin.telemetryRef?.fields ?? [];
    this.chartCanvas = null;
    if (!fields.length) return h("section", { id: "telemetry" }, h("h3", {}, "Telemetry"), h("p", { class: "muted" }, "Its model declares no telemetry."));
    const units = Object.fromEntries(this.twin.model.contents.filter((c) => c.kind === "Telemetry").map((c) => [c.name, c.unit]));
    this.charted = this.charted && fields.includes(this.charted) ? this.charted : preferred(fields);
    this.live = []; // live points of the charted telemetry, since it was charted
    const rows = fields.map((name) => {
      const value = h("td", { class: "value" }, "–");
      const time = h("td", { class: "muted small" }, "");
      this.latestCells.set(name, { value, time });
      return h("tr", { dataset: { telemetry: name }, class: name === this.charted ? "charted" : "", onclick: () => this.chartField(name), title: "Chart it" },
        h("th", {}, name), value, h("td", { class: "muted" }, units[name] ?? ""), time);
    });
    this.chartCanvas = h("canvas", { id: "telemetry-chart" });
    this.chartTitle = h("span");
    this.units = units;
    return h(
      "section",
      { id: "telemetry" },
      h("h3", {}, "Telemetry"),
      h("table", { class: "props", id: "latest" }, h("tbody", {}, rows)),
      h("div", { class: "chart-head" }, this.chartTitle,
        h("select", { "aria-label": "Window", onchange: (e) => ((this.window = e.target.value), this.loadChart()) },
          Object.entries(WINDOWS).map(([key, w]) => h("option", { value: key, selected: key === this.window }, w.label)))),
      h("div", { class: "chart" }, this.chartCanvas),
    );
  }

  chartField(name) {
    this.charted = name;
    this.live = [];
    for (const row of this.root.querySelectorAll("tr[data-telemetry]")) row.classList.toggle("charted", row.dataset.telemetry === name);
    this.loadChart();
  }

  async loadChart() {
    const twin = this.twin;
    const name = this.charted;
    const window = WINDOWS[this.window];
    this.chartTitle.textContent = `${name}, ${window.every} means over the ${window.label}`;
    this.chart?.destroy();
    this.chart = null;
    try {
      // Chart.js is a sixth of the explorer's code: fetched when the first chart is drawn.
      const { telemetryChart } = await import("./charts.js");
      if (this.twin !== twin || this.charted !== name) return;
      this.chart?.destroy();
      this.chart = telemetryChart(this.chartCanvas, this.units[name]);
      this.chart.data.datasets[1].data = this.live; // values that came while Chart.js loaded
      const data = await gql(SERIES, { id: twin.id, name, start: window.start, every: window.every });
      if (this.twin !== twin || this.charted !== name) return;
      this.chart.data.datasets[0].data = data.twin.telemetry
        .filter((p) => typeof p.value === "number")
        .map((p) => ({ x: new Date(p.time).getTime(), y: p.value }));
      this.chart.update();
      this.root.querySelector("#telemetry")?.setAttribute("data-points", String(this.chart.data.datasets[0].data.length));
    } catch (error) {
      this.chartTitle.textContent = `${name}: ${error.message}`;
    }
  }

  /** A new value: the latest cell and, for the charted telemetry, a live point. */
  take(update) {
    const cells = this.latestCells.get(update.name);
    if (!cells) return;
    cells.value.textContent = show(update.value);
    cells.time.textContent = new Date(update.time).toLocaleTimeString();
    cells.value.classList.remove("flash");
    void cells.value.offsetWidth; // restart the highlight
    cells.value.classList.add("flash");
    if (update.name === this.charted && typeof update.value === "number") {
      const live = this.live;
      live.push({ x: new Date(update.time).getTime(), y: update.value });
      if (live.length > 720) live.shift();
      this.chart?.update();
      this.root.querySelector("#telemetry")?.setAttribute("data-live", String(live.length));
    }
  }

  /** Live values, and changes of the twin by anyone else. */
  follow() {
    const twin = this.twin;
    if (twin.telemetryRef?.fields?.length) {
      this.stops.push(subscribe(LIVE, { ids: [twin.id] }, (data) => this.take(data.telemetry), (error) => this.warn(`Live values stopped: ${error.message}`)));
    }
    this.stops.push(
      subscribe(CHANGES, { ids: [twin.id] }, (data) => {
        const change = data.twinChanged;
        if (!change.kind.startsWith("twin.") || change.data?.etag === this.twin?.etag) return;
        if (change.kind === "twin.deleted") fill(this.banner, note("warning", "This twin was deleted."));
        else if (this.editing) fill(this.banner, note("warning", "Someone else changed this twin meanwhile: sending now will be refused (CONFLICT). Cancel and edit again."));
        else this.show(twin.id);
      }),
    );
  }

  warn(message) {
    fill(this.banner, note("warning", message));
  }

  // -- relationships and actions -------------------------------------------------------------

  relationshipsSection() {
    const twin = this.twin;
    const out = twin.relationships.filter((r) => r.source === twin.id);
    const inward = twin.relationships.filter((r) => r.target === twin.id && r.source !== twin.id);
    const link = (id) => h("a", { href: "#twins", onclick: (e) => (e.preventDefault(), this.app.select(id)) }, id);
    const list = (items, arrow, other) =>
      items.length
        ? h("ul", { class: "rels" }, items.map((r) => h("li", {}, h("span", { class: "rel-name" }, `${arrow} ${r.name}`), " ", link(other(r)))))
        : h("p", { class: "muted" }, "none");
    const names = [...new Set(twin.relationships.map((r) => r.name))].sort();
    const direction = h("select", { "aria-label": "Direction" }, ["OUT", "IN", "BOTH"].map((d) => h("option", { value: d, selected: d === "BOTH" }, d.toLowerCase())));
    const depth = h("input", { type: "number", min: 1, max: 10, value: 1, "aria-label": "Levels", class: "narrow" });
    const only = h("select", { "aria-label": "Relationship" }, h("option", { value: "" }, "any relationship"), names.map((n) => h("option", { value: n }, n)));
    const result = h("span", { class: "muted small" });
    const expand = async () => {
      result.textContent = "…";
      try {
        const added = await this.app.graph.expand(twin.id, direction.value, Number(depth.value), only.value ? [only.value] : null);
        result.textContent = `${added} twin${added === 1 ? "" : "s"} added`;
      } catch (error) {
        result.textContent = error.message;
      }
    };
    return h(
      "section",
      { id: "relationships" },
      h("h3", {}, "Relationships"),
      h("h4", {}, "Out"),
      list(out, "→", (r) => r.target),
      h("h4", {}, "In"),
      list(inward, "←", (r) => r.source),
      h("div", { class: "expand" }, "Expand ", direction, " ", depth, " level(s) along ", only, " ",
        h("button", { type: "button", id: "expand", onclick: expand }, "Expand"), " ", result),
    );
  }

  actionsSection() {
    if (!this.app.can("simulate")) return null;
    return h("section", { id: "twin-actions" },
      h("button", { type: "button", class: "secondary", onclick: () => this.app.simulateFrom(this.twin.id) }, "Simulate from this twin…"));
  }
}

function unitOf(contents, name) {
  return contents.find((c) => c.name === name)?.unit ?? "";
}

/** Charted first: what a twin of that kind is usually watched by, else its first telemetry. */
function preferred(fields) {
  return ["temperature", "level", "power", "flow"].find((f) => fields.includes(f)) ?? fields[0];
}

function inputFor(schema, value) {
  if (schema === "boolean") return h("input", { type: "checkbox", checked: value === true });
  if (NUMERIC.has(schema)) return h("input", { type: "number", step: "any", value: value ?? "" });
  if (schema && typeof schema === "object" && schema["@type"] === "Enum") {
    return h("select", {}, h("option", { value: "" }, "–"), schema.enumValues.map((v) => h("option", { value: JSON.stringify(v.enumValue), selected: v.enumValue === value }, v.name)));
  }
  if (typeof schema === "string" || schema === undefined || schema === null) {
    if (value !== undefined && typeof value === "object") return h("textarea", { rows: 3 }, JSON.stringify(value));
    return h("input", { type: "text", value: value ?? "" });
  }
  return h("textarea", { rows: 3, placeholder: "JSON" }, value === undefined ? "" : JSON.stringify(value, null, 1));
}

/** The value an input holds; undefined when it is empty (the property is removed). */
function valueOf(input, schema) {
  if (input.type === "checkbox") return input.checked;
  const text = input.value.trim();
  if (text === "") return undefined;
  if (input.tagName === "SELECT") return JSON.parse(text);
  if (NUMERIC.has(schema)) {
    const number = Number(text);
    if (!Number.isFinite(number)) throw new Error("not a number");
    if ((schema === "integer" || schema === "long") && !Number.isInteger(number)) throw new Error("not a whole number");
    return number;
  }
  if (input.tagName === "TEXTAREA") {
    try {
      return JSON.parse(text);
    } catch {
      throw new Error("not valid JSON");
    }
  }
  return text;
}

/** A refused update, in words an operator can act on. */
function explain(error, twin) {
  if (error instanceof ApiError && error.code === "CONFLICT") {
    const now = error.details?.etag;
    return note(
      "error",
      h("strong", {}, "Not saved: the twin changed since you opened it. "),
      `You edited version ${twin.etag}${now ? `; it is now ${now}` : ""}. `,
      "Someone (or a device) wrote it in between, and sending your patch would overwrite their change. ",
      "Reload the twin to see what changed, then make your edit again.",
    );
  }
  if (error instanceof ApiError && error.code === "VALIDATION_FAILED") {
    const issues = error.details?.errors ?? [];
    return note("error", h("strong", {}, "Not saved: the model refuses these values. "),
      h("ul", {}, issues.map((i) => h("li", {}, h("code", {}, i.path || "/"), ` ${i.message}`))));
  }
  if (error instanceof ApiError && error.code === "FORBIDDEN") return note("error", `Not saved: ${error.message}`);
  return note("error", `Not saved: ${error.message} (${error.code ?? "error"})`);
}

// The Cypher console for analysts: read-only queries, results as a table and, when rows hold
// nodes or relationships, as a graph. Queries are kept in this browser (localStorage).
import cytoscape from "cytoscape";
import { ApiError, gql } from "./api.js";
import { fill, h, note, show } from "./dom.js";

const RUN = `query Cypher($query: String!, $params: JSON, $maxRows: Int) {
  cypher(query: $query, params: $params, maxRows: $maxRows) { columns rows truncated }
}`;
const HISTORY = "kgtwin.cypherHistory";
const KEPT = 50;
const EXAMPLES = [
  "MATCH (r:Room) RETURN r.id, r.name, r.area ORDER BY r.id LIMIT 25",
  "MATCH (a:AirHandlingUnit)-[s:serves]->(r:Room) RETURN a, s, r",
  "MATCH p = (:Source)-[:feeds*1..6]->(:Sink) RETURN p LIMIT 5",
  "MATCH (t:Twin) RETURN t.model AS model, count(*) AS twins ORDER BY twins DESC",
];

export class CypherPanel {
  constructor(root, app) {
    this.app = app;
    this.editor = h("textarea", { id: "cypher-query", rows: 5, spellcheck: false, class: "code", "aria-label": "Cypher query" }, history()[0] ?? EXAMPLES[0]);
    this.params = h("input", { id: "cypher-params", type: "text", class: "code", placeholder: 'parameters as JSON, e.g. {"min": 20}', "aria-label": "Parameters" });
    this.result = h("div", { id: "cypher-result" });
    this.historyList = h("ul", { class: "history", id: "cypher-history" });
    this.editor.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) this.run();
    });
    const allowed = app.can("cypher");
    fill(
      root,
      h("div", { class: "columns" },
        h("div", { class: "column" },
          h("h2", {}, "Cypher"),
          h("p", { class: "muted small" }, "Read-only: the engine refuses writes. Ctrl+Enter runs. The graph's labels and properties: docs/graph-model.md."),
          allowed ? null : note("warning", `Your roles (${app.roles.join(", ") || "none"}) do not include analyst: queries will be refused.`),
          this.editor,
          h("div", { class: "buttons" }, this.params, allowed ? h("button", { type: "button", id: "run-cypher", onclick: () => this.run() }, "Run") : null),
          this.result),
        h("div", { class: "column narrow-column" },
          h("h3", {}, "Kept queries"), this.historyList,
          h("h3", {}, "Examples"), h("ul", { class: "history" }, EXAMPLES.map((q) => h("li", {}, h("a", { href: "#cypher", onclick: (e) => (e.preventDefault(), (this.editor.value = q)) }, q)))))),
    );
    this.showHistory();
  }

  async run() {
    const query = this.editor.value.trim();
    if (!query) return;
    let params = null;
    if (this.params.value.trim()) {
      try {
        params = JSON.parse(this.params.value);
      } catch {
        fill(this.result, note("error", "The parameters are not JSON."));
        return;
      }
    }
    remember(query);
    this.showHistory();
    fill(this.result, h("p", { class: "muted" }, "Running…"));
    const started = performance.now();
    try {
      const data = await gql(RUN, { query, params, maxRows: 1000 });
      this.show(data.cypher, performance.now() - started);
    } catch (error) {
      fill(this.result, refusal(error));
    }
  }

  show(result, ms) {
    const { columns, rows, truncated } = result;
    const graph = collect(rows);
    const table = h("table", { class: "grid", id: "cypher-table" },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map((value) => h("td", {}, cell(value, this.app)))))));
    const summary = h("p", { class: "muted", id: "cypher-summary" },
      `${rows.length} row${rows.length === 1 ? "" : "s"}${truncated ? " (cut at 1,000)" : ""} in ${Math.round(ms)} ms`);
    if (!graph.nodes.size) {
      fill(this.result, summary, h("div", { class: "scroll" }, table));
      return;
    }
    const canvas = h("div", { class: "cy cypher-graph", id: "cypher-graph" });
    const views = { table: h("div", { class: "scroll" }, table), graph: canvas };
    const tabs = h("div", { class: "tabs-inline" }, Object.keys(views).map((name) =>
      h("button", { type: "button", class: name === "table" ? "current" : "", onclick: (e) => {
        for (const [key, view] of Object.entries(views)) view.hidden = key !== name;
        for (const b of tabs.children) b.classList.toggle("current", b === e.target);
        if (name === "graph") this.drawGraph(canvas, graph);
      } }, name === "table" ? "Table" : `Graph (${graph.nodes.size} nodes)`)));
    canvas.hidden = true;
    fill(this.result, summary, tabs, views.table, canvas);
  }

  drawGraph(container, graph) {
    this.cy?.destroy();
    const models = this.app.models;
    this.cy = cytoscape({
      container,
      elements: [
        ...[...graph.nodes.values()].map((n) => ({ data: { id: n.id, label: n.properties?.name ?? n.id, color: models.colour(n.properties?.model ?? n.labels[0]) } })),
        ...[...graph.edges.values()].filter((e) => graph.nodes.has(e.start) && graph.nodes.has(e.end))
          .map((e) => ({ data: { id: `e:${e.start}:${e.id}:${e.type}`, source: e.start, target: e.end, label: e.type } })),
      ],
      style: [
        { selector: "node", style: { "background-color": "data(color)", label: "data(label)", "font-size": 10, width: 18, height: 18 } },
        { selector: "edge", style: { label: "data(label)", "font-size": 8, "curve-style": "bezier", "target-arrow-shape": "triangle", width: 1.2, color: "#52606d" } },
      ],
      layout: { name: "cose", animate: false },
    });
    this.cy.on("tap", "node", (event) => this.app.select(event.target.id()));
  }

  showHistory() {
    fill(this.historyList, history().map((q) => h("li", {}, h("a", { href: "#cypher", onclick: (e) => (e.preventDefault(), (this.editor.value = q)) }, q))));
  }
}

function history() {
  try {
    return JSON.parse(localStorage.getItem(HISTORY) ?? "[]");
  } catch {
    return [];
  }
}

function remember(query) {
  const kept = [query, ...history().filter((q) => q !== query)].slice(0, KEPT);
  localStorage.setItem(HISTORY, JSON.stringify(kept));
}

/** Nodes ({id, labels, properties}) and relationships ({type, start, end}) anywhere in the rows. */
function collect(rows) {
  const nodes = new Map();
  const edges = new Map();
  const visit = (value) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === "object") {
      if (Array.isArray(value.labels) && typeof value.id === "string") nodes.set(value.id, value);
      else if (typeof value.type === "string" && "start" in value && "end" in value) edges.set(`${value.start}:${value.id}:${value.type}`, value);
      else Object.values(value).forEach(visit);
    }
  };
  rows.forEach(visit);
  return { nodes, edges };
}

function cell(value, app) {
  if (value && typeof value === "object" && Array.isArray(value.labels) && typeof value.id === "string") {
    return h("a", { href: "#twins", class: "chip", title: JSON.stringify(value.properties), onclick: (e) => (e.preventDefault(), app.select(value.id)) },
      `(:${value.labels.filter((l) => l !== "Twin").slice(-1)[0] ?? "Twin"} ${value.id})`);
  }
  if (value && typeof value === "object" && typeof value.type === "string" && "start" in value) {
    return h("span", { class: "chip rel" }, `(${value.start})-[:${value.type}]->(${value.end})`);
  }
  return show(value);
}

function refusal(error) {
  if (error instanceof ApiError && error.code === "CYPHER_WRITE_REFUSED") {
    return note("error", h("strong", {}, "Refused: this console is read-only. "), `The engine refused the write: ${error.message}`);
  }
  if (error instanceof ApiError && error.code === "FORBIDDEN") return note("error", h("strong", {}, "Refused: "), error.message);
  return note("error", h("strong", {}, `${error.code ?? "Error"}: `), error.message);
}

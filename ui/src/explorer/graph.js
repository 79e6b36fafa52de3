// The twin graph panel: twins and relationships drawn with cytoscape.js.
//
// Containment (contains, and isPartOf / locatedIn the other way) is drawn as nesting
// (boxes around their contents, packed by nesting.js) or as a tree; functional relationships (feeds,
// serves, ...) as edges, laid out by force (fcose) or in layers (dagre). The twins shown are
// kept here (``this.twins``, ``this.relationships``); a layout change rebuilds the drawing
// from them.
import cytoscape from "cytoscape";
import { gql } from "./api.js";
import { count, fill, h, note } from "./dom.js";
import { layeredPositions } from "./layers.js";
import { nestedBoxes } from "./nesting.js";
import { firstTwins, OVERVIEW, TWIN_FIELDS } from "./opening.js";

/**
 * Layouts of cytoscape extensions, fetched the first time they are drawn (the opening view,
 * nested or placed in layers, needs neither): fcose for "force", dagre (and lodash under it)
 * for a small "flow".
 */
const extensions = {
  force: () => import("cytoscape-fcose"),
  flow: () => import("cytoscape-dagre"),
};
const loaded = new Map();
function loadLayout(layout) {
  if (!extensions[layout]) return null;
  if (!loaded.has(layout)) loaded.set(layout, extensions[layout]().then(({ default: extension }) => cytoscape.use(extension)));
  return loaded.get(layout);
}

/** Relationship names that mean "is inside": source contains target, or the reverse. */
const CONTAINS = new Set(["contains"]);
const INSIDE = new Set(["isPartOf", "locatedIn"]);
/** Above this many elements the drawing trades detail for speed: placed in layers, labels only where picked out, straight edges. */
const LARGE = 1500;
const NODE_SIZE = 18;
/** A container's padding around its contents, and the height of its label above it. */
const [PADDING, CONTAINER_LABEL] = [14, 16];
const [MIN_ZOOM, MAX_ZOOM] = [0.02, 4];

const EXPAND = `query Expand($roots: [ID!]!, $direction: RelationshipDirection!, $depth: Int!, $relationships: [String!]) {
  subgraph(roots: $roots, direction: $direction, maxDepth: $depth, relationships: $relationships) {
    twins { ${TWIN_FIELDS} }
    relationships { id name source target }
  }
}`;
const ONE = `query One($id: ID!) { twin(id: $id) { ${TWIN_FIELDS} } }`;

export const LAYOUTS = {
  nested: "Containment, nested",
  tree: "Containment, tree",
  flow: "Flow, layered",
  force: "Force",
};

export class GraphPanel {
  constructor(root, app) {
    this.app = app;
    this.twins = new Map();
    this.relationships = new Map();
    this.total = 0;
    const params = new URLSearchParams(location.search);
    this.first = firstTwins();
    this.layoutName = params.get("layout") ?? null;
    this.filter = params.get("model") ?? "";

    this.status = h("span", { class: "muted", id: "graph-status" }, "Loading the twin graph…");
    this.search = h("input", { type: "search", id: "twin-search", placeholder: "Find a twin by id or name", "aria-label": "Find a twin" });
    this.modelFilter = h("select", { id: "model-filter", "aria-label": "Filter by model", onchange: () => this.applyFilter() });
    this.layoutChoice = h(
      "select",
      { id: "layout", "aria-label": "Layout", onchange: () => this.draw(this.layoutChoice.value) },
      Object.entries(LAYOUTS).map(([value, label]) => h("option", { value }, label)),
    );
    this.limit = h(
      "select",
      { id: "twin-limit", "aria-label": "How many twins", onchange: () => this.reload(Number(this.limit.value)) },
      [500, 2000, 5000, 10000].map((n) => h("option", { value: n, selected: n === this.first }, `${count(n)} twins`)),
    );
    this.legend = h("div", { class: "legend", id: "legend" });
    this.message = h("div", { class: "graph-message" });
    this.canvas = h("div", { id: "cy", class: "cy" });
    fill(
      root,
      h(
        "form",
        { class: "toolbar", onsubmit: (event) => (event.preventDefault(), this.find(this.search.value.trim())) },
        this.search,
        h("button", { type: "submit" }, "Find"),
        this.modelFilter,
        this.layoutChoice,
        this.limit,
        h("button", { type: "button", title: "Fit the drawing to the window", onclick: () => this.cy?.fit(undefined, 20) }, "Fit"),
        this.status,
      ),
      this.message,
      h("div", { class: "graph-area" }, this.canvas, this.legend),
    );
    this.cy = null;
  }

  /**
   * A fresh cytoscape instance. A large graph is drawn at one pixel per CSS pixel and pans on
   * cytoscape's layered texture cache; textureOnViewport and hideEdgesOnViewport would stall
   * the start of each drag by a redraw of the whole graph (bench/ui.py measured 0.8 s at
   * 5,000 elements), then pan no faster.
   */
  createDrawing(large, elements = [], viewport = null) {
    this.cy?.destroy();
    const cy = cytoscape({
      container: this.canvas,
      elements,
      // Twins come placed, or are laid out once the drawing exists: without this, cytoscape
      // first lays every element out on a grid (a third of the time to draw 5,000 elements).
      layout: { name: "preset", fit: false },
      ...viewport,
      style: style(large),
      minZoom: MIN_ZOOM,
      maxZoom: MAX_ZOOM,
      pixelRatio: large ? 1 : "auto",
    });
    cy.on("tap", "node", (event) => this.app.select(event.target.id()));
    cy.on("tap", (event) => {
      const container = event.target === cy ? this.containerAt(event.position) : null;
      if (container) this.app.select(container);
    });
    cy.on("drag", "node", (event) => this.refit(event.target));
    return cy;
  }

  /**
   * The innermost container whose box holds ``position`` (containers take no pointer events
   * of their own: a drag on one pans the view, and pressing one would restyle it, which
   * throws away cytoscape's cached drawing of the whole graph on every frame of the drag).
   */
  containerAt({ x, y }) {
    let found = null;
    for (const id of this.contents.keys()) {
      const box = this.cy.getElementById(id).boundingBox({ includeLabels: false, includeOverlays: false });
      const inside = x >= box.x1 && x <= box.x2 && y >= box.y1 && y <= box.y2;
      if (inside && (found === null || this.cy.getElementById(id).data("depth") > found.data("depth"))) found = this.cy.getElementById(id);
    }
    return found?.id() ?? null;
  }

  /** After a twin was dragged: each container around it takes the box of its contents again. */
  refit(node) {
    for (let at = this.inside.get(node.id()); at !== undefined; at = this.inside.get(at)) {
      const container = this.cy.getElementById(at);
      const contents = this.cy.collection(this.contents.get(at).map((id) => this.cy.getElementById(id)));
      const box = contents.boundingBox({ includeOverlays: false });
      container.data({ w: box.w + 2 * PADDING, h: box.h + 2 * PADDING });
      container.position({ x: (box.x1 + box.x2) / 2, y: (box.y1 + box.y2) / 2 });
    }
  }

  /** Load the opening view (the first twins of the twin graph; ``pending``: asked already) and draw it. */
  async load(pending = null) {
    this.fillModelFilter();
    try {
      const data = (await pending) ?? (await gql(OVERVIEW, { first: this.first, model: null }));
      this.twins.clear();
      this.relationships.clear();
      this.merge(data.twinGraph);
      this.total = data.twinGraph.totalCount;
      this.truncated = data.twinGraph.truncated;
    } catch (error) {
      fill(this.message, note("error", `The twin graph could not be read: ${error.message}`));
      this.status.textContent = "";
      return;
    }
    // Nesting is the clearest picture of containment, placed in one pass at any size (and
    // it pans at frame rate from the first drag, where a tree waits for cytoscape's cache).
    const layout = this.layoutName ?? (this.hasContainment() ? "nested" : "force");
    this.layoutChoice.value = layout;
    await this.draw(layout);
  }

  reload(first) {
    this.first = first;
    return this.load();
  }

  fillModelFilter() {
    const models = this.app.models;
    fill(
      this.modelFilter,
      h("option", { value: "" }, "All models"),
      models.tree().map(({ id, depth }) =>
        h("option", { value: id, selected: id === this.filter }, `${"\u00a0\u00a0".repeat(depth)}${models.name(id)}`),
      ),
    );
  }

  merge({ twins, relationships }) {
    const added = [];
    for (const twin of twins) {
      if (!this.twins.has(twin.id)) added.push(twin.id);
      this.twins.set(twin.id, { id: twin.id, model: twin.model.id, properties: twin.properties });
    }
    for (const rel of relationships) this.relationships.set(`${rel.source}\u0000${rel.id}`, rel);
    return added;
  }

  hasContainment() {
    for (const rel of this.relationships.values()) if (CONTAINS.has(rel.name) || INSIDE.has(rel.name)) return true;
    return false;
  }

  /** Draw the kept twins with a layout; resolves once drawn (the time is kept for bench/ui.py). */
  async draw(layout) {
    delete document.body.dataset.graph;
    const started = performance.now();
    const elements = this.elements(layout === "nested");
    const large = elements.length > LARGE;
    // Nesting, and a large graph's layers, are placed before anything is drawn: the drawing
    // then starts with every twin in place.
    const placed = place(layout, elements, large, this.canvas);
    if (!placed) await loadLayout(layout);
    const built = performance.now();
    this.cy = this.createDrawing(large, elements, placed ? viewportFor(placed, this.canvas) : null);
    const added = performance.now();
    this.drawLegend();
    const laidOut = await (placed ? Promise.resolve() : this.runLayout(layout, large)).then(() => performance.now());
    if (!placed) this.cy.fit(undefined, 20);
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const drawn = performance.now();
    // For bench/ui.py and tests/ui: when the drawing was done, and its parts.
    window.kgtwinDrawn = {
      at: drawn,
      layoutMs: drawn - started,
      phases: { elements: built - started, add: added - built, layout: laidOut - added, paint: drawn - laidOut },
      nodes: this.cy.nodes().length,
      edges: this.cy.edges().length,
      layout,
    };
    window.kgtwinGraph = this.probe();
    document.body.dataset.graph = "drawn";
    this.warmDrawingCache(this.cy);
    this.describe();
    if (this.modelFilter.value) this.applyFilter();
  }

  /**
   * Have cytoscape start caching its drawing of the whole graph now, not at the first drag.
   * It queues that cache (textures of the graph at the current zoom, built in idle frames)
   * only from a drawing made more than 250 ms after the last change to the elements, and the
   * first drawing is followed by such changes (styles and bounds settling): without another
   * drawing, the first drag would draw every element itself, frame by frame, until the
   * cache is built. Two more drawings, after that window, start it.
   */
  warmDrawingCache(cy) {
    for (const delay of [400, 1200]) setTimeout(() => this.cy === cy && !cy.destroyed() && cy.forceRender(), delay);
  }

  /** Run a force or layered layout on the drawing itself (it needs the twins' drawn sizes). */
  runLayout(layout, large) {
    return new Promise((resolve) => {
      const { eles, ...options } = layoutOptions(layout, this.cy, large);
      const run = (eles ?? this.cy).layout(options);
      run.one("layoutstop", resolve);
      this.status.textContent = `Laying out ${count(this.twins.size)} twins…`;
      run.run();
    });
  }

  /** What tests/ui and bench/ui.py ask of the drawing: where a twin is on the page, and panning. */
  probe() {
    const cy = this.cy;
    const onPage = (node) => {
      const box = this.canvas.getBoundingClientRect();
      const at = node.renderedPosition();
      return { id: node.id(), x: box.left + at.x, y: box.top + at.y, inside: at.x > 20 && at.y > 20 && at.x < box.width - 20 && at.y < box.height - 20 };
    };
    return {
      locate: (id) => onPage(cy.getElementById(id)),
      /** The box a twin's node is drawn in, on the page (a container's: the box around its contents). */
      box: (id) => {
        const area = this.canvas.getBoundingClientRect();
        const { x1, y1, x2, y2 } = cy.getElementById(id).renderedBoundingBox({ includeLabels: false, includeOverlays: false });
        return { x1: area.left + x1, y1: area.top + y1, x2: area.left + x2, y2: area.top + y2 };
      },
      /** A twin that is no container, brought to the middle at full size, as a user zooms in to click it. */
      someTwin: () => {
        const node = cy.nodes().filter((n) => !n.hasClass("container"))[0];
        cy.zoom(1);
        cy.center(node);
        return onPage(node);
      },
      /** Where the view is (bench/ui.py follows a drag by it). */
      pan: () => ({ ...cy.pan() }),
      /** A point of the canvas's margin that no twin covers: dragging there pans the view. */
      emptySpot: () => {
        const box = this.canvas.getBoundingClientRect();
        const spots = [[8, 8], [box.width - 8, 8], [8, box.height - 8], [box.width - 8, box.height - 8]];
        const covered = ([x, y]) => cy.nodes().some((n) => {
          const b = n.renderedBoundingBox();
          return x >= b.x1 && x <= b.x2 && y >= b.y1 && y <= b.y2;
        });
        const [x, y] = spots.find((spot) => !covered(spot)) ?? spots[0];
        return { x: box.left + x, y: box.top + y };
      },
    };
  }

  describe() {
    const shown = this.twins.size;
    const rels = this.relationships.size;
    this.status.textContent = `${count(shown)} twins, ${count(rels)} relationships`;
    fill(
      this.message,
      this.truncated && shown < this.total
        ? note(
            "info",
            `Showing ${count(shown)} of ${count(this.total)} twins (the first by id, and those expanded). `,
            "Filter by model, find a twin, or expand from one to see the rest.",
          )
        : null,
    );
  }

  /**
   * Cytoscape elements for the kept twins: with ``nested``, containment becomes nesting (kept
   * in ``this.inside``: twin -> its container). Containers are plain nodes drawn under their
   * contents, sized by nesting.js, not cytoscape's compound nodes: those cost seconds to style
   * at a few thousand twins (each style property of a compound node walks its descendants).
   * Dragging a container pans the view, tapping it inspects it; dragging a twin, its
   * containers follow it.
   */
  elements(nested) {
    const parent = new Map();
    this.inside = parent;
    if (nested) {
      for (const rel of this.relationships.values()) {
        const [outer, inner] = CONTAINS.has(rel.name) ? [rel.source, rel.target] : INSIDE.has(rel.name) ? [rel.target, rel.source] : [];
        if (!outer || parent.has(inner) || !this.twins.has(outer) || !this.twins.has(inner)) continue;
        if (this.insideOf(outer, inner, parent)) continue; // a cycle of containment: leave it as an edge
        parent.set(inner, outer);
      }
    }
    const models = this.app.models;
    this.contents = new Map();
    for (const [inner, outer] of parent) this.contents.set(outer, [...(this.contents.get(outer) ?? []), inner]);
    const containers = new Set(parent.values());
    const elements = [];
    for (const twin of this.twins.values()) {
      const container = containers.has(twin.id);
      elements.push({
        group: "nodes",
        data: {
          id: twin.id,
          inside: parent.get(twin.id),
          label: twin.properties?.name ? `${twin.properties.name}` : twin.id,
          model: twin.model,
          color: models.colour(twin.model),
          twin: true,
        },
        ...(container ? { classes: "container" } : {}),
      });
    }
    for (const [key, rel] of this.relationships) {
      if (!this.twins.has(rel.source) || !this.twins.has(rel.target)) continue;
      const containment = CONTAINS.has(rel.name) || INSIDE.has(rel.name);
      if (nested && containment && (parent.get(rel.target) === rel.source || parent.get(rel.source) === rel.target)) continue;
      elements.push({
        group: "edges",
        data: { id: `e:${key}`, source: rel.source, target: rel.target, name: rel.name },
        classes: containment ? "containment" : "functional",
      });
    }
    return elements;
  }

  insideOf(candidate, node, parent) {
    for (let at = candidate; at !== undefined; at = parent.get(at)) if (at === node) return true;
    return false;
  }

  drawLegend() {
    const counts = new Map();
    for (const twin of this.twins.values()) counts.set(twin.model, (counts.get(twin.model) ?? 0) + 1);
    const models = this.app.models;
    fill(
      this.legend,
      [...counts.entries()]
        .sort((a, b) => models.name(a[0]).localeCompare(models.name(b[0])))
        .map(([model, count]) =>
          h(
            "button",
            { type: "button", class: "legend-item", title: `Show only ${model} and its subtypes`, onclick: () => this.showOnly(model) },
            h("span", { class: "swatch", style: { background: models.colour(model) } }),
            `${models.name(model)} (${count})`,
          ),
        ),
      h("div", { class: "legend-edges" }, h("span", { class: "edge-key feeds" }), "feeds ", h("span", { class: "edge-key serves" }), "serves ", h("span", { class: "edge-key other" }), "other"),
    );
  }

  showOnly(model) {
    this.modelFilter.value = model;
    this.applyFilter();
  }

  /** Show the twins of the chosen model and its subtypes; their containers stay, faded, for context. */
  applyFilter() {
    const base = this.modelFilter.value;
    this.filter = base;
    if (!this.cy) return;
    const models = this.app.models;
    this.cy.batch(() => {
      this.cy.elements().removeClass("hidden context");
      if (!base) return;
      const keep = this.cy.nodes().filter((node) => models.isA(node.data("model"), base));
      const outer = new Set();
      for (const node of keep) for (let at = this.inside.get(node.id()); at !== undefined && !outer.has(at); at = this.inside.get(at)) outer.add(at);
      const context = this.cy.collection([...outer].map((id) => this.cy.getElementById(id))).difference(keep);
      this.cy.nodes().difference(keep).difference(context).addClass("hidden");
      context.addClass("context");
      this.cy.edges().filter((edge) => !keep.contains(edge.source()) || !keep.contains(edge.target())).addClass("hidden");
    });
    const shown = this.cy.nodes().not(".hidden").not(".context").length;
    this.status.textContent = base ? `${count(shown)} twins of ${models.name(base)} and its subtypes` : "";
    if (!base) this.describe();
  }

  /** Find twins by id or name among those drawn, else ask the service for that id. */
  async find(text) {
    if (!this.cy) return;
    this.cy.nodes().removeClass("match");
    if (!text) return;
    const lower = text.toLowerCase();
    const matches = this.cy.nodes().filter((node) => {
      const twin = this.twins.get(node.id());
      return twin && (twin.id.toLowerCase().includes(lower) || `${twin.properties?.name ?? ""}`.toLowerCase().includes(lower));
    });
    if (matches.length) {
      matches.addClass("match");
      const exact = matches.filter((node) => node.id() === text);
      this.focus(exact.length ? exact : matches);
      this.status.textContent = `${matches.length} twin${matches.length === 1 ? "" : "s"} match “${text}”`;
      return;
    }
    try {
      const data = await gql(ONE, { id: text });
      if (data.twin) {
        await this.expand(text, "BOTH", 1, null);
        this.cy.getElementById(text).addClass("match");
        return;
      }
    } catch (error) {
      this.status.textContent = error.message;
      return;
    }
    this.status.textContent = `No twin matches “${text}”`;
  }

  focus(nodes) {
    const first = nodes[0];
    this.cy.animate({ fit: { eles: nodes, padding: 60 }, duration: 300 });
    if (nodes.length === 1) this.app.select(first.id());
  }

  /** Add the twins ``depth`` relationships from ``id`` (``direction`` OUT, IN or BOTH) and draw again. */
  async expand(id, direction, depth, relationships) {
    const data = await gql(EXPAND, { roots: [id], direction, depth, relationships: relationships?.length ? relationships : null });
    const added = this.merge(data.subgraph);
    await this.draw(this.layoutChoice.value);
    const fresh = this.cy.collection(added.map((a) => this.cy.getElementById(a)));
    fresh.addClass("fresh");
    setTimeout(() => fresh.removeClass("fresh"), 4000);
    this.select(id);
    return added.length;
  }

  /** Mark the inspected twin in the drawing. */
  select(id) {
    if (!this.cy) return;
    this.cy.elements(":selected").unselect();
    const node = this.cy.getElementById(id);
    if (node.nonempty()) node.select();
  }

  /** Take a drawn twin's model and properties as read now (its colour and label follow). */
  update(twin) {
    if (!this.twins.has(twin.id)) return;
    this.twins.set(twin.id, { id: twin.id, model: twin.model.id, properties: twin.properties });
    const node = this.cy?.getElementById(twin.id);
    if (node?.nonempty()) node.data({ label: twin.properties?.name ?? twin.id, model: twin.model.id, color: this.app.models.colour(twin.model.id) });
  }
}

/** The twins' containment levels: the relationships that nest a twin in another, and the outermost twins. */
function containmentLevels(nodeIds, edges) {
  const containment = edges.filter((e) => CONTAINS.has(e.name) || INSIDE.has(e.name));
  const inner = new Set(containment.map((e) => (INSIDE.has(e.name) ? e.source : e.target)));
  return { edges: containment, roots: nodeIds.filter((id) => !inner.has(id)) };
}

/** Functional relationships (feeds, serves, ...), and the twins nothing feeds. */
function flowLevels(nodeIds, edges) {
  const functional = edges.filter((e) => !CONTAINS.has(e.name) && !INSIDE.has(e.name));
  const fed = new Set(functional.map((e) => e.target));
  return { edges: functional, roots: nodeIds.filter((id) => !fed.has(id)) };
}

/**
 * Place the twins before they are drawn, and the box they fill; null when the drawing must
 * lay itself out. ``nested``: containers packed around their contents (nesting.js);
 * ``tree`` (large): levels of containment, whichever way its relationships point; ``flow``
 * (large): along functional relationships, where dagre would take minutes (layers.js). Each
 * node element that is no container gets its ``position``; cytoscape's own layouts run
 * inside the drawing, which costs far more per twin than placing it (layers.js says why).
 */
function place(layout, elements, large, canvas) {
  const nodes = elements.filter((e) => e.group === "nodes");
  if (layout === "nested") {
    const parentOf = new Map(nodes.filter((n) => n.data.inside !== undefined).map((n) => [n.data.id, n.data.inside]));
    const labels = new Map(nodes.map((n) => [n.data.id, n.data.label]));
    const containers = new Set(parentOf.values());
    const cell = (id) => footprint(labels.get(id), containers.has(id), large);
    const aspect = Math.max(0.5, Math.min(3, canvas.clientWidth / Math.max(1, canvas.clientHeight)));
    const boxes = nestedBoxes(
      nodes.map((n) => n.data.id),
      parentOf,
      cell,
      // Labels under twins need more room between them than bare nodes.
      { node: NODE_SIZE, padding: PADDING, label: CONTAINER_LABEL, gap: large ? 10 : 16, aspect },
    );
    for (const node of nodes) {
      const { x, y, w, h, depth } = boxes[node.data.id];
      node.position = { x, y };
      if (containers.has(node.data.id)) Object.assign(node.data, { w, h, depth });
    }
    return bounds(Object.values(boxes));
  }
  if (!large || (layout !== "tree" && layout !== "flow")) return null;
  const edges = elements.filter((e) => e.group === "edges").map((e) => e.data);
  const ids = nodes.map((n) => n.data.id);
  const levels = layout === "tree" ? containmentLevels(ids, edges) : flowLevels(ids, edges);
  const positions = layeredPositions(ids, levels.edges, levels.roots, { directed: layout === "flow" });
  const half = NODE_SIZE / 2;
  return bounds(
    nodes.map((node) => {
      const { x, y } = (node.position = positions[node.data.id]);
      return { x1: x - half, y1: y - half, x2: x + half, y2: y + half };
    }),
  );
}

/**
 * The room a twin with nothing inside takes (its node, and its label under it when labels
 * show), or the width a container's label takes. The width of text is estimated (10 px
 * characters are about 6 px wide), not measured: measuring thousands of labels would cost
 * what the placing saves.
 */
function footprint(label, container, large) {
  const text = Math.min(LABEL["text-max-width"], 6 * `${label ?? ""}`.length);
  if (container) return { w: text, h: 0 };
  return large ? { w: NODE_SIZE, h: NODE_SIZE } : { w: Math.max(NODE_SIZE, text), h: NODE_SIZE + 3 + 13 };
}

/** The box around boxes ``{x1, y1, x2, y2}``; null when there are none. */
function bounds(boxes) {
  let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const box of boxes) {
    x1 = Math.min(x1, box.x1);
    y1 = Math.min(y1, box.y1);
    x2 = Math.max(x2, box.x2);
    y2 = Math.max(y2, box.y2);
  }
  return x1 > x2 ? null : { x1, y1, x2, y2 };
}

/** Zoom and pan that fit a box in the canvas (what ``cy.fit`` gives, without measuring every element). */
function viewportFor({ x1, y1, x2, y2 }, canvas) {
  const [w, h] = [canvas.clientWidth, canvas.clientHeight];
  const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, Math.min((w - 40) / (x2 - x1), (h - 40) / (y2 - y1))));
  return { zoom, pan: { x: w / 2 - (zoom * (x1 + x2)) / 2, y: h / 2 - (zoom * (y1 + y2)) / 2 } };
}

/** The layout to run on the drawing, and on which elements (``eles``: the drawing's, unless the layout needs fewer). */
function layoutOptions(layout, cy, large) {
  const common = { animate: false, fit: false };
  if (layout === "tree") {
    const levels = containmentLevels(
      cy.nodes().map((n) => n.id()),
      cy.edges(".containment").map((e) => e.data()),
    );
    const eles = cy.nodes().union(cy.edges(".containment"));
    return { ...common, eles, name: "breadthfirst", directed: false, roots: levels.roots, spacingFactor: 1, avoidOverlap: true };
  }
  if (layout === "flow") {
    return { ...common, name: "dagre", rankDir: "LR", nodeSep: 12, rankSep: 60, edgeSep: 4 };
  }
  // "force": fcose, on twins never nested (nesting is placed by nesting.js); a large graph
  // stops after the spectral phase (draft).
  return {
    ...common,
    name: "fcose",
    quality: large ? "draft" : "default",
    randomize: true,
    packComponents: true,
    nodeRepulsion: () => 4500,
    idealEdgeLength: (edge) => (edge.hasClass("containment") ? 40 : 70),
    edgeElasticity: () => 0.45,
    gravity: 0.25,
    numIter: large ? 1000 : 2500,
    tile: true,
    tilingPaddingVertical: 12,
    tilingPaddingHorizontal: 12,
  };
}

/** How labels look, wherever they are shown. */
const LABEL = {
  label: "data(label)",
  "font-size": 10,
  "text-valign": "bottom",
  "text-margin-y": 3,
  color: "#1f2933",
  "text-max-width": 120,
};

/**
 * The drawing's style. Each property of each rule is computed for every element it applies
 * to, so a large graph gets fewer: labels (and their text properties) only on containers and
 * the twins picked out, and straight (haystack) edges, which have no arrows.
 */
function style(large) {
  const labelled = ".container, node:selected, node.match, node.fresh";
  return [
    {
      selector: "node",
      style: large
        ? { "background-color": "data(color)", width: NODE_SIZE, height: NODE_SIZE }
        : { "background-color": "data(color)", width: NODE_SIZE, height: NODE_SIZE, ...LABEL, "min-zoomed-font-size": 4, "text-wrap": "ellipsis" },
    },
    { selector: labelled, style: large ? { ...LABEL, "min-zoomed-font-size": 7 } : { label: "data(label)" } },
    {
      // Drawn under everything, the outermost lowest: a container's box holds its contents.
      selector: ".container",
      style: {
        width: "data(w)",
        height: "data(h)",
        "z-compound-depth": "bottom",
        "z-index": "data(depth)",
        events: "no",
        "background-opacity": 0.07,
        "border-color": "data(color)",
        "border-width": 1.5,
        shape: "round-rectangle",
        "text-valign": "top",
        "text-margin-y": -2,
        "font-weight": "bold",
      },
    },
    {
      selector: "edge",
      style: large
        ? { width: 1.2, "line-color": "#9aa5b1", "curve-style": "haystack" }
        : { width: 1.2, "line-color": "#9aa5b1", "target-arrow-color": "#9aa5b1", "target-arrow-shape": "triangle", "arrow-scale": 0.7, "curve-style": "bezier" },
    },
    { selector: "edge.containment", style: edgeColour("#cbd2d9", large) },
    { selector: "edge[name = 'feeds']", style: { ...edgeColour("#d9822b", large), width: 2.2 } },
    { selector: "edge[name = 'serves']", style: { ...edgeColour("#2b95d6", large), "line-style": "dashed" } },
    { selector: "node:selected", style: { "border-width": 4, "border-color": "#102a43" } },
    { selector: "node.match", style: { "border-width": 4, "border-color": "#e6007a" } },
    { selector: "node.fresh", style: { "border-width": 3, "border-color": "#3ebd93" } },
    { selector: ".context", style: { opacity: 0.25 } },
    { selector: ".hidden", style: { display: "none" } },
  ];
}

const edgeColour = (colour, large) => (large ? { "line-color": colour } : { "line-color": colour, "target-arrow-color": colour });

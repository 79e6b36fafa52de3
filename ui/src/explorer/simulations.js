// Simulations: start flow, impact or thermal on a part of the twin (the selected subtree),
// with parameters and a what-if scenario, follow the run through ``simulationProgress``,
// and read its results as charts and, for a comparison, the sentence that sums it up.
import { gql, subscribe } from "./api.js";
import { ago, estimate, fill, h, note } from "./dom.js";

const START = `mutation Start($model: String!, $subset: JSON!, $parameters: JSON, $scenario: JSON, $replications: Int!, $seed: Int!, $compare: Boolean!) {
  startSimulation(model: $model, subset: $subset, parameters: $parameters, scenario: $scenario,
                  replications: $replications, seed: $seed, compare: $compare) { id status }
}`;
const PROGRESS = `subscription Progress($id: ID!) { simulationProgress(id: $id) { id status progress result error } }`;
const RUNS = `{ simulationRuns(first: 10) { nodes { id model status progress createdAt compare } } }`;
const RUN = `query Run($id: ID!) { simulationRun(id: $id) { id model status progress result error subset compare } }`;
const CANCEL = `mutation Cancel($id: ID!) { cancelSimulation(id: $id) { id status } }`;

/** What each model needs by default, and the per-twin figure its chart shows. */
const MODELS = {
  flow: {
    about: "Material flow through a production line: throughput, blocking, starving, the bottleneck.",
    relationships: "feeds", direction: "OUT", depth: 10,
    parameters: { horizonS: 28800, warmupS: 1800 },
    scenario: (root) => ({ description: "twice the raw parts", overrides: { [root || "source-1"]: { interarrivalTimeMean: 15 } } }),
    perTwin: "utilisation",
  },
  impact: {
    about: "Failure propagation: what loses supply when twins fail, and availability.",
    relationships: "feeds, serves, controls", direction: "OUT", depth: 10,
    parameters: (root) => ({ failed: [root], horizonS: 31536000 }),
    scenario: (root) => ({ description: `repairing ${root} twice as fast`, overrides: { [root]: { mttr: 4 } } }),
    perTwin: "supplyAvailability",
  },
  thermal: {
    about: "Rooms under HVAC: comfort and energy over a day.",
    relationships: "contains, serves, feeds", direction: "BOTH", depth: 3,
    models: "dtmi:kgtwin:space:Floor;1, dtmi:kgtwin:space:Room;1, dtmi:kgtwin:hvac:AirHandlingUnit;1, dtmi:kgtwin:hvac:VAV;1",
    parameters: { horizonS: 86400 },
    scenario: () => ({ description: "ahu-1 at a sixth of its heating capacity", overrides: { "ahu-1": { heatingCapacity: 10 } } }),
    perTwin: "meanTemperature",
  },
};

export class SimulationsPanel {
  constructor(root, app) {
    this.app = app;
    this.model = h("select", { id: "sim-model", "aria-label": "Model", onchange: () => this.defaults() }, Object.keys(MODELS).map((m) => h("option", { value: m }, m)));
    this.about = h("p", { class: "muted small" });
    this.roots = h("input", { id: "sim-roots", type: "text", "aria-label": "Roots", placeholder: "twin ids, comma separated" });
    this.relationships = h("input", { id: "sim-relationships", type: "text", "aria-label": "Relationships" });
    this.direction = h("select", { id: "sim-direction", "aria-label": "Direction" }, ["OUT", "IN", "BOTH"].map((d) => h("option", { value: d }, d.toLowerCase())));
    this.depth = h("input", { id: "sim-depth", type: "number", min: 0, max: 10, class: "narrow", "aria-label": "Depth" });
    this.through = h("input", { id: "sim-models", type: "text", "aria-label": "Only through models", placeholder: "any model" });
    this.parameters = h("textarea", { id: "sim-parameters", rows: 3, class: "code", "aria-label": "Parameters" });
    this.compare = h("input", { id: "sim-compare", type: "checkbox", onchange: () => (this.scenario.disabled = !this.compare.checked) });
    this.scenario = h("textarea", { id: "sim-scenario", rows: 4, class: "code", disabled: true, "aria-label": "Scenario" });
    this.replications = h("input", { id: "sim-replications", type: "number", min: 1, max: 10000, value: 5, class: "narrow", "aria-label": "Replications" });
    this.seed = h("input", { id: "sim-seed", type: "number", min: 0, value: 1, class: "narrow", "aria-label": "Seed" });
    this.run = h("div", { id: "sim-run" });
    this.recent = h("ul", { class: "history", id: "sim-runs" });
    const form = h("form", { class: "sim-form", onsubmit: (e) => (e.preventDefault(), this.start()) },
      h("label", {}, "Model ", this.model), this.about,
      h("label", {}, "From twins ", this.roots,
        h("button", { type: "button", class: "secondary", onclick: () => this.useSelected() }, "Use the selected twin")),
      h("label", {}, "Following ", this.relationships), h("label", {}, "Direction ", this.direction, " up to ", this.depth, " hops"),
      h("label", {}, "Only through twins of ", this.through),
      h("label", {}, "Parameters (JSON)", this.parameters),
      h("label", { class: "inline" }, this.compare, " What-if: compare with this scenario (common random numbers)"), this.scenario,
      h("label", {}, "Replications ", this.replications, " seed ", this.seed),
      app.can("simulate")
        ? h("button", { type: "submit", id: "start-simulation" }, "Start")
        : note("warning", `Your roles (${app.roles.join(", ") || "none"}) may not start simulations; you can read runs.`));
    fill(root, h("div", { class: "columns" },
      h("div", { class: "column" }, h("h2", {}, "Simulations"), form),
      h("div", { class: "column" }, this.run, h("h3", {}, "Recent runs"), this.recent)));
    this.defaults();
  }

  show() {
    this.listRuns();
  }

  /** The model's defaults, rooted at ``root`` (the selected twin) when given. */
  defaults(root = this.roots.value.split(",")[0]?.trim() || this.app.selected || "") {
    const spec = MODELS[this.model.value];
    this.about.textContent = spec.about;
    this.roots.value = root;
    this.relationships.value = spec.relationships;
    this.direction.value = spec.direction;
    this.depth.value = spec.depth;
    this.through.value = spec.models ?? "";
    const parameters = typeof spec.parameters === "function" ? spec.parameters(root) : spec.parameters;
    this.parameters.value = JSON.stringify(parameters);
    this.scenario.value = JSON.stringify(spec.scenario(root), null, 1);
  }

  /** Prepare a run from ``id`` (the inspector's "Simulate from this twin"). */
  from(id) {
    this.defaults(id);
  }

  useSelected() {
    if (this.app.selected) this.defaults(this.app.selected);
  }

  async start() {
    let parameters, scenario;
    try {
      parameters = this.parameters.value.trim() ? JSON.parse(this.parameters.value) : null;
      scenario = this.compare.checked && this.scenario.value.trim() ? JSON.parse(this.scenario.value) : null;
    } catch {
      fill(this.run, note("error", "Parameters and scenario must be JSON objects."));
      return;
    }
    const names = this.relationships.value.split(",").map((s) => s.trim()).filter(Boolean);
    const subset = {
      roots: this.roots.value.split(",").map((s) => s.trim()).filter(Boolean),
      relationships: names,
      direction: this.direction.value.toLowerCase(),
      maxDepth: Number(this.depth.value),
      models: this.through.value.split(",").map((s) => s.trim()).filter(Boolean),
    };
    try {
      const data = await gql(START, {
        model: this.model.value, subset, parameters, scenario,
        replications: Number(this.replications.value), seed: Number(this.seed.value), compare: this.compare.checked,
      });
      this.follow(data.startSimulation.id);
    } catch (error) {
      const problems = error.details?.problems ?? error.details?.errors ?? [];
      fill(this.run, note("error", h("strong", {}, `${error.code}: `), error.message,
        problems.length ? h("ul", {}, problems.map((p) => h("li", {}, p.message ?? JSON.stringify(p)))) : null));
    }
  }

  /** Follow run ``id`` live until it ends, then show its results. */
  follow(id) {
    this.stop?.();
    const bar = h("progress", { id: "sim-progress", max: 1, value: 0 });
    const status = h("span", { id: "sim-status" }, "queued");
    const cancel = this.app.can("simulate")
      ? h("button", { type: "button", class: "secondary", onclick: () => gql(CANCEL, { id }).catch((e) => fill(results, note("error", e.message))) }, "Cancel")
      : null;
    const results = h("div", { id: "sim-results" });
    fill(this.run, h("h3", {}, "Run ", h("code", {}, id.slice(0, 8))), h("div", { class: "progress-row" }, bar, " ", status, " ", cancel), results);
    this.stop = subscribe(PROGRESS, { id }, (data) => {
      const run = data.simulationProgress;
      bar.value = run.progress;
      status.textContent = `${run.status.toLowerCase()} ${Math.round(run.progress * 100)}%`;
      this.run.dataset.status = run.status;
      if (run.status === "SUCCEEDED") this.results(results, run.result, this.model.value);
      if (run.status === "FAILED") fill(results, note("error", `${run.error?.code}: ${run.error?.message}`));
      if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(run.status)) {
        cancel?.remove();
        this.listRuns();
      }
    }, (error) => fill(results, note("error", error.message)));
  }

  async open(id) {
    const data = await gql(RUN, { id });
    const run = data.simulationRun;
    if (!run) return;
    if (["QUEUED", "RUNNING"].includes(run.status)) {
      this.follow(id);
      return;
    }
    const results = h("div", { id: "sim-results" });
    fill(this.run, h("h3", {}, `${run.model} run `, h("code", {}, id.slice(0, 8)), ` ${run.status.toLowerCase()}`), results);
    this.run.dataset.status = run.status;
    if (run.status === "SUCCEEDED") this.results(results, run.result, run.model);
    else if (run.error) fill(results, note("error", `${run.error.code}: ${run.error.message}`));
  }

  results(out, result, model) {
    const comparison = Boolean(result?.sentence);
    const metrics = comparison ? result.metrics ?? {} : result?.metrics ?? {};
    const canvas = h("canvas", { id: "sim-chart" });
    fill(out,
      comparison ? h("p", { class: "sentence", id: "sim-sentence" }, result.sentence) : null,
      result?.bottleneck ? h("p", { id: "sim-bottleneck" }, h("strong", {}, "Bottleneck: "), `${result.bottleneck.twin} (chosen in ${Math.round(result.bottleneck.share * 100)}% of replications)`) : null,
      result?.lostSupply ? h("p", { id: "sim-lost" }, h("strong", {}, "Loses supply: "), result.lostSupply.length ? result.lostSupply.join(", ") : "nothing") : null,
      h("table", { class: "grid", id: "sim-metrics" },
        h("thead", {}, h("tr", {}, comparison ? ["metric", "baseline", "scenario", "difference"].map((c) => h("th", {}, c)) : [h("th", {}, "metric"), h("th", {}, "mean ± 95% CI")])),
        h("tbody", {}, Object.entries(metrics).map(([name, value]) => h("tr", {}, h("td", {}, name),
          comparison ? [h("td", {}, estimate(value.baseline)), h("td", {}, estimate(value.scenario)), h("td", {}, estimate(value.difference))] : h("td", {}, estimate(value)))))),
      h("div", { class: "chart tall" }, canvas));
    this.chart?.destroy();
    this.chart = null;
    import("./charts.js").then(({ barChart }) => {
      this.chart?.destroy();
      this.chart = perTwinChart(barChart, canvas, result, MODELS[model]?.perTwin, comparison);
    });
  }

  async listRuns() {
    try {
      const data = await gql(RUNS);
      fill(this.recent, data.simulationRuns.nodes.map((run) => h("li", {},
        h("a", { href: "#simulations", onclick: (e) => (e.preventDefault(), this.open(run.id)) }, `${run.model}${run.compare ? " what-if" : ""}`),
        ` ${run.status.toLowerCase()} · ${ago(run.createdAt)}`)));
    } catch (error) {
      fill(this.recent, h("li", {}, error.message));
    }
  }
}

/** One bar per twin of the model's per-twin figure (for a comparison: baseline and scenario). */
function perTwinChart(barChart, canvas, result, figure, comparison) {
  const twins = Object.entries(result?.twins ?? {}).filter(([, values]) => values[figure] !== undefined);
  if (!figure || !twins.length) return null;
  const pick = (v, key) => (comparison ? v[figure]?.[key]?.mean : v[figure]?.mean) ?? null;
  const series = comparison
    ? [
        { label: "baseline", values: twins.map(([, v]) => pick(v, "baseline")), errors: twins.map(([, v]) => v[figure]?.baseline?.ci95) },
        { label: "scenario", values: twins.map(([, v]) => pick(v, "scenario")), errors: twins.map(([, v]) => v[figure]?.scenario?.ci95) },
      ]
    : [{ label: figure, values: twins.map(([, v]) => pick(v)), errors: twins.map(([, v]) => v[figure]?.ci95) }];
  return barChart(canvas, twins.map(([id]) => id), series, `${figure} per twin`);
}

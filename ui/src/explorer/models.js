// The models panel: the inheritance tree with twin counts, each model's contents, and for
// modelers: uploading DTDL files (the validator's errors shown at their file and line),
// decommissioning, and the dry run and migration of a new version before twins use it.
import { gql, rest } from "./api.js";
import { fill, h, note, show } from "./dom.js";

const MODEL = `query Model($id: ID!) {
  model(id: $id) {
    id displayName decommissioned twinCount dtdl
    extends { id }
    contents { name kind schema unit writable target definedIn displayName }
  }
}`;
const DECOMMISSION = `mutation Decommission($id: ID!) { decommissionModel(id: $id) { id decommissioned } }`;

export class ModelsPanel {
  constructor(root, app) {
    this.app = app;
    this.tree = h("nav", { class: "model-tree", id: "model-tree", "aria-label": "Models" });
    this.detail = h("div", { class: "model-detail", id: "model-detail" }, h("p", { class: "muted" }, "Pick a model."));
    this.upload = app.can("models") ? this.uploadForm() : null;
    fill(root, h("div", { class: "columns" }, h("div", { class: "column narrow-column" }, h("h2", {}, "Models"), this.tree), h("div", { class: "column" }, this.upload, this.detail)));
  }

  render() {
    const models = this.app.models;
    fill(
      this.tree,
      h("ul", {}, models.tree().map(({ id, depth }) => {
        const model = models.get(id);
        const total = models.totalTwins(id);
        return h("li", { style: { paddingLeft: `${depth * 14}px` } },
          h("a", { href: `#models/${encodeURIComponent(id)}`, class: model.decommissioned ? "decommissioned" : "", title: id },
            models.name(id)),
          h("span", { class: "count", title: `${model.twinCount} of this model, ${total} with subtypes` }, total ? ` ${model.twinCount}/${total}` : ""),
          model.decommissioned ? h("span", { class: "badge" }, "decommissioned") : null);
      })),
    );
  }

  async open(id) {
    if (!id) return;
    let data;
    try {
      data = await gql(MODEL, { id });
    } catch (error) {
      fill(this.detail, note("error", error.message));
      return;
    }
    const model = data.model;
    if (!model) {
      fill(this.detail, note("warning", `There is no model ${id}.`));
      return;
    }
    for (const link of this.tree.querySelectorAll("a")) link.classList.toggle("current", decodeURIComponent(link.hash.slice(8)) === id);
    const models = this.app.models;
    const versions = [...models.models.keys()].filter((other) => other !== id && other.split(";")[0] === id.split(";")[0]);
    fill(
      this.detail,
      h("h2", {}, model.displayName || models.name(id), model.decommissioned ? h("span", { class: "badge" }, "decommissioned") : null),
      h("p", {}, h("code", {}, model.id)),
      h("p", {}, `${model.twinCount} twin${model.twinCount === 1 ? "" : "s"} of exactly this model, ${models.totalTwins(id)} with its subtypes. `,
        model.extends.length ? ["Extends ", model.extends.map((e, i) => [i ? ", " : "", h("a", { href: `#models/${encodeURIComponent(e.id)}` }, models.name(e.id))])] : "Extends nothing."),
      h("table", { class: "grid", id: "model-contents" },
        h("thead", {}, h("tr", {}, ["name", "kind", "schema / target", "unit", "defined in"].map((c) => h("th", {}, c)))),
        h("tbody", {}, model.contents.map((c) => h("tr", {},
          h("td", {}, c.name), h("td", {}, c.kind), h("td", {}, c.kind === "Relationship" ? (c.target ? models.name(c.target) : "any") : schemaText(c.schema)),
          h("td", {}, c.unit ?? ""), h("td", { class: "muted" }, c.definedIn === model.id ? "" : models.name(c.definedIn)))))),
      this.app.can("models") ? this.actions(model, versions) : null,
      model.dtdl ? h("details", {}, h("summary", {}, "DTDL as uploaded"), h("pre", { class: "code" }, JSON.stringify(model.dtdl, null, 2))) : null,
    );
  }

  actions(model, versions) {
    const out = h("div", { id: "evolution" });
    const decommission = model.decommissioned
      ? null
      : h("button", { type: "button", id: "decommission", onclick: async () => {
          if (!confirm(`Decommission ${model.id}? Its twins keep it; no new twin may use it.`)) return;
          try {
            await gql(DECOMMISSION, { id: model.id });
            await this.app.reloadModels();
            await this.open(model.id);
          } catch (error) {
            fill(out, note("error", error.message));
          }
        } }, "Decommission");
    const target = h("select", { "aria-label": "Version" }, versions.map((v) => h("option", { value: v }, v)));
    const evolve = versions.length
      ? [
          h("span", {}, " Move its twins to "), target, " ",
          h("button", { type: "button", class: "secondary", onclick: () => this.dryRun(model.id, target.value, out) }, "Dry run"),
          " ",
          h("button", { type: "button", onclick: () => this.migrate(model.id, target.value, out) }, "Migrate"),
        ]
      : null;
    return h("section", { class: "model-actions" }, h("h3", {}, "Modeling"), h("div", { class: "buttons" }, decommission, evolve), out);
  }

  async dryRun(from, to, out) {
    fill(out, h("p", { class: "muted" }, "Checking every twin…"));
    try {
      const report = await rest(`models/evolution?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
      fill(out, evolutionReport(report));
    } catch (error) {
      fill(out, note("error", error.message));
    }
  }

  async migrate(from, to, out) {
    if (!confirm(`Move the twins of ${from} that validate as ${to}?`)) return;
    try {
      const report = await rest("models/migrations", { method: "POST", json: { from, to } });
      fill(out, note("ok", `Migrated ${report.migrated} of ${report.twins} twins in ${report.batches} batch(es).`), evolutionReport(report));
      await this.app.reloadModels();
    } catch (error) {
      fill(out, note("error", error.message));
    }
  }

  // -- upload ----------------------------------------------------------------------------

  uploadForm() {
    this.files = h("input", { type: "file", id: "model-files", multiple: true, accept: ".json,.zip,application/json,application/zip" });
    this.uploadResult = h("div", { id: "upload-result" });
    const dry = h("button", { type: "button", id: "validate-models", onclick: () => this.send(true) }, "Validate (dry run)");
    const upload = h("button", { type: "button", id: "upload-models", onclick: () => this.send(false) }, "Upload");
    return h("section", { class: "upload" }, h("h3", {}, "Upload DTDL"),
      h("p", { class: "muted small" }, "Several .json files, or a .zip of a folder, as one batch. A dry run validates them and says what a new version would break."),
      h("div", { class: "buttons" }, this.files, dry, upload), this.uploadResult);
  }

  async send(dryRun) {
    const files = [...this.files.files];
    if (!files.length) {
      fill(this.uploadResult, note("warning", "Choose DTDL files first."));
      return;
    }
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    fill(this.uploadResult, h("p", { class: "muted" }, dryRun ? "Validating…" : "Uploading…"));
    try {
      const report = await rest(`models/files?dryRun=${dryRun}`, { method: "POST", form });
      const done = dryRun ? `Valid: ${report.models.length} interface(s) would be registered.` : `Uploaded ${report.models.length} interface(s).`;
      // Said once the explorer knows the new models, so that what is opened next has them.
      if (!dryRun) await this.app.reloadModels();
      fill(this.uploadResult, note("ok", done), h("ul", {}, report.models.map((m) => h("li", {}, h("code", {}, m)))), report.evolution.map(evolutionReport));
    } catch (error) {
      const errors = error.details?.errors;
      if (!errors) {
        fill(this.uploadResult, note("error", `${error.code}: ${error.message}`));
        return;
      }
      fill(this.uploadResult, note("error", `${errors.length} error${errors.length === 1 ? "" : "s"}: nothing was ${dryRun ? "checked further" : "uploaded"}.`),
        await errorsInFiles(files, errors));
    }
  }
}

/** Each file with an error, its text with line numbers, and each error under its line. */
async function errorsInFiles(files, errors) {
  const { default: jsonMap } = await import("json-source-map");
  const texts = new Map(await Promise.all(files.filter((f) => !f.name.endsWith(".zip")).map(async (f) => [f.name, await f.text()])));
  const byFile = Map.groupBy ? Map.groupBy(errors, (e) => e.file) : group(errors);
  return [...byFile.entries()].map(([file, found]) => {
    const text = texts.get(file);
    if (text === undefined) {
      return h("div", { class: "file-errors" }, h("h4", {}, file), h("ul", {}, found.map((e) => h("li", {}, h("code", {}, e.path || "/"), ` ${e.code}: ${e.message}`))));
    }
    const lines = text.split("\n");
    const at = new Map();
    for (const e of found) {
      const line = lineOf(jsonMap, text, e.path, e.message);
      if (!at.has(line)) at.set(line, []);
      at.get(line).push(e);
    }
    return h("div", { class: "file-errors", dataset: { file } }, h("h4", {}, file),
      h("ol", { class: "source" }, lines.map((content, i) => [
        h("li", { class: at.has(i) ? "has-error" : "", dataset: { line: i + 1 } }, h("code", {}, content || " ")),
        at.has(i) ? at.get(i).map((e) => h("li", { class: "error-at", dataset: { line: i + 1 } }, `▲ line ${i + 1}, ${e.path || "/"}: ${e.code}: ${e.message}`)) : null,
      ])));
  });
}

/** A DTDL schema in a few words: "double", "enum (constant | normal)", "array of double". */
function schemaText(schema) {
  if (schema === null || schema === undefined) return "";
  if (typeof schema !== "object") return show(schema);
  switch (schema["@type"]) {
    case "Enum":
      return `enum (${schema.enumValues.map((v) => v.name).join(" | ")})`;
    case "Object":
      return `object {${schema.fields.map((f) => f.name).join(", ")}}`;
    case "Array":
      return `array of ${schemaText(schema.elementSchema)}`;
    case "Map":
      return `map of ${schemaText(schema.mapValue?.schema)}`;
    default:
      return show(schema);
  }
}

function group(errors) {
  const map = new Map();
  for (const e of errors) map.set(e.file, [...(map.get(e.file) ?? []), e]);
  return map;
}

/** The 0-based line a JSON Pointer points at in ``text`` (its nearest existing ancestor), else line 0. */
function lineOf(jsonMap, text, pointer, message) {
  let pointers;
  try {
    pointers = jsonMap.parse(text).pointers;
  } catch (error) {
    // Not JSON at all: the parser's position (ours or the server's message) gives the line.
    const position = /position (\d+)/.exec(error.message)?.[1];
    if (position !== undefined) return text.slice(0, Number(position)).split("\n").length - 1;
    const line = /line (\d+)/.exec(message)?.[1];
    return line ? Number(line) - 1 : 0;
  }
  for (let at = pointer ?? ""; ; at = at.slice(0, at.lastIndexOf("/"))) {
    const found = pointers[at];
    if (found) return (found.key ?? found.value).line;
    if (!at) return 0;
  }
}

function evolutionReport(report) {
  const blocked = report.blocked ?? [];
  return h("div", { class: "evolution" },
    h("p", {}, h("strong", {}, `${report.from} → ${report.to}: `),
      `${report.twins} twin(s); ${report.ready} would move, ${report.blockedCount} would break${report.truncated ? " (first 1,000 listed)" : ""}.`),
    blocked.length
      ? h("ul", {}, blocked.map((b) => h("li", {}, h("code", {}, b.twinId), ": ", b.issues.map((i) => `${i.path || "/"} ${i.code}: ${i.message}`).join("; "))))
      : null);
}

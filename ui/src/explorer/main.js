// The kgtwin explorer: one page, five panels (twins, models, Cypher, simulations, system).
// It asks for an API key when the service needs one, and leaves out what the key's roles
// may not do (GET /me says which permissions they grant).
import "./style.css";
import { ApiError, rest, session } from "./api.js";
import { CypherPanel } from "./cypher.js";
import { fill, h } from "./dom.js";
import { GraphPanel } from "./graph.js";
import { Inspector } from "./inspector.js";
import { ModelIndex } from "./models-index.js";
import { ModelsPanel } from "./models.js";
import { openingRequests } from "./opening.js";
import { SimulationsPanel } from "./simulations.js";
import { SystemPanel } from "./system.js";

const $ = (selector) => document.querySelector(selector);

const app = {
  permissions: new Set(),
  roles: [],
  selected: null,
  models: null,

  can(permission) {
    return this.permissions.has(permission);
  },

  /** Inspect twin ``id`` (and show the twins panel). */
  select(id) {
    this.selected = id;
    if (!location.hash.startsWith("#twins")) location.hash = "#twins";
    this.graph.select(id);
    this.inspector.show(id);
  },

  simulateFrom(id) {
    this.simulations.from(id);
    location.hash = "#simulations";
  },

  async reloadModels() {
    this.models = await ModelIndex.load();
    this.modelsPanel.render();
    this.graph.fillModelFilter();
  },
};

/** Who is calling (``pending``: the answer to a request sent already); asks for an API key until the service accepts one. */
async function identify(pending) {
  for (let asked = pending; ; asked = null) {
    try {
      return await (asked ?? rest("me"));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      session.key = await askForKey(session.key ? `${error.message}` : "");
    }
  }
}

function askForKey(problem) {
  const dialog = $("#key-dialog");
  $("#key-error").textContent = problem;
  $("#key-input").value = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve($("#key-input").value.trim()), { once: true });
  });
}

function showWho(me) {
  const forget = session.key
    ? h("button", { type: "button", class: "link", onclick: () => ((session.key = null), location.reload()) }, "forget key")
    : null;
  fill($("#who"), h("span", { title: me.permissions.join(", ") }, `${me.name} (${me.roles.join(", ") || "no role"})`), " ", forget);
}

function route() {
  const [panel, ...rest] = (location.hash.slice(1) || "twins").split("/");
  const name = ["twins", "models", "cypher", "simulations", "system"].includes(panel) ? panel : "twins";
  for (const section of document.querySelectorAll("main > .panel")) section.hidden = section.id !== `panel-${name}`;
  for (const link of document.querySelectorAll("#tabs a")) link.classList.toggle("current", link.hash === `#${name}`);
  if (name === "models" && rest.length) app.modelsPanel.open(decodeURIComponent(rest.join("/")));
  if (name === "simulations") app.simulations.show();
  if (name === "system") app.system.show();
  if (name === "twins") app.graph.cy?.resize();
}

async function start() {
  // Sent by boot.js while this script loaded, before the caller is known: the graph is drawn
  // a round trip sooner. With auth on they are refused, and asked again once there is a key.
  const early = (window.kgtwinOpening ??= openingRequests());
  let me;
  try {
    me = await identify(early.me);
    app.models = await ModelIndex.load(early.models).catch(() => ModelIndex.load());
  } catch (error) {
    fill($("main"), h("div", { class: "note error", role: "alert" }, `The explorer cannot reach this twin: ${error.message}`));
    return;
  }
  app.permissions = new Set(me.permissions);
  app.roles = me.roles;
  document.body.dataset.roles = me.roles.join(" ");
  showWho(me);
  app.inspector = new Inspector($("#inspector"), app);
  app.graph = new GraphPanel($("#graph"), app);
  app.modelsPanel = new ModelsPanel($("#panel-models"), app);
  app.modelsPanel.render();
  app.cypher = new CypherPanel($("#panel-cypher"), app);
  app.simulations = new SimulationsPanel($("#panel-simulations"), app);
  app.system = new SystemPanel($("#panel-system"), app);
  window.addEventListener("hashchange", route);
  route();
  await app.graph.load(early.overview.catch(() => null));
  const twin = new URLSearchParams(location.search).get("twin");
  if (twin) app.select(twin);
}

start();

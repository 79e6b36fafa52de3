// The twin's own deployment in the five dimensions of a digital twin, from GET /system
// (and /readyz behind it): physical entities, virtual models, data, services, connection.
import { rest } from "./api.js";
import { ago, fill, h, note, show } from "./dom.js";

const EVERY_MS = 5000;

export class SystemPanel {
  constructor(root, app) {
    this.app = app;
    this.cards = h("div", { class: "cards", id: "system-cards" });
    this.head = h("p", { class: "muted", id: "system-head" }, "Reading…");
    fill(root, h("h2", {}, "System"), this.head, this.cards);
    this.previous = null;
  }

  show() {
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => (document.hidden || location.hash !== "#system" ? null : this.refresh()), EVERY_MS);
  }

  async refresh() {
    let report;
    try {
      report = await rest("system");
    } catch (error) {
      fill(this.cards, note("error", `The service did not describe itself: ${error.message}`));
      return;
    }
    const now = performance.now();
    const physical = report.physical;
    let rate = null;
    if (physical && this.previous?.physical) {
      rate = ((physical.messages - this.previous.physical.messages) * 1000) / (now - this.previous.at);
    }
    this.previous = { physical, at: now };
    this.head.textContent = `kgtwin ${report.version}, ${report.profile === "edge" ? "edge profile (kgtwin serve: one process)" : "microservices profile (kgtwin api)"}, up ${duration(report.uptimeS)}.`;
    const v = report.virtual;
    const runs = v.runs;
    fill(
      this.cards,
      card("physical", "Physical entities", "devices publishing over MQTT, as ingest sees them",
        physical
          ? [
              row("devices seen", physical.devices),
              row("messages", physical.messages),
              row("messages per second", rate === null ? "…" : rate.toFixed(1)),
              row("values stored", physical.values),
              row("dead letters", Object.values(physical.deadLetters).reduce((a, b) => a + b, 0)),
              Object.entries(physical.deadLetters).map(([reason, count]) => row(`  ${reason}`, count)),
              row("points spooled to disk", physical.spooledPoints),
            ]
          : h("p", { class: "muted" }, "Ingest runs in another process (kgtwin ingest): see its /metrics.")),
      card("virtual", "Virtual models", "the ontology, the twin graph and simulations",
        row("models", `${v.models}${v.decommissionedModels ? ` (${v.decommissionedModels} decommissioned)` : ""}`),
        row("twins", v.twins), row("relationships", v.relationships),
        runs ? [row("runs queued", runs.queued), row("runs running", runs.running),
          h("ul", { class: "history" }, runs.recent.map((r) => h("li", {}, `${r.model} ${r.status} · ${ago(r.createdAt)}`)))] : null),
      card("data", "Data", "where the twin and its time series are kept",
        report.data.backends.map((b) => health(b.port, b.backend, b.ok, b.error))),
      card("services", "Services", "the processes serving this twin",
        report.services.map((s) => h("div", { class: "kv" }, h("span", {}, h("span", { class: `dot ${s.state === "running" ? "ok" : s.state === "elsewhere" ? "idle" : "bad"}` }), s.name),
          h("span", {}, `${s.state}${s.detail ? `, ${s.detail}` : ""}${s.state === "elsewhere" ? "" : ` (pid ${s.pid})`}`)))),
      card("connection", "Connection", "between the physical and the virtual twin",
        report.connection.broker ? health("broker", `${report.connection.broker.backend} ${report.connection.broker.address ?? ""}`, report.connection.broker.ok, report.connection.broker.error) : h("p", { class: "muted" }, "no broker configured"),
        row("live telemetry subscriptions", report.connection.telemetrySubscriptions ?? "–")),
    );
  }
}

function card(id, title, about, ...children) {
  return h("section", { class: "card", id: `dimension-${id}` }, h("h3", {}, title), h("p", { class: "muted small" }, about), children);
}

function row(label, value) {
  return h("div", { class: "kv" }, h("span", {}, label), h("span", { class: "num" }, show(value)));
}

function health(port, backend, ok, error) {
  return h("div", { class: "kv" }, h("span", {}, h("span", { class: `dot ${ok ? "ok" : "bad"}` }), port), h("span", {}, ok ? backend : `${backend}: ${error}`));
}

function duration(seconds) {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

// Small helpers to build the DOM without a framework: h("div", {class: "x", onclick}, child, ...).

/** An element with properties, attributes, listeners (on*) and children (nodes, text, arrays; null skipped). */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(element.style, value);
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

/** Replace the children of ``element``. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A value as a short text: numbers to six significant digits, objects as compact JSON. */
export function show(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A count with thousands separated: 12,345. (Not toLocaleString: its first call loads the
 * locale data, a fifth of a second before the first drawing.) */
export function count(n) {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** "12 s ago", "3 min ago", or the date. */
export function ago(time) {
  const seconds = Math.round((Date.now() - new Date(time).getTime()) / 1000);
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return new Date(time).toLocaleString();
}

/** An estimate {mean, ci95} as "41.31 ± 0.4213" (four significant digits). */
export function estimate(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "object") return show(value);
  const brief = (v) => (typeof v === "number" ? String(Number(v.toPrecision(4))) : show(v));
  return value.ci95 === null || value.ci95 === undefined ? brief(value.mean) : `${brief(value.mean)} ± ${brief(value.ci95)}`;
}

/** A message box: kind is "error", "warning", "ok" or "info". */
export function note(kind, ...children) {
  return h("div", { class: `note ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

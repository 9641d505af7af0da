// Building the page from data without ever parsing data as markup: every string goes in
// through textContent or setAttribute, never through an HTML parser.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(node, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An HTML element: el("a", {href: "/x", text: name}), children as nodes or plain text. */
export function el(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element (attributes set as given; text through the "text" key). */
export function svg(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replace everything inside a node. */
export function replace(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

/** A table in a region that scrolls sideways when it is wider than the page: the region is
 * reachable by keyboard (to scroll it) and named by ``label``; the caption is for screen
 * readers only. ``parts``: the table's head and body. */
export function scrollingTable(label, tableClass, caption, ...parts) {
  return el(
    "div",
    { class: "table-scroll", tabindex: "0", role: "region", "aria-label": label },
    el("table", { class: tableClass }, el("caption", { class: "visually-hidden", text: caption }), ...parts),
  );
}

/** Say something to screen readers once (the page's polite live region). */
export function announce(message) {
  const region = document.getElementById("announcer");
  if (region) region.textContent = message;
}

export function setConnection(text, ok) {
  const node = document.getElementById("connection");
  if (!node) return;
  node.textContent = text;
  node.classList.toggle("bad", !ok);
}

// --- figures ---------------------------------------------------------------------------

const DASH = "–";

export function finite(value) {
  return typeof value === "number" && Number.isFinite(value);
}

export function number(value, digits = 2) {
  return finite(value) ? value.toFixed(digits) : DASH;
}

export function percent(fraction, digits = 1) {
  return finite(fraction) ? `${(fraction * 100).toFixed(digits)}%` : DASH;
}

/** A signed percentage with a true minus sign: +4.1%, −1.2% (a hyphen reads as a dash). */
export function signedPercent(fraction, digits = 1) {
  if (!finite(fraction)) return DASH;
  const text = `${Math.abs(fraction * 100).toFixed(digits)}%`;
  return fraction < 0 && Number(text.slice(0, -1)) !== 0 ? `\u2212${text}` : `+${text}`;
}

/** An estimate with its interval: "+4.1% [−1.2%, +9.0%]"; a dash without the estimate. */
export function intervalText(estimate, low, high) {
  if (!finite(estimate)) return DASH;
  const range = finite(low) && finite(high) ? ` [${signedPercent(low)}, ${signedPercent(high)}]` : "";
  return signedPercent(estimate) + range;
}

export function duration(seconds) {
  if (!finite(seconds) || seconds < 0) return DASH;
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

export function when(iso) {
  if (!iso) return DASH;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? DASH : date.toLocaleString();
}

/** Seconds between two ISO times (or from one to now), null if either is missing. */
export function secondsBetween(startIso, endIso) {
  if (!startIso) return null;
  const start = Date.parse(startIso);
  const end = endIso ? Date.parse(endIso) : Date.now();
  return Number.isNaN(start) || Number.isNaN(end) ? null : Math.max(0, (end - start) / 1000);
}

/** A progress bar with its accessible name and value. */
export function progressBar(percentage, label) {
  const bar = el("progress", { max: "100", "aria-label": label });
  setProgress(bar, percentage);
  return bar;
}

export function setProgress(bar, percentage) {
  const value = finite(percentage) ? Math.max(0, Math.min(100, percentage)) : 0;
  bar.value = value;
  bar.setAttribute("aria-valuenow", value.toFixed(0));
  bar.textContent = `${value.toFixed(0)}%`;
}

export function statusBadge(status) {
  return el("span", { class: `status status-${status}`, text: status });
}

export function operationLink(id, text) {
  return el("a", { href: `/operations/${encodeURIComponent(id)}`, text: text || id });
}

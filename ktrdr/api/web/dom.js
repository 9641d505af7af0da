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

// --- time ------------------------------------------------------------------------------
// One way to write a span of time and one way to write a moment, on every page: a view never
// formats time itself.

const pad2 = (n) => String(n).padStart(2, "0");

/** A span of time: "0.4 s", "42 s", "7 min 05 s", "1 h 05 min" (under a tenth of a second,
 * "<0.1 s"). ``coarse`` writes an estimate at the precision it has, in the same words: whole
 * seconds up to 99 s, then whole minutes ("3 min"), then "1 h 05 min". */
export function duration(seconds, coarse = false) {
  if (!finite(seconds) || seconds < 0) return DASH;
  if (!coarse && seconds < 9.95) return seconds < 0.05 ? "<0.1 s" : `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < (coarse ? 100 : 60)) return `${whole} s`;
  const minutes = coarse ? Math.round(whole / 60) : Math.floor(whole / 60);
  if (minutes < 60) return coarse ? `${minutes} min` : `${minutes} min ${pad2(whole % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${pad2(minutes % 60)} min`;
}

/** A moment in local time, the same in every locale: "2026-12-06 19:04". */
export function when(iso) {
  const date = iso ? new Date(iso) : null;
  if (!date || Number.isNaN(date.getTime())) return DASH;
  const day = `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())}`;
  return `${day} ${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
}

/** A moment as an element: ``when(iso)`` shown, the full ISO time as sent in its title. */
export function timeTag(iso) {
  const shown = when(iso);
  return shown === DASH ? el("span", { text: DASH }) : el("time", { datetime: iso, title: iso, text: shown });
}

/** Text that may wrap only after its underscores (an id, a strategy name): its parts with a
 * <wbr> after each "_", so a line never ends inside a part. */
export function breakable(text) {
  const parts = String(text).split(/(?<=_)/);
  return parts.flatMap((part, i) => (i < parts.length - 1 ? [part, document.createElement("wbr")] : [part]));
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

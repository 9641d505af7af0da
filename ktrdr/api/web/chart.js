// Line charts drawn by uPlot (shipped in the package: uPlot.iife.min.js, MIT, see uPlot-LICENSE.txt).
// This module decides what the charts say (axis titles, tick and readout formats, the trade
// marks' track, the smoothing toggle, the loading and no-data states); uPlot draws them on a
// canvas and gives the hover readout (its legend), drag-to-zoom and double-click reset.
// uPlot sets element styles through the CSSOM (never style attributes in markup, never markup
// parsed from strings), which the page's CSP allows; every text here goes in as textContent.

const uPlot = window.uPlot; // set by uPlot.iife.min.js, a classic script index.html runs first
import { el, finite, replace } from "./dom.js";

const HEIGHT = 220;
const DASH = "–";
const EMA_ALPHA = 0.25; // weight of the newest epoch in the smoothed curve
const MARK_GAP_PX = 6; // marks closer than this on one row of the track are thinned
const TRACK_PX = 26; // room kept under the lowest value for the trade marks' track
// --c1 … --c5: one colour per compared cycle (a series names its own with ``colour``).
const SCALE_COLOURS = ["--s1", "--s2", "--s3", "--area", "--muted", "--line", "--fg", "--bg", "--ok", "--bad", "--c1", "--c2", "--c3", "--c4", "--c5"];
const MARK_KINDS = [
  ["long", "▲", "Long entry"],
  ["short", "▼", "Short entry"],
  ["exit", "○", "Exit"],
];

const groupedFormats = new Map();
/** A number with thousands separators and a fixed count of decimals: 25,000 or 0.125. */
export function grouped(value, digits = 0) {
  if (!finite(value)) return DASH;
  if (!groupedFormats.has(digits)) {
    const options = { minimumFractionDigits: digits, maximumFractionDigits: digits };
    groupedFormats.set(digits, new Intl.NumberFormat("en-US", options));
  }
  const text = groupedFormats.get(digits).format(value);
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text; // a rounded zero has no sign
}

/** Decimals that tell ticks ``step`` apart: 25,000 / 0.5 / 0.05. */
export function stepDigits(step) {
  return finite(step) && step > 0 ? Math.min(6, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))) : 0;
}

export const FORMATS = {
  // Ticks get as many decimals as their spacing needs, the readout a fixed precision.
  money: { tick: (v, step) => grouped(v, stepDigits(step)), readout: (v) => grouped(v, 2) },
  percent: {
    tick: (v, step) => `${grouped(v * 100, stepDigits(step * 100))}%`,
    readout: (v) => `${grouped(v * 100, 2)}%`,
  },
  plain: { tick: (v, step) => grouped(v, stepDigits(step)), readout: (v) => grouped(v, 4) },
};

export function shortDate(ms) {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString().slice(0, 10);
}

/** The index of the last timestamp at or before ``t`` in a sorted list (binary search). */
export function indexAtOrBefore(times, t) {
  let lo = 0;
  let hi = times.length - 1;
  if (hi < 0 || t < times[0]) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** An exponential moving average that steps over missing values (they stay missing). */
export function ema(values, alpha = EMA_ALPHA) {
  let level = null;
  return values.map((v) => {
    if (!finite(v)) return null;
    level = level === null ? v : alpha * v + (1 - alpha) * level;
    return level;
  });
}

function palette(node) {
  const style = getComputedStyle(node);
  return Object.fromEntries(SCALE_COLOURS.map((name) => [name, style.getPropertyValue(name).trim()]));
}

/**
 * spec = {
 *   id, label: accessible name, summary: one sentence of what it shows (screen readers),
 *   time: x are times in ms (else epochs), x: numbers, xTitle, yTitle,
 *   format: "money" | "percent" | "plain" (ticks and readout of the y values),
 *   series: [{name, values, cls, smooth, colour: "--c1" (else by cls), dashed}],
 *   area: {name, values, cls} (filled up to 0),
 *   markers: [{index, cls: "long"|"short"|"exit", label}], smoothing: offer the EMA toggle,
 *   loading: data not read yet, emptyText: what to say when there is nothing to draw,
 * }
 * The figure's ``plot`` is the uPlot instance (null while loading or empty); ``redraw(next)``
 * merges ``next`` into the spec and draws again.
 */
export function chartFigure(spec) {
  const holder = el("div", { class: "chart-box", role: "img" });
  const marksNote = el("span", { class: "marks-note" });
  const smooth = el("input", { type: "checkbox", class: "smooth-toggle" });
  const figure = el(
    "figure",
    { class: "chart", "data-chart": spec.id || "" },
    el("figcaption", {}, el("strong", { text: spec.label }), el("span", { class: "chart-tools" })),
    holder,
    el("p", { class: "visually-hidden" }),
  );
  const state = { spec, holder, figure, marksNote, smooth, width: 0, shown: false };
  smooth.addEventListener("change", () => build(state));
  figure.plot = null;
  figure.redraw = (next) => {
    Object.assign(spec, next);
    update(state);
  };
  const scheme = matchMedia("(prefers-color-scheme: dark)");
  // Colours come from the page's CSS variables: a new colour scheme draws the chart again
  // (and a figure taken off the page lets go of the listener).
  const recolour = () => {
    if (figure.isConnected) build(state);
    else if (state.shown) scheme.removeEventListener("change", recolour);
  };
  scheme.addEventListener("change", recolour);
  if (typeof ResizeObserver === "function") new ResizeObserver(() => resize(state)).observe(holder);
  // Drawn once it is in the document (its width is known).
  requestAnimationFrame(() => build(state));
  fillCaption(state);
  fillTools(state);
  return figure;
}

function fillCaption(state) {
  const { spec, figure } = state;
  figure.querySelector("figcaption + div + p").textContent = spec.summary || "";
  state.holder.setAttribute("aria-label", `${spec.label}. ${spec.summary || ""}`);
}

/** The marks' legend and the smoothing toggle, once (the toggle keeps its focus). */
function fillTools(state) {
  const { spec, figure, smooth, marksNote } = state;
  const tools = figure.querySelector(".chart-tools");
  const marks = spec.markers && spec.markers.length
    ? el(
        "ul",
        { class: "legend marks-legend", "aria-label": "Trade marks" },
        MARK_KINDS.map(([cls, glyph, name]) => el("li", {}, el("span", { class: `mark mark-${cls}`, text: glyph }), name)),
        el("li", {}, marksNote),
      )
    : null;
  const toggle = spec.smoothing ? el("label", { class: "smooth" }, smooth, " Smooth validation (EMA)") : null;
  replace(tools, marks, toggle);
}

function hasData(spec) {
  return (spec.x || []).length > 0;
}

/** New data: the same series again are handed to the plot (keeping its size), anything else
 * is built anew. */
function update(state) {
  const { spec, figure } = state;
  fillCaption(state);
  const plot = figure.plot;
  if (plot && hasData(spec) && plot.series.length === seriesOf(spec).length + 1) {
    // A reader who zoomed in keeps that view while a live training adds epochs.
    const xs = plot.data[0];
    const { min, max } = plot.scales.x;
    const zoomed = min > xs[0] || max < xs[xs.length - 1];
    plot.setData(dataOf(state));
    if (zoomed) plot.setScale("x", { min, max });
    return;
  }
  build(state);
}

function build(state) {
  const { spec, holder, figure } = state;
  if (figure.plot) figure.plot.destroy();
  figure.plot = null;
  if (!holder.isConnected) return;
  state.shown = true;
  if (spec.loading || !hasData(spec)) {
    const text = spec.loading ? "Loading…" : spec.emptyText || "No data yet.";
    replace(holder, el("p", { class: `chart-state ${spec.loading ? "chart-loading" : "chart-empty"}`, text }));
    return;
  }
  replace(holder);
  state.width = holder.clientWidth;
  const options = optionsOf(state, palette(figure), Math.max(240, state.width));
  figure.plot = new uPlot(options, dataOf(state), holder);
}

function resize(state) {
  const { holder, figure, spec } = state;
  const width = holder.clientWidth;
  if (!figure.plot) {
    if (!holder.firstChild) build(state); // it was not in the document on the first frame
    return;
  }
  if (!width || width === state.width) return;
  state.width = width;
  figure.plot.setSize({ width: Math.max(240, width), height: spec.height || HEIGHT });
}

function seriesOf(spec) {
  return (spec.series || []).concat(spec.area ? [{ ...spec.area, isArea: true }] : []);
}

function dataOf(state) {
  const { spec, smooth } = state;
  const x = spec.time ? spec.x.map((t) => t / 1000) : spec.x.slice();
  const ys = seriesOf(spec).map((s) => {
    const values = s.values.map((v) => (finite(v) ? v : null));
    return smooth.checked && s.smooth ? ema(values) : values;
  });
  return [x, ...ys];
}

function xText(spec, v) {
  if (!finite(v)) return DASH;
  return spec.time ? shortDate(v * 1000) : grouped(v, 0);
}

function optionsOf(state, colours, width) {
  const { spec, smooth } = state;
  const fmt = FORMATS[spec.format || "plain"];
  const axis = { stroke: colours["--muted"], grid: { stroke: colours["--line"], width: 1 }, ticks: { stroke: colours["--line"], width: 1 } };
  const series = seriesOf(spec).map((s) => ({
    label: smooth.checked && s.smooth ? `${s.name} (EMA)` : s.name,
    stroke: colours[s.colour || (s.isArea ? "--s3" : /hold|val/.test(s.cls) ? "--s2" : "--s1")],
    width: s.isArea ? 1 : 1.6,
    dash: s.dashed || /hold/.test(s.cls) ? [5, 3] : undefined,
    fill: s.isArea ? colours["--area"] : undefined,
    fillTo: s.isArea ? 0 : undefined,
    spanGaps: true,
    points: { fill: colours["--bg"] }, // shown when epochs are few: hollow in either scheme
    value: (u, v) => (finite(v) ? fmt.readout(v) : DASH),
  }));
  return {
    width,
    height: spec.height || HEIGHT,
    scales: { x: { time: Boolean(spec.time) }, y: { range: (u, lo, hi) => yRange(u, spec, lo, hi) } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    series: [{ label: spec.xTitle || (spec.time ? "Date" : "Epoch"), value: (u, v) => xText(spec, v) }, ...series],
    axes: [
      {
        ...axis,
        label: spec.xTitle || "",
        labelSize: 18,
        size: 34,
        space: spec.time ? 90 : 50, // px between ticks: a date is ten characters wide
        values: (u, splits) => splits.map((v) => xText(spec, v)),
      },
      {
        ...axis,
        label: spec.yTitle || "",
        labelSize: 20,
        size: (u, values) => 28 + 7 * Math.max(3, ...(values || []).map((t) => t.length)),
        values: (u, splits, i, space, step) => splits.map((v) => fmt.tick(v, step)),
      },
    ],
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    hooks: { draw: [(u) => drawMarks(state, u, colours)] },
  };
}

function yRange(u, spec, lo, hi) {
  if (!finite(lo) || !finite(hi)) return [0, 1];
  let [min, max] = spec.area ? [Math.min(lo, 0), Math.max(hi, 0)] : [lo, hi];
  if (min === max) {
    const half = Math.abs(min) * 0.05 || 0.5;
    [min, max] = [min - half, max + half];
  }
  const span = max - min;
  // The marks' track sits under the lowest value, so they never cover the line.
  const plotPx = u.bbox && u.bbox.height > 0 ? u.bbox.height / uPlot.pxRatio : (spec.height || HEIGHT) - 60;
  const share = spec.markers && spec.markers.length ? Math.min(0.4, TRACK_PX / plotPx) : 0;
  // ``share`` of the height under the lowest value (and 4% margins), solved for the range.
  const full = (span * 1.08) / (1 - share);
  return [max + span * 0.04 - full, max + span * 0.04];
}

/** Trade marks on a track along the bottom of the plot: entries on the upper row, exits on
 * the lower one; on each row a mark closer than MARK_GAP_PX to the last one drawn is left
 * out (the note says how many show at this zoom). */
function drawMarks(state, u, colours) {
  const { spec, marksNote } = state;
  const marks = spec.markers || [];
  if (!marks.length) return;
  const ratio = uPlot.pxRatio;
  const { ctx, bbox } = u;
  const xs = u.data[0];
  const rows = { entry: bbox.top + bbox.height - 17 * ratio, exit: bbox.top + bbox.height - 6 * ratio };
  const last = { entry: -Infinity, exit: -Infinity };
  let shown = 0;
  ctx.save();
  ctx.font = `${Math.round(11 * ratio)}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const m of marks) {
    if (m.index < 0 || m.index >= xs.length) continue;
    const x = u.valToPos(xs[m.index], "x", true);
    const row = m.cls === "exit" ? "exit" : "entry";
    if (x < bbox.left || x > bbox.left + bbox.width || x - last[row] < MARK_GAP_PX * ratio) continue;
    last[row] = x;
    shown += 1;
    const glyph = MARK_KINDS.find(([cls]) => cls === m.cls) || MARK_KINDS[2];
    ctx.fillStyle = m.cls === "long" ? colours["--ok"] : m.cls === "short" ? colours["--bad"] : colours["--fg"];
    ctx.fillText(glyph[1], x, rows[row]);
  }
  ctx.restore();
  const trades = marks.filter((m) => m.cls !== "exit").length;
  marksNote.textContent = `${grouped(trades)} trades; ${grouped(shown)} of ${grouped(marks.length)} marks shown at this zoom`;
  state.figure.dataset.marksShown = String(shown);
}

// Line charts drawn as inline SVG: axes with a few round ticks, one polyline per series,
// an optional filled area (drawdown) and point markers (trades). Each chart is a figure
// with an accessible name and a text summary, and redraws itself when its width changes.

import { el, finite, replace, svg } from "./dom.js";

const HEIGHT = 220;
const PAD = { top: 12, right: 14, bottom: 26, left: 56 };

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit >= 5 ? 10 : unit >= 2 ? 5 : unit >= 1 ? 2 : 1) * power;
}

function ticks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, count);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return out;
}

function extent(values, seed) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!finite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  for (const v of seed || []) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - Math.abs(lo || 1) * 0.05, hi + Math.abs(hi || 1) * 0.05];
  const margin = (hi - lo) * 0.04;
  return [lo - margin, hi + margin];
}

/**
 * spec = {
 *   label: accessible name, summary: one sentence of what it shows (read by screen readers),
 *   x: numbers (epochs, or times in ms), xFormat(v) -> text, yFormat(v) -> text,
 *   series: [{name, values, cls}], area: {values, cls} (filled down to 0),
 *   markers: [{index, value, cls, label}], yInclude: [values the y range must include],
 * }
 */
export function chartFigure(spec) {
  const holder = el("div", { class: "chart-box" });
  const legend = el("ul", { class: "legend", "aria-hidden": "true" });
  const fillLegend = () =>
    replace(
      legend,
      (spec.series || []).concat(spec.area ? [spec.area] : []).map((s) =>
        el("li", {}, el("span", { class: `swatch ${s.cls}` }), s.name),
      ),
    );
  fillLegend();
  const figure = el(
    "figure",
    { class: "chart", "data-chart": spec.id || "" },
    el("figcaption", {}, el("strong", { text: spec.label }), legend),
    holder,
    el("p", { class: "visually-hidden", text: spec.summary }),
  );
  let lastWidth = 0;
  const draw = () => {
    const width = Math.max(260, Math.round(holder.clientWidth || 600));
    if (width === lastWidth) return;
    lastWidth = width;
    replace(holder, plot(spec, width));
  };
  figure.redraw = (next) => {
    Object.assign(spec, next);
    fillLegend();
    lastWidth = 0;
    draw();
    figure.querySelector("figcaption + div + p").textContent = spec.summary;
  };
  // Drawn once it is in the document (its width is known), and again on resize.
  requestAnimationFrame(draw);
  if (typeof ResizeObserver === "function") new ResizeObserver(() => draw()).observe(holder);
  return figure;
}

function plot(spec, width) {
  const height = spec.height || HEIGHT;
  const xs = spec.x || [];
  const innerW = width - PAD.left - PAD.right;
  const innerH = height - PAD.top - PAD.bottom;
  const all = [];
  for (const s of spec.series || []) all.push(...s.values);
  if (spec.area) all.push(...spec.area.values, 0);
  const [ylo, yhi] = extent(all, spec.yInclude);
  const [xlo, xhi] = xs.length > 1 ? [xs[0], xs[xs.length - 1]] : [0, 1];
  const sx = (v) => PAD.left + ((v - xlo) / (xhi - xlo || 1)) * innerW;
  const sy = (v) => PAD.top + (1 - (v - ylo) / (yhi - ylo || 1)) * innerH;
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width: String(width),
    height: String(height),
    role: "img",
    "aria-label": `${spec.label}. ${spec.summary}`,
    class: "plot",
  });
  const grid = svg("g", { class: "grid" });
  for (const t of ticks(ylo, yhi, 4)) {
    const y = sy(t).toFixed(1);
    grid.append(
      svg("line", { x1: PAD.left, x2: width - PAD.right, y1: y, y2: y }),
      svg("text", { x: PAD.left - 6, y, dy: "0.32em", "text-anchor": "end", text: spec.yFormat(t) }),
    );
  }
  const xTicks = xs.length > 1 ? ticks(xlo, xhi, Math.max(2, Math.floor(innerW / 110))) : [];
  const shownX = spec.xTicks ? spec.xTicks(xlo, xhi, innerW) : xTicks;
  shownX.forEach((t, i) => {
    // The end labels align inward so they are never cut at the edges.
    const anchor = i === 0 && spec.xTicks ? "start" : i === shownX.length - 1 && spec.xTicks ? "end" : "middle";
    grid.append(
      svg("text", { x: sx(t).toFixed(1), y: height - 8, "text-anchor": anchor, text: spec.xFormat(t) }),
    );
  });
  root.append(grid);
  if (spec.area && xs.length) {
    const pts = xs.map((x, i) => `${sx(x).toFixed(1)},${sy(spec.area.values[i] ?? 0).toFixed(1)}`);
    const zero = sy(0).toFixed(1);
    const d = `M${sx(xs[0]).toFixed(1)},${zero}L${pts.join("L")}L${sx(xs[xs.length - 1]).toFixed(1)},${zero}Z`;
    root.append(svg("path", { d, class: `area ${spec.area.cls}` }));
  }
  for (const s of spec.series || []) {
    const pts = [];
    s.values.forEach((v, i) => {
      if (finite(v) && i < xs.length) pts.push(`${sx(xs[i]).toFixed(1)},${sy(v).toFixed(1)}`);
    });
    if (pts.length === 1) {
      const [cx, cy] = pts[0].split(",");
      root.append(svg("circle", { cx, cy, r: 3, class: `dot ${s.cls}` }));
    }
    root.append(svg("polyline", { points: pts.join(" "), class: `line ${s.cls}` }));
  }
  const marks = svg("g", { class: "markers" });
  for (const m of spec.markers || []) {
    if (m.index < 0 || m.index >= xs.length || !finite(m.value)) continue;
    const x = sx(xs[m.index]);
    const y = sy(m.value);
    const title = svg("title", { text: m.label });
    if (m.cls.includes("exit")) {
      marks.append(svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 3, class: `marker ${m.cls}` }, title));
      continue;
    }
    // A long entry points up from under the curve, a short one down from above it.
    const d = m.cls.includes("short")
      ? `M${x.toFixed(1)},${(y - 2).toFixed(1)}l-4,-8h8z`
      : `M${x.toFixed(1)},${(y + 2).toFixed(1)}l-4,8h8z`;
    marks.append(svg("path", { d, class: `marker ${m.cls}` }, title));
  }
  root.append(marks);
  return root;
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

export function dateTicks(lo, hi, innerW) {
  const count = Math.max(2, Math.floor(innerW / 120));
  const out = [];
  for (let i = 0; i <= count; i++) out.push(lo + ((hi - lo) * i) / count);
  return out;
}

export function shortDate(ms) {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString().slice(0, 10);
}

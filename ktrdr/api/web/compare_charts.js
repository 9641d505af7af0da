// The compared cycles' curves on shared axes, each cycle in its own colour: equity over its
// first value (so every line starts at 1.0) with buy-and-hold, and the validation loss
// and accuracy of each cycle's training per epoch.

import { chartFigure } from "./chart.js";
import { finite } from "./dom.js";
import { ratio } from "./figures.js";

const SAME = 1e-9; // relative difference under which two buy-and-hold curves are one

/** One x axis for several curves: the union of their xs, sorted, and each curve's values
 * placed on it (null where a curve has no point). */
export function align(curves) {
  const x = [...new Set(curves.flatMap((c) => c.x))].sort((a, b) => a - b);
  const at = new Map(x.map((v, i) => [v, i]));
  const values = curves.map((c) => {
    const placed = new Array(x.length).fill(null);
    c.x.forEach((v, i) => {
      placed[at.get(v)] = finite(c.values[i]) ? c.values[i] : null;
    });
    return placed;
  });
  return { x, values };
}

/** A curve over its first value: every line starts at 1.0 (a cost paid on the first bar
 * would otherwise start it at 0.999). */
function relative(values) {
  const first = values.find((v) => finite(v) && v !== 0);
  return values.map((v) => (finite(v) && first ? v / first : null));
}

function holdEnd(series) {
  const hold = relative(series.buy_and_hold || []);
  return hold.length ? hold[hold.length - 1] : null;
}

function sameHold(a, b) {
  const key = (s) => [s.symbol, s.timeframe, s.bars, s.timestamps[0], s.timestamps[s.timestamps.length - 1]].join("|");
  return key(a) === key(b) && Math.abs(holdEnd(a) - holdEnd(b)) <= SAME * Math.abs(holdEnd(a));
}

/** The cycles grouped by their buy-and-hold: one group for cycles tested on the same market
 * and bars with the same buy-and-hold outcome (one line stands for all of them). */
export function holdGroups(cycles) {
  const groups = [];
  for (const c of cycles) {
    if (!finite(holdEnd(c.series))) continue;
    const group = groups.find((g) => sameHold(g[0].series, c.series));
    if (group) group.push(c);
    else groups.push([c]);
  }
  return groups;
}

function curve(series, key) {
  return { x: series.timestamps.map((t) => Date.parse(t)), values: relative(series[key] || []) };
}

/** The equity chart: a line per cycle, and buy-and-hold (dashed) once for the cycles that
 * share it: grey when it stands for several, else in the cycle's colour. */
export function equityChart(cycles) {
  const drawn = cycles.filter((c) => c.series && (c.series.timestamps || []).length);
  const curves = drawn.map((c) => ({ ...curve(c.series, "equity"), name: c.label, colour: c.colour }));
  const groups = holdGroups(drawn);
  for (const group of groups) {
    const whose = group.length === drawn.length && drawn.length > 1 ? "all" : group.map((c) => c.short).join(", ");
    const colour = group.length > 1 ? "--muted" : group[0].colour;
    curves.push({ ...curve(group[0].series, "buy_and_hold"), name: `Buy and hold · ${whose}`, colour, dashed: true });
  }
  const { x, values } = align(curves);
  const ends = drawn.map((c) => `${c.label} ends at ${ratio(relative(c.series.equity).at(-1), 3)}`);
  const hold = `; ${groups.length} buy-and-hold line${groups.length === 1 ? "" : "s"}, dashed (one per market and period)`;
  const figure = chartFigure({
    id: "compare-equity",
    label: "Equity, each line over its first value (all start at 1.0)",
    summary: `${ends.join("; ") || "No equity curve"}${drawn.length ? hold : ""}.`,
    time: true,
    x,
    xTitle: "Date",
    yTitle: "Growth of 1",
    format: "plain",
    series: curves.map((c, i) => ({ name: c.name, values: values[i], colour: c.colour, dashed: c.dashed, cls: c.dashed ? "s-hold" : "s-equity" })),
    emptyText: "No completed backtest among these cycles.",
  });
  figure.dataset.holdLines = String(groups.length);
  return figure;
}

/** A chart of one training figure per epoch, a line per cycle. */
function epochChart(cycles, spec) {
  const drawn = cycles.filter((c) => c.history && (c.history.epochs || []).length);
  const curves = drawn.map((c) => ({ x: c.history.epochs.map((e) => e.epoch), values: c.history.epochs.map((e) => e[spec.key]) }));
  const { x, values } = align(curves);
  const counts = drawn.map((c) => `${c.label}: ${c.history.epochs_total ?? c.history.epochs.length} epochs`);
  return chartFigure({
    id: spec.id,
    label: spec.label,
    summary: `${spec.label} of ${drawn.length} cycles (${counts.join("; ")}).`,
    x,
    xTitle: "Epoch",
    yTitle: spec.yTitle,
    format: spec.format,
    smoothing: true,
    series: drawn.map((c, i) => ({ name: c.label, values: values[i], colour: c.colour, cls: "s-val", smooth: true })),
    emptyText: "No training epochs among these cycles.",
  });
}

/** Validation loss and validation accuracy per epoch, overlaid. */
export function trainingCharts(cycles) {
  return [
    epochChart(cycles, { id: "compare-loss", key: "val_loss", label: "Validation loss per epoch", yTitle: "Loss", format: "plain" }),
    epochChart(cycles, { id: "compare-accuracy", key: "val_accuracy", label: "Validation accuracy per epoch", yTitle: "Accuracy", format: "percent" }),
  ];
}

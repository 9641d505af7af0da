// A backtest: its equity curve with buy-and-hold on the same bars, the drawdown under it,
// its trades marked on the curve, and its metrics beside.

import { getData } from "./api.js";
import { chartFigure, grouped, indexAtOrBefore, shortDate } from "./chart.js";
import { el, finite, operationLink, replace, statusBadge, when } from "./dom.js";
import { pct, ratio } from "./figures.js";

const MAX_POINTS = 2000;

/** The backtest's series: equity, buy-and-hold and drawdown on the same bars (at most
 * MAX_POINTS of them, extremes kept), its trades, metrics and buy-and-hold's figures. */
export function loadSeries(id) {
  return getData(`/backtests/${encodeURIComponent(id)}/series?max_points=${MAX_POINTS}`);
}

function money(v) {
  return grouped(v, 0);
}

/** The equity chart (with buy-and-hold and a track of trade marks) and the drawdown chart. */
export function equityFigures(series) {
  const times = series.timestamps.map((t) => Date.parse(t));
  const markers = [];
  for (const trade of series.trades || []) {
    const entry = indexAtOrBefore(times, Date.parse(trade.entry_time));
    const exit = indexAtOrBefore(times, Date.parse(trade.exit_time));
    const what = `${trade.direction} ${shortDate(Date.parse(trade.entry_time))} → ${shortDate(
      Date.parse(trade.exit_time),
    )}, ${pct(trade.return)}`;
    markers.push({ index: entry, cls: trade.direction === "short" ? "short" : "long", label: `Entry: ${what}` });
    markers.push({ index: exit, cls: "exit", label: `Exit: ${what}` });
  }
  markers.sort((a, b) => a.index - b.index);
  const first = series.equity[0];
  const last = series.equity[series.equity.length - 1];
  const hold = series.buy_and_hold || [];
  const holdLast = hold.length ? hold[hold.length - 1] : null;
  const span = `${shortDate(times[0])} to ${shortDate(times[times.length - 1])}`;
  const common = { time: true, x: times, xTitle: "Date", emptyText: "No bars in this backtest." };
  const equity = chartFigure({
    ...common,
    id: "equity",
    label: "Equity",
    summary:
      `Equity from ${money(first)} to ${money(last)} over ${series.bars ?? times.length} bars, ${span}` +
      (holdLast !== null ? `; buy-and-hold ends at ${money(holdLast)}` : "") +
      `; ${(series.trades || []).length} trades marked.`,
    yTitle: "Equity",
    format: "money",
    series: [
      { name: "Strategy equity", values: series.equity, cls: "s-equity" },
      ...(hold.length ? [{ name: "Buy and hold", values: hold, cls: "s-hold" }] : []),
    ],
    markers,
  });
  const worst = Math.min(0, ...series.drawdown.filter(finite));
  const drawdown = chartFigure({
    ...common,
    id: "drawdown",
    label: "Drawdown",
    summary: `Drawdown below the running peak of equity; deepest ${pct(worst)}.`,
    yTitle: "Drawdown",
    format: "percent",
    area: { name: "Drawdown", values: series.drawdown, cls: "s-drawdown" },
    height: 150,
  });
  return [equity, drawdown];
}

const METRICS = [
  ["total_return", "Return", pct],
  ["annualised_return", "Annualised return", pct],
  ["sharpe_ratio", "Sharpe", ratio],
  ["sortino_ratio", "Sortino", ratio],
  ["max_drawdown", "Max drawdown", pct],
  ["win_rate", "Win rate", pct],
  ["num_trades", "Trades", (v) => (finite(v) ? String(v) : "–")],
  ["profit_factor", "Profit factor", ratio],
  ["exposure", "In the market (exposure)", pct],
];

/** The metrics beside buy-and-hold's (a column only when it has figures); ``cls`` adds a
 * class to the table. */
export function metricsTable(metrics, benchmark, caption, cls) {
  const hasBench = benchmark && Object.keys(benchmark).length > 0;
  return el(
    "table",
    { class: cls ? `metrics ${cls}` : "metrics" },
    el("caption", { text: caption }),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", { scope: "col", text: "Metric" }),
        el("th", { scope: "col", text: "Strategy" }),
        hasBench ? el("th", { scope: "col", text: "Buy & hold" }) : null,
      ),
    ),
    el(
      "tbody",
      {},
      METRICS.filter(([key]) => metrics[key] !== undefined && metrics[key] !== null).map(
        ([key, label, format]) =>
          el(
            "tr",
            {},
            el("th", { scope: "row", text: label }),
            el("td", { class: "num", text: format(metrics[key]) }),
            hasBench
              ? el("td", { class: "num", text: benchmark[key] !== undefined ? format(benchmark[key]) : "–" })
              : null,
          ),
      ),
    ),
  );
}

export async function backtestView(main, id) {
  replace(main, el("h1", { text: `Backtest ${id}` }), el("p", { class: "loading", text: "Loading…" }));
  let series;
  try {
    series = await loadSeries(id);
  } catch (error) {
    replace(main, el("h1", { text: `Backtest ${id}` }), el("p", { class: "problem", role: "alert", text: error.message }));
    return;
  }
  const title = [series.strategy_name, series.symbol, series.timeframe].filter(Boolean).join(" · ");
  replace(
    main,
    el("h1", {}, "Backtest ", el("code", { text: id })),
    el(
      "p",
      { class: "meta" },
      statusBadge(series.status),
      " ",
      el("span", { class: "strategy", text: title }),
      " · ",
      operationLink(id, "operation details"),
      series.downsampled ? el("span", { class: "note", text: ` · ${series.points} of ${series.bars} points shown (extremes kept)` }) : null,
    ),
    el(
      "div",
      { class: "split" },
      el("section", { class: "charts", "aria-label": "Equity and drawdown charts" }, equityFigures(series)),
      el(
        "aside",
        { "aria-label": "Metrics" },
        metricsTable(series.metrics || {}, series.benchmark || {}, "Metrics"),
        el("p", { class: "note", text: `Initial capital ${money(series.initial_capital)}; ${when(series.timestamps[0])} – ${when(series.timestamps[series.timestamps.length - 1])}` }),
      ),
    ),
  );
}

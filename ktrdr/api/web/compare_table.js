// The compared cycles' figures in columns (a column per cycle, in its colour), a row per
// figure, the best value of each row marked. A walk-forward cycle's figures are its holdout's
// (the chosen candidate, out of sample, usual costs) and it adds the statistics that count
// every try (deflated Sharpe, PBO).

import { breakable, el, finite, operationLink, scrollingTable } from "./dom.js";
import { grouped } from "./chart.js";
import { pct, ratio, signedPct } from "./figures.js";
import { STATUS, VERDICTS } from "./vocabulary.js";

const DASH = "–";
const HIGHER = 1;
const LOWER = -1;

const summaryOf = (c) => (c.op && c.op.result_summary) || {};
const benchmarkOf = (c) => summaryOf(c).benchmark || {};
const statsOf = (c) => summaryOf(c).statistics || {};
const count = (v) => (finite(v) ? grouped(v, 0) : DASH);
const day = (iso) => (typeof iso === "string" && iso ? iso.slice(0, 10) : DASH);

function tested(c) {
  const b = summaryOf(c).backtest || {};
  return b.start || b.end ? `${day(b.start)} → ${day(b.end)} (${count(b.bars)} bars)` : DASH;
}

function market(c) {
  const data = (summaryOf(c).strategy || {}).data || {};
  const symbol = (summaryOf(c).backtest || {}).symbol || data.symbol;
  return [symbol, data.timeframe].filter(Boolean).join(" ") || DASH;
}

function source(c) {
  if (!c.op || c.op.status !== STATUS.COMPLETED) return c.op ? c.op.status : DASH;
  if (!c.walkForward) return "test period after training";
  const folds = (summaryOf(c).walk_forward?.folds || []).length;
  const tries = (summaryOf(c).candidates || []).length;
  const plural = (n) => (n === 1 ? "" : "s");
  return `walk-forward holdout, out of sample (best of ${tries} candidate${plural(tries)} on ${folds} fold${plural(folds)})`;
}

function excess(c) {
  const r = summaryOf(c).total_return;
  const b = benchmarkOf(c).total_return;
  return finite(r) && finite(b) ? r - b : null;
}

// value: what is compared (and kept in data-value); text: what shows; better: which way is
// best (none for figures with no better side); words: text, not a number.
const ROWS = [
  { key: "verdict", words: true, label: "Verdict", value: (c) => summaryOf(c).verdict ?? null, text: (v) => v ?? DASH, better: "verdict" },
  { key: "source", words: true, label: "Figures from", value: source, text: (v) => v },
  { key: "market", words: true, label: "Market", value: market, text: (v) => v },
  { key: "period", words: true, label: "Tested on", value: tested, text: (v) => v },
  { key: "sharpe", label: "Sharpe", value: (c) => summaryOf(c).sharpe_ratio, text: ratio, better: HIGHER },
  { key: "dsr", label: "Deflated Sharpe (counts every try)", value: (c) => statsOf(c).deflated_sharpe?.probability, text: ratio, better: HIGHER, optional: true },
  { key: "pbo", label: "PBO (probability of overfitting)", value: (c) => statsOf(c).overfitting?.probability, text: ratio, better: LOWER, optional: true },
  { key: "return", label: "Return", value: (c) => summaryOf(c).total_return, text: signedPct, better: HIGHER },
  { key: "drawdown", label: "Max drawdown", value: (c) => summaryOf(c).max_drawdown, text: pct, better: LOWER },
  { key: "win", label: "Win rate", value: (c) => summaryOf(c).win_rate, text: pct, better: HIGHER },
  { key: "profit", label: "Profit factor", value: (c) => summaryOf(c).profit_factor, text: ratio, better: HIGHER },
  { key: "trades", label: "Trades", value: (c) => summaryOf(c).trades, text: count },
  { key: "exposure", label: "Exposure (time in the market)", value: (c) => summaryOf(c).exposure, text: pct },
  { key: "hold-return", label: "Buy & hold return", value: (c) => benchmarkOf(c).total_return, text: signedPct },
  { key: "hold-sharpe", label: "Buy & hold Sharpe", value: (c) => benchmarkOf(c).sharpe_ratio, text: ratio },
  { key: "hold-drawdown", label: "Buy & hold max drawdown", value: (c) => benchmarkOf(c).max_drawdown, text: pct },
  { key: "excess", label: "Return over buy & hold", value: excess, text: signedPct, better: HIGHER },
];

/** The columns holding a row's best value: none when fewer than two are known or all tie. */
export function bestColumns(values, better) {
  if (!better) return new Set();
  const ranked = better === "verdict" ? values.map((v) => (VERDICTS.includes(v) ? VERDICTS.indexOf(v) : null)) : values;
  const way = better === "verdict" ? LOWER : better; // the verdicts come best first
  const known = ranked.map((v, i) => [v, i]).filter(([v]) => finite(v));
  if (known.length < 2) return new Set();
  const top = way === HIGHER ? Math.max(...known.map(([v]) => v)) : Math.min(...known.map(([v]) => v));
  if (known.every(([v]) => v === top)) return new Set();
  return new Set(known.filter(([v]) => v === top).map(([, i]) => i));
}

function cell(row, value, best) {
  const cls = [row.words ? "" : "num", row.key === "verdict" && value ? `verdict-${value}` : "", best ? "cmp-best" : ""];
  return el(
    "td",
    { class: cls.filter(Boolean).join(" ") || null, "data-value": finite(value) ? String(value) : null },
    row.text(value),
    best ? el("span", { class: "cmp-star", "aria-hidden": "true", text: " ★" }) : null,
    best ? el("span", { class: "visually-hidden", text: " (best)" }) : null,
  );
}

function header(c) {
  return el(
    "th",
    { scope: "col", class: `cmp-head ${c.cls}`, "data-id": c.id },
    el("span", { class: "cmp-key", "aria-hidden": "true" }),
    el("span", { class: "cmp-name" }, breakable(c.strategy)),
    " ",
    operationLink(c.id, c.short),
    c.walkForward ? el("span", { class: "cmp-tag", text: "walk-forward: holdout" }) : null,
  );
}

/** The table: a column per cycle (in the address's order), a row per figure (a statistic
 * only some cycles have shows when any has it). */
export function metricsTable(cycles) {
  const rows = ROWS.filter((row) => !row.optional || cycles.some((c) => finite(row.value(c))));
  const body = rows.map((row) => {
    const values = cycles.map((c) => row.value(c));
    const best = bestColumns(values, row.better);
    return el(
      "tr",
      { "data-row": row.key },
      el("th", { scope: "row", text: row.label }),
      values.map((v, i) => cell(row, v, best.has(i))),
    );
  });
  return scrollingTable(
    "Figures side by side",
    "metrics cmp-table",
    "Each compared cycle's figures in a column; the best value of each row is starred",
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Figure" }), cycles.map(header))),
    el("tbody", {}, body),
  );
}

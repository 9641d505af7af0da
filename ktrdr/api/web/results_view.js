// Past research cycles side by side (as `ktrdr agent results`), sortable by any column,
// each linking to its backtest. The default order is by deflated Sharpe, the figure that
// counts every try (cycles from before walk-forward have none and come last). Ticking 2 to 5
// rows and pressing Compare shows them side by side (compare_view.js).

import { getEnvelope } from "./api.js";
import { MAX_CYCLES, MIN_CYCLES, shortId } from "./compare_data.js";
import { el, finite, intervalText, number, operationLink, percent, replace, scrollingTable, when } from "./dom.js";
import { KIND, STATUS, VERDICTS } from "./vocabulary.js";

const LIMIT = 500;
// Sorting by verdict ascending goes from the worst to the best (an unknown one sorts as blank).
const worstFirst = [...VERDICTS].reverse();

// The strategy, its verdict and its Sharpe lead: at 390 px they are what stays in view.
const COLUMNS = [
  { key: "strategy", label: "Strategy", value: (r) => r.headline.strategy_name || "", text: (r) => r.headline.strategy_name || "–" },
  { key: "verdict", label: "Verdict", value: (r) => worstFirst.indexOf(r.verdict), text: (r) => r.verdict || "–" },
  { key: "sharpe", label: "Sharpe", num: true, value: (r) => r.headline.sharpe_ratio, text: (r) => number(r.headline.sharpe_ratio) },
  { key: "dsr", label: "Deflated Sharpe", num: true, value: (r) => r.headline.deflated_sharpe, text: (r) => number(r.headline.deflated_sharpe) },
  { key: "trials", label: "Best of N", num: true, value: (r) => r.headline.trials, text: (r) => (finite(r.headline.trials) ? String(r.headline.trials) : "–") },
  { key: "pbo", label: "PBO", num: true, value: (r) => r.headline.pbo, text: (r) => number(r.headline.pbo) },
  {
    key: "excess",
    label: "Holdout excess",
    num: true,
    value: (r) => r.headline.excess_return,
    text: (r) => intervalText(r.headline.excess_return, r.headline.excess_low, r.headline.excess_high),
  },
  { key: "win", label: "Win rate", num: true, value: (r) => r.headline.win_rate, text: (r) => percent(r.headline.win_rate) },
  { key: "dd", label: "Max drawdown", num: true, value: (r) => r.headline.max_drawdown, text: (r) => percent(r.headline.max_drawdown) },
  { key: "ret", label: "Return", num: true, value: (r) => r.headline.total_return, text: (r) => percent(r.headline.total_return) },
  { key: "hold", label: "Buy & hold", num: true, value: (r) => r.headline.benchmark_total_return, text: (r) => percent(r.headline.benchmark_total_return) },
  { key: "trades", label: "Trades", num: true, value: (r) => r.headline.trades, text: (r) => (finite(r.headline.trades) ? String(r.headline.trades) : "–") },
  { key: "finished", label: "Finished", value: (r) => r.completed_at || "", text: (r) => when(r.completed_at) },
];

function compare(a, b) {
  const missingA = a === null || a === undefined || a === -1 || a === "";
  const missingB = b === null || b === undefined || b === -1 || b === "";
  if (missingA || missingB) return missingA === missingB ? 0 : missingA ? 1 : -1; // blanks last
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The ticked cycles and the "Compare (n)" button over the table, which opens
 * /compare?ids=… for 2 to 5 of them (in the order ticked) and says why it cannot otherwise. */
class Selection {
  constructor() {
    this.ids = new Set();
    this.hint = el("span", { id: "compare-hint", class: "note", "aria-live": "polite" });
    this.button = el("button", { type: "button", class: "compare-button", "aria-describedby": "compare-hint", onclick: () => this.open() });
    this.bar = el("div", { class: "cmp-pick" }, this.button, " ", this.hint);
    this.update();
  }

  box(row) {
    const name = `${row.headline.strategy_name || "cycle"} (${shortId(row.operation_id)})`;
    const toggle = (event) => {
      if (event.target.checked) this.ids.add(row.operation_id);
      else this.ids.delete(row.operation_id);
      this.update();
    };
    const checked = this.ids.has(row.operation_id);
    return el("input", { type: "checkbox", class: "pick", "aria-label": `Compare ${name}`, checked, onchange: toggle });
  }

  update() {
    const n = this.ids.size;
    this.button.textContent = `Compare (${n})`;
    this.button.disabled = n < MIN_CYCLES || n > MAX_CYCLES;
    this.hint.textContent =
      n === 0
        ? `Tick ${MIN_CYCLES} to ${MAX_CYCLES} cycles to compare them side by side.`
        : n < MIN_CYCLES
          ? `${n} ticked: tick at least ${MIN_CYCLES - n} more to compare.`
          : n > MAX_CYCLES
            ? `${n} ticked: compare takes at most ${MAX_CYCLES}; untick ${n - MAX_CYCLES}.`
            : `${n} ticked: compare them side by side.`;
  }

  open() {
    if (this.button.disabled) return;
    window.location.assign(`/compare?ids=${[...this.ids].map(encodeURIComponent).join(",")}`);
  }
}

function rowOf(r, backtest, selection) {
  const cells = COLUMNS.map((c) => {
    const cls = [c.num ? "num" : "", c.key === "verdict" ? `verdict-${r.verdict}` : "", `col-${c.key}`].join(" ").trim();
    // The tick box sits in the first cell, beside the strategy's name (whole in its title).
    const text = c.text(r);
    if (c !== COLUMNS[0]) return el("td", { class: cls }, text);
    return el("td", { class: cls }, el("label", { class: "pick-label", title: text }, selection.box(r), " ", el("span", { class: "pick-name", text })));
  });
  const links = el(
    "td",
    { class: "links" },
    backtest ? [el("a", { href: `/backtests/${encodeURIComponent(backtest)}`, text: "backtest" }), " "] : null,
    operationLink(r.operation_id, "cycle"),
  );
  return el("tr", { "data-id": r.operation_id }, cells, links);
}

/** The table, sorted by a column its header's button picks (again: the other way). */
function sortableTable(rows, makeRow) {
  let sort = { key: "dsr", dir: -1 };
  const body = el("tbody");
  const sortBy = (key) => {
    sort = { key, dir: sort.key === key ? -sort.dir : COLUMNS.find((c) => c.key === key).num ? -1 : 1 };
    draw();
  };
  const headers = COLUMNS.map((col) => {
    const button = el("button", { type: "button", class: "sort", text: col.label, onclick: () => sortBy(col.key) });
    return el("th", { scope: "col", class: col.num ? "num" : null, "data-key": col.key }, button);
  });
  const blank = (v) => v === null || v === undefined || v === -1 || v === "";

  function draw() {
    const col = COLUMNS.find((c) => c.key === sort.key);
    const sorted = [...rows].sort((a, b) => {
      const order = compare(col.value(a), col.value(b));
      return blank(col.value(a)) || blank(col.value(b)) ? order : order * sort.dir;
    });
    headers.forEach((th, i) => {
      th.setAttribute("aria-sort", COLUMNS[i].key === sort.key ? (sort.dir > 0 ? "ascending" : "descending") : "none");
    });
    body.replaceChildren(...sorted.map(makeRow));
  }

  const region = scrollingTable(
    "Results table",
    "results",
    "Completed research cycles; column headers sort; tick 2 to 5 to compare",
    el("thead", {}, el("tr", {}, headers, el("th", { scope: "col", text: "Links" }))),
    body,
  );
  return { region, draw };
}

async function readResults() {
  const [cycles, backtests] = await Promise.all([
    getEnvelope(`/operations?operation_type=${KIND.AGENT_RESEARCH}&status=${STATUS.COMPLETED}&limit=${LIMIT}`),
    getEnvelope(`/operations?operation_type=${KIND.BACKTESTING}&limit=1000`),
  ]);
  const backtestOf = new Map();
  for (const b of backtests.data) if (b.parent_operation_id) backtestOf.set(b.parent_operation_id, b.operation_id);
  // A walk-forward cycle has many backtests and the listing does not say which is its
  // holdout: its own page shows that one, so it links there only.
  const backtestFor = (r) => (finite(r.headline.folds) ? null : backtestOf.get(r.operation_id));
  return { rows: cycles.data, total: cycles.total, backtestFor };
}

export async function resultsView(main) {
  replace(main, el("h1", { text: "Results" }), el("p", { class: "loading", text: "Loading…" }));
  let read;
  try {
    read = await readResults();
  } catch (error) {
    replace(main, el("h1", { text: "Results" }), el("p", { class: "problem", role: "alert", text: error.message }));
    return;
  }
  const { rows, total, backtestFor } = read;
  const selection = new Selection();
  const table = sortableTable(rows, (r) => rowOf(r, backtestFor(r), selection));
  const note = rows.length
    ? `${rows.length} completed research cycles (of ${total}), by deflated Sharpe (best of N tries); click a column to sort.`
    : "No completed research cycle yet. Run one: ktrdr agent trigger";
  replace(main, el("h1", { text: "Results" }), el("p", { class: "note", text: note }), rows.length > 1 ? selection.bar : null, table.region);
  table.draw();
}

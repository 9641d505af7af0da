// A completed walk-forward cycle's evaluation: the folds' windows, each candidate's Sharpe
// on each fold (the chosen one marked), and the statistics that count every try: the
// deflated Sharpe with how many tries it was the best of, the probability of backtest
// overfitting, the holdout's excess return over buy-and-hold with its interval, and the
// holdout at other costs. A cycle from before walk-forward has none of it: no section.

import { el, finite, number, operationLink } from "./dom.js";
import { pctInterval, signedPct } from "./figures.js";

const DASH = "–";

function day(iso) {
  if (typeof iso !== "string" || !iso) return DASH;
  return /^\d{4}-\d{2}-\d{2}/.test(iso) ? iso.slice(0, 10) : iso;
}

/** A window's first and last dates; each date kept whole when a narrow column wraps. */
function span(start, end) {
  if (!start && !end) return DASH;
  return [el("span", { class: "nowrap", text: `${day(start)}\u00a0→` }), " ", el("span", { class: "nowrap", text: day(end) })];
}

function count(value) {
  return Number.isInteger(value) ? value.toLocaleString("en") : DASH;
}

/** A titled table that scrolls sideways on its own when it is wider than the page. The title
 * is a heading above the scroll area (a caption would scroll away with the table). */
function table(title, headings, rows, cls) {
  const id = `wf-${cls}`;
  return el(
    "div",
    { class: "wf-block" },
    el("h3", { id, text: title }),
    el(
      "div",
      { class: "table-scroll", tabindex: "0", role: "region", "aria-labelledby": id },
      el(
        "table",
        { class: `metrics ${cls}`, "aria-labelledby": id },
        el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col", class: h.num ? "num" : null, text: h.label })))),
        el("tbody", {}, rows),
      ),
    ),
  );
}

function windowsTable(walk) {
  const headings = [{ label: "Fold" }, { label: "Train" }, { label: "Test" }, { label: "Train bars", num: true }, { label: "Test bars", num: true }];
  const row = (label, w) =>
    el(
      "tr",
      {},
      el("th", { scope: "row", text: label }),
      el("td", {}, span(w.train_start, w.train_end)),
      el("td", {}, span(w.test_start, w.test_end)),
      el("td", { class: "num", text: count(w.train_bars) }),
      el("td", { class: "num", text: count(w.test_bars) }),
    );
  const folds = (walk.folds || []).filter(Boolean);
  const rows = folds.map((w, i) => row(`Fold ${Number.isInteger(w.index) ? w.index + 1 : i + 1}`, w));
  if (walk.holdout) rows.push(row("Holdout", walk.holdout));
  return table("Windows (the holdout's training is the final training)", headings, rows, "wf-windows");
}

function candidatesTable(candidates, folds) {
  const headings = [
    { label: "Candidate" },
    { label: "Strategy" },
    ...Array.from({ length: folds }, (_, f) => ({ label: `Fold ${f + 1}`, num: true })),
    { label: "Validation Sharpe", num: true },
    { label: "Validation return", num: true },
  ];
  const rows = candidates.filter(Boolean).map((c, i) => {
    const sharpes = c.fold_sharpes || [];
    const name = c.chosen ? el("td", {}, c.strategy_name || DASH, el("strong", { class: "wf-chosen", text: " ✓ chosen" })) : el("td", { text: c.strategy_name || DASH });
    return el(
      "tr",
      { class: c.chosen ? "chosen" : null, "data-candidate": String(Number.isInteger(c.index) ? c.index : i) },
      el("th", { scope: "row", text: String((Number.isInteger(c.index) ? c.index : i) + 1) }),
      name,
      Array.from({ length: folds }, (_, f) => el("td", { class: "num", text: number(sharpes[f]) })),
      el("td", { class: c.failed ? "wf-failed" : "num", text: c.failed ? `failed: ${c.failed}` : number(c.validation_sharpe) }),
      el("td", { class: "num", text: signedPct(c.validation_return) }),
    );
  });
  return table("Each candidate's Sharpe per fold (annualised); chosen on the folds alone", headings, rows, "wf-candidates");
}

function costsTable(costs) {
  const headings = [{ label: "Costs" }, { label: "Return", num: true }, { label: "Sharpe", num: true }, { label: "Excess over buy-and-hold", num: true }, { label: "Backtest" }];
  const rows = costs.filter(Boolean).map((c) =>
    el(
      "tr",
      { "data-multiplier": String(c.multiplier) },
      el("th", { scope: "row", text: finite(c.multiplier) ? `×${c.multiplier}` : DASH }),
      el("td", { class: "num", text: signedPct(c.total_return) }),
      el("td", { class: "num", text: number(c.sharpe_ratio) }),
      el("td", { class: "num", text: signedPct(c.excess_return) }),
      el("td", {}, c.operation_id ? operationLink(c.operation_id, "page") : DASH),
    ),
  );
  return table("The chosen candidate on the holdout at 0×, 1× and 2× costs", headings, rows, "wf-costs");
}

function figure(term, value, detail, key) {
  return el("div", { class: "wf-figure", "data-figure": key }, el("dt", { text: term }), el("dd", {}, el("strong", { text: value }), detail ? el("span", { class: "note", text: ` ${detail}` }) : null));
}

/** The statistics as a few labelled figures (each only when the cycle has it). */
function statisticsList(stats) {
  const items = [];
  const dsr = stats.deflated_sharpe;
  if (dsr && finite(dsr.probability)) {
    const tries = Number.isInteger(dsr.trials) ? `best of ${dsr.trials} tries` : "tries unknown";
    const own = Number.isInteger(dsr.cycle_trials) ? ` (${dsr.cycle_trials} in this cycle)` : "";
    const sharpe = finite(dsr.annualised_sharpe) ? `; annualised Sharpe ${number(dsr.annualised_sharpe)}` : "";
    items.push(figure("Deflated Sharpe", number(dsr.probability), `probability the true Sharpe is above zero, ${tries}${own}${sharpe}`, "dsr"));
  }
  const pbo = stats.overfitting;
  if (pbo && finite(pbo.probability)) {
    const of = [
      Number.isInteger(pbo.candidates) ? `${pbo.candidates} candidates` : null,
      Number.isInteger(pbo.combinations) ? `${pbo.combinations} combinations` : null,
    ].filter(Boolean);
    items.push(figure("PBO", number(pbo.probability), `probability of backtest overfitting${of.length ? `, ${of.join(", ")}` : ""}`, "pbo"));
  }
  const excess = stats.holdout_excess;
  if (excess && finite(excess.estimate)) {
    const level = finite(excess.confidence) ? `${Math.round(excess.confidence * 100)}%` : "";
    items.push(figure("Holdout excess", pctInterval(excess.estimate, excess.low, excess.high), `return over buy-and-hold on the holdout${level ? `, ${level} interval` : ""}`, "excess"));
  }
  if (finite(stats.overfit_ratio)) {
    const epochs = Number.isInteger(stats.best_epoch) ? `; best epoch ${stats.best_epoch}${Number.isInteger(stats.stopped_epoch) ? ` of ${stats.stopped_epoch} run` : ""}` : "";
    items.push(figure("Overfit ratio", number(stats.overfit_ratio), `final training's last validation loss over its best${epochs}`, "overfit"));
  }
  return items.length ? el("dl", { class: "wf-stats" }, items) : null;
}

/** The section for ``result`` (a completed cycle's result summary); null for a cycle that
 * kept no walk-forward evaluation. */
export function walkForwardSection(result) {
  const walk = result.walk_forward;
  const candidates = Array.isArray(result.candidates) ? result.candidates : [];
  const stats = result.statistics || {};
  if (!walk && !candidates.length && !result.statistics) return null;
  const folds = Math.max((walk?.folds || []).length, ...candidates.map((c) => (c?.fold_sharpes || []).length));
  return el(
    "section",
    { class: "walk-forward", "aria-label": "Walk-forward" },
    el("h2", { text: "Walk-forward" }),
    walk?.description ? el("p", { class: "note", text: walk.description }) : null,
    statisticsList(stats),
    el(
      "div",
      { class: "wf-tables" },
      walk ? windowsTable(walk) : null,
      candidates.length ? candidatesTable(candidates, folds) : null,
      (stats.costs || []).length ? costsTable(stats.costs) : null,
    ),
  );
}

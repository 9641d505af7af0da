// An operation's result as a person reads it. A research cycle's in four sections: the
// strategy it tried, its training, its backtest against buy-and-hold on the same bars, and
// the verdict with each of its tests marked passed or failed. Any other operation's as a
// table of its plain figures. Files on the server (the model's folder, the backtest's
// detail file) wait behind a toggle: they matter to whoever opens them, not to the reading.

import { metricsTable } from "./backtest_view.js";
import { el, finite, number, operationLink } from "./dom.js";
import { pct } from "./figures.js";

const DASH = "–";

/** A short list of labelled facts; a fact without a value is left out. */
function facts(rows) {
  const shown = rows.filter(([, value]) => value !== null && value !== undefined && value !== "");
  return shown.length ? el("dl", { class: "facts" }, shown.map(([term, value]) => el("div", {}, el("dt", { text: term }), el("dd", {}, value)))) : null;
}

/** Paths on the server, hidden until asked for; null when there are none. */
export function serverPaths(label, paths) {
  const shown = paths.filter(([, path]) => typeof path === "string" && path);
  if (!shown.length) return null;
  return el(
    "details",
    { class: "server-paths" },
    el("summary", { text: label }),
    el("dl", {}, shown.map(([term, path]) => el("div", {}, el("dt", { text: term }), el("dd", {}, el("code", { text: path }))))),
  );
}

function section(key, title, ...body) {
  return el("section", { class: "summary-part", "data-part": key, "aria-labelledby": `summary-${key}` }, el("h3", { id: `summary-${key}`, text: title }), ...body);
}

function day(iso) {
  return typeof iso === "string" && iso ? iso.slice(0, 10) : null;
}

function indicatorText(spec) {
  const params = Object.entries(spec.params || {}).map(([k, v]) => `${k}=${v}`);
  return `${spec.type || spec.name}${params.length ? `(${params.join(", ")})` : ""}`;
}

function strategyPart(result, params) {
  const strategy = result.strategy || {};
  const data = strategy.data || {};
  const model = strategy.model || {};
  const indicators = (strategy.indicators || []).filter(Boolean).map(indicatorText).join(", ");
  const trainSpan = data.train_end ? `${data.train_start || "from the first bar"} to ${data.train_end}` : null;
  const layers = Array.isArray(model.hidden_layers) ? `layers ${model.hidden_layers.join("×")}` : null;
  const designer = result.designer || params.designer;
  const seed = result.seed ?? params.seed;
  return section(
    "strategy",
    "Strategy",
    el("p", {}, el("strong", { class: "summary-name", text: result.strategy_name || strategy.name || params.strategy_name || DASH })),
    strategy.description ? el("p", { class: "note", text: strategy.description }) : null,
    facts([
      ["Market", [data.symbol || params.symbol, data.timeframe || params.timeframe].filter(Boolean).join(" · ") || null],
      ["Trained on", trainSpan],
      ["Tested from", data.test_start || params.test_start],
      ["Indicators", indicators || null],
      ["Model", [layers, finite(model.epochs) ? `up to ${model.epochs} epochs` : null].filter(Boolean).join(", ") || null],
      ["Trades", strategy.backtest?.mode?.replaceAll("_", " ")],
      ["Designed by", designer ? `${designer}${seed !== undefined && seed !== null ? `, seed ${seed}` : ""}` : null],
    ]),
  );
}

function trainingPart(training) {
  if (!training) return null;
  const epochs = finite(training.epochs) ? `${training.epochs}${finite(training.epochs_total) ? ` of ${training.epochs_total}` : ""}` : null;
  const accuracy = finite(training.accuracy) ? `${pct(training.accuracy)}${finite(training.train_accuracy) ? ` (on its training rows ${pct(training.train_accuracy)})` : ""}` : null;
  return section(
    "model",
    "Training",
    facts([
      ["Epochs", epochs],
      ["Validation accuracy", accuracy],
      ["Validation loss", finite(training.val_loss) ? number(training.val_loss, 3) : null],
      ["Operation", training.operation_id ? operationLink(training.operation_id) : null],
    ]),
    serverPaths("Model files on the server", [["Model folder", training.model_path]]),
  );
}

function backtestPart(result, params) {
  const metrics = {
    total_return: result.total_return,
    sharpe_ratio: result.sharpe_ratio,
    max_drawdown: result.max_drawdown,
    win_rate: result.win_rate,
    num_trades: result.trades,
    profit_factor: result.profit_factor,
    exposure: result.exposure,
  };
  if (!Object.values(metrics).some(finite)) return null;
  const run = result.backtest || {};
  const span = [run.symbol, day(run.start) && day(run.end) ? `${day(run.start)} to ${day(run.end)}` : null, Number.isInteger(run.bars) ? `${run.bars.toLocaleString("en")} bars` : null];
  const holdout = Boolean(result.walk_forward);
  const page = params.backtest_op_id ? el("a", { href: `/backtests/${encodeURIComponent(params.backtest_op_id)}`, text: "equity curve and trades" }) : null;
  return section(
    "backtest",
    holdout ? "Holdout backtest against buy-and-hold" : "Backtest against buy-and-hold",
    span.some(Boolean) ? el("p", { class: "note" }, span.filter(Boolean).join(" · "), page ? " · " : null, page) : null,
    metricsTable(metrics, result.benchmark || {}, "Same bars, same costs", "result"),
    serverPaths("Detail file on the server", [["Backtest detail", run.detail_path]]),
  );
}

// Each reason comes with its outcome (`reason_outcomes`: failed, caution, passed, recap).
// Results saved before outcomes were recorded are read from the wording: a shortfall or a
// hard limit reads "<", ">", "is below", "does not", "only N trades"…; a caution says so.
// The closing recap (return, win rate, time in the market) repeats figures the backtest
// section shows, so it is left out.
const FAILED = /\s[<>]\s|\bis (below|above)\b|^only\b|\bdoes not\b|^not significant|\bincludes zero\b|\boverfitted\b|\bcannot judge\b/i;
const RECAP = /^total return .*in the market/i;
const OUTCOME = {
  passed: { mark: "✓", said: "Passed" },
  failed: { mark: "✗", said: "Failed" },
  caution: { mark: "!", said: "Caution" },
};
// The outcome names as the backend writes them (the keys above, in that order).
const [PASSED, FAILED_TEST, CAUTION] = Object.keys(OUTCOME);

/** Each reason with its outcome: passed, failed or caution (the recap line dropped). */
export function verdictChecks(reasons, outcomes) {
  if (Array.isArray(outcomes) && outcomes.length === reasons.length) {
    return reasons
      .map((text, i) => ({ text, outcome: outcomes[i] }))
      .filter(({ text, outcome }) => typeof text === "string" && outcome in OUTCOME);
  }
  return reasons
    .filter((text) => typeof text === "string" && !RECAP.test(text))
    .map((text) => ({ text, outcome: /^caution\b/i.test(text) ? CAUTION : FAILED.test(text) ? FAILED_TEST : PASSED }));
}

function verdictPart(result) {
  if (!result.verdict) return null;
  const checks = verdictChecks(result.reasons || [], result.reason_outcomes);
  const score = finite(result.score) ? ` · score ${number(result.score)} (ranks cycles with the same verdict)` : "";
  return section(
    "verdict",
    "Verdict",
    el("p", { class: `verdict verdict-${result.verdict}` }, el("strong", { text: result.verdict }), el("span", { class: "note", text: score })),
    checks.length
      ? el(
          "ul",
          { class: "checks" },
          checks.map(({ text, outcome }) =>
            el(
              "li",
              { class: `check check-${outcome}`, "data-outcome": outcome },
              el("span", { class: "check-mark", "aria-hidden": "true", text: OUTCOME[outcome].mark }),
              el("span", { class: "visually-hidden", text: `${OUTCOME[outcome].said}: ` }),
              el("span", { text }),
            ),
          ),
        )
      : null,
  );
}

/** A research cycle's result: its sections, in reading order (those it has). */
export function cycleSummary(op) {
  const result = op.result_summary || {};
  const params = op.metadata.parameters || {};
  const at = typeof result.stopped_at === "string" ? result.stopped_at.replace(/\.$/, "") : "";
  const stopped = !result.verdict && (result.phase || at) ? `Stopped${result.phase ? ` in ${result.phase}` : ""}${at ? `: ${at}` : ""}.` : null;
  return el(
    "div",
    { class: "summary" },
    stopped ? el("p", { class: "note", text: stopped }) : null,
    el("div", { class: "summary-parts" }, strategyPart(result, params), trainingPart(result.training), backtestPart(result, params), verdictPart(result)),
  );
}

// Shown elsewhere on the page (charts, the walk-forward section) or too big for a table.
const HIDDEN_RESULT_KEYS = new Set([
  "history",
  "equity_curve",
  "strategy",
  "feature_names",
  "reasons",
  "reason_outcomes",
  "train_label_counts",
  "walk_forward",
  "candidates",
  "statistics",
]);
const SERVER_PATH = /^(\/|[A-Za-z]:\\)/;

function scalarText(key, value) {
  if (typeof value === "number") {
    if (/accuracy|rate|return|drawdown|exposure/.test(key)) return pct(value);
    return Number.isInteger(value) ? String(value) : number(value, 4);
  }
  if (Array.isArray(value)) return value.join(" – ");
  return String(value);
}

/** Any other operation's result: a table of its plain figures (nested records one level
 * down), its server paths behind the toggle. */
export function resultTable(result) {
  const rows = [];
  const paths = [];
  const add = (key, value) => {
    const label = key.replaceAll("_", " ").replaceAll(".", " ");
    if (typeof value === "string" && SERVER_PATH.test(value)) paths.push([label, value]);
    else if (value !== null && typeof value !== "object") rows.push([label, scalarText(key, value)]);
    else if (Array.isArray(value) && !value.some((v) => v !== null && typeof v === "object")) rows.push([label, scalarText(key, value)]);
  };
  for (const [key, value] of Object.entries(result)) {
    if (value === null || value === undefined || HIDDEN_RESULT_KEYS.has(key)) continue;
    if (typeof value === "object" && !Array.isArray(value)) {
      for (const [inner, v] of Object.entries(value)) if (v !== null && typeof v !== "object") add(`${key}.${inner}`, v);
    } else add(key, value);
  }
  const body = el("tbody", {}, rows.map(([k, v]) => el("tr", {}, el("th", { scope: "row", text: k }), el("td", { text: v }))));
  return [el("table", { class: "metrics result" }, el("caption", { text: "Result summary" }), body), serverPaths("Files on the server", paths)];
}

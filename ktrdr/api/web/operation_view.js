// One operation, live: its bar and step, for a research cycle the phase timeline and its
// children (the training's chart growing epoch by epoch, the backtest's equity curve), and
// the result summary once it ends.

import { followTree, getData } from "./api.js";
import { equityFigures, loadSeries, metricsTable } from "./backtest_view.js";
import { chartFigure } from "./chart.js";
import {
  ACTIVE,
  KIND_LABEL,
  announce,
  duration,
  el,
  finite,
  number,
  operationLink,
  percent,
  progressBar,
  replace,
  setProgress,
  statusBadge,
  when,
} from "./dom.js";
import { phaseTimeline } from "./timeline.js";

const HISTORY_INTERVAL_MS = 300;

/** A training's epochs, kept up to date from ``/training/{id}/history?since=N``. */
class TrainingHistory {
  constructor(id) {
    this.id = id;
    this.epochs = [];
    this.total = null;
    this.busy = null;
    this.again = null;
    this.figures = null;
    this.ended = false;
    this.lastRead = -Infinity;
  }

  /** Fetch the epochs after the last one held (one request at a time); once the training
   * has ended and that last read is asked for, there is nothing more to ask for. */
  refresh(op) {
    if (this.ended) return this.busy;
    if (op && ["completed", "failed", "cancelled"].includes(op.status)) this.ended = true;
    return this.run(op);
  }

  run(op) {
    if (this.busy) {
      this.again = op;
      return this.busy;
    }
    // At most one read (and one redraw) per HISTORY_INTERVAL_MS: smooth enough growth, and
    // the page stays free to take the tree's next answer the moment it comes.
    const wait = Math.max(0, this.lastRead + HISTORY_INTERVAL_MS - performance.now());
    this.busy = new Promise((resolve) => setTimeout(resolve, wait))
      .then(() => {
        this.lastRead = performance.now();
        return this.fetch();
      })
      .finally(() => {
        this.busy = null;
        const next = this.again;
        this.again = null;
        if (next) this.run(next);
      });
    return this.busy;
  }

  async fetch() {
    const last = this.epochs.length ? this.epochs[this.epochs.length - 1].epoch : 0;
    let data;
    try {
      data = await getData(`/training/${encodeURIComponent(this.id)}/history?since=${last}`);
    } catch {
      this.ended = false; // try again with the next answer
      return;
    }
    this.total = data.epochs_total ?? this.total;
    for (const row of data.epochs) {
      if (finite(row.epoch) && row.epoch > (this.epochs.at(-1)?.epoch ?? 0)) this.epochs.push(row);
    }
    this.draw();
  }

  draw() {
    if (!this.figures) return;
    const x = this.epochs.map((e) => e.epoch);
    const pick = (key) => this.epochs.map((e) => e[key]);
    const lastRow = this.epochs.at(-1) || {};
    const of = this.total ? ` of ${this.total}` : "";
    const [loss, accuracy] = this.figures;
    loss.redraw({
      x,
      series: [
        { name: "Training loss", values: pick("train_loss"), cls: "s-train" },
        { name: "Validation loss", values: pick("val_loss"), cls: "s-val" },
      ],
      summary: `Loss per epoch, ${x.length} epochs${of}; latest training loss ${number(lastRow.train_loss, 4)}, validation loss ${number(lastRow.val_loss, 4)}.`,
    });
    accuracy.redraw({
      x,
      series: [
        { name: "Training accuracy", values: pick("train_accuracy"), cls: "s-train" },
        { name: "Validation accuracy", values: pick("val_accuracy"), cls: "s-val" },
      ],
      summary: `Accuracy per epoch, ${x.length} epochs${of}; latest validation accuracy ${percent(lastRow.val_accuracy)}.`,
    });
  }

  section() {
    const base = { x: [], series: [], xFormat: (v) => String(Math.round(v)), summary: "No epochs yet." };
    this.figures = [
      chartFigure({ ...base, id: "loss", label: "Loss per epoch", yFormat: (v) => v.toFixed(2) }),
      chartFigure({ ...base, id: "accuracy", label: "Accuracy per epoch", yFormat: (v) => percent(v, 0) }),
    ];
    return el("section", { class: "charts", "aria-label": "Training charts" }, el("h2", { text: "Training" }), this.figures);
  }
}

const HIDDEN_RESULT_KEYS = new Set(["history", "equity_curve", "strategy", "feature_names", "reasons", "train_label_counts"]);

function scalarText(key, value) {
  if (typeof value === "number") {
    if (/accuracy|rate|return|drawdown|exposure/.test(key)) return percent(value);
    return Number.isInteger(value) ? String(value) : number(value, 4);
  }
  if (Array.isArray(value)) return value.join(" – ");
  return String(value);
}

/** The result summary as a table of its plain figures (nested records one level down). */
function resultTable(result) {
  const rows = [];
  const add = (key, value) => {
    if (value === null || value === undefined || HIDDEN_RESULT_KEYS.has(key)) return;
    if (typeof value === "object" && !Array.isArray(value)) {
      for (const [inner, v] of Object.entries(value)) {
        if (v !== null && typeof v !== "object") rows.push([`${key}.${inner}`, scalarText(inner, v)]);
      }
      return;
    }
    rows.push([key, scalarText(key, value)]);
  };
  for (const [key, value] of Object.entries(result)) add(key, value);
  return el(
    "table",
    { class: "metrics result" },
    el("caption", { text: "Result summary" }),
    el(
      "tbody",
      {},
      rows.map(([k, v]) => el("tr", {}, el("th", { scope: "row", text: k.replaceAll("_", " ") }), el("td", { text: v }))),
    ),
  );
}

export async function operationView(main, id) {
  const header = el("div", { class: "op-header" });
  const bar = progressBar(0, `Progress of ${id}`);
  const step = el("span", { class: "step" });
  const times = el("p", { class: "meta" });
  const timelineBox = el("section", { "aria-label": "Phase timeline" });
  const childrenBox = el("section", { "aria-label": "Children" });
  const trainingBox = el("div");
  const backtestBox = el("div");
  const resultBox = el("section", { "aria-label": "Result" });
  const problem = el("p", { class: "problem", role: "alert" });
  replace(
    main,
    el("h1", {}, el("span", { class: "kind", text: "Operation" }), " ", el("code", { text: id })),
    header,
    el("div", { class: "op-progress" }, bar, step),
    times,
    problem,
    timelineBox,
    childrenBox,
    trainingBox,
    backtestBox,
    resultBox,
  );

  const changes = [];
  let journalComplete = true;
  let lastStatus = null;
  const histories = new Map();
  const childBars = new Map();
  let backtestShown = null;
  let resultShownFor = null;
  let root = null;
  let nodes = [];

  function drawTimeline() {
    if (root && root.operation_type === "agent_research") {
      replace(timelineBox, el("h2", { text: "Phases" }), phaseTimeline(root, nodes, journalComplete ? changes : null));
    }
  }

  async function showBacktest(backtestId) {
    if (backtestShown === backtestId) return;
    backtestShown = backtestId;
    try {
      const series = await loadSeries(backtestId);
      replace(
        backtestBox,
        el(
          "section",
          { class: "charts", "aria-label": "Backtest charts" },
          el("h2", {}, "Backtest ", el("a", { href: `/backtests/${encodeURIComponent(backtestId)}`, text: "(full page)" })),
          el("div", { class: "split" }, el("div", {}, equityFigures(series)), el("aside", {}, metricsTable(series.metrics || {}, series.benchmark || {}, "Metrics"))),
        ),
      );
    } catch (error) {
      backtestShown = null;
      replace(backtestBox, el("p", { class: "problem", text: `Backtest series: ${error.message}` }));
    }
  }

  function onTree(tree) {
    nodes = tree.operations;
    root = nodes[0];
    if (!tree.complete) journalComplete = false;
    changes.push(...tree.changes);
    const params = root.metadata.parameters || {};
    const result = root.result_summary || {};
    const strategy = params.strategy_name || result.strategy_name;
    const kind = KIND_LABEL[root.operation_type] || root.operation_type;
    main.querySelector("h1 .kind").textContent = kind[0].toUpperCase() + kind.slice(1);
    document.title = `${kind} ${id} · ktrdr`;
    replace(
      header,
      statusBadge(root.status),
      strategy ? el("span", { class: "strategy", text: strategy }) : null,
      root.parent_operation_id ? el("span", { class: "note" }, " part of ", operationLink(root.parent_operation_id)) : null,
      root.operation_type === "backtesting"
        ? el("a", { class: "button-link", href: `/backtests/${encodeURIComponent(id)}`, text: "Equity curve and trades" })
        : null,
    );
    setProgress(bar, root.progress.percentage);
    step.textContent = `${Math.round(root.progress.percentage)}% ${root.progress.current_step || ""}`;
    times.textContent = `Created ${when(root.created_at)} · elapsed ${duration(root.elapsed_seconds)}`;
    // Status and phase changes are announced (not every percentage: too chatty).
    const said = `${root.status} ${params.phase || ""}`;
    if (lastStatus !== null && lastStatus !== said) {
      announce(`${kind} ${id}: ${root.status}${params.phase && root.status === "running" ? `, ${params.phase}` : ""}`);
    }
    lastStatus = said;
    problem.textContent = root.error_message || "";
    drawTimeline();

    const children = nodes.filter((n) => n.parent_operation_id === id);
    if (children.length) {
      if (!childrenBox.firstChild) childrenBox.append(el("h2", { text: "Children" }), el("ul", { class: "children" }));
      const list = childrenBox.querySelector("ul");
      for (const child of children) {
        let entry = childBars.get(child.operation_id);
        if (!entry) {
          entry = {
            bar: progressBar(0, `Progress of ${child.operation_id}`),
            status: el("span"),
            step: el("span", { class: "step" }),
          };
          childBars.set(child.operation_id, entry);
          list.append(el("li", {}, el("span", { class: "kind", text: KIND_LABEL[child.operation_type] }), " ", operationLink(child.operation_id), " ", entry.status, entry.bar, entry.step));
        }
        replace(entry.status, statusBadge(child.status));
        setProgress(entry.bar, child.progress.percentage);
        entry.step.textContent = `${Math.round(child.progress.percentage)}% ${child.progress.current_step || ""}`;
      }
    }
    for (const node of [root, ...children]) {
      if (node.operation_type === "training") {
        let history = histories.get(node.operation_id);
        if (!history) {
          history = new TrainingHistory(node.operation_id);
          histories.set(node.operation_id, history);
          trainingBox.append(history.section());
        }
        history.refresh(node);
      }
      if (node.operation_type === "backtesting" && node.status === "completed") showBacktest(node.operation_id);
    }
    if (root.result_summary && resultShownFor !== root.version) {
      resultShownFor = root.version;
      replace(resultBox, el("h2", { text: "Result" }), verdictLine(root), resultTable(root.result_summary));
    }
  }

  // The current phase's duration keeps counting between answers.
  const ticker = setInterval(() => {
    if (root && ACTIVE.has(root.status)) drawTimeline();
  }, 1000);
  try {
    await followTree(id, onTree);
  } catch (error) {
    problem.textContent = error.message;
  }
  clearInterval(ticker);
  drawTimeline();
}

function verdictLine(op) {
  const result = op.result_summary || {};
  if (!result.verdict) return null;
  return el(
    "p",
    { class: `verdict verdict-${result.verdict}` },
    el("strong", { text: `Verdict: ${result.verdict}` }),
    (result.reasons || []).length ? el("ul", {}, result.reasons.map((r) => el("li", { text: r }))) : null,
  );
}


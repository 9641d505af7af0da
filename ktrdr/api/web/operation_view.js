// One operation, live: its bar and step (and a Cancel button while it runs), for a research
// cycle the phase timeline and its children (the training's chart growing epoch by epoch,
// the backtest's equity curve), and the result once it ends (summary_view.js).

import { followTree, getData } from "./api.js";
import { equityFigures, loadSeries, metricsTable } from "./backtest_view.js";
import { chartFigure } from "./chart.js";
import { CancelControl } from "./cancel_control.js";
import {
  announce,
  duration,
  el,
  finite,
  number,
  operationLink,
  progressBar,
  replace,
  setProgress,
  statusBadge,
  when,
} from "./dom.js";
import { ChildList, CycleGrid, focusChildren, isWalkForward, roleNote } from "./cycle_grid.js";
import { etaText } from "./eta.js";
import { DeliveriesSection } from "./deliveries_view.js";
import { pct } from "./figures.js";
import { cycleSummary, resultTable } from "./summary_view.js";
import { phaseTimeline } from "./timeline.js";
import { ACTIVE, KIND, STATUS, TERMINAL, kindLabel, kindNoun } from "./vocabulary.js";
import { walkForwardSection } from "./walk_forward.js";

const HISTORY_INTERVAL_MS = 300;
// A chart is a few hundred pixels wide: a long training's history comes thinned to this many
// epochs (the server keeps the first, the last and each figure's extremes); later reads ask
// only for the epochs after the last one held.
const HISTORY_MAX_POINTS = 2000;

/** A training's epochs, kept up to date from ``/training/{id}/history?since=N&max_points=M``. */
class TrainingHistory {
  constructor(id) {
    this.id = id;
    this.epochs = [];
    this.total = null;
    this.busy = null;
    this.again = null;
    this.figures = null;
    this.loaded = false;
    this.ended = false;
    this.lastRead = -Infinity;
  }

  /** Fetch the epochs after the last one held (one request at a time); once the training
   * has ended and that last read is asked for, there is nothing more to ask for. */
  refresh(op) {
    if (this.ended) return this.busy;
    if (op && TERMINAL.has(op.status)) this.ended = true;
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
      const query = `since=${last}&max_points=${HISTORY_MAX_POINTS}`;
      data = await getData(`/training/${encodeURIComponent(this.id)}/history?${query}`);
    } catch {
      this.ended = false; // try again with the next answer
      return;
    }
    this.total = data.epochs_total ?? this.total;
    for (const row of data.epochs) {
      if (finite(row.epoch) && row.epoch > (this.epochs.at(-1)?.epoch ?? 0)) this.epochs.push(row);
    }
    this.loaded = true; // from now on no epochs means "none yet", not "not read yet"
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
      loading: !this.loaded,
      series: [
        { name: "Training loss", values: pick("train_loss"), cls: "s-train" },
        { name: "Validation loss", values: pick("val_loss"), cls: "s-val", smooth: true },
      ],
      summary: `Loss per epoch, ${x.length} epochs${of}; latest training loss ${number(lastRow.train_loss, 4)}, validation loss ${number(lastRow.val_loss, 4)}.`,
    });
    accuracy.redraw({
      x,
      loading: !this.loaded,
      series: [
        { name: "Training accuracy", values: pick("train_accuracy"), cls: "s-train" },
        { name: "Validation accuracy", values: pick("val_accuracy"), cls: "s-val", smooth: true },
      ],
      summary: `Accuracy per epoch, ${x.length} epochs${of}; latest validation accuracy ${pct(lastRow.val_accuracy)}.`,
    });
  }

  section(title) {
    // "Loading…" until the first read answers, then "No epochs yet" until one comes.
    const base = { x: [], series: [], xTitle: "Epoch", loading: true, smoothing: true, summary: "No epochs yet.", emptyText: "No epochs yet." };
    this.figures = [
      chartFigure({ ...base, id: "loss", label: "Loss per epoch", yTitle: "Loss", format: "plain" }),
      chartFigure({ ...base, id: "accuracy", label: "Accuracy per epoch", yTitle: "Accuracy", format: "percent" }),
    ];
    return el("section", { class: "charts", "aria-label": "Training charts" }, el("h2", { text: title }), this.figures);
  }
}

class OperationPage {
  constructor(main, id) {
    this.main = main;
    this.id = id;
    this.header = el("div", { class: "op-header" });
    this.bar = progressBar(0, `Progress of ${id}`);
    this.step = el("span", { class: "step" });
    this.times = el("p", { class: "meta" });
    this.timelineBox = el("section", { "aria-label": "Phase timeline" });
    this.childrenBox = el("section", { "aria-label": "Children" });
    this.walkForwardBox = el("div");
    this.trainingBox = el("div");
    this.backtestBox = el("div");
    this.resultBox = el("section", { "aria-label": "Result" });
    this.deliveries = new DeliveriesSection(id); // the webhooks sent once it has ended
    this.problem = el("p", { class: "problem", role: "alert" });
    this.cancel = new CancelControl(id); // shown only while it runs
    replace(
      main,
      el("h1", {}, el("span", { class: "kind", text: "Operation" }), " ", el("code", { text: id })),
      this.header,
      el("div", { class: "op-progress" }, this.bar, this.step, this.cancel.box),
      this.cancel.answer,
      this.times,
      this.problem,
      this.timelineBox,
      this.resultBox,
      this.walkForwardBox,
      this.childrenBox,
      this.trainingBox,
      this.backtestBox,
      this.deliveries.box,
    );
    this.changes = [];
    this.journalComplete = true;
    this.lastStatus = null;
    this.histories = new Map();
    this.children = null; // a ChildList or a CycleGrid, once there are children
    this.backtestShown = null;
    this.resultShownFor = null;
    this.root = null;
    this.nodes = [];
  }

  onTree(tree) {
    this.nodes = tree.operations;
    this.root = this.nodes[0];
    if (!tree.complete) this.journalComplete = false;
    this.changes.push(...tree.changes);
    this.drawHeader();
    this.drawTimeline();
    const children = this.nodes.filter((n) => n.parent_operation_id === this.id);
    this.drawChildren(children);
    this.drawCharts(children);
    this.drawResult();
  }

  drawHeader() {
    const { root, id } = this;
    const params = root.metadata.parameters || {};
    const strategy = params.strategy_name || (root.result_summary || {}).strategy_name;
    const kind = kindNoun(root.operation_type);
    this.main.querySelector("h1 .kind").textContent = kindLabel(root.operation_type);
    document.title = `${kind} ${id} · ktrdr`;
    replace(
      this.header,
      statusBadge(root.status),
      strategy ? el("span", { class: "strategy", text: strategy }) : null,
      root.parent_operation_id ? el("span", { class: "note" }, " part of ", operationLink(root.parent_operation_id)) : null,
      roleNote(params),
      root.operation_type === KIND.BACKTESTING
        ? el("a", { class: "button-link", href: `/backtests/${encodeURIComponent(id)}`, text: "Equity curve and trades" })
        : null,
    );
    this.cancel.update(root);
    setProgress(this.bar, root.progress.percentage);
    this.step.textContent = `${Math.round(root.progress.percentage)}% ${root.progress.current_step || ""}`;
    const eta = etaText(root); // a running cycle's, learned from past cycles
    this.times.textContent = `Created ${when(root.created_at)} · elapsed ${duration(root.elapsed_seconds)}${eta ? ` · ${eta}` : ""}`;
    // Status and phase changes are announced (not every percentage: too chatty).
    const said = `${root.status} ${params.phase || ""}`;
    if (this.lastStatus !== null && this.lastStatus !== said) {
      announce(`${kind} ${id}: ${root.status}${params.phase && root.status === STATUS.RUNNING ? `, ${params.phase}` : ""}`);
    }
    this.lastStatus = said;
    this.problem.textContent = root.error_message || "";
  }

  drawTimeline() {
    const { root } = this;
    if (root && root.operation_type === KIND.AGENT_RESEARCH) {
      replace(this.timelineBox, el("h2", { text: "Phases" }), phaseTimeline(root, this.nodes, this.journalComplete ? this.changes : null));
    }
  }

  drawChildren(children) {
    if (!children.length) return;
    const wanted = isWalkForward(this.root, children) ? CycleGrid : ChildList;
    if (!(this.children instanceof wanted)) {
      this.children = new wanted();
      replace(this.childrenBox, this.children.section);
    }
    this.children.update(this.root, children);
  }

  /** Charts for the operation itself and its children; for a walk-forward cycle only the
   * chosen candidate's final training and holdout (the grid links to every other). */
  drawCharts(children) {
    const { root } = this;
    if (isWalkForward(root, children)) {
      const focus = focusChildren(root, children);
      if (focus.training) this.showTraining(focus.training, "Final training (chosen candidate)");
      if (focus.backtest?.status === STATUS.COMPLETED) this.showBacktest(focus.backtest.operation_id, "Holdout backtest");
      return;
    }
    for (const node of [root, ...children]) {
      if (node.operation_type === KIND.TRAINING) this.showTraining(node, kindLabel(KIND.TRAINING));
      if (node.operation_type === KIND.BACKTESTING && node.status === STATUS.COMPLETED) {
        this.showBacktest(node.operation_id, kindLabel(KIND.BACKTESTING));
      }
    }
  }

  showTraining(node, title) {
    let history = this.histories.get(node.operation_id);
    if (!history) {
      history = new TrainingHistory(node.operation_id);
      this.histories.set(node.operation_id, history);
      this.trainingBox.append(history.section(title));
    }
    history.refresh(node);
  }

  async showBacktest(backtestId, title) {
    if (this.backtestShown === backtestId) return;
    this.backtestShown = backtestId;
    try {
      const series = await loadSeries(backtestId);
      replace(
        this.backtestBox,
        el(
          "section",
          { class: "charts", "aria-label": `${title} charts` },
          el("h2", {}, `${title} `, el("a", { href: `/backtests/${encodeURIComponent(backtestId)}`, text: "(full page)" })),
          // A cycle's result shows these figures beside buy-and-hold's: the charts alone here.
          this.root?.operation_type === KIND.AGENT_RESEARCH
            ? el("div", {}, equityFigures(series))
            : el("div", { class: "split" }, el("div", {}, equityFigures(series)), el("aside", {}, metricsTable(series.metrics || {}, series.benchmark || {}, "Metrics"))),
        ),
      );
    } catch (error) {
      this.backtestShown = null;
      replace(this.backtestBox, el("p", { class: "problem", text: `Backtest series: ${error.message}` }));
    }
  }

  drawResult() {
    const { root } = this;
    if (!root.result_summary || this.resultShownFor === root.version) return;
    this.resultShownFor = root.version;
    const walkForward = root.status === STATUS.COMPLETED ? walkForwardSection(root.result_summary) : null;
    replace(this.walkForwardBox, walkForward);
    const cycle = root.operation_type === KIND.AGENT_RESEARCH;
    // A cycle's result is what its page is read for: high up. Anything else's figures follow
    // its charts, as they always have.
    if (!cycle && this.resultBox.previousElementSibling !== this.backtestBox) this.backtestBox.after(this.resultBox);
    replace(this.resultBox, el("h2", { text: "Result" }), cycle ? cycleSummary(root) : resultTable(root.result_summary));
  }
}

export async function operationView(main, id) {
  const page = new OperationPage(main, id);
  // The current phase's duration keeps counting between answers.
  const ticker = setInterval(() => {
    if (page.root && ACTIVE.has(page.root.status)) page.drawTimeline();
  }, 1000);
  try {
    await followTree(id, (tree) => page.onTree(tree));
  } catch (error) {
    page.problem.textContent = error.message;
  }
  clearInterval(ticker);
  page.drawTimeline();
  if (page.root && TERMINAL.has(page.root.status)) page.deliveries.refresh();
}

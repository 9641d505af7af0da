// The operations page: every recent operation as a tree (cycles with their training and
// backtest children), live. Running trees are followed by long-poll (one held request per
// running root, answered the moment anything changes); a re-list every few seconds finds
// operations started elsewhere. A row reads by its strategy (the id beneath it), says when it
// started and, when it failed, why.

import { cancelOperation, followTree, getEnvelope } from "./api.js";
import {
  announce,
  breakable,
  duration,
  el,
  finite,
  progressBar,
  replace,
  scrollingTable,
  setConnection,
  setProgress,
  statusBadge,
  timeTag,
} from "./dom.js";
import { ACTIVE, KIND, KINDS, STATUS, STATUSES, TERMINAL, kindLabel, kindNoun } from "./vocabulary.js";

const LIST_LIMIT = 200;
const RELIST_MS = 3000;
// Each followed tree holds one connection; browsers allow six per origin, so the rest of
// the running roots are seen through the re-list.
const MAX_FOLLOWERS = 3;
// How much of a failure's message a row shows; the whole of it is the reason's title.
const REASON_CHARS = 90;
const COLUMNS = ["Strategy / operation", "Started", "Status", "Phase / step", "Progress", "Elapsed", "ETA"];

/** One shape for a listing row (summary) and a tree node (full operation). */
export function fromSummary(row) {
  const headline = row.headline || {};
  return {
    id: row.operation_id,
    type: row.operation_type,
    status: row.status,
    parent: row.parent_operation_id,
    created: row.created_at,
    started: row.started_at,
    percentage: row.percentage,
    step: row.current_step,
    phase: row.phase,
    elapsed: row.elapsed_seconds,
    strategy: headline.strategy_name || null,
    symbol: headline.symbol || null,
    error: row.error_message,
    cancelRequested: row.cancel_requested,
    version: row.version,
    receivedAt: Date.now(),
  };
}

export function fromOperation(op) {
  const params = (op.metadata && op.metadata.parameters) || {};
  const result = op.result_summary || {};
  return {
    id: op.operation_id,
    type: op.operation_type,
    status: op.status,
    parent: op.parent_operation_id,
    created: op.created_at,
    started: op.started_at,
    percentage: op.progress.percentage,
    step: op.progress.current_step,
    phase: op.operation_type === KIND.AGENT_RESEARCH ? params.phase || null : null,
    elapsed: op.elapsed_seconds,
    strategy: params.strategy_name || result.strategy_name || null,
    symbol: typeof params.symbol === "string" ? params.symbol : null,
    error: op.error_message,
    cancelRequested: op.cancel_requested,
    version: op.version,
    // A running cycle's ETA, learned from past cycles (eta.js), and when it came: a listing
    // row (which has none) keeps both when merged over this.
    learnedEta: op.eta_seconds,
    learnedEtaAt: Date.now(),
    receivedAt: Date.now(),
  };
}

export function elapsedNow(op) {
  if (!finite(op.elapsed)) return null;
  return ACTIVE.has(op.status) ? op.elapsed + (Date.now() - op.receivedAt) / 1000 : op.elapsed;
}

/** Time left: a cycle's as the backend learned it from its past cycles (counted down since
 * it came), else from the pace so far, only for work counted in epochs or bars (a cycle's
 * percentage moves in phase steps, which say nothing about time). */
export function etaSeconds(op) {
  if (op.type === KIND.AGENT_RESEARCH && ACTIVE.has(op.status) && finite(op.learnedEta)) {
    return Math.max(0, op.learnedEta - (Date.now() - op.learnedEtaAt) / 1000);
  }
  const spent = elapsedNow(op);
  const p = op.percentage;
  if (op.type === KIND.AGENT_RESEARCH || op.status !== STATUS.RUNNING || spent === null) return null;
  if (!(p > 0 && p < 100)) return null;
  return (spent * (100 - p)) / p;
}

/** The ETA cell: empty once the operation has ended (nothing is left to wait for). */
function etaCellText(op) {
  return TERMINAL.has(op.status) ? "" : duration(etaSeconds(op), true);
}

/** What a row is called: its strategy, else its kind (and market, when it has one). */
function rowTitle(op) {
  if (op.strategy) return op.strategy;
  return op.symbol ? `${kindLabel(op.type)} · ${op.symbol}` : kindLabel(op.type);
}

/** A message cut to ``chars`` at a word where it can be, with an ellipsis. */
function shorten(text, chars) {
  const flat = String(text).replace(/\s+/g, " ").trim();
  return flat.length <= chars ? flat : `${flat.slice(0, chars - 1).replace(/ \S{0,24}$/, "")}…`;
}

function cancelDialog() {
  const text = el("p");
  const dialog = el(
    "dialog",
    { id: "cancel-dialog", "aria-labelledby": "cancel-title" },
    el(
      "form",
      { method: "dialog" },
      el("h2", { id: "cancel-title", text: "Cancel this operation?" }),
      text,
      el(
        "div",
        { class: "actions" },
        el("button", { value: "keep", type: "submit", autofocus: true, text: "Keep running" }),
        el("button", { value: "cancel", type: "submit", class: "danger", text: "Cancel it" }),
      ),
    ),
  );
  return { dialog, text };
}

function filterSelect(id, anyText, values, label) {
  return el(
    "select",
    { id, name: id.replace("filter-", "") },
    el("option", { value: "", text: anyText }),
    values.map((value) => el("option", { value, text: label(value) })),
  );
}

function tableHead() {
  const actions = el("th", { scope: "col" }, el("span", { class: "visually-hidden", text: "Actions" }));
  return el("thead", {}, el("tr", {}, COLUMNS.map((h) => el("th", { scope: "col", text: h })), actions));
}

class OperationsList {
  constructor(main) {
    this.ops = new Map();
    this.rows = new Map();
    this.followers = new Map();
    this.pendingCancel = null;
    this.statusSelect = filterSelect("filter-status", "any status", STATUSES, (s) => s);
    this.kindSelect = filterSelect("filter-kind", "any kind", KINDS, kindNoun);
    this.body = el("tbody");
    this.note = el("p", { class: "note", role: "status" });
    this.problem = el("p", { class: "problem", role: "alert" });
    this.cancel = cancelDialog();
    this.cancel.dialog.addEventListener("close", () => this.confirmed());
    for (const select of [this.statusSelect, this.kindSelect]) {
      select.addEventListener("change", () => this.render());
    }
    replace(
      main,
      el("h1", { text: "Operations" }),
      el(
        "form",
        { class: "filters", role: "search", "aria-label": "Filter operations" },
        el("label", { for: "filter-status" }, "Status"),
        this.statusSelect,
        el("label", { for: "filter-kind" }, "Kind"),
        this.kindSelect,
      ),
      this.problem,
      scrollingTable(
        "Operations table",
        "ops",
        "Operations, newest first, children under their research cycle",
        tableHead(),
        this.body,
      ),
      this.note,
      this.cancel.dialog,
    );
  }

  async confirmed() {
    const id = this.pendingCancel;
    this.pendingCancel = null;
    if (this.cancel.dialog.returnValue !== "cancel" || id === null) return;
    try {
      this.merge(fromOperation(await cancelOperation(id)));
      this.render();
    } catch (error) {
      this.problem.textContent = `Could not cancel ${id}: ${error.message}`;
    }
  }

  merge(op) {
    const known = this.ops.get(op.id);
    if (known && known.version > op.version) return;
    if (known && known.status !== op.status) {
      announce(`${kindNoun(op.type)} ${op.id}: ${op.status}`);
    }
    this.ops.set(op.id, { ...known, ...op, strategy: op.strategy || known?.strategy || null });
  }

  askCancel(op) {
    this.pendingCancel = op.id;
    const { dialog, text } = this.cancel;
    text.textContent = "";
    text.append(
      `${kindNoun(op.type)} `,
      el("code", { text: op.id }),
      op.strategy ? ` (${op.strategy})` : "",
      op.type === KIND.AGENT_RESEARCH ? " and its running child will stop." : " will stop.",
    );
    dialog.returnValue = "";
    dialog.showModal();
  }

  makeRow(op) {
    const cell = (field, cls) => el("td", { "data-field": field, class: cls });
    const cells = {
      name: el("td", { class: "name" }),
      started: cell("started", "when"),
      status: cell("status"),
      step: cell("step"),
      bar: progressBar(op.percentage, `Progress of ${op.id}`),
      pct: el("span", { class: "pct" }),
      elapsed: cell("elapsed", "num"),
      eta: cell("eta", "num"),
      action: el("td", { class: "action" }),
    };
    const tr = el(
      "tr",
      { "data-id": op.id, class: op.parent ? "child" : "root" },
      cells.name,
      cells.started,
      cells.status,
      cells.step,
      el("td", { class: "progress-cell" }, cells.bar, cells.pct),
      cells.elapsed,
      cells.eta,
      cells.action,
    );
    const cancel = el("button", {
      type: "button",
      class: "cancel",
      "aria-label": `Cancel ${kindNoun(op.type)} ${op.id}`,
      text: "Cancel",
      onclick: () => this.askCancel(this.ops.get(op.id)),
    });
    return { tr, cells, cancel, shown: "" };
  }

  /** The cells that change only with the operation's state (rebuilt only when it does). */
  fillState(row, op) {
    const { cells } = row;
    replace(
      cells.name,
      el(
        "span",
        { class: "head" },
        op.parent ? el("span", { class: "branch", "aria-hidden": "true", text: "└ " }) : null,
        el("a", { class: "title", href: `/operations/${encodeURIComponent(op.id)}` }, breakable(rowTitle(op))),
      ),
      el(
        "span",
        { class: "sub" },
        el("span", { class: "kind", text: kindNoun(op.type) }),
        " ",
        el("code", { class: "op-id" }, breakable(op.id)),
      ),
    );
    replace(cells.started, op.started ? timeTag(op.started) : el("span", { class: "note", text: "not yet" }));
    const reason = op.status === STATUS.FAILED && op.error;
    replace(
      cells.status,
      statusBadge(op.status),
      op.cancelRequested && ACTIVE.has(op.status) ? el("span", { class: "note", text: " cancelling…" }) : null,
      reason ? el("span", { class: "reason", title: op.error, text: shorten(op.error, REASON_CHARS) }) : null,
    );
    replace(cells.action, ACTIVE.has(op.status) && !op.cancelRequested ? row.cancel : null);
  }

  fillRow(row, op) {
    const { cells } = row;
    const key = [op.status, op.strategy, op.symbol, op.cancelRequested, op.started, op.error].join("|");
    if (row.shown !== key) {
      row.shown = key;
      this.fillState(row, op);
    }
    const step = [op.phase, op.step].filter(Boolean).join(" · ");
    cells.step.textContent = step || "–";
    cells.step.classList.toggle("blank", !step); // a phone's card leaves the line out
    setProgress(cells.bar, op.percentage);
    cells.pct.textContent = `${Math.round(op.percentage || 0)}%`;
    this.fillClock(row, op);
  }

  fillClock(row, op) {
    row.cells.elapsed.textContent = duration(elapsedNow(op));
    row.cells.eta.textContent = etaCellText(op);
  }

  ordered() {
    const all = [...this.ops.values()];
    const byCreated = (a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0);
    const roots = all.filter((o) => !o.parent || !this.ops.has(o.parent)).sort(byCreated);
    const out = [];
    for (const root of roots) {
      out.push(root);
      out.push(...all.filter((o) => o.parent === root.id).sort(byCreated).reverse());
    }
    return out;
  }

  render() {
    const list = this.ordered();
    const status = this.statusSelect.value;
    const kind = this.kindSelect.value;
    const wanted = [];
    for (const op of list) {
      let row = this.rows.get(op.id);
      if (!row) {
        row = this.makeRow(op);
        this.rows.set(op.id, row);
      }
      this.fillRow(row, op);
      row.tr.hidden = (status && op.status !== status) || (kind && op.type !== kind);
      wanted.push(row.tr);
    }
    // Reorder only when the order changed, so focus and the dialog's opener stay put.
    const current = [...this.body.children];
    if (current.length !== wanted.length || current.some((tr, i) => tr !== wanted[i])) {
      this.body.replaceChildren(...wanted);
    }
    const visible = wanted.filter((tr) => !tr.hidden).length;
    this.note.textContent =
      list.length === 0
        ? "No operations yet. Start one with: ktrdr agent trigger"
        : `Showing ${visible} of ${list.length} recent operations.`;
    this.follow();
  }

  follow() {
    for (const op of this.ops.values()) {
      const isRoot = !op.parent || !this.ops.has(op.parent);
      if (!isRoot || !ACTIVE.has(op.status) || this.followers.has(op.id)) continue;
      if (this.followers.size >= MAX_FOLLOWERS) return;
      const stop = new AbortController();
      this.followers.set(op.id, stop);
      const onTree = (tree) => {
        for (const node of tree.operations) this.merge(fromOperation(node));
        this.render();
      };
      followTree(op.id, onTree, stop.signal)
        .catch(() => {})
        .finally(() => this.followers.delete(op.id));
    }
  }

  async relist() {
    try {
      const page = await getEnvelope(`/operations?limit=${LIST_LIMIT}`);
      for (const row of page.data) this.merge(fromSummary(row));
      this.problem.textContent = "";
      setConnection("live", true);
      this.render();
    } catch (error) {
      setConnection("backend unreachable", false);
      this.problem.textContent = `Cannot read operations: ${error.message}`;
    }
  }

  /** Running clocks move every second between answers. */
  tick() {
    for (const op of this.ops.values()) {
      const row = ACTIVE.has(op.status) ? this.rows.get(op.id) : null;
      if (row) this.fillClock(row, op);
    }
  }
}

export function operationsView(main) {
  const list = new OperationsList(main);
  list.relist();
  setInterval(() => list.relist(), RELIST_MS);
  setInterval(() => list.tick(), 1000);
}

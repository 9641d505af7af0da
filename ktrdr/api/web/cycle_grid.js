// A research cycle's children. An older cycle's are a list of bars. A walk-forward cycle's
// are a grid: a row per candidate design, a column per fold (each cell that candidate's
// training and backtest on that fold), then its final training and, in the chosen
// candidate's row, the holdout backtests at each cost. Every child is a small bar coloured
// by its status, filled to its percentage, linking to its page. Bars are made once and
// updated in place, so a link keeps keyboard focus while the tree changes under it.

import { el, finite, operationLink, progressBar, replace, scrollingTable, setProgress, statusBadge } from "./dom.js";
import { KIND, ROLE, ROLES, STATUS, TERMINAL, kindLabel, kindNoun } from "./vocabulary.js";

const TAGS = { [KIND.TRAINING]: "T", [KIND.BACKTESTING]: "B" };
// The grid's count line: finished work first, then what is under way, then what went wrong.
const TALLY_ORDER = [STATUS.COMPLETED, STATUS.RUNNING, STATUS.PENDING, STATUS.FAILED, STATUS.CANCELLED];

function paramsOf(op) {
  return op.metadata.parameters || {};
}

function index(value) {
  return Number.isInteger(value) && value >= 0 ? value : null;
}

/** Whether ``root`` is a walk-forward cycle: its children say what they are for, or its
 * progress or result says how many folds it has. Older cycles show their children as a list. */
export function isWalkForward(root, children) {
  const context = root.progress.context || {};
  return (
    finite(context.folds) ||
    Boolean((root.result_summary || {}).walk_forward) ||
    children.some((c) => ROLES.has(paramsOf(c).role))
  );
}

/** How many folds and candidates the grid has: as the cycle says, else as its children do. */
function shapeOf(root, children) {
  const context = root.progress.context || {};
  const result = root.result_summary || {};
  let folds = index(context.folds) ?? (result.walk_forward?.folds || []).length;
  let candidates = index(context.candidates) ?? (result.candidates || []).length;
  for (const child of children) {
    const p = paramsOf(child);
    if (p.role === ROLE.FOLD && index(p.fold) !== null) folds = Math.max(folds, p.fold + 1);
    if (index(p.candidate) !== null) candidates = Math.max(candidates, p.candidate + 1);
  }
  return { folds, candidates };
}

/** The chosen candidate's index: as the result says, else the one whose holdout was run. */
export function chosenCandidate(root, children) {
  const picked = ((root.result_summary || {}).candidates || []).find((c) => c && c.chosen);
  if (picked && index(picked.index) !== null) return picked.index;
  const holdout = children.find((c) => paramsOf(c).role === ROLE.HOLDOUT && index(paramsOf(c).candidate) !== null);
  return holdout ? paramsOf(holdout).candidate : null;
}

/** The children worth a chart on the cycle's page: the chosen candidate's final training and
 * its holdout backtest at the usual costs (×1), once they exist. */
export function focusChildren(root, children) {
  const chosen = chosenCandidate(root, children);
  if (chosen === null) return { training: null, backtest: null };
  const mine = children.filter((c) => paramsOf(c).candidate === chosen);
  const holdouts = mine.filter((c) => paramsOf(c).role === ROLE.HOLDOUT);
  return {
    training: mine.find((c) => paramsOf(c).role === ROLE.FINAL && c.operation_type === KIND.TRAINING) || null,
    backtest: holdouts.find((c) => paramsOf(c).cost_multiplier === 1) || holdouts[0] || null,
  };
}

function costLabel(multiplier) {
  return finite(multiplier) ? `×${multiplier}` : "×?";
}

/** Where a child goes: its cell's key and its place within the cell; null if it has none. */
function placeOf(child, shape) {
  const p = paramsOf(child);
  const candidate = index(p.candidate);
  if (candidate === null || candidate >= shape.candidates) return null;
  if (p.role === ROLE.FOLD && index(p.fold) !== null && p.fold < shape.folds && TAGS[child.operation_type]) {
    return { cell: `${candidate}:${p.fold}`, slot: child.operation_type === KIND.TRAINING ? 0 : 1 };
  }
  if (p.role === ROLE.FINAL && child.operation_type === KIND.TRAINING) return { cell: `${candidate}:final`, slot: 0 };
  if (p.role === ROLE.HOLDOUT && child.operation_type === KIND.BACKTESTING) {
    return { cell: `${candidate}:holdout`, slot: finite(p.cost_multiplier) ? p.cost_multiplier : 99 };
  }
  return null;
}

function describe(child) {
  const p = paramsOf(child);
  const where = [`candidate ${index(p.candidate) !== null ? p.candidate + 1 : "?"}`];
  if (p.role === ROLE.FOLD) where.push(`fold ${p.fold + 1}`);
  if (p.role === ROLE.FINAL) where.push("final training");
  if (p.role === ROLE.HOLDOUT) where.push(`holdout at ${costLabel(p.cost_multiplier)} costs`);
  const pct = Math.round(child.progress.percentage || 0);
  const step = child.progress.current_step ? ` · ${child.progress.current_step}` : "";
  return `${kindLabel(child.operation_type)} · ${where.join(" · ")}: ${child.status}, ${pct}%${step}`;
}

/** A child's bar: a link with a short tag (T, B or the cost multiple) and a filled track. */
function makeBar(child) {
  const p = paramsOf(child);
  const tag = p.role === ROLE.HOLDOUT ? costLabel(p.cost_multiplier) : TAGS[child.operation_type] || "?";
  const fill = el("span", { class: "wf-fill" });
  const link = el(
    "a",
    { class: "wf-bar", href: `/operations/${encodeURIComponent(child.operation_id)}`, "data-id": child.operation_id },
    el("span", { class: "wf-tag", "aria-hidden": "true", text: tag }),
    el("span", { class: "wf-track", "aria-hidden": "true" }, fill),
  );
  return { link, fill, state: "" };
}

function drawBar(bar, child) {
  const text = describe(child);
  const done = TERMINAL.has(child.status);
  const pct = done ? 100 : Math.max(0, Math.min(100, child.progress.percentage || 0));
  const state = `${child.status}|${pct}|${text}`;
  if (bar.state === state) return; // most answers change a few bars: leave the rest alone
  bar.state = state;
  bar.link.className = `wf-bar st-${child.status}`;
  bar.link.setAttribute("aria-label", text);
  bar.link.title = text;
  bar.fill.style.width = `${pct}%`;
}

/** An old cycle's children (or any operation's): a line each with its bar and step. */
export class ChildList {
  constructor() {
    this.list = el("ul", { class: "children" });
    this.section = el("div", {}, el("h2", { text: "Children" }), this.list);
    this.entries = new Map();
  }

  update(root, children) {
    for (const child of children) {
      let entry = this.entries.get(child.operation_id);
      if (!entry) {
        entry = { bar: progressBar(0, `Progress of ${child.operation_id}`), status: el("span"), step: el("span", { class: "step" }) };
        this.entries.set(child.operation_id, entry);
        this.list.append(el("li", {}, el("span", { class: "kind", text: kindNoun(child.operation_type) }), " ", operationLink(child.operation_id), " ", entry.status, entry.bar, entry.step));
      }
      replace(entry.status, statusBadge(child.status));
      setProgress(entry.bar, child.progress.percentage);
      entry.step.textContent = `${Math.round(child.progress.percentage)}% ${child.progress.current_step || ""}`;
    }
  }
}

/** Where a child of a walk-forward cycle sits in it, for its own page's header. */
export function roleNote(params) {
  const candidate = Number.isInteger(params.candidate) ? `candidate ${params.candidate + 1}` : null;
  const parts = {
    [ROLE.FOLD]: [candidate, Number.isInteger(params.fold) ? `fold ${params.fold + 1}` : null],
    [ROLE.FINAL]: [candidate, "final training"],
    [ROLE.HOLDOUT]: [candidate, ROLE.HOLDOUT, finite(params.cost_multiplier) ? `${costLabel(params.cost_multiplier)} costs` : null],
  }[params.role];
  return parts ? el("span", { class: "note", text: parts.filter(Boolean).join(" · ") }) : null;
}

export class CycleGrid {
  constructor() {
    this.counts = el("p", { class: "note wf-counts" });
    this.table = el("div");
    this.others = el("div");
    this.section = el(
      "section",
      { class: "wf-grid-section", "aria-label": "Candidates and folds" },
      el("h2", { text: "Candidates × folds" }),
      el("p", {
        class: "note",
        text: "Each fold: T = training, B = backtest; then each candidate's final training and the chosen one's holdout at ×0, ×1 and ×2 costs. Bars fill with progress: green done, blue running, grey waiting, red failed, amber cancelled (both hatched). Hover or focus a bar for its step; follow it for its page.",
      }),
      this.counts,
      this.table,
      this.others,
    );
    this.bars = new Map();
    this.cells = new Map();
    this.rowHeads = [];
    this.shapeKey = "";
  }

  /** Rebuild the empty grid when the number of folds or candidates changes (the bars stay). */
  build(shape) {
    this.cells.clear();
    this.rowHeads = [];
    const head = el(
      "tr",
      {},
      el("th", { scope: "col", text: "Candidate" }),
      Array.from({ length: shape.folds }, (_, f) => el("th", { scope: "col", text: `Fold ${f + 1}` })),
      el("th", { scope: "col", text: "Final" }),
      el("th", { scope: "col", text: "Holdout" }),
    );
    const rows = Array.from({ length: shape.candidates }, (_, c) => {
      const name = el("span", { class: "strategy" });
      const mark = el("span", { class: "wf-chosen" });
      const th = el("th", { scope: "row" }, `${c + 1}`, mark, name);
      this.rowHeads.push({ th, name, mark });
      const cell = (key, slots, cls) => {
        const td = el("td", { class: cls });
        this.cells.set(key, td);
        for (let s = 0; s < slots; s++) td.append(el("span", { class: "wf-slot", "data-slot": String(s) }));
        return td;
      };
      return el(
        "tr",
        { "data-candidate": String(c) },
        th,
        Array.from({ length: shape.folds }, (_, f) => cell(`${c}:${f}`, 2, "wf-cell")),
        cell(`${c}:final`, 1, "wf-cell wf-final"),
        cell(`${c}:holdout`, 0, "wf-cell wf-holdout"),
      );
    });
    replace(
      this.table,
      scrollingTable(
        "Children by candidate and fold",
        "wf-grid",
        "Children: a row per candidate, a column per fold",
        el("thead", {}, head),
        el("tbody", {}, rows),
      ),
    );
  }

  /** Put ``bar`` in its slot (a holdout cell keeps its bars in cost order). */
  place(bar, where) {
    const td = this.cells.get(where.cell);
    if (!td) return false;
    const slot = td.querySelector(`[data-slot="${where.slot}"]`);
    if (slot) {
      if (slot.firstChild !== bar.link) replace(slot, bar.link);
      return true;
    }
    if (bar.link.parentNode === td) return true;
    bar.link.dataset.order = String(where.slot);
    const after = [...td.children].find((n) => Number(n.dataset.order) > where.slot);
    td.insertBefore(bar.link, after || null);
    return true;
  }

  update(root, children) {
    const shape = shapeOf(root, children);
    const key = `${shape.folds}x${shape.candidates}`;
    if (key !== this.shapeKey) {
      this.shapeKey = key;
      this.build(shape);
    }
    const others = [];
    const tally = Object.fromEntries(TALLY_ORDER.map((status) => [status, 0]));
    for (const child of children) {
      tally[child.status] = (tally[child.status] || 0) + 1;
      let bar = this.bars.get(child.operation_id);
      if (!bar) {
        bar = makeBar(child);
        this.bars.set(child.operation_id, bar);
      }
      drawBar(bar, child);
      const where = placeOf(child, shape);
      if (!where || !this.place(bar, where)) others.push(bar.link);
    }
    this.label(root, children);
    const parts = Object.entries(tally).filter(([, n]) => n).map(([status, n]) => `${n} ${status}`);
    this.counts.textContent = `${children.length} children: ${parts.join(", ") || "none yet"}`;
    replace(this.others, others.length ? [el("p", { class: "note", text: "Not placed in the grid:" }), el("div", { class: "wf-others" }, others)] : []);
  }

  /** Each row's strategy name and the chosen candidate's mark. */
  label(root, children) {
    const chosen = chosenCandidate(root, children);
    const names = new Map();
    for (const c of (root.result_summary || {}).candidates || []) {
      if (c && index(c.index) !== null && c.strategy_name) names.set(c.index, c.strategy_name);
    }
    // Until the result names them, the final training carries the candidate's own name (a
    // fold's training carries it with the fold appended).
    const byRole = (role) => children.filter((c) => paramsOf(c).role === role);
    for (const child of [...byRole(ROLE.FINAL), ...byRole(ROLE.HOLDOUT), ...byRole(ROLE.FOLD)]) {
      const p = paramsOf(child);
      if (index(p.candidate) !== null && p.strategy_name && !names.has(p.candidate)) names.set(p.candidate, p.strategy_name);
    }
    this.rowHeads.forEach((row, c) => {
      row.name.textContent = names.get(c) || "";
      row.mark.textContent = c === chosen ? " ✓ chosen" : "";
      row.th.parentNode.classList.toggle("chosen", c === chosen);
    });
  }
}

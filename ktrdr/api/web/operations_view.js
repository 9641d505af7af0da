// The operations page: every recent operation as a tree (cycles with their training and
// backtest children), live. Running trees are followed by long-poll (one held request per
// running root, answered the moment anything changes); a re-list every few seconds finds
// operations started elsewhere.

import { cancelOperation, followTree, getEnvelope } from "./api.js";
import {
  announce,
  duration,
  el,
  finite,
  operationLink,
  progressBar,
  replace,
  scrollingTable,
  setConnection,
  setProgress,
  statusBadge,
} from "./dom.js";
import { ACTIVE, KIND, KINDS, STATUS, STATUSES, kindNoun } from "./vocabulary.js";

const LIST_LIMIT = 200;
const RELIST_MS = 3000;
// Each followed tree holds one connection; browsers allow six per origin, so the rest of
// the running roots are seen through the re-list.
const MAX_FOLLOWERS = 3;

/** One shape for a listing row (summary) and a tree node (full operation). */
export function fromSummary(row) {
  return {
    id: row.operation_id,
    type: row.operation_type,
    status: row.status,
    parent: row.parent_operation_id,
    created: row.created_at,
    percentage: row.percentage,
    step: row.current_step,
    phase: row.phase,
    elapsed: row.elapsed_seconds,
    strategy: row.headline ? row.headline.strategy_name : null,
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
    percentage: op.progress.percentage,
    step: op.progress.current_step,
    phase: op.operation_type === KIND.AGENT_RESEARCH ? params.phase || null : null,
    elapsed: op.elapsed_seconds,
    strategy: params.strategy_name || result.strategy_name || null,
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

export function operationsView(main) {
  const ops = new Map();
  const rows = new Map();
  const followers = new Map();
  const filters = { status: "", kind: "" };

  const statusSelect = el(
    "select",
    { id: "filter-status", name: "status" },
    el("option", { value: "", text: "any status" }),
    STATUSES.map((s) => el("option", { value: s, text: s })),
  );
  const kindSelect = el(
    "select",
    { id: "filter-kind", name: "kind" },
    el("option", { value: "", text: "any kind" }),
    KINDS.map((kind) => el("option", { value: kind, text: kindNoun(kind) })),
  );
  const body = el("tbody");
  const note = el("p", { class: "note", role: "status" });
  const problem = el("p", { class: "problem", role: "alert" });
  const dialogText = el("p");
  const dialog = el(
    "dialog",
    { id: "cancel-dialog", "aria-labelledby": "cancel-title" },
    el(
      "form",
      { method: "dialog" },
      el("h2", { id: "cancel-title", text: "Cancel this operation?" }),
      dialogText,
      el(
        "div",
        { class: "actions" },
        el("button", { value: "keep", type: "submit", autofocus: true, text: "Keep running" }),
        el("button", { value: "cancel", type: "submit", class: "danger", text: "Cancel it" }),
      ),
    ),
  );
  let pendingCancel = null;
  dialog.addEventListener("close", async () => {
    const id = pendingCancel;
    pendingCancel = null;
    if (dialog.returnValue !== "cancel" || id === null) return;
    try {
      const op = await cancelOperation(id);
      merge(fromOperation(op));
      render();
    } catch (error) {
      problem.textContent = `Could not cancel ${id}: ${error.message}`;
    }
  });

  for (const select of [statusSelect, kindSelect]) {
    select.addEventListener("change", () => {
      filters.status = statusSelect.value;
      filters.kind = kindSelect.value;
      render();
    });
  }

  replace(
    main,
    el("h1", { text: "Operations" }),
    el(
      "form",
      { class: "filters", role: "search", "aria-label": "Filter operations" },
      el("label", { for: "filter-status" }, "Status"),
      statusSelect,
      el("label", { for: "filter-kind" }, "Kind"),
      kindSelect,
    ),
    problem,
    scrollingTable(
      "Operations table",
      "ops",
      "Operations, newest first, children under their research cycle",
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ["Operation", "Status", "Phase / step", "Progress", "Elapsed", "ETA"].map((h) =>
            el("th", { scope: "col", text: h }),
          ),
          el("th", { scope: "col" }, el("span", { class: "visually-hidden", text: "Actions" })),
        ),
      ),
      body,
    ),
    note,
    dialog,
  );

  function merge(op) {
    const known = ops.get(op.id);
    if (known && known.version > op.version) return;
    if (known && known.status !== op.status) {
      announce(`${kindNoun(op.type)} ${op.id}: ${op.status}`);
    }
    ops.set(op.id, { ...known, ...op, strategy: op.strategy || known?.strategy || null });
  }

  function askCancel(op) {
    pendingCancel = op.id;
    dialogText.textContent = "";
    dialogText.append(
      `${kindNoun(op.type)} `,
      el("code", { text: op.id }),
      op.strategy ? ` (${op.strategy})` : "",
      op.type === KIND.AGENT_RESEARCH ? " and its running child will stop." : " will stop.",
    );
    dialog.returnValue = "";
    dialog.showModal();
  }

  function makeRow(op) {
    const cells = {
      name: el("td", { class: "name" }),
      status: el("td", { "data-field": "status" }),
      step: el("td", { "data-field": "step" }),
      bar: progressBar(op.percentage, `Progress of ${op.id}`),
      pct: el("span", { class: "pct" }),
      elapsed: el("td", { "data-field": "elapsed", class: "num" }),
      eta: el("td", { "data-field": "eta", class: "num" }),
      action: el("td", { class: "action" }),
    };
    const tr = el(
      "tr",
      { "data-id": op.id, class: op.parent ? "child" : "root" },
      cells.name,
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
      onclick: () => askCancel(ops.get(op.id)),
    });
    return { tr, cells, cancel, shown: "" };
  }

  function fillRow(row, op) {
    const { cells } = row;
    const key = `${op.status}|${op.strategy}|${op.cancelRequested}`;
    if (row.shown !== key) {
      row.shown = key;
      replace(
        cells.name,
        op.parent ? el("span", { class: "branch", "aria-hidden": "true", text: "└ " }) : null,
        el("span", { class: "kind", text: kindNoun(op.type) }),
        " ",
        operationLink(op.id),
        op.strategy ? el("span", { class: "strategy", text: op.strategy }) : null,
      );
      replace(
        cells.status,
        statusBadge(op.status),
        op.cancelRequested && ACTIVE.has(op.status) ? el("span", { class: "note", text: " cancelling…" }) : null,
      );
      replace(cells.action, ACTIVE.has(op.status) && !op.cancelRequested ? row.cancel : null);
    }
    cells.step.textContent = [op.phase, op.step].filter(Boolean).join(" · ") || "–";
    setProgress(cells.bar, op.percentage);
    cells.pct.textContent = `${Math.round(op.percentage || 0)}%`;
    cells.elapsed.textContent = duration(elapsedNow(op));
    cells.eta.textContent = duration(etaSeconds(op));
  }

  function ordered() {
    const all = [...ops.values()];
    const byCreated = (a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0);
    const roots = all.filter((o) => !o.parent || !ops.has(o.parent)).sort(byCreated);
    const out = [];
    for (const root of roots) {
      out.push(root);
      out.push(...all.filter((o) => o.parent === root.id).sort(byCreated).reverse());
    }
    return out;
  }

  function render() {
    const list = ordered();
    const wanted = [];
    for (const op of list) {
      let row = rows.get(op.id);
      if (!row) {
        row = makeRow(op);
        rows.set(op.id, row);
      }
      fillRow(row, op);
      row.tr.hidden =
        (filters.status && op.status !== filters.status) || (filters.kind && op.type !== filters.kind);
      wanted.push(row.tr);
    }
    // Reorder only when the order changed, so focus and the dialog's opener stay put.
    const current = [...body.children];
    if (current.length !== wanted.length || current.some((tr, i) => tr !== wanted[i])) {
      body.replaceChildren(...wanted);
    }
    const visible = wanted.filter((tr) => !tr.hidden).length;
    note.textContent =
      list.length === 0
        ? "No operations yet. Start one with: ktrdr agent trigger"
        : `Showing ${visible} of ${list.length} recent operations.`;
    follow();
  }

  function follow() {
    for (const op of ops.values()) {
      const isRoot = !op.parent || !ops.has(op.parent);
      if (isRoot && ACTIVE.has(op.status) && !followers.has(op.id)) {
        if (followers.size >= MAX_FOLLOWERS) return;
        const stop = new AbortController();
        followers.set(op.id, stop);
        followTree(
          op.id,
          (tree) => {
            for (const node of tree.operations) merge(fromOperation(node));
            render();
          },
          stop.signal,
        )
          .catch(() => {})
          .finally(() => followers.delete(op.id));
      }
    }
  }

  async function relist() {
    try {
      const page = await getEnvelope(`/operations?limit=${LIST_LIMIT}`);
      for (const row of page.data) merge(fromSummary(row));
      problem.textContent = "";
      setConnection("live", true);
      render();
    } catch (error) {
      setConnection("backend unreachable", false);
      problem.textContent = `Cannot read operations: ${error.message}`;
    }
  }

  relist();
  setInterval(relist, RELIST_MS);
  setInterval(() => {
    for (const op of ops.values()) {
      if (!ACTIVE.has(op.status)) continue;
      const row = rows.get(op.id);
      if (row) {
        row.cells.elapsed.textContent = duration(elapsedNow(op));
        row.cells.eta.textContent = duration(etaSeconds(op));
      }
    }
  }, 1000);
}

// A research cycle's phases in order, each with how long it took: from the tree's change
// journal (the time each phase was entered) when the backend still holds it, otherwise
// from the cycle's and its children's timestamps (designing until the training was
// created, training and backtesting while their children ran, assessing until the end).

import { duration, el, secondsBetween } from "./dom.js";

const PHASES = ["designing", "training", "backtesting", "assessing"];
const TERMINAL = new Set(["completed", "failed", "cancelled"]);

/** Start times (ISO) of each phase the cycle entered, by phase name, plus its end. */
function fromJournal(root, changes) {
  const starts = {};
  let end = null;
  for (const change of changes) {
    if (change.operation_id !== root.operation_id) continue;
    if (change.kind === "phase" && PHASES.includes(change.value) && !starts[change.value]) {
      starts[change.value] = change.at;
    }
    if (change.kind === "status" && TERMINAL.has(change.value)) end = change.at;
  }
  return { starts, end: end || root.completed_at };
}

function fromTimestamps(root, nodes) {
  const child = (type) => nodes.find((n) => n.parent_operation_id === root.operation_id && n.operation_type === type);
  const training = child("training");
  const backtest = child("backtesting");
  const starts = {};
  if (root.started_at) starts.designing = root.started_at;
  if (training) starts.training = training.created_at;
  if (backtest) starts.backtesting = backtest.created_at;
  if (backtest && backtest.completed_at && backtest.status === "completed") starts.assessing = backtest.completed_at;
  return { starts, end: root.completed_at };
}

/** The timeline as an ordered list: each phase done, current or not reached, with its
 * duration; a bar of proportional segments above it for the eye. */
export function phaseTimeline(root, nodes, changes) {
  const { starts, end } = changes && changes.length ? fromJournal(root, changes) : fromTimestamps(root, nodes);
  const params = root.metadata.parameters || {};
  const current = params.phase;
  const entered = PHASES.filter((p) => starts[p]);
  const items = [];
  const segments = [];
  for (const phase of PHASES) {
    const start = starts[phase];
    const i = entered.indexOf(phase);
    const next = i >= 0 && i + 1 < entered.length ? starts[entered[i + 1]] : null;
    let state = "pending";
    let seconds = null;
    if (start) {
      const running = !next && !TERMINAL.has(root.status);
      seconds = secondsBetween(start, next || (running ? null : end));
      state = running ? "current" : phase === current && root.status !== "completed" ? root.status : "done";
    }
    const label = state === "pending" ? "not reached" : state === "current" ? "running" : state === "done" ? "done" : state;
    items.push(
      el(
        "li",
        { class: `phase phase-${state}`, "data-phase": phase, "aria-current": state === "current" ? "step" : null },
        el("span", { class: "phase-name", text: phase }),
        el("span", { class: "phase-time", text: seconds === null ? "–" : duration(seconds) }),
        el("span", { class: "visually-hidden", text: `, ${label}` }),
      ),
    );
    if (seconds !== null) {
      const seg = el("span", { class: `seg seg-${phase}`, title: `${phase}: ${duration(seconds)}` });
      seg.style.flexGrow = String(Math.max(seconds, 0.05));
      segments.push(seg);
    }
  }
  const total = secondsBetween(starts.designing || root.started_at, end);
  return el(
    "div",
    { class: "timeline" },
    el("div", { class: "timeline-bar", "aria-hidden": "true" }, segments),
    el("ol", { class: "phases", "aria-label": `Phases, ${duration(total)} in all` }, items),
  );
}

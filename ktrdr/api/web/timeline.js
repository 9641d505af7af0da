// A research cycle's phases in order, each with how long it took: from the tree's change
// journal (the time each phase was entered) when the backend still holds it, otherwise
// from the cycle's and its children's timestamps (designing until the training was
// created, training and backtesting while their children ran, assessing until the end).
//
// Above the list, a bar of the whole cycle: each phase a slot as wide as its share of the
// cycle's percentage (the phase table's), filled when done, filled as far as its children
// have come while it runs, empty while it is still to come. Each phase has one colour, the
// same in its slot, its chip in the list and the legend.

import { duration, el, finite, secondsBetween } from "./dom.js";
import { CYCLE_PHASES, KIND, PHASE, PHASE_SPAN, ROLE, ROLES, STATUS, TERMINAL } from "./vocabulary.js";

// A phase's place on the timeline: done, the current one, or not reached yet (or, for the
// phase the cycle ended in, the status it ended with).
const DONE = "done";
const CURRENT = "current";
const AHEAD = "ahead";
const SAID = { [DONE]: "done", [CURRENT]: STATUS.RUNNING, [AHEAD]: "not reached" };

/** Start times (ISO) of each phase the cycle entered, by phase name, plus its end. */
function fromJournal(root, changes) {
  const starts = {};
  let end = null;
  for (const change of changes) {
    if (change.operation_id !== root.operation_id) continue;
    if (change.kind === "phase" && CYCLE_PHASES.includes(change.value) && !starts[change.value]) {
      starts[change.value] = change.at;
    }
    if (change.kind === "status" && TERMINAL.has(change.value)) end = change.at;
  }
  return { starts, end: end || root.completed_at };
}

function fromTimestamps(root, nodes) {
  const child = (type) => nodes.find((n) => n.parent_operation_id === root.operation_id && n.operation_type === type);
  const training = child(KIND.TRAINING);
  const backtest = child(KIND.BACKTESTING);
  const starts = {};
  if (root.started_at) starts[PHASE.DESIGNING] = root.started_at;
  if (training) starts[PHASE.TRAINING] = training.created_at;
  if (backtest) starts[PHASE.BACKTESTING] = backtest.created_at;
  if (backtest && backtest.completed_at && backtest.status === STATUS.COMPLETED) {
    starts[PHASE.ASSESSING] = backtest.completed_at;
  }
  return { starts, end: root.completed_at };
}

/** The children doing a phase's work and how many it will have: a walk-forward cycle's
 * fold and final trainings (with the folds' backtests) while training, its holdout
 * backtests after; an older cycle's one training or one backtest. */
function phaseWork(root, nodes, phase) {
  const children = nodes.filter((n) => n.parent_operation_id === root.operation_id);
  const role = (c) => (c.metadata.parameters || {}).role;
  if (children.some((c) => ROLES.has(role(c)))) {
    const context = root.progress.context || {};
    if (phase === PHASE.TRAINING) {
      const planned = finite(context.folds) && finite(context.candidates) ? context.candidates * (2 * context.folds + 1) : 0;
      return { work: children.filter((c) => role(c) === ROLE.FOLD || role(c) === ROLE.FINAL), planned };
    }
    return { work: phase === PHASE.BACKTESTING ? children.filter((c) => role(c) === ROLE.HOLDOUT) : [], planned: 0 };
  }
  const kind = { [PHASE.TRAINING]: KIND.TRAINING, [PHASE.BACKTESTING]: KIND.BACKTESTING }[phase];
  return { work: kind ? children.filter((c) => c.operation_type === kind) : [], planned: kind ? 1 : 0 };
}

/** How far a running phase has come (0–1) from its children's progress; null when it has
 * no children to tell (designing, assessing). */
function phaseFraction(root, nodes, phase) {
  const { work, planned } = phaseWork(root, nodes, phase);
  if (!work.length) return planned ? 0 : null;
  const done = work.map((c) => (c.status === STATUS.COMPLETED ? 1 : Math.max(0, Math.min(100, c.progress.percentage || 0)) / 100));
  return done.reduce((a, b) => a + b, 0) / Math.max(work.length, planned);
}

/** Each phase's state, duration and how much of its slot is filled. */
function phaseStates(root, nodes, changes) {
  const { starts, end } = changes && changes.length ? fromJournal(root, changes) : fromTimestamps(root, nodes);
  const entered = CYCLE_PHASES.filter((p) => starts[p]);
  // A cycle that failed or was cancelled ended in the last phase it entered.
  const endedIn = TERMINAL.has(root.status) && root.status !== STATUS.COMPLETED ? entered.at(-1) : null;
  const states = CYCLE_PHASES.map((phase) => {
    const start = starts[phase];
    const i = entered.indexOf(phase);
    const next = i >= 0 && i + 1 < entered.length ? starts[entered[i + 1]] : null;
    if (!start) return { phase, state: AHEAD, seconds: null, fill: 0 };
    const running = !next && !TERMINAL.has(root.status);
    const seconds = secondsBetween(start, next || (running ? null : end));
    const state = running ? CURRENT : phase === endedIn ? root.status : DONE;
    const fraction = state === DONE ? 1 : phaseFraction(root, nodes, phase);
    return { phase, state, seconds, fill: fraction, unknown: fraction === null };
  });
  const total = secondsBetween(starts[PHASE.DESIGNING] || root.started_at, end);
  return { states, total };
}

function slot(s) {
  const [from, to] = PHASE_SPAN[s.phase] || [0, 100 / CYCLE_PHASES.length];
  const fill = el("span", { class: "seg-fill" });
  fill.style.width = `${Math.round((s.fill || 0) * 1000) / 10}%`;
  const seg = el("span", { class: `seg seg-${s.state} ph-${s.phase}${s.unknown ? " seg-unknown" : ""}`, "data-phase": s.phase, title: `${s.phase}: ${SAID[s.state] || s.state}` }, fill);
  seg.style.flexGrow = String(Math.max(to - from, 1));
  return seg;
}

function chip(s) {
  const label = SAID[s.state] || s.state;
  return el(
    "li",
    { class: `phase phase-${s.state} ph-${s.phase}`, "data-phase": s.phase, "aria-current": s.state === CURRENT ? "step" : null },
    el("span", { class: "swatch", "aria-hidden": "true" }),
    el("span", { class: "phase-name", text: s.phase }),
    el("span", { class: "phase-time", text: s.seconds === null ? "–" : duration(s.seconds) }),
    el("span", { class: "visually-hidden", text: `, ${label}` }),
  );
}

/** What the bar's colours and fills mean (the list below says the same in words). */
function legend() {
  const key = (cls, text) => el("li", {}, el("span", { class: `key ${cls}`, "aria-hidden": "true" }), text);
  return el(
    "ul",
    { class: "legend phase-legend", "aria-hidden": "true" },
    CYCLE_PHASES.map((phase) => el("li", { "data-phase": phase }, el("span", { class: `swatch ph-${phase}` }), phase)),
    key("key-done", "filled: done"),
    key("key-current", "striped: under way"),
    key("key-ahead", "empty: to come"),
  );
}

/** The timeline: a bar of the whole cycle with its legend, and an ordered list of the
 * phases, each done, current or not reached, with its duration. */
export function phaseTimeline(root, nodes, changes) {
  const { states, total } = phaseStates(root, nodes, changes);
  return el(
    "div",
    { class: "timeline" },
    el("div", { class: "timeline-bar", "aria-hidden": "true" }, states.map(slot)),
    legend(),
    el("ol", { class: "phases", "aria-label": `Phases, ${duration(total)} in all` }, states.map(chip)),
  );
}

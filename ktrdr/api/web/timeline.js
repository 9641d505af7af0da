// A research cycle's phases in order, each with how long it took: from the tree's change
// journal (the time each phase was entered) when the backend still holds it, otherwise
// from the cycle's and its children's timestamps (designing until the training was
// created, training and backtesting while their children ran, assessing until the end).

import { duration, el, secondsBetween } from "./dom.js";
import { CYCLE_PHASES, KIND, PHASE, STATUS, TERMINAL } from "./vocabulary.js";

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

/** The timeline as an ordered list: each phase done, current or not reached, with its
 * duration; a bar of proportional segments above it for the eye. */
export function phaseTimeline(root, nodes, changes) {
  const { starts, end } = changes && changes.length ? fromJournal(root, changes) : fromTimestamps(root, nodes);
  const params = root.metadata.parameters || {};
  const current = params.phase;
  const entered = CYCLE_PHASES.filter((p) => starts[p]);
  const items = [];
  const segments = [];
  for (const phase of CYCLE_PHASES) {
    const start = starts[phase];
    const i = entered.indexOf(phase);
    const next = i >= 0 && i + 1 < entered.length ? starts[entered[i + 1]] : null;
    let state = AHEAD;
    let seconds = null;
    if (start) {
      const running = !next && !TERMINAL.has(root.status);
      seconds = secondsBetween(start, next || (running ? null : end));
      state = running ? CURRENT : phase === current && root.status !== STATUS.COMPLETED ? root.status : DONE;
    }
    const label = SAID[state] || state;
    items.push(
      el(
        "li",
        { class: `phase phase-${state}`, "data-phase": phase, "aria-current": state === CURRENT ? "step" : null },
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
  const total = secondsBetween(starts[PHASE.DESIGNING] || root.started_at, end);
  return el(
    "div",
    { class: "timeline" },
    el("div", { class: "timeline-bar", "aria-hidden": "true" }, segments),
    el("ol", { class: "phases", "aria-label": `Phases, ${duration(total)} in all` }, items),
  );
}

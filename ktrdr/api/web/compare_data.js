// What the compare page shows, read: its address checked (2 to 5 research-cycle ids, each
// once), then for each cycle the reads its own page makes, all at once: the operation (its
// figures and verdict), its backtest's series (equity and buy-and-hold) and its training's
// epochs. A walk-forward cycle's backtest and training are the chosen candidate's holdout
// backtest (at the usual costs) and final training, as its figures are.

import { getData } from "./api.js";
import { finite } from "./dom.js";
import { KIND, STATUS, kindNoun } from "./vocabulary.js";

export const MIN_CYCLES = 2;
export const MAX_CYCLES = 5;
// As the CLI checks an id (ktrdr/cli/options.py): op_ then letters, digits, _ or -.
const ID_SHAPE = /^op_[A-Za-z0-9_-]{1,125}$/;
const ID_EXAMPLE = "op_agent_research_20250101_120000_1a2b3c4d";
// Points per curve: a chart is at most a thousand pixels wide (extremes are kept).
const MAX_POINTS = 1000;

function clip(text, length = 60) {
  return text.length > length ? `${text.slice(0, length)}…` : text;
}

/** The ids ``?ids=a,b,c`` names, or the one thing wrong with them (``{problem}``). */
export function parseIds(search) {
  const raw = new URLSearchParams(search).get("ids") || "";
  const ids = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const malformed = ids.find((id) => !ID_SHAPE.test(id));
  if (malformed !== undefined) {
    return { problem: `“${clip(malformed)}” is not an operation id (ids look like ${ID_EXAMPLE}).` };
  }
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice) return { problem: `${twice} is named twice: name each cycle once.` };
  if (ids.length < MIN_CYCLES || ids.length > MAX_CYCLES) {
    const names = ids.length ? `names ${ids.length}` : "names none (it needs ?ids=ID,ID)";
    return { problem: `Compare takes ${MIN_CYCLES} to ${MAX_CYCLES} research cycles; this address ${names}.` };
  }
  return { ids };
}

/** The end of an id that tells cycles apart: op_agent_research_20261206_192818_de335f11 → de335f11. */
export function shortId(id) {
  return id.slice(id.lastIndexOf("_") + 1) || id;
}

export function isWalkForward(op) {
  const folds = (op.metadata.parameters || {}).folds;
  return Boolean((op.result_summary || {}).walk_forward) || (finite(folds) && folds > 0);
}

async function optional(path) {
  try {
    return await getData(path);
  } catch (error) {
    return { failed: error.message };
  }
}

/** Why a cycle has no figures yet (a running or failed one), or null. */
function statusNote(op) {
  if (op.status === STATUS.COMPLETED) return null;
  if (op.status === STATUS.FAILED) return `failed${op.error_message ? `: ${clip(op.error_message, 160)}` : ""}; no figures`;
  if (op.status === STATUS.CANCELLED) return "cancelled; no figures";
  return `still ${op.status}: its figures show once it completes (reload then)`;
}

/** One cycle: ``{id, index, short, colour, op, problem, series, history, notes}``; a
 * ``problem`` (unknown id, not a research cycle) means nothing else was read. */
async function loadCycle(id, index) {
  const cycle = { id, index, short: shortId(id), colour: `--c${index + 1}`, cls: `cmp-c${index + 1}` };
  Object.assign(cycle, { op: null, problem: null, series: null, history: null, notes: [] });
  try {
    cycle.op = await getData(`/operations/${encodeURIComponent(id)}`);
  } catch (error) {
    cycle.problem = error.status === 404 ? `${id}: no operation has this id.` : `${id}: ${error.message}`;
    return cycle;
  }
  if (cycle.op.operation_type !== KIND.AGENT_RESEARCH) {
    cycle.problem = `${id} is not a research cycle (it is a ${kindNoun(cycle.op.operation_type)}).`;
    return cycle;
  }
  const params = cycle.op.metadata.parameters || {};
  const summary = cycle.op.result_summary || {};
  cycle.strategy = summary.strategy_name || params.strategy_name || "unnamed strategy";
  cycle.label = `${cycle.strategy} · ${cycle.short}`;
  cycle.walkForward = isWalkForward(cycle.op);
  const note = statusNote(cycle.op);
  if (note) {
    cycle.notes.push(note);
    return cycle;
  }
  const backtest = params.backtest_op_id;
  const training = params.training_op_id || summary.training?.operation_id;
  const [series, history] = await Promise.all([
    backtest ? optional(`/backtests/${encodeURIComponent(backtest)}/series?max_points=${MAX_POINTS}`) : null,
    training ? optional(`/training/${encodeURIComponent(training)}/history?max_points=${MAX_POINTS}`) : null,
  ]);
  if (!backtest) cycle.notes.push("no backtest recorded, so no equity curve");
  if (!training) cycle.notes.push("no training recorded, so no training curve");
  if (series?.failed) cycle.notes.push(`equity curve: ${series.failed}`);
  else cycle.series = series;
  if (history?.failed) cycle.notes.push(`training curve: ${history.failed}`);
  else cycle.history = history;
  return cycle;
}

/** Every cycle the address names, in its order (each cycle's colour is its place). */
export function loadCycles(ids) {
  return Promise.all(ids.map((id, i) => loadCycle(id, i)));
}

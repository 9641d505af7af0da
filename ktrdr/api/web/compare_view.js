// Research cycles side by side at /compare?ids=a,b,c (2 to 5, picked on /results or written
// by hand): their figures in columns with the best of each row marked, their equity curves
// over initial capital on one chart with buy-and-hold, and their training curves overlaid.
// Each cycle keeps one colour (its place in the address) in all three. An address that does
// not name 2 to 5 research cycles says what is wrong with it instead.

import { equityChart, trainingCharts } from "./compare_charts.js";
import { loadCycles, MAX_CYCLES, MIN_CYCLES, parseIds } from "./compare_data.js";
import { metricsTable } from "./compare_table.js";
import { el, replace } from "./dom.js";

const TITLE = "Compare research cycles";

function showProblems(main, problems) {
  replace(
    main,
    el("h1", { text: TITLE }),
    el(
      "div",
      { class: "problem cmp-problems", role: "alert" },
      problems.map((text) => el("p", { text })),
    ),
    el(
      "p",
      { class: "note" },
      `Pick ${MIN_CYCLES} to ${MAX_CYCLES} research cycles on `,
      el("a", { href: "/results", text: "Results" }),
      " and press Compare, or name them in the address: /compare?ids=ID,ID.",
    ),
  );
}

/** What the reader should know before reading the figures: walk-forward cycles show their
 * holdout, and any cycle with something missing says what. */
function notes(cycles) {
  const walk = cycles.filter((c) => c.walkForward).map((c) => c.short);
  const items = [];
  if (walk.length) {
    items.push(
      `Walk-forward (${walk.join(", ")}): the figures and equity curve are the holdout's, out of sample ` +
        "(the chosen candidate at the usual costs), the training curve is its final training; " +
        "deflated Sharpe and PBO count every candidate tried.",
    );
  }
  for (const c of cycles) for (const note of c.notes) items.push(`${c.label}: ${note}.`);
  return items.length ? el("ul", { class: "cmp-notes" }, items.map((text) => el("li", { text }))) : null;
}

function section(title, cls, ...children) {
  return el("section", { class: `cmp-section ${cls}`, "aria-label": title }, el("h2", { text: title }), ...children);
}

export async function compareView(main, search = window.location.search) {
  replace(main, el("h1", { text: TITLE }), el("p", { class: "loading", text: "Loading…" }));
  const parsed = parseIds(search);
  if (parsed.problem) {
    showProblems(main, [parsed.problem]);
    return;
  }
  let cycles;
  try {
    cycles = await loadCycles(parsed.ids);
  } catch (error) {
    showProblems(main, [error.message]);
    return;
  }
  const problems = cycles.filter((c) => c.problem).map((c) => c.problem);
  if (problems.length) {
    showProblems(main, problems);
    return;
  }
  replace(
    main,
    el("h1", { text: `${TITLE}: ${cycles.length}` }),
    el(
      "p",
      { class: "note" },
      "Each cycle keeps its colour in the table and the charts; ★ marks the best value of a row. ",
      el("a", { href: "/results", text: "Change the selection" }),
    ),
    notes(cycles),
    section("Figures", "cmp-figures", metricsTable(cycles)),
    section("Equity", "cmp-equity", equityChart(cycles)),
    section("Training", "cmp-training", el("div", { class: "cmp-pair" }, trainingCharts(cycles))),
  );
}

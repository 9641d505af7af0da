// The backend's words, read once at start from ``GET /api/v1/meta/vocabulary``: a research
// cycle's phases in order, the statuses and which of them end an operation, the kinds and
// what people call them, the roles of a walk-forward cycle's children, the verdicts. Python
// keeps each in one table; the page keeps no copy and names terms as Python does
// (``KIND.TRAINING``, ``STATUS.COMPLETED``).
//
// The module awaits the answer at its top level, so every module that imports it runs with
// the words in hand. It imports nothing itself: the modules it serves import it.

const VOCABULARY_URL = "/api/v1/meta/vocabulary";
const RETRY_MS = [200, 500, 1000]; // a backend that served the page a moment ago is there

async function read() {
  let last = null;
  for (let attempt = 0; attempt <= RETRY_MS.length; attempt++) {
    if (attempt) await new Promise((resolve) => setTimeout(resolve, RETRY_MS[attempt - 1]));
    try {
      const response = await fetch(VOCABULARY_URL, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (response.ok) return (await response.json()).data;
      last = new Error(`${response.status} ${response.statusText}`);
    } catch (error) {
      last = error;
    }
  }
  // Without the words no view can be built: say so where the page would have been.
  const main = document.getElementById("main");
  if (main) {
    const problem = document.createElement("p");
    problem.className = "problem";
    problem.setAttribute("role", "alert");
    problem.textContent = `Cannot read the backend's vocabulary (${last.message}); reload the page.`;
    main.replaceChildren(problem);
  }
  throw last;
}

const words = await read();

/** ``{NAME: value}`` for a list of terms; asking for a name the backend does not have throws,
 * so a renamed term fails loudly instead of comparing unequal to everything. */
function named(terms, what) {
  const values = Object.freeze(Object.fromEntries(terms.map((term) => [term.name, term.value])));
  return new Proxy(values, {
    get(target, key) {
      if (typeof key === "string" && !Object.hasOwn(target, key)) {
        throw new Error(`the backend's vocabulary has no ${what} named ${key}`);
      }
      return target[key];
    },
  });
}

export const PHASE = named(words.phases, "phase");
/** The phases a cycle works through, in order (the timeline's steps). */
export const CYCLE_PHASES = Object.freeze(words.phases.filter((p) => p.active).map((p) => p.value));

/** Each working phase's share of the cycle's bar, from the phase table's percentages: from
 * where the phase before it ends (0 for the first) to the percentage of the phase after it
 * (designing 0–20, training 20–65, …), so the timeline fills as the cycle's bar does. */
export const PHASE_SPAN = Object.freeze(
  Object.fromEntries(
    words.phases
      .map((p, i) => ({ p, next: words.phases[i + 1] }))
      .filter(({ p }) => p.active)
      .map(({ p, next }, i, all) => {
        const start = i === 0 ? 0 : all[i - 1].next?.percentage;
        return [p.value, [start ?? 0, next?.percentage ?? 100]];
      }),
  ),
);

export const STATUS = named(words.statuses, "status");
export const STATUSES = Object.freeze(words.statuses.map((s) => s.value));
export const TERMINAL = new Set(words.statuses.filter((s) => s.terminal).map((s) => s.value));
/** Statuses of work not yet ended (waiting or running). */
export const ACTIVE = new Set(STATUSES.filter((s) => !TERMINAL.has(s)));

export const KIND = named(words.kinds, "kind");
export const KINDS = Object.freeze(words.kinds.map((k) => k.value));
const kindsByValue = new Map(words.kinds.map((k) => [k.value, k]));

/** What a kind is called at the start of a line ("Research cycle"); an unknown kind as sent. */
export function kindLabel(kind) {
  return kindsByValue.get(kind)?.label ?? kind;
}

/** What a kind is called mid-sentence ("Cancel research cycle …"). */
export function kindNoun(kind) {
  return kindsByValue.get(kind)?.noun ?? kind;
}

export const ROLE = named(words.roles, "role");
export const ROLES = new Set(words.roles.map((r) => r.value));

/** The verdicts, best first. */
export const VERDICTS = Object.freeze([...words.verdicts]);

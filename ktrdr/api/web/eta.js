// A research cycle's ETA as the page says it: "ETA ~45 s (30–60 s)", and "overdue" once it
// has run longer than 9 in 10 comparable cycles. The backend learns both from its completed
// cycles (GET /operations/{id} and the tree carry eta_seconds, eta_low, eta_high, overdue);
// the bar's percentage moves in phase steps and never changes for them.

import { duration, finite } from "./dom.js";
import { TERMINAL } from "./vocabulary.js";

/** An estimate at the precision it has, in the page's one format: 45 s, 3 min, 1 h 05 min. */
export function approx(seconds) {
  return duration(Math.max(0, seconds), true);
}

function range(low, high) {
  if (Math.round(high) < 100) return `${Math.max(0, Math.round(low))}–${approx(high)}`;
  return `${approx(low)}–${approx(high)}`;
}

/** "ETA ~45 s (30–60 s)", "ETA ~45 s (30–60 s), overdue", "overdue", or "" (none known). */
export function etaText(op) {
  if (!op || TERMINAL.has(op.status)) return "";
  const overdue = op.overdue === true ? "overdue" : "";
  if (!finite(op.eta_seconds)) return overdue;
  let text = `ETA ~${approx(op.eta_seconds)}`;
  if (finite(op.eta_low) && finite(op.eta_high)) text += ` (${range(op.eta_low, op.eta_high)})`;
  return overdue ? `${text}, ${overdue}` : text;
}

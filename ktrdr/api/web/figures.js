// Percentages as the cycle and backtest pages print them, one rule everywhere: a fraction
// shows with one decimal (18.5%, −3.2%), and a small non-zero one keeps two significant
// digits instead of rounding to nothing (0.042%, never 0.0%). A true minus sign, since a
// hyphen reads as a dash; a dash for a figure that is missing.

import { finite } from "./dom.js";

const DASH = "–";
const MINUS = "\u2212";

function magnitude(points) {
  if (points === 0) return "0.0";
  if (points >= 0.1) return points.toFixed(1);
  if (points < 0.001) return "<0.001";
  return String(Number(points.toPrecision(2)));
}

/** A fraction as a percentage: 0.185 → "18.5%", 0.00042 → "0.042%", −0.032 → "−3.2%". */
export function pct(fraction) {
  if (!finite(fraction)) return DASH;
  const text = `${magnitude(Math.abs(fraction * 100))}%`;
  return fraction < 0 ? MINUS + text : text;
}

/** The same with its sign always shown: "+4.1%", "−1.2%" (zero is "+0.0%"). */
export function signedPct(fraction) {
  if (!finite(fraction)) return DASH;
  return fraction < 0 ? pct(fraction) : `+${pct(fraction)}`;
}

/** An estimate with its interval: "+4.1% [−1.2%, +9.0%]"; a dash without the estimate. */
export function pctInterval(estimate, low, high) {
  if (!finite(estimate)) return DASH;
  const range = finite(low) && finite(high) ? ` [${signedPct(low)}, ${signedPct(high)}]` : "";
  return signedPct(estimate) + range;
}

/** A ratio (Sharpe, profit factor) with two decimals and the same true minus: "−0.05". */
export function ratio(value, digits = 2) {
  if (!finite(value)) return DASH;
  const text = Math.abs(value).toFixed(digits);
  return value < 0 && Number(text) !== 0 ? MINUS + text : text;
}

// The webhooks sent about an operation (``GET /operations/{id}/deliveries``): each attempt,
// when, to which receiver (its origin only: the backend never serves more of a receiver's
// URL, which may carry a credential), how it went and when it is tried again. Read when the
// operation has ended, then again while a delivery is still due.

import { getData } from "./api.js";
import { el, replace, scrollingTable, when } from "./dom.js";

const STATE_LABEL = { delivered: "delivered", due: "retrying", gave_up: "given up" };
const STILL_DUE = "due";
const REFRESH_MS = 5000;
// Deliveries are stored a moment after the end: a read that finds none yet looks again.
const EMPTY_READS = 3;
const DASH = "–";

function cell(text, cls) {
  return el("td", { class: cls, text });
}

function attemptResult(attempt) {
  return attempt.error === null ? `HTTP ${attempt.status_code}` : attempt.error;
}

/** One row per attempt; the delivery's event, receiver and state on its first row only. */
function deliveryRows(delivery) {
  const state = STATE_LABEL[delivery.state] || delivery.state;
  const head = [cell(delivery.event_type), cell(delivery.endpoint), cell(state, `delivery-${delivery.state}`)];
  const blank = () => [cell(""), cell(""), cell("")];
  if (!delivery.attempts.length) {
    return [el("tr", {}, head, cell(DASH), cell("not sent yet"), cell(when(delivery.next_attempt_at)))];
  }
  return delivery.attempts.map((attempt, index) =>
    el(
      "tr",
      {},
      index === 0 ? head : blank(),
      cell(`#${attempt.number} ${when(attempt.at)}`),
      cell(attemptResult(attempt)),
      cell(attempt.next_attempt_at ? when(attempt.next_attempt_at) : DASH),
    ),
  );
}

export class DeliveriesSection {
  constructor(id) {
    this.id = id;
    this.box = el("section", { "aria-label": "Notifications" });
    this.timer = null;
    this.busy = false;
    this.emptyReads = 0;
  }

  /** Read the deliveries and draw them; read again later while one is still due. */
  async refresh() {
    if (this.busy) return;
    this.busy = true;
    clearTimeout(this.timer);
    try {
      const data = await getData(`/operations/${encodeURIComponent(this.id)}/deliveries`);
      this.draw(data);
      const early = data.configured && !data.deliveries.length && ++this.emptyReads < EMPTY_READS;
      if (early || data.deliveries.some((d) => d.state === STILL_DUE)) {
        this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
      }
    } catch {
      // An older backend without the route, or a hiccup: the rest of the page stands.
    } finally {
      this.busy = false;
    }
  }

  draw(data) {
    if (!data.configured && !data.deliveries.length) {
      replace(this.box);
      return;
    }
    const title = el("h2", { text: "Notifications" });
    if (!data.deliveries.length) {
      replace(this.box, title, el("p", { class: "note", text: "No webhook sent about it yet." }));
      return;
    }
    const columns = ["Event", "Receiver", "State", "Attempt", "Result", "Next retry"];
    replace(
      this.box,
      title,
      scrollingTable(
        "Webhook deliveries",
        "metrics deliveries",
        "Webhook deliveries and their attempts",
        el("thead", {}, el("tr", {}, columns.map((name) => el("th", { scope: "col", text: name })))),
        el("tbody", {}, data.deliveries.flatMap(deliveryRows)),
      ),
    );
  }
}

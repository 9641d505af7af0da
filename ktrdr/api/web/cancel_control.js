// The Cancel button of an operation's own page. It shows only while the operation runs and
// no cancel has been asked for; it asks first (a modal dialog with "Keep running" focused,
// so Enter or Escape keeps it running), then sends the cancel and says what the backend
// answered: recorded, asked but only in memory (the backend's warning), or refused and why.
// The button is made once and shown or hidden in place, so the page's redraws never take
// keyboard focus away from it.

import { cancelOperation } from "./api.js";
import { el } from "./dom.js";
import { ACTIVE, KIND, kindLabel, kindNoun } from "./vocabulary.js";

export class CancelControl {
  constructor(id) {
    this.id = id;
    this.op = null;
    this.sending = false;
    this.button = el("button", { type: "button", class: "cancel", hidden: true, text: "Cancel", onclick: () => this.ask() });
    this.pending = el("span", { class: "note", hidden: true, text: "cancelling…" });
    this.question = el("p");
    this.title = el("h2", { id: `cancel-title-${id}`, text: "Cancel this operation?" });
    this.dialog = el(
      "dialog",
      { class: "cancel-dialog", "aria-labelledby": `cancel-title-${id}` },
      el(
        "form",
        { method: "dialog" },
        this.title,
        this.question,
        el(
          "div",
          { class: "actions" },
          el("button", { value: "keep", type: "submit", autofocus: true, text: "Keep running" }),
          el("button", { value: "cancel", type: "submit", class: "danger", text: "Cancel it" }),
        ),
      ),
    );
    this.dialog.addEventListener("close", () => this.closed());
    this.answer = el("p", { class: "cancel-answer", role: "status", tabindex: "-1" });
    this.box = el("span", { class: "cancel-control" }, this.button, this.pending, this.dialog);
  }

  /** Show the button while ``op`` runs and nobody has asked it to stop. */
  update(op) {
    this.op = op;
    const open = ACTIVE.has(op.status);
    this.button.setAttribute("aria-label", `Cancel ${kindNoun(op.operation_type)} ${op.operation_id}`);
    this.button.hidden = !open || Boolean(op.cancel_requested) || this.sending;
    this.pending.hidden = !open || !op.cancel_requested;
  }

  ask() {
    const op = this.op;
    if (!op) return;
    const cycle = op.operation_type === KIND.AGENT_RESEARCH;
    this.question.replaceChildren(
      `${kindLabel(op.operation_type)} `,
      el("code", { text: op.operation_id }),
      cycle ? " and its running children will stop." : " will stop.",
    );
    this.title.textContent = `Cancel this ${kindNoun(op.operation_type)}?`;
    this.dialog.returnValue = "";
    this.dialog.showModal();
  }

  async closed() {
    if (this.dialog.returnValue !== "cancel" || this.sending) return;
    this.sending = true;
    this.button.hidden = true;
    this.say("Sending the cancel…", "");
    try {
      const answer = await cancelOperation(this.id);
      this.sending = false;
      this.update(answer);
      if (answer.durable === false) {
        this.say(`Cancel asked, but only in memory. ${answer.warning || "The backend could not record it."}`, "warn");
      } else {
        this.say("Cancel asked and recorded: it stops at its next step.", "ok");
      }
    } catch (error) {
      this.sending = false;
      if (this.op) this.update(this.op);
      this.say(`Could not cancel: ${error.message}`, "bad");
    }
  }

  say(text, tone) {
    this.answer.textContent = text;
    this.answer.className = `cancel-answer${tone ? ` cancel-${tone}` : ""}`;
    // The hidden button cannot keep focus: the answer takes it, so the keyboard stays here.
    const active = document.activeElement;
    if (this.button.hidden && (!active || active === document.body || active === this.button)) this.answer.focus();
  }
}

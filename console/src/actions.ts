/** Cancelling a scheduled version and retiring an API: both need a stated reason. */
import { api } from "./api.js";
import { h } from "./dom.js";
import { FormErrors, banner, busy, field, oneParagraph, openModal, type Session, whenChooser } from "./forms.js";
import { type ApiPrices, type PriceEntry, formatTime, rateLabel } from "./model.js";
import { checkEffectiveFrom, checkNote, checkReason } from "./validate.js";

export interface ReasonDialog<T> {
  readonly title: string;
  /** What the dialog is about, shown above the reason. */
  readonly intro: readonly (string | Node)[];
  readonly confirmLabel: string;
  readonly busyLabel: string;
  /** Sends the change with the checked reason; a refusal is shown next to its field. */
  readonly submit: (reason: string) => Promise<T>;
  /** Runs once the change is made and the dialog closed. */
  readonly done: (result: T) => void;
}

/**
 * A dialog that asks why before a change that cannot be undone (cancelling a version, reversing
 * a charge): the reason is checked in the page, then sent; the server's refusal stays in the form.
 */
export function openReasonDialog<T>(session: Session, dialog: ReasonDialog<T>): void {
  const reason = oneParagraph(h("textarea", { rows: 3 }));
  const reasonField = field("reason", "Reason", reason, "Required, up to 2000 characters, one paragraph. Kept in the audit log.");
  const formBanner = banner();
  const errors = new FormErrors([reasonField], formBanner);
  const confirm = h("button", { type: "submit", class: "danger" }, dialog.confirmLabel);
  const form = h(
    "form",
    { novalidate: true },
    formBanner,
    reasonField.element,
    h("div", { class: "dialog-actions" }, confirm, h("button", { type: "button", class: "ghost", onclick: () => modal.requestClose() }, "Keep it")),
  );
  reason.addEventListener("input", () => {
    if (checkReason(reason.value).ok) errors.clear("reason");
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    errors.clearAll();
    const checked = checkReason(reason.value);
    if (!checked.ok) {
      errors.set("reason", checked.message);
      reason.focus();
      return;
    }
    void busy(confirm, dialog.busyLabel, async () => {
      try {
        const result = await dialog.submit(checked.value);
        modal.close();
        dialog.done(result);
      } catch (error) {
        if (session.expireIfUnauthenticated(error)) return;
        errors.showServer(error);
      }
    });
  });
  const modal = openModal(dialog.title, () => [h("p", null, ...dialog.intro), form]);
  reason.focus();
}

export function openCancelDialog(session: Session, version: PriceEntry, onCancelled: (entry: PriceEntry) => void): void {
  openReasonDialog(session, {
    title: `Cancel scheduled version #${version.id}`,
    intro: [
      `${version.apiCode}: ${rateLabel(version)}, due to take effect ${formatTime(version.effectiveFrom)}. `,
      "Once cancelled it never takes effect; the version stays in the history as CANCELLED.",
    ],
    confirmLabel: "Cancel this version",
    busyLabel: "Cancelling…",
    submit: (reason) => api.cancelScheduledPrice(session.key, version.id, reason),
    done: onCancelled,
  });
}

export function openRetireDialog(session: Session, target: ApiPrices, onRetired: (entry: PriceEntry) => void): void {
  const when = whenChooser("effectiveFrom", "Retire", "Now", "usage is refused from the moment I retire it");
  const whenField = when.field;
  const note = oneParagraph(h("textarea", { rows: 3 }));
  const noteField = field("note", "Note (why the API is retired)", note, "Required, up to 2000 characters, one paragraph.");
  const formBanner = banner();
  const errors = new FormErrors([whenField, noteField], formBanner);
  const confirm = h("button", { type: "submit", class: "danger" }, "Retire API");
  const form = h(
    "form",
    { novalidate: true },
    formBanner,
    whenField.element,
    noteField.element,
    h("div", { class: "dialog-actions" }, confirm, h("button", { type: "button", class: "ghost", onclick: () => modal.requestClose() }, "Keep it")),
  );
  note.addEventListener("input", () => {
    if (checkNote(note.value).ok) errors.clear("note");
  });
  when.input.addEventListener("input", () => {
    if (checkEffectiveFrom(when.input.value, Date.now()).ok) errors.clear("effectiveFrom");
  });
  when.confirmNow.addEventListener("change", () => errors.clear("effectiveFrom"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    errors.clearAll();
    const from = when.later() ? checkEffectiveFrom(when.input.value, Date.now()) : null;
    const text = checkNote(note.value);
    if (from && !from.ok) errors.set("effectiveFrom", from.message);
    if (!when.later() && !when.nowConfirmed()) errors.set("effectiveFrom", "Retiring now refuses usage at once: tick the box to confirm, or choose a later time.");
    if (!text.ok) errors.set("note", text.message);
    if ((from && !from.ok) || (!when.later() && !when.nowConfirmed()) || !text.ok) return errors.focusFirstInvalid();
    void busy(confirm, "Retiring…", async () => {
      try {
        const entry = await api.retirePrice(session.key, target.apiCode, from?.ok ? from.value : null, text.value);
        modal.close();
        onRetired(entry);
      } catch (error) {
        if (session.expireIfUnauthenticated(error)) return;
        errors.showServer(error);
      }
    });
  });
  const modal = openModal(`Retire ${target.apiCode}`, () => [
    h(
      "p",
      null,
      "From the chosen time, usage of this API is refused with PRICE_NOT_FOUND. Earlier usage keeps its price. ",
      "Publishing a new version later brings the API back.",
    ),
    form,
  ]);
  (whenField.focusTarget as HTMLElement).focus();
}

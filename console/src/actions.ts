/** Cancelling a scheduled version and retiring an API: both need a stated reason. */
import { api } from "./api.js";
import { h, uid } from "./dom.js";
import { FormErrors, banner, busy, field, fieldGroup, openModal, type Session } from "./forms.js";
import { type ApiPrices, type PriceEntry, formatTime, rateLabel, toLocalInputValue } from "./model.js";
import { checkEffectiveFrom, checkNote, checkReason } from "./validate.js";

export function openCancelDialog(session: Session, version: PriceEntry, onCancelled: (entry: PriceEntry) => void): void {
  const reason = h("textarea", { rows: 3 });
  const reasonField = field("reason", "Reason", reason, "Required, up to 2000 characters, one paragraph. Kept in the audit log.");
  const formBanner = banner();
  const errors = new FormErrors([reasonField], formBanner);
  const confirm = h("button", { type: "submit", class: "danger" }, "Cancel this version");
  const form = h(
    "form",
    { novalidate: true },
    formBanner,
    reasonField.element,
    h("div", { class: "dialog-actions" }, confirm, h("button", { type: "button", class: "ghost", onclick: () => modal.close() }, "Keep it")),
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
    void busy(confirm, "Cancelling…", async () => {
      try {
        const entry = await api.cancelScheduledPrice(session.key, version.id, checked.value);
        modal.close();
        onCancelled(entry);
      } catch (error) {
        if (session.expireIfUnauthenticated(error)) return;
        errors.showServer(error);
      }
    });
  });
  const modal = openModal(`Cancel scheduled version #${version.id}`, () => [
    h(
      "p",
      null,
      `${version.apiCode}: ${rateLabel(version)}, due to take effect ${formatTime(version.effectiveFrom)}. `,
      "Once cancelled it never takes effect; the version stays in the history as CANCELLED.",
    ),
    form,
  ]);
  reason.focus();
}

export function openRetireDialog(session: Session, target: ApiPrices, onRetired: (entry: PriceEntry) => void): void {
  const whenGroup = uid("retire-when");
  const whenNow = h("input", { type: "radio", name: whenGroup, value: "now", id: uid("retire-now"), checked: true });
  const whenLater = h("input", { type: "radio", name: whenGroup, value: "later", id: uid("retire-later") });
  const effectiveFrom = h("input", { type: "datetime-local", disabled: true, "aria-label": "Retire from (UTC)" });
  const note = h("textarea", { rows: 3 });
  const whenField = fieldGroup(
    "effectiveFrom",
    "Retire",
    [whenNow, whenLater, effectiveFrom],
    [
      h(
        "div",
        { class: "choices" },
        h("label", { class: "choice", for: whenNow.id }, whenNow, " Now"),
        h("label", { class: "choice", for: whenLater.id }, whenLater, " Later, at (UTC)"),
        effectiveFrom,
      ),
    ],
  );
  const noteField = field("note", "Note (why the API is retired)", note, "Required, up to 2000 characters, one paragraph.");
  const formBanner = banner();
  const errors = new FormErrors([whenField, noteField], formBanner);
  const confirm = h("button", { type: "submit", class: "danger" }, "Retire API");
  const syncWhen = () => {
    effectiveFrom.disabled = !whenLater.checked;
    effectiveFrom.min = toLocalInputValue(Date.now());
    if (whenLater.checked && effectiveFrom.value === "") effectiveFrom.value = toLocalInputValue(Date.now() + 86_400_000).slice(0, 11) + "00:00";
  };
  whenNow.addEventListener("change", syncWhen);
  whenLater.addEventListener("change", syncWhen);

  const form = h(
    "form",
    { novalidate: true },
    formBanner,
    whenField.element,
    noteField.element,
    h("div", { class: "dialog-actions" }, confirm, h("button", { type: "button", class: "ghost", onclick: () => modal.close() }, "Keep it")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    errors.clearAll();
    const from = whenLater.checked ? checkEffectiveFrom(effectiveFrom.value, Date.now()) : null;
    const text = checkNote(note.value);
    if (from && !from.ok) errors.set("effectiveFrom", from.message);
    if (!text.ok) errors.set("note", text.message);
    if ((from && !from.ok) || !text.ok) return errors.focusFirstInvalid();
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
  whenNow.focus();
}

/**
 * Publishing a free cap, as a price version is published: checked while typing, "now" only with
 * a confirmation that free use changes at once, and the server's refusal shown next to the field
 * it names, with its code.
 */
import { api, type PublishFreeCapInput } from "./api.js";
import { h, uid } from "./dom.js";
import { type Field, FormErrors, banner, busy, field, oneParagraph, openModal, type Session, whenChooser } from "./forms.js";
import { formatTime } from "./model.js";
import { type ApiCaps, type FreeCap, capLabel } from "./tiered-model.js";
import { checkApiCode, checkEffectiveFrom, checkNote, checkUnitsPerMonth } from "./validate.js";

const CAP_IN_PAST = "A free cap";

export function openFreeCapDialog(session: Session, target: ApiCaps | null, pricedApiCodes: readonly string[], onPublished: (cap: FreeCap) => void): void {
  const listId = uid("priced-apis");
  const apiCode = h("input", { type: "text", autocomplete: "off", spellcheck: "false", list: listId, value: target?.apiCode ?? "", readonly: target !== null });
  const units = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", value: target?.current ? String(target.current.unitsPerMonth) : "" });
  const when = whenChooser(
    "effectiveFrom",
    "Takes effect",
    "Now, when published",
    "free use changes immediately when I publish",
    "Never in the past. Each event counts against the cap in force when it occurred.",
  );
  const note = oneParagraph(h("textarea", { rows: 3 }));

  const fields: Field[] = [
    field("apiCode", "API code", apiCode, target ? undefined : "One of the priced APIs, such as design-automation/revit."),
    field("unitsPerMonth", "Free units a month", units, "Whole charged units a FREE account may use each calendar month (UTC). 0 gives no free use."),
    when.field,
    field("note", "Note (why the cap changes)", note, "Required, up to 2000 characters, one paragraph. Shown in the cap history."),
  ];
  const formBanner = banner();
  const errors = new FormErrors(fields, formBanner);
  const publishButton = h("button", { type: "submit", class: "primary" }, "Publish cap");

  /** Reads the form; marks every field in error and returns null when any is. */
  const read = (): PublishFreeCapInput | null => {
    errors.clearAll();
    const code = checkApiCode(apiCode.value);
    const count = checkUnitsPerMonth(units.value.trim());
    const from = when.later() ? checkEffectiveFrom(when.input.value, Date.now(), CAP_IN_PAST) : null;
    const text = checkNote(note.value);
    if (!code.ok) errors.set("apiCode", code.message);
    if (!count.ok) errors.set("unitsPerMonth", count.message);
    if (from && !from.ok) errors.set("effectiveFrom", from.message);
    else if (!when.later() && !when.nowConfirmed()) {
      errors.set("effectiveFrom", "Publishing now means free use changes immediately: tick the box to confirm, or choose a later time.");
    }
    if (!text.ok) errors.set("note", text.message);
    if (!code.ok || !count.ok || (from && !from.ok) || (!when.later() && !when.nowConfirmed()) || !text.ok) {
      errors.focusFirstInvalid();
      return null;
    }
    const input: PublishFreeCapInput = { apiCode: code.value, unitsPerMonth: count.value, note: text.value };
    if (from?.ok) input.effectiveFrom = from.value;
    return input;
  };

  const form = h(
    "form",
    { class: "publish-form", novalidate: true },
    formBanner,
    h("div", { class: "form-grid cap-grid" }, ...fields.map((f) => f.element)),
    h("datalist", { id: listId }, ...pricedApiCodes.map((code) => h("option", { value: code }))),
    h("div", { class: "dialog-actions" }, publishButton, h("button", { type: "button", class: "ghost", onclick: () => modal.requestClose() }, "Close")),
  );

  errors.checkWhileEditing([
    [apiCode, "apiCode", () => checkApiCode(apiCode.value)],
    [units, "unitsPerMonth", () => checkUnitsPerMonth(units.value.trim())],
    [when.input, "effectiveFrom", () => (when.later() ? checkEffectiveFrom(when.input.value, Date.now(), CAP_IN_PAST) : { ok: true })],
    [note, "note", () => checkNote(note.value)],
  ]);
  when.confirmNow.addEventListener("change", () => errors.clear("effectiveFrom"));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = read();
    if (!input) return;
    void busy(publishButton, "Publishing…", async () => {
      try {
        const cap = await api.publishFreeCap(session.key, input);
        modal.close();
        onPublished(cap);
      } catch (error) {
        if (session.expireIfUnauthenticated(error)) return;
        errors.showServer(error);
      }
    });
  });

  const scheduled = target?.history.filter((cap) => cap.status === "SCHEDULED") ?? [];
  const modal = openModal(
    target ? `Publish a free cap for ${target.apiCode}` : "Publish a free cap",
    () => [
      target
        ? h("p", { class: "muted" }, target.current ? `In force now: ${capLabel(target.current.unitsPerMonth)} since ${formatTime(target.current.effectiveFrom)}.` : "No cap in force now: FREE accounts get no free use of this API.")
        : null,
      scheduled.length > 0
        ? h(
            "div",
            { class: "scheduled-now" },
            h("p", null, "Already scheduled:"),
            h("ul", { class: "plain" }, ...scheduled.map((cap) => h("li", null, `#${cap.id}: ${capLabel(cap.unitsPerMonth)} from ${formatTime(cap.effectiveFrom)}`))),
          )
        : null,
      form,
    ],
    { wide: true },
  );
  (target ? units : apiCode).focus();
}

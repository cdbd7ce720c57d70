/**
 * Form plumbing shared by the dialogs: labelled fields with a hint and an error slot wired through
 * aria-describedby, server refusals routed to the field they name, and modal dialogs.
 */
import { ApiError, type ApiProblem } from "./api.js";
import { type Child, h, replaceChildren, uid } from "./dom.js";

export interface Session {
  readonly key: string;
  readonly viewerName: string;
  /** Announces a finished action in the page's status region. */
  notify(message: string): void;
  /** Ends the session when the server no longer accepts the key; true when it did. */
  expireIfUnauthenticated(error: unknown): boolean;
}

export type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

export interface Field {
  readonly name: string;
  readonly element: HTMLElement;
  /** What receives focus when the field is in error. */
  readonly focusTarget: HTMLElement;
  readonly error: HTMLElement;
  /** Inputs marked aria-invalid while the field is in error. */
  readonly controls: readonly Control[];
}

/** A single control with its label, hint and error message. */
export function field(name: string, label: string, control: Control, hint?: string): Field {
  control.id ||= uid(name);
  control.name ||= name;
  const hintId = hint ? uid(`${name}-hint`) : null;
  const errorId = uid(`${name}-error`);
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const element = h(
    "div",
    { class: "field", "data-field": name },
    h("label", { for: control.id }, label),
    control,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    error,
  );
  return { name, element, focusTarget: control, error, controls: [control] };
}

/** A group of related controls (radios, checkboxes) under a legend, with one error message. */
export function fieldGroup(name: string, legend: string, controls: readonly Control[], body: Child[], hint?: string): Field {
  const hintId = hint ? uid(`${name}-hint`) : null;
  const errorId = uid(`${name}-error`);
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const element = h(
    "fieldset",
    { class: "field group", "data-field": name, "aria-describedby": [hintId, errorId].filter(Boolean).join(" ") },
    h("legend", null, legend),
    ...body,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    error,
  );
  return { name, element, focusTarget: controls[0] ?? element, error, controls };
}

export function errorContent(message: string, code?: string): Child[] {
  return code ? [h("span", { class: "error-code" }, code), " ", message] : [message];
}

/** Errors of one form: per field, plus a banner for what belongs to no field. */
export class FormErrors {
  private readonly fields = new Map<string, Field>();

  constructor(
    fields: readonly Field[],
    readonly banner: HTMLElement,
  ) {
    for (const f of fields) this.fields.set(f.name, f);
  }

  set(name: string, message: string, code?: string): void {
    const f = this.fields.get(name);
    if (!f) return this.showBanner(message, code);
    replaceChildren(f.error, ...errorContent(message, code));
    f.error.hidden = false;
    f.element.classList.add("invalid");
    for (const control of f.controls) control.setAttribute("aria-invalid", "true");
  }

  clear(name: string): void {
    const f = this.fields.get(name);
    if (!f) return;
    f.error.hidden = true;
    f.error.replaceChildren();
    f.element.classList.remove("invalid");
    for (const control of f.controls) control.removeAttribute("aria-invalid");
  }

  clearAll(): void {
    for (const name of this.fields.keys()) this.clear(name);
    this.banner.hidden = true;
    this.banner.replaceChildren();
  }

  showBanner(message: string, code?: string): void {
    replaceChildren(this.banner, ...errorContent(message, code));
    this.banner.hidden = false;
  }

  /**
   * Shows a server refusal next to the field it names ("input.tokensPerUnit" → tokensPerUnit) with
   * its code; anything else goes to the banner. Focuses the first field in error.
   */
  showServer(error: unknown): void {
    const problems: readonly ApiProblem[] =
      error instanceof ApiError ? error.problems : [{ code: "INTERNAL_SERVER_ERROR", field: null, message: String(error) }];
    let first: Field | null = null;
    for (const problem of problems) {
      const name = problem.field?.split(".").pop() ?? "";
      const f = this.fields.get(name);
      if (f) {
        this.set(name, problem.message, problem.code);
        first ??= f;
      } else {
        this.showBanner(problem.field ? `${problem.field}: ${problem.message}` : problem.message, problem.code);
      }
    }
    (first?.focusTarget ?? this.banner).focus();
  }

  focusFirstInvalid(): void {
    for (const f of this.fields.values()) {
      if (!f.error.hidden) return f.focusTarget.focus();
    }
  }

  /** Live checks: a field's message goes as soon as it is fixed, and shows when the field is left. */
  checkWhileEditing(checks: readonly LiveCheck[]): void {
    for (const [control, name, check] of checks) {
      control.addEventListener("input", () => {
        if (check().ok) this.clear(name);
      });
      control.addEventListener("blur", (event) => {
        // Moving to a button that validates everything anyway: a message appearing now would shift
        // the layout under the pointer between mousedown and mouseup, and the click would be lost.
        if ((event as FocusEvent).relatedTarget instanceof HTMLButtonElement) return;
        const result = check();
        if (!result.ok && control.value !== "") this.set(name, result.message ?? "");
      });
    }
  }
}

/** A control, the field it belongs to, and the check of its value as typed so far. */
export type LiveCheck = [control: Control, fieldName: string, check: () => { ok: boolean; message?: string }];

export function banner(): HTMLElement {
  return h("div", { class: "form-error", role: "alert", tabindex: -1, hidden: true });
}

export interface Modal {
  readonly dialog: HTMLDialogElement;
  /** Closes at once: after the work is done. */
  close(): void;
  /** Closes unless the operator has entered something, in which case asks first (Escape, Close). */
  requestClose(): void;
  /** Takes what the dialog holds now as nothing to lose (after the work is done). */
  markClean(): void;
}

/** Every control's value in the dialog, to tell whether the operator has entered anything. */
function formState(dialog: HTMLDialogElement): string {
  return JSON.stringify(
    [...dialog.querySelectorAll<Control>("input, select, textarea")].map((c) => (c instanceof HTMLInputElement && (c.type === "checkbox" || c.type === "radio") ? c.checked : c.value)),
  );
}

/**
 * A modal dialog: focus moves into it, Escape closes it, and focus returns to what opened it.
 * A dialog whose fields were changed asks before discarding them. It leaves the document once closed.
 */
export function openModal(title: string, build: (modal: Modal, titleId: string) => Child[], options: { wide?: boolean } = {}): Modal {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const titleId = uid("dialog-title");
  const dialog = h("dialog", { class: options.wide ? "modal wide" : "modal", "aria-labelledby": titleId });
  let pristine = "";
  const keep = h("button", { type: "button", class: "secondary" }, "Keep editing");
  const discard = h("button", { type: "button", class: "danger" }, "Discard changes");
  const ask = h("div", { class: "discard-bar", role: "alert", hidden: true }, h("p", null, "Discard what you entered in this form?"), h("div", { class: "dialog-actions-inline" }, keep, discard));
  const requestClose = () => {
    if (formState(dialog) === pristine) return dialog.close();
    ask.hidden = false;
    keep.focus();
  };
  keep.addEventListener("click", () => {
    ask.hidden = true;
    (dialog.querySelector<HTMLElement>("[aria-invalid='true'], input:not([type='hidden']):not([readonly]):not(:disabled), textarea") ?? dialog).focus();
  });
  discard.addEventListener("click", () => dialog.close());
  const modal: Modal = { dialog, close: () => dialog.close(), requestClose, markClean: () => (pristine = formState(dialog)) };
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    requestClose();
  });
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener?.isConnected) opener.focus();
  });
  replaceChildren(dialog, h("h2", { id: titleId }, title), ...build(modal, titleId), ask);
  document.body.appendChild(dialog);
  pristine = formState(dialog);
  dialog.showModal();
  return modal;
}

/** A one-paragraph text area: Enter inserts nothing and pasted line breaks become spaces. */
export function oneParagraph(textarea: HTMLTextAreaElement): HTMLTextAreaElement {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter") event.preventDefault();
  });
  textarea.addEventListener("input", () => {
    if (/[\r\n]/.test(textarea.value)) textarea.value = textarea.value.replace(/\s*[\r\n]+\s*/g, " ");
  });
  return textarea;
}

/** Marks a control whose change must not withdraw an impact preview (a confirmation, not an input). */
export const KEEPS_PREVIEW = "data-keeps-preview";

/** Sets a button busy (disabled, with a label saying so) for the length of a request. */
export async function busy<T>(button: HTMLButtonElement, label: string, work: () => Promise<T>): Promise<T> {
  const idle = button.textContent ?? "";
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = idle;
  }
}

export interface WhenChooser {
  readonly field: Field;
  /** True when a later time is chosen. */
  later(): boolean;
  /** True when "now" is chosen and its immediate effect confirmed. */
  nowConfirmed(): boolean;
  readonly input: HTMLInputElement;
  readonly confirmNow: HTMLInputElement;
}

/** Tomorrow 00:00 UTC, as a datetime-local value. */
const tomorrow = () => `${new Date(Date.now() + 86_400_000).toISOString().slice(0, 11)}00:00`;

/**
 * "Later at (UTC)" (the default) or "now": a pair of radios and a datetime-local picker whose value
 * is read as UTC. The picker shows the browser's own date format, so the chosen moment is echoed in
 * the console's format beside it. Choosing "now" asks for a confirmation that `nowEffect` happens
 * at once. The picker is filled once, when the dialog opens; typing into its segments is never
 * overwritten (a half-typed date has an empty value until it is complete).
 */
export function whenChooser(name: string, legend: string, nowLabel: string, nowEffect: string, hint?: string): WhenChooser {
  const group = uid(name);
  const now = h("input", { type: "radio", name: group, value: "now", id: uid(`${name}-now`) });
  const later = h("input", { type: "radio", name: group, value: "later", id: uid(`${name}-later`), checked: true });
  // A max gives the year segment four digits, so typing a year moves on to the hour.
  const input = h("input", { type: "datetime-local", "aria-label": `${legend} at (UTC)`, value: tomorrow(), min: new Date(Date.now()).toISOString().slice(0, 16), max: "9999-12-31T23:59" });
  const echo = h("span", { class: "when-echo muted", "aria-live": "polite" });
  const confirmNow = h("input", { type: "checkbox", id: uid(`${name}-confirm`), [KEEPS_PREVIEW]: true });
  const confirmLabel = h("label", { class: "choice confirm-now", for: confirmNow.id, hidden: true }, confirmNow, ` I understand ${nowEffect}`);
  const sync = () => {
    input.disabled = !later.checked;
    confirmLabel.hidden = later.checked;
    if (later.checked) confirmNow.checked = false;
    const ms = Date.parse(`${input.value}Z`);
    echo.textContent = later.checked && !Number.isNaN(ms) ? `= ${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC` : "";
  };
  now.addEventListener("change", sync);
  later.addEventListener("change", sync);
  input.addEventListener("input", sync);
  sync();
  const f = fieldGroup(
    name,
    legend,
    [later, now, input],
    [
      h(
        "div",
        { class: "choices" },
        h("label", { class: "choice", for: later.id }, later, " Later, at (UTC)"),
        input,
        echo,
        h("label", { class: "choice", for: now.id }, now, ` ${nowLabel}`),
      ),
      confirmLabel,
    ],
    hint,
  );
  return { field: f, later: () => later.checked, nowConfirmed: () => now.checked && confirmNow.checked, input, confirmNow };
}

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
}

export function banner(): HTMLElement {
  return h("div", { class: "form-error", role: "alert", tabindex: -1, hidden: true });
}

export interface Modal {
  readonly dialog: HTMLDialogElement;
  close(): void;
}

/**
 * A modal dialog: focus moves into it, Escape closes it, and focus returns to what opened it.
 * The dialog leaves the document once closed.
 */
export function openModal(title: string, build: (modal: Modal, titleId: string) => Child[], options: { wide?: boolean } = {}): Modal {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const titleId = uid("dialog-title");
  const dialog = h("dialog", { class: options.wide ? "modal wide" : "modal", "aria-labelledby": titleId });
  const modal: Modal = { dialog, close: () => dialog.close() };
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener?.isConnected) opener.focus();
  });
  replaceChildren(dialog, h("h2", { id: titleId }, title), ...build(modal, titleId));
  document.body.appendChild(dialog);
  dialog.showModal();
  return modal;
}

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
  readonly input: HTMLInputElement;
}

/**
 * "Now" or "later at (UTC)": a pair of radios and a datetime-local picker whose value is read as
 * UTC. The picker shows the browser's own date format, so the chosen moment is echoed in the
 * console's format beside it.
 */
export function whenChooser(name: string, legend: string, nowLabel: string, hint?: string): WhenChooser {
  const group = uid(name);
  const now = h("input", { type: "radio", name: group, value: "now", id: uid(`${name}-now`), checked: true });
  const later = h("input", { type: "radio", name: group, value: "later", id: uid(`${name}-later`) });
  const input = h("input", { type: "datetime-local", disabled: true, "aria-label": `${legend} at (UTC)` });
  const echo = h("span", { class: "when-echo muted", "aria-live": "polite" });
  const sync = () => {
    input.disabled = !later.checked;
    input.min = new Date(Date.now()).toISOString().slice(0, 16);
    if (later.checked && input.value === "") input.value = `${new Date(Date.now() + 86_400_000).toISOString().slice(0, 11)}00:00`;
    const ms = Date.parse(`${input.value}Z`);
    echo.textContent = later.checked && !Number.isNaN(ms) ? `= ${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC` : "";
  };
  now.addEventListener("change", sync);
  later.addEventListener("change", sync);
  input.addEventListener("input", sync);
  const f = fieldGroup(
    name,
    legend,
    [now, later, input],
    [
      h(
        "div",
        { class: "choices" },
        h("label", { class: "choice", for: now.id }, now, ` ${nowLabel}`),
        h("label", { class: "choice", for: later.id }, later, " Later, at (UTC)"),
        input,
        echo,
      ),
    ],
    hint,
  );
  return { field: f, later: () => later.checked, input };
}

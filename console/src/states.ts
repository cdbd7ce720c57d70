/** The loading and error states every view shows the same way. */
import { ApiError } from "./api.js";
import { h } from "./dom.js";
import { errorContent } from "./forms.js";

export function loadingState(message: string): HTMLElement {
  return h("div", { class: "state loading", role: "status", "aria-busy": "true" }, h("span", { class: "spinner", "aria-hidden": "true" }), message);
}

export function errorState(title: string, error: unknown, retry: () => void): HTMLElement {
  const problem = error instanceof ApiError ? error.problems[0] : undefined;
  return h(
    "div",
    { class: "state error", role: "alert" },
    h("p", { class: "state-title" }, title),
    h("p", null, ...errorContent(problem?.message ?? String(error), problem?.code)),
    h("button", { type: "button", class: "secondary", onclick: retry }, "Try again"),
  );
}

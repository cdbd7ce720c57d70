/**
 * The operator console: sign-in, the header, and the views (price table, free caps, accounts, API
 * keys, audit log), chosen by the URL hash so the browser's back button works. The key never
 * appears in the URL.
 */
import { ApiError, api } from "./api.js";
import { renderAccounts } from "./accounts.js";
import { renderAudit } from "./audit.js";
import { h, replaceChildren } from "./dom.js";
import { errorContent, type Session } from "./forms.js";
import { renderFreeCaps, resetFreeCapsView } from "./free-caps.js";
import { article, type Viewer } from "./model.js";
import { renderKeys } from "./keys.js";
import { renderPrices, resetPricesView } from "./prices.js";
import { errorState, loadingState } from "./states.js";

/**
 * Session storage, not local storage: the key lives only as long as the tab, and is not shared
 * with other tabs or left behind on a shared machine.
 */
const KEY_STORAGE = "flexgate.console.operatorKey";
const DEFAULT_IDLE_MINUTES = 30;

const ROUTES = { "#/prices": "Price table", "#/free-caps": "Free caps", "#/accounts": "Accounts", "#/keys": "API keys", "#/audit": "Audit log" } as const;
type Route = keyof typeof ROUTES;

const nav = h("nav", { class: "nav", "aria-label": "Sections", hidden: true });
const who = h("div", { class: "who", hidden: true });
const main = h("main", { id: "main" });
const status = h("div", { class: "status-region", role: "status", "aria-live": "polite" });
let current: { key: string; viewer: Viewer } | null = null;

function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

function route(): Route {
  return location.hash in ROUTES ? (location.hash as Route) : "#/prices";
}

/** How long a message stays: long enough to read twice, short enough not to describe a stale table. */
const MESSAGE_MS = 15_000;
let messageTimer: ReturnType<typeof setTimeout> | undefined;

function clearMessage(): void {
  clearTimeout(messageTimer);
  status.replaceChildren();
}

function notify(message: string): void {
  clearTimeout(messageTimer);
  replaceChildren(status, h("p", null, message, " ", h("button", { type: "button", class: "link", onclick: clearMessage }, "Dismiss")));
  messageTimer = setTimeout(clearMessage, MESSAGE_MS);
}

/**
 * Signs out after the server's configured minutes without a key press, click or scroll, so a tab
 * left open on a shared desk does not keep an operator key usable.
 */
function watchIdle(idleMinutes: number): void {
  let last = Date.now();
  for (const type of ["keydown", "pointerdown", "wheel", "touchstart"]) {
    window.addEventListener(type, () => (last = Date.now()), { capture: true, passive: true });
  }
  setInterval(() => {
    if (current && Date.now() - last >= idleMinutes * 60_000) {
      signOut(`Signed out after ${idleMinutes} ${idleMinutes === 1 ? "minute" : "minutes"} without activity.`);
    }
    if (!current) last = Date.now();
  }, 10_000);
}

async function idleMinutes(): Promise<number> {
  try {
    const response = await fetch(new URL("config.json", document.baseURI), { cache: "no-store", credentials: "omit" });
    const minutes = ((await response.json()) as { idleMinutes?: unknown }).idleMinutes;
    if (typeof minutes === "number" && minutes > 0) return minutes;
  } catch {
    // Fall through to the default: the server answered nothing usable.
  }
  return DEFAULT_IDLE_MINUTES;
}

function signOut(message?: string): void {
  try {
    sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage can be unavailable (privacy settings); nothing was kept then.
  }
  current = null;
  resetPricesView();
  resetFreeCapsView();
  for (const dialog of document.querySelectorAll("dialog")) dialog.close();
  clearMessage();
  renderSignIn(message);
}

const session = (): Session => ({
  key: current?.key ?? "",
  viewerName: current?.viewer.name ?? "",
  notify,
  expireIfUnauthenticated(error) {
    if (!(error instanceof ApiError) || error.code !== "UNAUTHENTICATED") return false;
    signOut("The server no longer accepts this key. Sign in again.");
    return true;
  },
});

function renderHeader(): void {
  const signedIn = current !== null;
  nav.hidden = !signedIn;
  who.hidden = !signedIn;
  if (!current) return;
  const active = route();
  replaceChildren(
    nav,
    ...Object.entries(ROUTES).map(([hash, label]) => h("a", { href: hash, "aria-current": hash === active ? "page" : null }, label)),
  );
  replaceChildren(
    who,
    h("span", { class: "who-name" }, current.viewer.name, h("span", { class: "muted" }, ` · ${current.viewer.role}`)),
    h("button", { type: "button", class: "ghost small", onclick: () => signOut("Signed out.") }, "Sign out"),
  );
}

function renderView(): void {
  renderHeader();
  if (!current) return renderSignIn();
  document.title = `${ROUTES[route()]} · Flexgate operator console`;
  const views = { "#/prices": renderPrices, "#/free-caps": renderFreeCaps, "#/accounts": renderAccounts, "#/keys": renderKeys, "#/audit": renderAudit };
  views[route()](main, session());
}

function renderSignIn(message?: string): void {
  renderHeader();
  document.title = "Sign in · Flexgate operator console";
  const keyInput = h("input", {
    id: "operator-key",
    name: "operator-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    autocapitalize: "off",
    required: true,
    "aria-describedby": "key-hint key-error",
  });
  const error = h("p", { class: "field-error", id: "key-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "signin-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "operator-key" }, "Operator API key"), keyInput, h("p", { class: "hint", id: "key-hint" }, "Kept in this tab only (session storage) and sent as a Bearer token to /graphql."), error),
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    const showError = (text: string, code?: string) => {
      replaceChildren(error, ...errorContent(text, code));
      error.hidden = false;
      keyInput.setAttribute("aria-invalid", "true");
      keyInput.focus();
    };
    if (key === "") return showError("Enter an operator API key.");
    submit.disabled = true;
    submit.textContent = "Signing in…";
    void signIn(key)
      .then((viewer) => {
        if (viewer.role !== "OPERATOR") return showError(`This is ${article(viewer.role)} ${viewer.role} key; the console needs an OPERATOR key.`, "FORBIDDEN");
        current = { key, viewer };
        try {
          sessionStorage.setItem(KEY_STORAGE, key);
        } catch {
          // Without storage the session simply ends with the page.
        }
        if (!(location.hash in ROUTES)) history.replaceState(null, "", "#/prices");
        renderView();
      })
      .catch((failure: unknown) => {
        const problem = failure instanceof ApiError ? failure.problems[0] : undefined;
        if (problem?.code === "UNAUTHENTICATED") showError("The server did not accept this key.", problem.code);
        else showError(problem?.message ?? String(failure), problem?.code);
      })
      .finally(() => {
        submit.disabled = false;
        submit.textContent = "Sign in";
      });
  });
  replaceChildren(
    main,
    h(
      "section",
      { class: "signin" },
      h("h1", { tabindex: -1 }, "Sign in"),
      h("p", { class: "muted" }, "Manage the API price table and free caps, look up accounts and reverse charges, manage API keys, and review the audit log."),
      message ? h("p", { class: "notice", role: "status" }, message) : null,
      form,
    ),
  );
  keyInput.focus();
}

async function signIn(key: string): Promise<Viewer> {
  return api.viewer(key);
}

/** Resumes the tab's session, if any, checking the key is still good. */
async function resume(): Promise<void> {
  const key = storedKey();
  if (!key) return renderSignIn();
  replaceChildren(main, loadingState("Checking your session…"));
  try {
    const viewer = await signIn(key);
    if (viewer.role !== "OPERATOR") return signOut("That key is not an operator key. Sign in with an operator key.");
    current = { key, viewer };
    renderView();
  } catch (error) {
    if (error instanceof ApiError && error.code === "UNAUTHENTICATED") return signOut("The server no longer accepts the stored key. Sign in again.");
    replaceChildren(main, errorState("The server could not confirm your session.", error, () => void resume()));
  }
}

document.body.replaceChildren(
  h("header", { class: "topbar" }, h("a", { class: "brand", href: "#/prices" }, "Flexgate", h("span", null, " operator console")), nav, who),
  status,
  main,
);
window.addEventListener("hashchange", () => {
  clearMessage();
  if (current) renderView();
});
void idleMinutes().then(watchIdle);
void resume();

/**
 * API keys: every key with its role and state, creating one (its secret is shown once, with a
 * copy button) and revoking one. Secrets are never listed: the server keeps only their hashes.
 */
import { api } from "./api.js";
import { h, replaceChildren, srOnly } from "./dom.js";
import { FormErrors, banner, busy, field, openModal, type Session } from "./forms.js";
import { type ApiKey, article, formatTime } from "./model.js";
import { errorState, loadingState } from "./states.js";
import { checkText } from "./validate.js";

const ROLES = ["INTEGRATOR", "METERING", "PARTNER", "OPERATOR"] as const;

export function renderKeys(root: HTMLElement, session: Session): void {
  const heading = h("h1", { tabindex: -1 }, "API keys");
  const body = h("div", { class: "view-body" });
  const create = h("button", { type: "button", class: "secondary" }, "Create a key…");
  replaceChildren(
    root,
    h("div", { class: "view-head" }, heading, h("div", { class: "toolbar" }, create)),
    h("p", { class: "muted intro" }, "Secrets are shown once, when a key is created; the server keeps only a hash. A revoked key is refused at once."),
    body,
  );
  const load = async () => {
    replaceChildren(body, loadingState("Loading the keys…"));
    try {
      const keys = await api.apiKeys(session.key);
      replaceChildren(body, keysTable(keys, (key) => openRevokeDialog(session, key, () => void load())));
    } catch (error) {
      if (session.expireIfUnauthenticated(error)) return;
      replaceChildren(body, errorState("The keys could not be loaded.", error, () => void load()));
    }
  };
  create.addEventListener("click", () => openCreateDialog(session, () => void load()));
  heading.focus();
  void load();
}

function keysTable(keys: readonly ApiKey[], revoke: (key: ApiKey) => void): HTMLElement {
  return h(
    "table",
    { class: "data keys" },
    h("caption", { class: "sr-only" }, "API keys, revoked ones included"),
    h("thead", null, h("tr", null, ...["Name", "Role", "Secret starts with", "Created", "State", ""].map((c) => h("th", { scope: "col" }, c || srOnly("Actions"))))),
    h(
      "tbody",
      null,
      ...keys.map((key) =>
        h(
          "tr",
          { "data-key-id": key.id },
          h("th", { scope: "row", "data-label": "Name" }, key.name),
          h("td", { "data-label": "Role" }, key.role, key.reseller ? h("span", { class: "muted" }, ` · ${key.reseller.name}`) : null),
          h("td", { "data-label": "Secret starts with" }, h("code", null, `${key.secretPrefix}…`)),
          h("td", { "data-label": "Created", class: "time" }, formatTime(key.createdAt), h("span", { class: "muted" }, ` by ${key.createdBy}`)),
          h("td", { "data-label": "State" }, key.revokedAt ? h("span", { class: "badge cancelled" }, `REVOKED ${formatTime(key.revokedAt)}`) : h("span", { class: "badge active" }, "ACTIVE")),
          h(
            "td",
            { "data-label": "Actions" },
            key.revokedAt ? null : h("button", { type: "button", class: "ghost small danger-text", onclick: () => revoke(key) }, "Revoke…", srOnly(` ${key.name}`)),
          ),
        ),
      ),
    ),
  );
}

function openCreateDialog(session: Session, onCreated: () => void): void {
  const name = h("input", { type: "text", autocomplete: "off" });
  const role = h("select", null, ...ROLES.map((r) => h("option", { value: r }, r)));
  const reseller = h("select", { disabled: true }, h("option", { value: "" }, "Choose a reseller"));
  const resellerField = field("resellerId", "Reseller (PARTNER keys only)", reseller);
  const fields = [
    field("name", "Name (who or what uses it)", name, "Up to 200 characters, such as “Metering gateway, Tokyo”."),
    field("role", "Role", role, "INTEGRATOR reads the price table; METERING records usage; PARTNER acts for one reseller; OPERATOR does everything."),
    resellerField,
  ];
  const formBanner = banner();
  const errors = new FormErrors(fields, formBanner);
  const submit = h("button", { type: "submit", class: "primary" }, "Create key");
  const form = h(
    "form",
    { novalidate: true },
    formBanner,
    ...fields.map((f) => f.element),
    h("div", { class: "dialog-actions" }, submit, h("button", { type: "button", class: "ghost", onclick: () => modal.requestClose() }, "Close")),
  );
  // Said only for a PARTNER key, the one kind that needs the list; retrying keeps what was typed.
  const resellerState = h("div", { hidden: true });
  resellerField.element.append(resellerState);
  const showResellerState = () => (resellerState.hidden = role.value !== "PARTNER" || resellerState.childElementCount === 0);
  let resellersFailed = false;
  let resellersLoaded: Promise<void>;
  const loadResellers = () => {
    resellersFailed = false;
    replaceChildren(resellerState, loadingState("Loading the resellers…"));
    showResellerState();
    resellersLoaded = api.resellers(session.key).then(
      (list) => {
        reseller.append(...list.map((r) => h("option", { value: r.id }, `${r.name} #${r.id}`)));
        resellerState.replaceChildren();
        showResellerState();
      },
      (error: unknown) => {
        if (session.expireIfUnauthenticated(error)) return;
        resellersFailed = true;
        const retry = () => {
          errors.clear("resellerId");
          loadResellers();
          // The button goes with the message: focus stays in the field rather than falling out of the dialog.
          reseller.focus();
        };
        replaceChildren(resellerState, errorState("The resellers could not be loaded.", error, retry));
        showResellerState();
      },
    );
  };
  loadResellers();
  role.addEventListener("change", () => {
    reseller.disabled = role.value !== "PARTNER";
    if (reseller.disabled) reseller.value = "";
    showResellerState();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    errors.clearAll();
    const checked = checkText(name.value, "name", { max: 200 });
    if (!checked.ok) {
      errors.set("name", checked.message);
      return name.focus();
    }
    if (role.value === "PARTNER" && reseller.value === "") {
      if (resellersFailed) {
        errors.set("resellerId", "Try loading the resellers again, then choose the one this partner key acts for.");
        return resellerState.querySelector("button")?.focus();
      }
      errors.set("resellerId", "Choose the reseller this partner key acts for.");
      return reseller.focus();
    }
    void busy(submit, "Creating…", async () => {
      try {
        await resellersLoaded;
        const created = await api.createApiKey(session.key, { name: checked.value, role: role.value, ...(reseller.value ? { resellerId: reseller.value } : {}) });
        showSecret(created.key, created.secret);
        onCreated();
      } catch (error) {
        if (session.expireIfUnauthenticated(error)) return;
        errors.showServer(error);
      }
    });
  });

  const showSecret = (key: ApiKey, secret: string) => {
    const value = h("input", { type: "text", readonly: true, value: secret, class: "secret", "aria-label": "Secret of the new key", spellcheck: "false" });
    const copied = h("span", { class: "muted", role: "status" });
    const copy = h("button", { type: "button", class: "secondary" }, "Copy secret");
    copy.addEventListener("click", () => {
      navigator.clipboard.writeText(secret).then(
        () => (copied.textContent = "Copied."),
        () => {
          value.select();
          copied.textContent = "Copying was refused: the secret is selected, copy it with the keyboard.";
        },
      );
    });
    const done = h("button", { type: "button", class: "primary", onclick: () => modal.close() }, "Done");
    replaceChildren(
      form,
      h("div", { class: "secret-once", role: "alert" }, h("p", null, h("strong", null, `Copy the secret of “${key.name}” now.`), ` It is shown this once; ${article(key.role)} ${key.role} key authenticates with it.`)),
      h("div", { class: "secret-row" }, value, copy),
      copied,
      h("div", { class: "dialog-actions" }, done),
    );
    modal.markClean();
    value.select();
    copy.focus();
  };

  const modal = openModal("Create an API key", () => [form]);
  name.focus();
}

function openRevokeDialog(session: Session, key: ApiKey, onRevoked: () => void): void {
  const formBanner = banner();
  const errors = new FormErrors([], formBanner);
  const confirm = h("button", { type: "submit", class: "danger" }, "Revoke key");
  const form = h("form", { novalidate: true }, formBanner, h("div", { class: "dialog-actions" }, confirm, h("button", { type: "button", class: "ghost", onclick: () => modal.requestClose() }, "Keep it")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(confirm, "Revoking…", async () => {
      try {
        await api.revokeApiKey(session.key, key.id);
        modal.close();
        session.notify(`Revoked “${key.name}” (${key.role}): requests with it are refused from now on.`);
        onRevoked();
      } catch (error) {
        if (session.expireIfUnauthenticated(error)) return;
        errors.showServer(error);
      }
    });
  });
  const modal = openModal(`Revoke “${key.name}”`, () => [
    h("p", null, `This ${key.role} key (secret starting ${key.secretPrefix}…) stops working at once and for good. A new key must be created to replace it.`),
    form,
  ]);
  confirm.focus();
}

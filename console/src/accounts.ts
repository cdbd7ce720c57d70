/**
 * The accounts, read-only: search by name, then one account's balance, alerts, plan and free
 * usage, Token Flex pools, PAYG statements, lots and packs with their expiry, and recent charges
 * with what paid them. The one change made here is
 * reversing a charge, with a reason, as operators otherwise do through the API.
 */
import { api } from "./api.js";
import { h, replaceChildren, srOnly } from "./dom.js";
import { openReasonDialog } from "./actions.js";
import { accountTiers } from "./account-tiers.js";
import { busy, type Session } from "./forms.js";
import { type AccountDetail, type AccountSummary, type Charge, formatTime, receiptLine, tokensLabel } from "./model.js";
import { errorState, loadingState } from "./states.js";

export function renderAccounts(root: HTMLElement, session: Session): void {
  const heading = h("h1", { tabindex: -1 }, "Accounts");
  const search = h("input", { type: "search", placeholder: "Account name contains…", "aria-label": "Search accounts by name", autocomplete: "off" });
  const list = h("div", { class: "view-body" });
  const detail = h("section", { class: "account-detail", "aria-live": "polite", hidden: true });
  const form = h("form", { class: "toolbar", role: "search" }, search, h("button", { type: "submit", class: "secondary" }, "Search"));
  replaceChildren(
    root,
    h("div", { class: "view-head" }, heading, form),
    h("p", { class: "muted intro" }, "Read-only: balances, alerts, plans and free usage, Token Flex pools, PAYG statements, lots and packs, and recent charges. A charge can be reversed with a reason."),
    list,
    detail,
  );

  // Answers can arrive out of order: each view shows only the answer to the last request made
  // for it, so an older search or account never replaces a newer one.
  let listRequest = 0;
  let detailRequest = 0;
  // The search the list shows: "More accounts" continues it, whatever the box holds by then.
  let applied = "";
  let shown: AccountSummary[] = [];
  const load = async (after: string | null) => {
    const request = ++listRequest;
    if (after === null) replaceChildren(list, loadingState("Loading accounts…"));
    try {
      const page = await api.accounts(session.key, applied, after);
      if (request !== listRequest) return;
      shown = after === null ? page.edges.map((e) => e.node) : [...shown, ...page.edges.map((e) => e.node)];
      if (shown.length === 0) return replaceChildren(list, h("div", { class: "state empty", role: "status" }, h("p", null, "No account matches.")));
      // Busy (disabled) until its page arrives, so a double click cannot append that page twice.
      const more: HTMLButtonElement | null = page.pageInfo.hasNextPage
        ? h("button", { type: "button", class: "secondary", onclick: () => void busy(more!, "Loading…", () => load(page.pageInfo.endCursor)) }, "More accounts")
        : null;
      replaceChildren(list, accountsTable(shown, open), h("p", { class: "muted count", role: "status" }, `${shown.length} of ${page.totalCount} accounts`), more);
    } catch (error) {
      if (session.expireIfUnauthenticated(error) || request !== listRequest) return;
      replaceChildren(list, errorState("The accounts could not be loaded.", error, () => void load(null)));
    }
  };

  const open = async (id: string) => {
    const request = ++detailRequest;
    detail.hidden = false;
    replaceChildren(detail, loadingState("Loading the account…"));
    try {
      const account = await api.account(session.key, id);
      if (request !== detailRequest) return;
      if (!account) return replaceChildren(detail, h("div", { class: "state empty" }, h("p", null, "This account no longer exists.")));
      replaceChildren(detail, ...accountDetail(account, accountTiers(session, account.id), (charge) => openReverseDialog(session, account, charge, () => void open(account.id))));
      detail.querySelector<HTMLElement>("h2")?.focus();
    } catch (error) {
      if (session.expireIfUnauthenticated(error) || request !== detailRequest) return;
      replaceChildren(detail, errorState("The account could not be loaded.", error, () => void open(id)));
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // A new search closes the account, and any account still loading stays closed.
    detailRequest += 1;
    detail.hidden = true;
    applied = search.value.trim();
    void load(null);
  });
  heading.focus();
  void load(null);
}

function accountsTable(accounts: readonly AccountSummary[], open: (id: string) => void): HTMLElement {
  return h(
    "table",
    { class: "data accounts" },
    h("caption", { class: "sr-only" }, "Accounts"),
    h("thead", null, h("tr", null, ...["Account", "Status", "Available", "Deficit", "Alerts", ""].map((c) => h("th", { scope: "col" }, c || srOnly("Actions"))))),
    h(
      "tbody",
      null,
      ...accounts.map((a) =>
        h(
          "tr",
          { "data-account-id": a.id },
          h("th", { scope: "row", "data-label": "Account" }, a.name, h("span", { class: "muted" }, ` #${a.id}${a.country ? ` · ${a.country}` : ""}`)),
          h("td", { "data-label": "Status" }, statusBadge(a.status)),
          h("td", { "data-label": "Available", class: "number" }, a.balance.available),
          h("td", { "data-label": "Deficit", class: "number" }, a.balance.deficit),
          h("td", { "data-label": "Alerts" }, a.alerts.length === 0 ? h("span", { class: "muted" }, "None") : a.alerts.map((x) => x.kind).join(", ")),
          h("td", { "data-label": "Actions" }, h("button", { type: "button", class: "ghost small", onclick: () => open(a.id) }, "Open", srOnly(` ${a.name}`))),
        ),
      ),
    ),
  );
}

const statusBadge = (status: string) => h("span", { class: `badge ${status === "ACTIVE" ? "active" : status === "GRACE" ? "scheduled" : "retired"}` }, status);

function accountDetail(account: AccountDetail, tiers: HTMLElement, reverse: (charge: Charge) => void): HTMLElement[] {
  const b = account.balance;
  const figures: Array<[string, string]> = [
    ["Available", b.available],
    ["Cloud credits", b.cloudCredits],
    ["Flex tokens", b.flexTokens],
    ["Deficit", b.deficit],
    ["Burn per day (30 days)", account.forecast.burnRatePerDay],
    ["Runs out", account.forecast.depletesAt ? formatTime(account.forecast.depletesAt) : "Not at this rate"],
  ];
  if (b.graceEndsAt) figures.push(["Grace ends", formatTime(b.graceEndsAt)]);
  const charges = account.charges.edges.map((e) => e.node);
  return [
    h("h2", { tabindex: -1 }, `${account.name} `, h("span", { class: "muted" }, `#${account.id}`), " ", statusBadge(account.status)),
    h("p", { class: "muted" }, `${account.balancePolicy === "HARD_STOP" ? "Hard stop at zero" : "Negative balance with grace"}${account.reseller ? ` · buys through ${account.reseller.name}` : ""}${account.country ? ` · ${account.country}` : ""}`),
    h("dl", { class: "impact-figures" }, ...figures.map(([label, value]) => h("div", null, h("dt", null, label), h("dd", null, value)))),
    h("h3", null, "Alerts"),
    account.alerts.length === 0
      ? h("p", { class: "muted" }, "No alert holds now.")
      : h("ul", { class: "alerts" }, ...account.alerts.map((a) => h("li", null, h("strong", null, a.kind), ` ${a.message}`))),
    tiers,
    h("h3", null, "Cloud-credit lots and Flex packs"),
    fundingTable(account),
    h("h3", null, `Recent charges (${charges.length} of ${account.charges.totalCount})`),
    charges.length === 0 ? h("p", { class: "muted" }, "No usage has been charged.") : chargesTable(charges, reverse),
  ];
}

function fundingTable(account: AccountDetail): HTMLElement {
  const rows = [
    ...account.creditLots.map((l) => ({ kind: `Credit lot #${l.id}`, ref: l.externalRef, total: l.amount, remaining: l.remaining, purchasedAt: l.purchasedAt, expiresAt: l.expiresAt, expired: l.expired })),
    ...account.flexPacks.map((p) => ({ kind: `Flex pack #${p.id} (${p.channel})`, ref: p.orderRef, total: p.tokens, remaining: p.remaining, purchasedAt: p.purchasedAt, expiresAt: p.expiresAt, expired: p.expired })),
  ];
  if (rows.length === 0) return h("p", { class: "muted" }, "Nothing bought yet.");
  return h(
    "table",
    { class: "data compact funding" },
    h("caption", { class: "sr-only" }, "Lots and packs with their expiry"),
    h("thead", null, h("tr", null, ...["Lot or pack", "Reference", "Bought", "Remaining", "Purchased", "Expires"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      ...rows.map((r) =>
        h(
          "tr",
          null,
          h("th", { scope: "row", "data-label": "Lot or pack" }, r.kind),
          h("td", { "data-label": "Reference" }, r.ref),
          h("td", { "data-label": "Bought", class: "number" }, r.total),
          h("td", { "data-label": "Remaining", class: "number" }, r.remaining),
          h("td", { "data-label": "Purchased", class: "time" }, formatTime(r.purchasedAt)),
          h("td", { "data-label": "Expires", class: "time" }, formatTime(r.expiresAt), r.expired ? h("span", { class: "badge cancelled" }, " EXPIRED") : null),
        ),
      ),
    ),
  );
}

function chargesTable(charges: readonly Charge[], reverse: (charge: Charge) => void): HTMLElement {
  return h(
    "table",
    { class: "data compact charges" },
    h("caption", { class: "sr-only" }, "Recent charges with what paid them"),
    h("thead", null, h("tr", null, ...["Occurred", "API", "Quantity", "Outcome", "Tokens", "Paid from", ""].map((c) => h("th", { scope: "col" }, c || srOnly("Actions"))))),
    h(
      "tbody",
      null,
      ...charges.map((c) =>
        h(
          "tr",
          { "data-charge-id": c.id, class: c.reversed ? "reversed" : null },
          h("td", { "data-label": "Occurred", class: "time" }, formatTime(c.occurredAt)),
          h("td", { "data-label": "API" }, h("code", null, c.apiCode), h("span", { class: "muted" }, ` ${c.eventId}`)),
          h("td", { "data-label": "Quantity", class: "number" }, c.quantity),
          h("td", { "data-label": "Outcome" }, c.outcome),
          h("td", { "data-label": "Tokens", class: "number" }, c.tokens),
          h("td", { "data-label": "Paid from" }, c.allocations.length === 0 ? h("span", { class: "muted" }, "Nothing") : h("ul", { class: "plain" }, ...c.allocations.map((a) => h("li", null, receiptLine(a))))),
          h(
            "td",
            { "data-label": "Actions" },
            c.reversed
              ? h("span", { class: "badge cancelled" }, `REVERSED ${formatTime(c.reversedAt)}`)
              : h("button", { type: "button", class: "ghost small danger-text", onclick: () => reverse(c) }, "Reverse…", srOnly(` charge #${c.id}`)),
          ),
        ),
      ),
    ),
  );
}

function openReverseDialog(session: Session, account: AccountDetail, charge: Charge, onReversed: () => void): void {
  openReasonDialog(session, {
    title: `Reverse charge #${charge.id}`,
    intro: [
      `${account.name}: ${charge.apiCode}, ${charge.quantity} (${charge.outcome}) on ${formatTime(charge.occurredAt)}, ${tokensLabel(charge.tokens)}. `,
      "The tokens go back to the lots and packs that paid them; the charge stays in the history as reversed.",
    ],
    confirmLabel: "Reverse this charge",
    busyLabel: "Reversing…",
    submit: (reason) => api.reverseCharge(session.key, charge.id, reason),
    done: () => {
      session.notify(`Reversed charge #${charge.id} of ${account.name}: ${tokensLabel(charge.tokens)} returned to what paid it.`);
      onReversed();
    },
  });
}

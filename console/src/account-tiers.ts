/**
 * An account under the tiered regime, read-only: the plan in force and its history, this month's
 * free usage, the Token Flex pools, and the PAYG statement of a chosen month with its CSV export.
 * Loaded apart from the rest of the account, so a failure here leaves the balance and charges shown.
 */
import { api, downloadCsv } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { FormErrors, banner, field, type Session } from "./forms.js";
import { formatTime, tokensLabel } from "./model.js";
import { errorState, loadingState } from "./states.js";
import { type AccountTiers, type PaygStatement, type Plan, capLabel, monthOf, planLabel, suspendedText } from "./tiered-model.js";
import { checkMonth } from "./validate.js";

/** The section's element; it fills itself once the account's tiered facts arrive. */
export function accountTiers(session: Session, accountId: string): HTMLElement {
  const section = h("section", { class: "account-tiers", "aria-label": "Plan, free usage, Token Flex and PAYG" });
  const month = monthOf(Date.now());
  const load = async () => {
    replaceChildren(section, loadingState("Loading the plan and free usage…"));
    try {
      const tiers = await api.accountTiers(session.key, accountId, month);
      if (!tiers) return replaceChildren(section, h("p", { class: "muted" }, "This account no longer exists."));
      replaceChildren(section, ...tiersContent(session, accountId, tiers, month));
    } catch (error) {
      if (session.expireIfUnauthenticated(error)) return;
      replaceChildren(section, errorState("The plan, free usage and statements could not be loaded.", error, () => void load()));
    }
  };
  void load();
  return section;
}

function tiersContent(session: Session, accountId: string, tiers: AccountTiers, month: string): HTMLElement[] {
  const now = Date.now();
  return [
    h("h3", null, "Plan"),
    h("p", { class: "plan-now" }, h("strong", { "data-plan": tiers.plan.tier }, planLabel(tiers.plan)), tiers.plan.effectiveFrom ? ` since ${formatTime(tiers.plan.effectiveFrom)}` : ""),
    planHistoryTable(tiers.planHistory, now),
    h("h3", null, `Free usage in ${month} (UTC)`),
    freeUsageTable(tiers),
    h("h3", null, "Token Flex pools"),
    poolsTable(tiers),
    h("h3", null, "PAYG statement"),
    statementPanel(session, accountId, tiers.paygStatement, month),
  ];
}

function planHistoryTable(history: readonly Plan[], nowMs: number): HTMLElement {
  return h(
    "table",
    { class: "data compact plan-history" },
    h("caption", { class: "sr-only" }, "Plan history, oldest first"),
    h("thead", null, h("tr", null, ...["Plan", "PAYG", "Effective from"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      ...history.map((plan) =>
        h(
          "tr",
          { "data-tier": plan.tier },
          h("th", { scope: "row", "data-label": "Plan" }, plan.tier, plan.effectiveFrom && Date.parse(plan.effectiveFrom) > nowMs ? h("span", { class: "badge scheduled" }, " SCHEDULED") : null),
          h("td", { "data-label": "PAYG" }, plan.tier === "PAID" ? (plan.payg ? "Yes" : "No (prepay only)") : "—"),
          h("td", { "data-label": "Effective from", class: "time" }, plan.effectiveFrom ? formatTime(plan.effectiveFrom) : "From the start"),
        ),
      ),
    ),
  );
}

function freeUsageTable(tiers: AccountTiers): HTMLElement {
  // Off the Free tier the caps do not apply: only what was used while on it this month is shown.
  const onFree = tiers.plan.tier === "FREE";
  const rows = onFree ? tiers.freeUsage : tiers.freeUsage.filter((row) => row.usedUnits > 0 || row.overrunUnits > 0);
  if (rows.length === 0) {
    return h("p", { class: "muted" }, onFree ? "No free cap is in force and nothing was used this month." : `No free allowance on ${planLabel(tiers.plan)}, and nothing used on the Free tier this month.`);
  }
  return h(
    "table",
    { class: "data compact free-usage" },
    h("caption", { class: "sr-only" }, "Free usage this month, per API"),
    h("thead", null, h("tr", null, ...["API", "Cap", "Used", "Overrun", "Suspended"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      ...rows.map((row) =>
        h(
          "tr",
          { "data-api-code": row.apiCode, class: row.suspendedUntil && onFree ? "suspended" : null },
          h("th", { scope: "row", "data-label": "API" }, h("code", null, row.apiCode)),
          h("td", { "data-label": "Cap", class: "number" }, capLabel(row.capUnits)),
          h("td", { "data-label": "Used", class: "number" }, String(row.usedUnits)),
          h("td", { "data-label": "Overrun", class: "number" }, String(row.overrunUnits)),
          h("td", { "data-label": "Suspended", class: "time" }, ...suspension(row.suspendedUntil, onFree ? null : tiers.plan)),
        ),
      ),
    ),
  );
}

/** A paid plan lifts a suspension from its start (domain §8): the month's record says so instead. */
function suspension(until: string | null, liftedBy: Plan | null): Array<string | HTMLElement> {
  if (!until) return ["—"];
  if (liftedBy) return [`Lifted by ${planLabel(liftedBy)}${liftedBy.effectiveFrom ? ` from ${formatTime(liftedBy.effectiveFrom)}` : ""}`];
  return [h("span", { class: "badge retired" }, "SUSPENDED"), ` ${suspendedText(until)}`];
}

function poolsTable(tiers: AccountTiers): HTMLElement {
  if (tiers.tokenFlexPools.length === 0) return h("p", { class: "muted" }, "No Token Flex pool has been imported.");
  return h(
    "table",
    { class: "data compact pools" },
    h("caption", { class: "sr-only" }, "Token Flex pools with their terms"),
    h("thead", null, h("tr", null, ...["Pool", "Reference", "Tokens", "Remaining", "Starts", "Ends"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      ...tiers.tokenFlexPools.map((pool) =>
        h(
          "tr",
          { "data-pool-id": pool.id },
          h("th", { scope: "row", "data-label": "Pool" }, `Pool #${pool.id}`),
          h("td", { "data-label": "Reference" }, pool.externalRef),
          h("td", { "data-label": "Tokens", class: "number" }, pool.tokens),
          h("td", { "data-label": "Remaining", class: "number" }, pool.remaining),
          h("td", { "data-label": "Starts", class: "time" }, formatTime(pool.startsAt)),
          h("td", { "data-label": "Ends", class: "time" }, formatTime(pool.endsAt), pool.expired ? h("span", { class: "badge cancelled" }, " EXPIRED") : null),
        ),
      ),
    ),
  );
}

/** The export's address, relative to the console like /graphql is. */
const exportUrl = (accountId: string, month: string) => {
  const url = new URL("../export/payg.csv", document.baseURI);
  url.searchParams.set("accountId", accountId);
  url.searchParams.set("month", month);
  return url.href;
};

function statementPanel(session: Session, accountId: string, first: PaygStatement, month: string): HTMLElement {
  const picker = h("input", { type: "month", value: month, max: month });
  const pickerField = field("month", "Statement month (UTC)", picker);
  const formBanner = banner();
  const errors = new FormErrors([pickerField], formBanner);
  const show = h("button", { type: "submit", class: "secondary" }, "Show statement");
  const result = h("div", { class: "statement", "aria-live": "polite" });
  const form = h("form", { class: "filters statement-month", novalidate: true }, pickerField.element, show);
  const draw = (statement: PaygStatement) => replaceChildren(result, ...statementContent(session, accountId, statement));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    errors.clearAll();
    const chosen = checkMonth(picker.value);
    if (!chosen.ok) {
      errors.set("month", chosen.message);
      picker.focus();
      return;
    }
    replaceChildren(result, loadingState(`Loading the statement of ${chosen.value}…`));
    api
      .paygStatement(session.key, accountId, chosen.value)
      .then((statement) => (statement ? draw(statement) : replaceChildren(result, h("p", { class: "muted" }, "This account no longer exists."))))
      .catch((error: unknown) => {
        if (session.expireIfUnauthenticated(error)) return;
        replaceChildren(result);
        errors.showServer(error);
      });
  });
  draw(first);
  return h("div", { class: "statement-panel" }, formBanner, form, result);
}

function statementContent(session: Session, accountId: string, statement: PaygStatement): HTMLElement[] {
  const link = h("a", { href: exportUrl(accountId, statement.month), class: "csv-link", download: `payg-${accountId}-${statement.month}.csv` }, `Download the ${statement.month} statement as CSV`);
  // The export needs the key, which a plain link cannot send: the click fetches it with the key.
  link.addEventListener("click", (event) => {
    event.preventDefault();
    downloadCsv(session.key, "payg.csv", { accountId, month: statement.month }, `payg-${accountId}-${statement.month}.csv`).catch((error: unknown) => {
      if (!session.expireIfUnauthenticated(error)) session.notify(`The export failed: ${error instanceof Error ? error.message : String(error)}`);
    });
  });
  const status = h("span", { class: `badge ${statement.status === "FINAL" ? "superseded" : "scheduled"}`, "data-status": statement.status }, statement.status);
  return [
    h(
      "p",
      { class: "statement-head" },
      h("strong", null, `Statement of ${statement.month}`),
      " ",
      status,
      ` Total: `,
      h("strong", { "data-total": "" }, tokensLabel(statement.tokens)),
      statement.status === "OPEN" ? h("span", { class: "muted" }, " (open until 3 days after the month ends; then final and never changed)") : null,
    ),
    statement.lines.length === 0
      ? h("p", { class: "muted" }, "Nothing went on this statement.")
      : h(
          "table",
          { class: "data compact payg-lines" },
          h("caption", { class: "sr-only" }, `PAYG statement of ${statement.month}, per API`),
          h("thead", null, h("tr", null, ...["API", "Units", "Tokens"].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            null,
            ...statement.lines.map((line) =>
              h(
                "tr",
                { "data-api-code": line.apiCode },
                h("th", { scope: "row", "data-label": "API" }, h("code", null, line.apiCode)),
                h("td", { "data-label": "Units", class: "number" }, String(line.units)),
                h("td", { "data-label": "Tokens", class: "number" }, line.tokens),
              ),
            ),
          ),
        ),
    h("p", null, link),
  ];
}


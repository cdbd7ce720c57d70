/**
 * Free caps (domain §8): per API the monthly allowance of FREE accounts in force, what is
 * scheduled, and every cap ever published. The caps in force come from freeCaps(asOf); the
 * history is the audit log's record of each publication, which holds the whole cap and who
 * published it.
 */
import { api } from "./api.js";
import { h, replaceChildren, srOnly, uid } from "./dom.js";
import { openFreeCapDialog } from "./free-cap-publish.js";
import type { Session } from "./forms.js";
import { type AuditEntry, formatTime, groupByApi } from "./model.js";
import { errorState, loadingState } from "./states.js";
import { type ApiCaps, type CapStatus, type FreeCap, capFromAudit, capLabel, groupCaps, type PublishedCap } from "./tiered-model.js";

/** The audit log's largest page: the caps of every API are read in as few requests as it allows. */
const AUDIT_PAGE = 100;

/** Open histories survive a reload of the table while the operator works. */
const expanded = new Set<string>();

export function resetFreeCapsView(): void {
  expanded.clear();
}

async function publishedCaps(key: string): Promise<PublishedCap[]> {
  const entries: AuditEntry[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await api.auditLog(key, AUDIT_PAGE, after, { entityType: "FreeCap", actor: null, from: null, to: null });
    entries.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage || page.pageInfo.endCursor === null) break;
    after = page.pageInfo.endCursor;
  }
  return entries.map(capFromAudit).filter((cap): cap is PublishedCap => cap !== null);
}

export function renderFreeCaps(root: HTMLElement, session: Session): void {
  const heading = h("h1", { tabindex: -1 }, "Free caps");
  const body = h("div", { class: "view-body" });
  const publish = h("button", { type: "button", class: "secondary" }, "Publish a free cap…");
  const refresh = h("button", { type: "button", class: "ghost" }, "Refresh");
  const asOf = h("input", { type: "date", id: uid("caps-as-of") });
  const asOfForm = h(
    "form",
    { class: "filters" },
    h("div", { class: "field" }, h("label", { for: asOf.id }, "Caps in force as of (UTC day, empty for now)"), asOf),
    h("button", { type: "submit", class: "secondary" }, "Show"),
  );
  replaceChildren(
    root,
    h("div", { class: "view-head" }, heading, h("div", { class: "toolbar" }, publish, refresh)),
    h(
      "p",
      { class: "muted intro" },
      "Whole charged units a FREE account may use of each API per calendar month (UTC). Beyond the cap usage is an overrun, never billed, and the API is suspended for that account until the next month. No cap in force means 0. Caps are append-only: a change publishes a new cap.",
    ),
    asOfForm,
    body,
  );

  let groups: ApiCaps[] = [];
  let priced: string[] = [];

  const load = async (focusAfter?: string) => {
    replaceChildren(body, loadingState("Loading the free caps…"));
    const day = asOf.value;
    try {
      const [inForce, published, versions] = await Promise.all([
        api.freeCaps(session.key, day ? `${day}T00:00:00Z` : null),
        publishedCaps(session.key),
        api.priceVersions(session.key),
      ]);
      priced = groupByApi(versions).filter((g) => g.current !== null).map((g) => g.apiCode);
      groups = groupCaps(inForce, published, Date.now(), priced);
      draw(day);
      if (focusAfter) body.querySelector<HTMLElement>(`[data-api-code="${CSS.escape(focusAfter)}"] .api-code`)?.focus();
    } catch (error) {
      if (session.expireIfUnauthenticated(error)) return;
      replaceChildren(body, errorState("The free caps could not be loaded.", error, () => void load()));
    }
  };

  const open = (target: ApiCaps | null) =>
    openFreeCapDialog(session, target, priced, (cap: FreeCap) => {
      const status = Date.parse(cap.effectiveFrom) > Date.now() ? "SCHEDULED" : "IN FORCE";
      session.notify(`Published free cap #${cap.id} of ${cap.apiCode}: ${capLabel(cap.unitsPerMonth)}, effective ${formatTime(cap.effectiveFrom)} (${status}).`);
      void load(cap.apiCode);
    });

  const draw = (day: string) => {
    if (groups.length === 0) {
      return replaceChildren(body, h("div", { class: "state empty" }, h("p", null, "No API is priced and no free cap has been published. Use “Publish a free cap” to set one.")));
    }
    const moment = day ? `as of ${day} 00:00 UTC` : "now";
    replaceChildren(body, capsTable(groups, moment, open), h("p", { class: "muted count", role: "status" }, `${groups.filter((g) => g.current).length} of ${groups.length} APIs with a cap in force ${moment}`));
  };

  asOfForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void load();
  });
  publish.addEventListener("click", () => open(null));
  refresh.addEventListener("click", () => void load());
  heading.focus();
  void load();
}

const COLUMNS = ["API", "Cap in force", "Since", "Scheduled", "Actions"] as const;

function capsTable(groups: readonly ApiCaps[], moment: string, open: (target: ApiCaps) => void): HTMLElement {
  return h(
    "table",
    { class: "data caps" },
    h("caption", { class: "sr-only" }, `Free caps in force ${moment}, with scheduled caps and each API's history`),
    h("thead", null, h("tr", null, ...COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
    ...groups.map((group) => capRows(group, open)),
  );
}

function capRows(group: ApiCaps, open: (target: ApiCaps) => void): HTMLTableSectionElement {
  const historyId = uid("cap-history");
  const isOpen = expanded.has(group.apiCode);
  const toggle = h(
    "button",
    { type: "button", class: "ghost small", "aria-expanded": String(isOpen), "aria-controls": historyId },
    `History (${group.history.length})`,
    srOnly(` of the caps of ${group.apiCode}`),
  );
  const historyRow = h("tr", { class: "history-row", id: historyId, hidden: !isOpen }, h("td", { colspan: COLUMNS.length }, historyTable(group)));
  toggle.addEventListener("click", () => {
    const now = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(now));
    historyRow.hidden = !now;
    if (now) expanded.add(group.apiCode);
    else expanded.delete(group.apiCode);
  });
  const scheduled = group.history.filter((cap) => cap.status === "SCHEDULED").reverse();
  const row = h(
    "tr",
    { class: "api-row", "data-api-code": group.apiCode },
    h("th", { scope: "row", "data-label": "API" }, h("code", { class: "api-code", tabindex: -1 }, group.apiCode)),
    h("td", { "data-label": "Cap in force", class: "cap" }, group.current ? capLabel(group.current.unitsPerMonth) : h("span", { class: "muted" }, "None (0 units)")),
    h("td", { "data-label": "Since", class: "time" }, group.current ? formatTime(group.current.effectiveFrom) : "—"),
    h(
      "td",
      { "data-label": "Scheduled", class: "scheduled" },
      scheduled.length === 0
        ? h("span", { class: "muted" }, "None")
        : h("ul", { class: "plain" }, ...scheduled.map((cap) => h("li", { "data-cap-id": cap.id }, h("span", { class: "badge scheduled" }, "Scheduled"), ` ${capLabel(cap.unitsPerMonth)} from ${formatTime(cap.effectiveFrom)}`))),
    ),
    h(
      "td",
      { "data-label": "Actions", class: "actions" },
      toggle,
      h("button", { type: "button", class: "secondary small", onclick: () => open(group) }, "Publish cap…", srOnly(` for ${group.apiCode}`)),
    ),
  );
  return h("tbody", { "data-api": group.apiCode }, row, historyRow);
}

const HISTORY_COLUMNS = ["Cap", "Status", "Units a month", "Effective from", "Published by", "Published at", "Note"] as const;
const STATUS_BADGES: Record<CapStatus, [string, string]> = { IN_FORCE: ["active", "IN FORCE"], SCHEDULED: ["scheduled", "SCHEDULED"], SUPERSEDED: ["superseded", "SUPERSEDED"] };

function historyTable(group: ApiCaps): HTMLElement {
  if (group.history.length === 0) return h("p", { class: "muted" }, "No publication of this API's cap is on record.");
  return h(
    "div",
    { class: "history" },
    h(
      "table",
      { class: "data nested" },
      h("caption", null, `Cap history of ${group.apiCode}, newest first`),
      h("thead", null, h("tr", null, ...HISTORY_COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        null,
        ...group.history.map((cap) => {
          const [badge, label] = STATUS_BADGES[cap.status];
          return h(
            "tr",
            { "data-cap-id": cap.id, "data-status": cap.status },
            h("td", { "data-label": "Cap" }, `#${cap.id}`),
            h("td", { "data-label": "Status" }, h("span", { class: `badge ${badge}` }, label)),
            h("td", { "data-label": "Units a month", class: "number" }, String(cap.unitsPerMonth)),
            h("td", { "data-label": "Effective from", class: "time" }, formatTime(cap.effectiveFrom)),
            h("td", { "data-label": "Published by" }, cap.publishedBy),
            h("td", { "data-label": "Published at", class: "time" }, formatTime(cap.publishedAt)),
            h("td", { "data-label": "Note", class: "note" }, cap.note ?? ""),
          );
        }),
      ),
    ),
  );
}

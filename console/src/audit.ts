/**
 * The audit log, newest first, a page at a time: each entry as a sentence of what changed
 * ("2 → 2.5 tokens per 3600 SECOND"), when in UTC and in the operator's own time, who did it,
 * and the snapshots before and after. Filtered by kind of thing, actor and date; exported as CSV.
 */
import { type AuditFilter, api, downloadCsv } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import type { Session } from "./forms.js";
import { type AuditEntry, type PriceEntry, actionLabel, auditSummary, formatTime, localTime, parseSnapshot, prettyJson, summarizeSnapshot, versionBefore } from "./model.js";
import { errorState, loadingState } from "./states.js";

export const AUDIT_PAGE_SIZE = 20;

const ENTITY_TYPES: Array<[string, string]> = [
  ["PriceEntry", "Price changes"],
  ["", "Every change"],
  ["UsageCharge", "Charge reversals"],
  ["ApiKey", "API keys"],
  ["Account", "Accounts"],
  ["Reseller", "Resellers"],
  ["CreditLot", "Cloud-credit lots"],
  ["FlexPack", "Flex packs"],
  ["FreeCap", "Free caps"],
  ["TokenFlexPool", "Token Flex pools"],
];

export function renderAudit(root: HTMLElement, session: Session): void {
  const heading = h("h1", { tabindex: -1 }, "Audit log");
  const body = h("div", { class: "view-body" });
  const refresh = h("button", { type: "button", class: "ghost" }, "Refresh");
  const exportButton = h("button", { type: "button", class: "secondary" }, "Export CSV");
  const entity = h("select", { id: "audit-entity" }, ...ENTITY_TYPES.map(([value, label]) => h("option", { value }, label)));
  const actor = h("input", { id: "audit-actor", type: "text", autocomplete: "off", placeholder: "Key name, exactly" });
  const from = h("input", { id: "audit-from", type: "date" });
  const to = h("input", { id: "audit-to", type: "date" });
  const filters = h(
    "form",
    { class: "filters", "aria-label": "Filter the audit log" },
    h("div", { class: "field" }, h("label", { for: entity.id }, "Changes to"), entity),
    h("div", { class: "field" }, h("label", { for: actor.id }, "Made by"), actor),
    h("div", { class: "field" }, h("label", { for: from.id }, "From (UTC day)"), from),
    h("div", { class: "field" }, h("label", { for: to.id }, "To (UTC day, included)"), to),
    h("button", { type: "submit", class: "secondary" }, "Apply"),
  );
  replaceChildren(
    root,
    h("div", { class: "view-head" }, heading, h("div", { class: "toolbar" }, exportButton, refresh)),
    h("p", { class: "muted intro" }, "Every change, newest first: who made it, when (UTC, with your local time), and what it was before and after."),
    filters,
    body,
  );

  const filter = (): AuditFilter => ({
    entityType: entity.value || null,
    actor: actor.value.trim() || null,
    from: from.value ? `${from.value}T00:00:00Z` : null,
    // The "to" day is included: the window ends at the start of the next day.
    to: to.value ? new Date(Date.parse(`${to.value}T00:00:00Z`) + 86_400_000).toISOString() : null,
  });

  // The filter the pages show, taken when it is applied: the cursors belong to it, so "Older" and
  // "Newer" continue it even when the boxes have been changed since without applying.
  let applied = filter();
  // The cursors that opened each page seen so far, so "Newer" can step back without a backward cursor.
  const cursors: Array<string | null> = [null];
  let page = 0;
  let versions: PriceEntry[] | null = null;
  // Only the answer to the last request is shown: an older page never replaces a newer filter's.
  let latest = 0;

  const load = async (focusPager = false) => {
    const request = ++latest;
    replaceChildren(body, loadingState("Loading the audit log…"));
    try {
      versions ??= await api.priceVersions(session.key);
      const result = await api.auditLog(session.key, AUDIT_PAGE_SIZE, cursors[page] ?? null, applied);
      if (request !== latest) return;
      if (result.totalCount === 0 || (result.edges.length === 0 && page === 0)) {
        const unfiltered = !applied.actor && !applied.from && !applied.to;
        const message = unfiltered && applied.entityType === "PriceEntry" ? "No price change has been recorded yet." : "No change matches these filters.";
        return replaceChildren(body, h("div", { class: "state empty", role: "status" }, h("p", null, message)));
      }
      const first = page * AUDIT_PAGE_SIZE + 1;
      const last = page * AUDIT_PAGE_SIZE + result.edges.length;
      const newer = h("button", { type: "button", class: "secondary", disabled: page === 0 }, "← Newer");
      const older = h("button", { type: "button", class: "secondary", disabled: !result.pageInfo.hasNextPage }, "Older →");
      newer.addEventListener("click", () => {
        page -= 1;
        void load(true);
      });
      older.addEventListener("click", () => {
        cursors[page + 1] = result.pageInfo.endCursor;
        page += 1;
        void load(true);
      });
      const status = h("p", { class: "pager-status", role: "status" }, `Entries ${first}–${last} of ${result.totalCount}`);
      replaceChildren(body, auditTable(result.edges.map((edge) => edge.node), versions), h("nav", { class: "pager", "aria-label": "Audit log pages" }, newer, status, older));
      if (focusPager) (older.disabled ? newer : older).focus();
    } catch (error) {
      if (session.expireIfUnauthenticated(error) || request !== latest) return;
      replaceChildren(body, errorState("The audit log could not be loaded.", error, () => void load()));
    }
  };

  const restart = () => {
    cursors.length = 1;
    page = 0;
    void load();
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    applied = filter();
    restart();
  });
  refresh.addEventListener("click", () => {
    versions = null;
    restart();
  });
  exportButton.addEventListener("click", () => {
    downloadCsv(session.key, "audit.csv", { ...applied }, "audit.csv").catch((error: unknown) => {
      if (!session.expireIfUnauthenticated(error)) session.notify(`The export failed: ${error instanceof Error ? error.message : String(error)}`);
    });
  });
  heading.focus();
  void load();
}

const COLUMNS = ["When", "Who", "Change", "Details"] as const;

function auditTable(entries: readonly AuditEntry[], versions: readonly PriceEntry[]): HTMLElement {
  return h(
    "table",
    { class: "data audit" },
    h("caption", { class: "sr-only" }, "Audit log, newest first"),
    h("thead", null, h("tr", null, ...COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      ...entries.map((entry) => {
        const after = parseSnapshot(entry.after);
        const before = parseSnapshot(entry.before);
        const facts = summarizeSnapshot(after ?? before);
        const version = entry.entityType === "PriceEntry" ? versions.find((v) => v.id === entry.entityId) : undefined;
        const summary = auditSummary(entry, version ? versionBefore(versions, version) : null);
        return h(
          "tr",
          { "data-audit-id": entry.id, "data-action": entry.action },
          h("td", { "data-label": "When", class: "time" }, formatTime(entry.at), h("span", { class: "local-time muted" }, localTime(entry.at))),
          h("td", { "data-label": "Who" }, entry.actor, h("span", { class: "muted role" }, ` (${entry.actorRole})`)),
          h(
            "td",
            { "data-label": "Change" },
            h("span", { class: "action" }, actionLabel(entry.action)),
            h("span", { class: "muted entity" }, ` ${entry.entityType} #${entry.entityId}`),
            summary ? h("span", { class: "summary" }, summary) : null,
          ),
          h(
            "td",
            { "data-label": "Details", class: "details" },
            facts.length > 0 ? h("dl", { class: "facts" }, ...facts.map(([label, value]) => h("div", null, h("dt", null, label), h("dd", null, value)))) : null,
            h(
              "details",
              null,
              h("summary", null, "Before and after"),
              h(
                "div",
                { class: "snapshots" },
                // Focusable, so the keyboard can scroll a long snapshot.
                h("div", null, h("p", { class: "snapshot-title" }, "Before"), h("pre", { tabindex: 0, "aria-label": `Before, entry ${entry.id}` }, prettyJson(entry.before))),
                h("div", null, h("p", { class: "snapshot-title" }, "After"), h("pre", { tabindex: 0, "aria-label": `After, entry ${entry.id}` }, prettyJson(entry.after))),
              ),
            ),
          ),
        );
      }),
    ),
  );
}

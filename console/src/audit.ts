/** The audit log of price changes, newest first, a page at a time. */
import { api } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import type { Session } from "./forms.js";
import { type AuditEntry, actionLabel, formatTime, parseSnapshot, prettyJson, summarizeSnapshot } from "./model.js";
import { errorState, loadingState } from "./states.js";

export const AUDIT_PAGE_SIZE = 20;

export function renderAudit(root: HTMLElement, session: Session): void {
  const heading = h("h1", { tabindex: -1 }, "Audit log");
  const body = h("div", { class: "view-body" });
  const refresh = h("button", { type: "button", class: "ghost" }, "Refresh");
  replaceChildren(
    root,
    h("div", { class: "view-head" }, heading, h("div", { class: "toolbar" }, refresh)),
    h("p", { class: "muted intro" }, "Every change to the price table, newest first: who made it, when, and the version before and after."),
    body,
  );

  // The cursors that opened each page seen so far, so "Newer" can step back without a backward cursor.
  const cursors: Array<string | null> = [null];
  let page = 0;

  const load = async (focusPager = false) => {
    replaceChildren(body, loadingState("Loading the audit log…"));
    try {
      const result = await api.auditLog(session.key, AUDIT_PAGE_SIZE, cursors[page] ?? null);
      if (result.totalCount === 0 || (result.edges.length === 0 && page === 0)) {
        return replaceChildren(body, h("div", { class: "state empty" }, h("p", null, "No price change has been recorded yet.")));
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
      replaceChildren(body, auditTable(result.edges.map((edge) => edge.node)), h("nav", { class: "pager", "aria-label": "Audit log pages" }, newer, status, older));
      if (focusPager) (older.disabled ? newer : older).focus();
    } catch (error) {
      if (session.expireIfUnauthenticated(error)) return;
      replaceChildren(body, errorState("The audit log could not be loaded.", error, () => void load()));
    }
  };

  refresh.addEventListener("click", () => {
    cursors.length = 1;
    page = 0;
    void load();
  });
  heading.focus();
  void load();
}

const COLUMNS = ["When", "Who", "Change", "Version", "Details"] as const;

function auditTable(entries: readonly AuditEntry[]): HTMLElement {
  return h(
    "table",
    { class: "data audit" },
    h("caption", { class: "sr-only" }, "Audit log of price changes, newest first"),
    h("thead", null, h("tr", null, ...COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      ...entries.map((entry) => {
        const after = parseSnapshot(entry.after);
        const before = parseSnapshot(entry.before);
        const facts = summarizeSnapshot(after ?? before);
        return h(
          "tr",
          { "data-audit-id": entry.id, "data-action": entry.action },
          h("td", { "data-label": "When", class: "time" }, formatTime(entry.at)),
          h("td", { "data-label": "Who" }, entry.actor, h("span", { class: "muted role" }, ` (${entry.actorRole})`)),
          h("td", { "data-label": "Change" }, actionLabel(entry.action)),
          h("td", { "data-label": "Version" }, `${entry.entityType} #${entry.entityId}`),
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
                h("div", null, h("h4", null, "Before"), h("pre", { tabindex: 0, "aria-label": `Before, entry ${entry.id}` }, prettyJson(entry.before))),
                h("div", null, h("h4", null, "After"), h("pre", { tabindex: 0, "aria-label": `After, entry ${entry.id}` }, prettyJson(entry.after))),
              ),
            ),
          ),
        );
      }),
    ),
  );
}

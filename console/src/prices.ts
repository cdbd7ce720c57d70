/** The price table: current rate per API, what is scheduled, and the full history on demand. */
import { openCancelDialog, openRetireDialog } from "./actions.js";
import { api, downloadCsv } from "./api.js";
import { h, replaceChildren, srOnly, uid } from "./dom.js";
import type { Session } from "./forms.js";
import { type ApiPrices, type PriceEntry, formatTime, groupByApi, matchesFilter, rateLabel, tokensLabel, unitLabel } from "./model.js";
import { openPublishDialog } from "./publish.js";
import { errorState, loadingState } from "./states.js";

/** What survives a reload of the table while the operator works: open histories and the filter. */
const view = { expanded: new Set<string>(), filter: "", hideCancelled: false };

export function resetPricesView(): void {
  view.expanded.clear();
  view.filter = "";
  view.hideCancelled = false;
}

export function renderPrices(root: HTMLElement, session: Session): void {
  const heading = h("h1", { tabindex: -1 }, "Price table");
  const filter = h("input", { type: "search", placeholder: "Filter by API code or name", "aria-label": "Filter APIs", value: view.filter, autocomplete: "off" });
  const body = h("div", { class: "view-body" });
  const newApi = h("button", { type: "button", class: "secondary" }, "Price a new API…");
  const refresh = h("button", { type: "button", class: "ghost" }, "Refresh");
  const hideCancelled = h("input", { type: "checkbox", id: "hide-cancelled", checked: view.hideCancelled });
  const asOf = h("input", { type: "date", id: "export-as-of" });
  const exportForm = h(
    "form",
    { class: "filters export" },
    h("div", { class: "field" }, h("label", { for: asOf.id }, "Price table as of (UTC day, optional)"), asOf),
    h("button", { type: "submit", class: "secondary" }, "Export CSV"),
    h("label", { class: "choice", for: hideCancelled.id }, hideCancelled, " Hide cancelled versions in histories"),
  );
  replaceChildren(
    root,
    h("div", { class: "view-head" }, heading, h("div", { class: "toolbar" }, filter, newApi, refresh)),
    h("p", { class: "muted intro" }, "Rates are tokens per unit; every time is UTC. Versions are append-only: a change publishes a new version."),
    exportForm,
    body,
  );
  hideCancelled.addEventListener("change", () => {
    view.hideCancelled = hideCancelled.checked;
    root.classList.toggle("hide-cancelled", view.hideCancelled);
  });
  root.classList.toggle("hide-cancelled", view.hideCancelled);
  exportForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const day = asOf.value;
    downloadCsv(session.key, "prices.csv", { asOf: day ? `${day}T00:00:00Z` : null }, day ? `prices-${day}.csv` : "prices.csv").catch((error: unknown) => {
      if (!session.expireIfUnauthenticated(error)) session.notify(`The export failed: ${error instanceof Error ? error.message : String(error)}`);
    });
  });

  let groups: ApiPrices[] = [];

  const load = async (focusAfter?: string) => {
    replaceChildren(body, loadingState("Loading the price table…"));
    try {
      groups = groupByApi(await api.priceVersions(session.key));
      draw();
      if (focusAfter) body.querySelector<HTMLElement>(`[data-api-code="${CSS.escape(focusAfter)}"] .api-code`)?.focus();
    } catch (error) {
      if (session.expireIfUnauthenticated(error)) return;
      replaceChildren(body, errorState("The price table could not be loaded.", error, () => void load()));
    }
  };

  const afterChange = (entry: PriceEntry, message: string) => {
    session.notify(message);
    void load(entry.apiCode);
  };

  const published = (entry: PriceEntry) =>
    afterChange(entry, `Published version #${entry.id} of ${entry.apiCode}: ${rateLabel(entry)}, effective ${formatTime(entry.effectiveFrom)} (${entry.status}).`);
  const publish = (group: ApiPrices | null, template?: PriceEntry) =>
    openPublishDialog(session, group, published, { known: groups, openVersionFlow: (target) => publish(target), template });

  const callbacks: RowCallbacks = {
    publish: (group) => publish(group),
    revert: (group, version) => publish(group, version),
    retire: (group) =>
      openRetireDialog(session, group, (entry) =>
        afterChange(entry, `${entry.apiCode} is retired from ${formatTime(entry.effectiveFrom)} (${entry.status}).`),
      ),
    cancel: (version) =>
      openCancelDialog(session, version, (entry) =>
        afterChange(entry, `Cancelled version #${entry.id} of ${entry.apiCode}, which was due ${formatTime(entry.effectiveFrom)}.`),
      ),
    toggle: (group, expanded) => (expanded ? view.expanded.add(group.apiCode) : view.expanded.delete(group.apiCode)),
  };

  const draw = () => {
    const shown = groups.filter((group) => matchesFilter(group, view.filter));
    if (groups.length === 0) {
      return replaceChildren(body, h("div", { class: "state empty" }, h("p", null, "No API has a price yet. Use “Price a new API” to publish the first one.")));
    }
    if (shown.length === 0) {
      return replaceChildren(body, h("div", { class: "state empty", role: "status" }, h("p", null, `No API code or name contains “${view.filter.trim()}”.`)));
    }
    replaceChildren(body, priceTable(shown, callbacks), h("p", { class: "muted count", role: "status" }, `${shown.length} of ${groups.length} APIs`));
  };

  filter.addEventListener("input", () => {
    view.filter = filter.value;
    if (groups.length > 0) draw();
  });
  newApi.addEventListener("click", () => publish(null));
  refresh.addEventListener("click", () => void load());
  heading.focus();
  void load();
}

interface RowCallbacks {
  publish(group: ApiPrices): void;
  /** Publishes an earlier version's terms again, as a new version. */
  revert(group: ApiPrices, version: PriceEntry): void;
  retire(group: ApiPrices): void;
  cancel(version: PriceEntry): void;
  toggle(group: ApiPrices, expanded: boolean): void;
}

const COLUMNS = ["API", "Rate now", "Per", "Charged outcomes", "In force since", "Scheduled", "Actions"] as const;

function priceTable(groups: readonly ApiPrices[], callbacks: RowCallbacks): HTMLElement {
  return h(
    "table",
    { class: "data prices" },
    h("caption", { class: "sr-only" }, "Price table: the current version of every API, with scheduled changes"),
    h("thead", null, h("tr", null, ...COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
    ...groups.map((group) => apiRows(group, callbacks)),
  );
}

/** One tbody per API: its summary row and the (hidden until asked) history row. */
function apiRows(group: ApiPrices, callbacks: RowCallbacks): HTMLTableSectionElement {
  const current = group.current;
  const historyId = uid("history");
  const expanded = view.expanded.has(group.apiCode);
  const toggle = h(
    "button",
    { type: "button", class: "ghost small", "aria-expanded": String(expanded), "aria-controls": historyId },
    `History (${group.history.length})`,
    srOnly(` of ${group.apiCode}`),
  );
  const historyRow = h(
    "tr",
    { class: "history-row", id: historyId, hidden: !expanded },
    h("td", { colspan: COLUMNS.length }, historyTable(group, callbacks)),
  );
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    historyRow.hidden = !open;
    callbacks.toggle(group, open);
  });

  const since = current ?? group.retiredBy;
  const row = h(
    "tr",
    { class: "api-row", "data-api-code": group.apiCode },
    h("th", { scope: "row", "data-label": "API" }, h("code", { class: "api-code", tabindex: -1 }, ...breakable(group.apiCode)), h("span", { class: "api-name" }, group.name)),
    h(
      "td",
      { "data-label": "Rate now", class: "rate" },
      current ? tokensLabel(current.tokensPerUnit) : group.retiredBy ? h("span", { class: "badge retired" }, "Retired") : h("span", { class: "muted" }, "No price in force"),
    ),
    h("td", { "data-label": "Per", class: "unit" }, current ? unitLabel(current) : "—"),
    h("td", { "data-label": "Charged outcomes" }, current ? outcomesText(current) : "—"),
    h("td", { "data-label": "In force since", class: "time" }, since ? formatTime(since.effectiveFrom) : "—"),
    h(
      "td",
      { "data-label": "Scheduled", class: "scheduled" },
      group.scheduled.length === 0
        ? h("span", { class: "muted" }, "None")
        : h(
            "ul",
            { class: "plain" },
            ...group.scheduled.map((version) =>
              h(
                "li",
                { "data-version-id": version.id },
                h("span", { class: "badge scheduled" }, "Scheduled"),
                ` ${rateLabel(version)} from ${formatTime(version.effectiveFrom)} `,
                h("button", { type: "button", class: "link", onclick: () => callbacks.cancel(version) }, "Cancel…", srOnly(` version #${version.id} of ${group.apiCode}`)),
              ),
            ),
          ),
    ),
    h(
      "td",
      { "data-label": "Actions", class: "actions" },
      toggle,
      h("button", { type: "button", class: "secondary small", onclick: () => callbacks.publish(group) }, "Publish version…", srOnly(` of ${group.apiCode}`)),
      current
        ? h("button", { type: "button", class: "ghost small danger-text", onclick: () => callbacks.retire(group) }, "Retire…", srOnly(` ${group.apiCode}`))
        : null,
    ),
  );
  return h("tbody", { "data-api": group.apiCode }, row, historyRow);
}

const HISTORY_COLUMNS = ["Version", "Status", "Rate", "Charged outcomes", "Effective from", "Effective to", "Published by", "Published at", "Note"] as const;

function historyTable(group: ApiPrices, callbacks: RowCallbacks): HTMLElement {
  return h(
    "div",
    { class: "history" },
    h(
      "table",
      { class: "data nested" },
      h("caption", null, `Version history of ${group.apiCode}, newest first`),
      h("thead", null, h("tr", null, ...HISTORY_COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        null,
        ...group.history.map((version) =>
          h(
            "tr",
            { "data-version-id": version.id, "data-status": version.status },
            h("td", { "data-label": "Version" }, `#${version.id}`),
            h(
              "td",
              { "data-label": "Status" },
              statusBadge(version),
              version.status === "SCHEDULED"
                ? h("button", { type: "button", class: "link", onclick: () => callbacks.cancel(version) }, "Cancel…", srOnly(` version #${version.id}`))
                : null,
              version.status === "SUPERSEDED" && !version.retired
                ? h("button", { type: "button", class: "link", onclick: () => callbacks.revert(group, version) }, "Revert to these terms…", srOnly(` of version #${version.id}`))
                : null,
            ),
            h("td", { "data-label": "Rate" }, rateLabel(version)),
            h("td", { "data-label": "Charged outcomes" }, version.retired ? "—" : outcomesText(version)),
            h("td", { "data-label": "Effective from", class: "time" }, formatTime(version.effectiveFrom)),
            h("td", { "data-label": "Effective to", class: "time" }, version.effectiveTo ? formatTime(version.effectiveTo) : version.status === "CANCELLED" ? "—" : "open"),
            h("td", { "data-label": "Published by" }, version.publishedBy),
            h("td", { "data-label": "Published at", class: "time" }, formatTime(version.publishedAt)),
            h(
              "td",
              { "data-label": "Note", class: "note" },
              version.note,
              version.status === "CANCELLED" && version.cancelledBy
                ? h("span", { class: "cancellation" }, `Cancelled by ${version.cancelledBy}: ${version.cancelReason ?? ""}`)
                : null,
            ),
          ),
        ),
      ),
    ),
  );
}

/** A retirement is never shown as an ACTIVE (green) version: it is the end of the API's prices. */
function statusBadge(version: PriceEntry): HTMLElement {
  if (!version.retired) return h("span", { class: `badge ${version.status.toLowerCase()}` }, version.status);
  const label = version.status === "ACTIVE" ? "RETIRED" : version.status === "SUPERSEDED" ? "RETIREMENT ENDED" : `RETIREMENT ${version.status}`;
  return h("span", { class: `badge retired ${version.status === "CANCELLED" ? "cancelled" : ""}`.trim() }, label);
}

/** "design-automation/revit" with a line-break opportunity after each slash, for narrow columns. */
function breakable(apiCode: string): Array<string | HTMLElement> {
  return apiCode.split("/").flatMap((part, index) => (index === 0 ? [part] : [h("wbr"), `/${part}`]));
}

function outcomesText(entry: PriceEntry): string {
  return entry.chargeableOutcomes.length === 0 ? "none (free)" : entry.chargeableOutcomes.join(", ");
}

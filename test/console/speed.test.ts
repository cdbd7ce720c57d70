/**
 * The console at speed and at scale: answers that arrive out of order or fail, pagers that continue
 * the search that was applied (never text typed since), lists longer than a page, and the wording
 * of messages built from a number or a role.
 */
import { readFileSync } from "node:fs";
import type { Page, Request } from "playwright-core";
import { describe, expect, it } from "vitest";
import { OPERATOR, tokens } from "../fixtures/harness.js";
import { DAY, consoleSuite } from "./harness.js";

const BULK = 25;
const DEMO = 8;
const RESELLERS = 105;
const charged: Array<{ id: string; name: string }> = [];

const suite = consoleSuite(async (server) => {
  const now = server.now();
  // Two pages of accounts (20 a page): "Bulk Studio 01"…"25" first, then "Demo Works 1"…"8".
  for (let i = 1; i <= BULK; i++) {
    const account = await server.services.accounts.create({ name: `Bulk Studio ${String(i).padStart(2, "0")}`, country: "JP" }, OPERATOR);
    if (i > 2) continue;
    // The first two have a charge each, to reverse.
    charged.push({ id: String(account.id), name: account.name });
    await server.services.funding.recordFlexPurchase({ accountId: account.id, tokensMicros: tokens("100"), purchasedAt: now - 10 * DAY, channel: "ESTORE", orderRef: `bulk-${i}` }, OPERATOR);
    await server.services.rating.recordUsage({ eventId: `bulk-job-${i}`, accountId: account.id, apiCode: "model-derivative/complex-job", quantityMicros: tokens("1"), outcome: "SUCCEEDED", occurredAt: now - DAY });
  }
  for (let i = 1; i <= DEMO; i++) await server.services.accounts.create({ name: `Demo Works ${i}`, country: "FR" }, OPERATOR);
  // More resellers than the server gives in one page (100).
  for (let i = 1; i <= RESELLERS; i++) await server.services.accounts.createReseller({ name: `Reseller ${String(i).padStart(3, "0")}`, tier: "GOLD" }, OPERATOR);
});

type Body = { query: string; variables: Record<string, any> };

/**
 * Holds the GraphQL requests `match` picks, as a slow network would. The returned function lets
 * them through and waits until the page has had their answers.
 */
async function holdAnswers(page: Page, match: (body: Body) => boolean): Promise<() => Promise<void>> {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const held: Request[] = [];
  await page.route("**/graphql", async (route) => {
    if (!match(route.request().postDataJSON() as Body)) return route.fallback();
    held.push(route.request());
    await gate;
    await route.fallback();
  });
  return async () => {
    expect(held.length).toBeGreaterThan(0);
    open();
    for (const request of held) await (await request.response())?.finished();
    // The page reads and renders an answer a few tasks after it arrives.
    await page.waitForTimeout(200);
  };
}

async function accountsView(page: Page) {
  await page.getByRole("link", { name: "Accounts" }).click();
  await page.locator("table.accounts").waitFor();
  return {
    count: () => page.locator(".count").textContent(),
    names: () => page.locator("table.accounts tbody th").evaluateAll((cells) => cells.map((c) => c.firstChild!.textContent)),
    ids: () => page.locator("table.accounts tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-account-id"))),
    search: async (text: string) => {
      await page.getByLabel("Search accounts by name").fill(text);
      await page.getByLabel("Search accounts by name").press("Enter");
    },
  };
}

const reversedCharges = async (id: string) => {
  const { body } = await suite.server.graphql(`query ($id: ID!) { account(id: $id) { charges(first: 20) { edges { node { reversed } } } } }`, { id });
  return body.data.account.charges.edges.filter((e: { node: { reversed: boolean } }) => e.node.reversed).length;
};

describe("answers that arrive late", () => {
  it("shows the account opened last when the one opened before answers after it, and reverses that account's charge", async () => {
    const [first, second] = charged as [{ id: string; name: string }, { id: string; name: string }];
    const { page } = await suite.signedIn();
    await accountsView(page);
    const release = await holdAnswers(page, (b) => b.query.startsWith("query ConsoleAccount(") && b.variables.id === first.id);
    await page.getByRole("button", { name: `Open ${first.name}` }).click();
    await page.getByRole("button", { name: `Open ${second.name}` }).click();
    const detail = page.locator(".account-detail");
    await detail.getByRole("heading", { name: second.name }).waitFor();
    await release();
    expect(await detail.locator("h2").textContent()).toContain(second.name);

    await detail.locator("table.charges").getByRole("button", { name: /Reverse/ }).first().click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Reason").fill("Duplicate job");
    await dialog.getByRole("button", { name: "Reverse this charge" }).click();
    await dialog.waitFor({ state: "detached" });
    expect([await reversedCharges(first.id), await reversedCharges(second.id)]).toEqual([0, 1]);
  });

  it("shows the rows of the search made last when an earlier search answers after it", async () => {
    const { page } = await suite.signedIn();
    const view = await accountsView(page);
    const release = await holdAnswers(page, (b) => b.variables.filter?.nameContains === "Bulk");
    await view.search("Bulk");
    await view.search("Demo");
    await expect.poll(view.count).toBe(`${DEMO} of ${DEMO} accounts`);
    await release();
    expect(await view.count()).toBe(`${DEMO} of ${DEMO} accounts`);
    expect((await view.names()).every((name) => name!.startsWith("Demo Works"))).toBe(true);
  });
});

describe("paging", () => {
  it("appends the next page of accounts once when “More accounts” is double-clicked", async () => {
    const { page } = await suite.signedIn();
    const view = await accountsView(page);
    const release = await holdAnswers(page, (b) => b.query.startsWith("query ConsoleAccounts(") && b.variables.after != null);
    await page.getByRole("button", { name: "More accounts" }).dblclick();
    await release();
    expect(await view.count()).toBe(`${BULK + DEMO} of ${BULK + DEMO} accounts`);
    expect(new Set(await view.ids()).size).toBe(BULK + DEMO);
  });

  it("continues the applied search with “More accounts”, not text typed into the box since", async () => {
    const { page } = await suite.signedIn();
    const view = await accountsView(page);
    await page.getByLabel("Search accounts by name").fill("Demo");
    await page.getByRole("button", { name: "More accounts" }).click();
    await expect.poll(view.count).toBe(`${BULK + DEMO} of ${BULK + DEMO} accounts`);
    expect((await view.names()).slice(-DEMO)).toEqual(Array.from({ length: DEMO }, (_, i) => `Demo Works ${i + 1}`));
    await page.getByLabel("Search accounts by name").press("Enter");
    await expect.poll(view.count).toBe(`${DEMO} of ${DEMO} accounts`);
  });

  it("pages the audit log through the applied filter, not one chosen since without applying", async () => {
    const { page } = await suite.signedIn();
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByLabel("Changes to").selectOption({ label: "Every change" });
    await page.getByRole("button", { name: "Apply" }).click();
    const status = page.locator(".pager-status");
    await expect.poll(() => status.textContent()).toMatch(/^Entries 1–20 of \d+$/);
    const total = (await status.textContent())!.split(" of ")[1];
    await page.getByLabel("Changes to").selectOption({ label: "API keys" });
    await page.getByRole("button", { name: "Older →" }).click();
    await expect.poll(() => status.textContent()).toBe(`Entries 21–40 of ${total}`);
    await page.getByRole("button", { name: "← Newer" }).click();
    await expect.poll(() => status.textContent()).toBe(`Entries 1–20 of ${total}`);
    // The export is of what the pages show too.
    const download = page.waitForEvent("download");
    await page.getByRole("button", { name: "Export CSV" }).click();
    const exported = readFileSync(await (await download).path(), "utf8").trimEnd().split("\r\n");
    expect(exported.length - 1).toBe(Number(total));
  });

  it("offers every reseller for a PARTNER key, beyond the first 100, and creates the key for the last", async () => {
    const { page } = await suite.signedIn();
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByRole("button", { name: "Create a key…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name (who or what uses it)").fill("Partner portal");
    await dialog.getByLabel("Role").selectOption("PARTNER");
    const reseller = dialog.getByLabel("Reseller (PARTNER keys only)");
    await expect.poll(() => reseller.locator("option").count()).toBe(RESELLERS + 1);
    const last = `Reseller ${RESELLERS}`;
    await reseller.selectOption((await reseller.locator("option", { hasText: last }).getAttribute("value"))!);
    await dialog.getByRole("button", { name: "Create key" }).click();
    await dialog.getByLabel("Secret of the new key").waitFor();
    await dialog.getByRole("button", { name: "Done" }).click();
    await expect.poll(() => page.locator("table.keys tbody tr", { hasText: "Partner portal" }).textContent()).toContain(`PARTNER · ${last}`);
  });
});

describe("answers that fail", () => {
  it("says in the key dialog that the resellers could not be loaded, creates no PARTNER key without one, and loads them on retry", async () => {
    const { page, graphqlOperations, problems } = await suite.signedIn();
    await page.getByRole("link", { name: "API keys" }).click();
    let failing: "answer" | "network" | null = "answer";
    await page.route("**/graphql", async (route) => {
      if (!failing || !(route.request().postDataJSON() as Body).query.startsWith("query ConsoleResellers(")) return route.fallback();
      if (failing === "network") return route.abort("internetdisconnected");
      await route.fulfill({ json: { data: null, errors: [{ message: "The reseller directory is unavailable.", extensions: { code: "INTERNAL_SERVER_ERROR" } }] } });
    });
    await page.getByRole("button", { name: "Create a key…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name (who or what uses it)").fill("Partner desk");
    await dialog.getByLabel("Role").selectOption("PARTNER");
    const alert = dialog.getByRole("alert").filter({ hasText: "The resellers could not be loaded." });
    await alert.waitFor();
    expect(await alert.textContent()).toContain("INTERNAL_SERVER_ERROR The reseller directory is unavailable.");

    await dialog.getByRole("button", { name: "Create key" }).click();
    await expect.poll(() => dialog.locator('[data-field="resellerId"] .field-error').textContent()).toContain("Try loading the resellers again");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Try again");
    expect(graphqlOperations).not.toContain("ConsoleCreateApiKey");

    failing = "network";
    await alert.getByRole("button", { name: "Try again" }).click();
    await expect.poll(() => alert.textContent()).toContain("NETWORK_ERROR");
    // Chromium logs the dropped request, the failure this test makes; anything else logged still fails it.
    const dropped = "console error: Failed to load resource: net::ERR_INTERNET_DISCONNECTED";
    await expect.poll(() => problems).toContain(dropped);
    problems.splice(problems.indexOf(dropped), 1);
    failing = null;
    await alert.getByRole("button", { name: "Try again" }).click();
    const reseller = dialog.getByLabel("Reseller (PARTNER keys only)");
    await expect.poll(() => reseller.locator("option").count()).toBe(RESELLERS + 1);
    expect(await alert.count()).toBe(0);
    await reseller.selectOption((await reseller.locator("option", { hasText: "Reseller 001" }).getAttribute("value"))!);
    await dialog.getByRole("button", { name: "Create key" }).click();
    await dialog.getByLabel("Secret of the new key").waitFor();
    await dialog.getByRole("button", { name: "Done" }).click();
    await expect.poll(() => page.locator("table.keys tbody tr", { hasText: "Partner desk" }).textContent()).toContain("PARTNER · Reseller 001");
  });
});

describe("wording", () => {
  it("says “1 minute” when signing out after one idle minute", async () => {
    const { page, context } = await suite.openConsole({ clock: "controlled" });
    await page.route("**/console/config.json", (route) => route.fulfill({ json: { idleMinutes: 1 } }));
    await page.goto(`${suite.server.url}/console/`);
    await page.getByLabel("Operator API key").fill(suite.server.operatorKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Price table" }).waitFor();
    await context.clock.fastForward("01:30");
    await page.getByLabel("Operator API key").waitFor();
    expect(await page.locator(".signin").textContent()).toContain("Signed out after 1 minute without activity.");
  });

  it("refuses the operator exports to “an INTEGRATOR key” and “a METERING key”", async () => {
    const refusal = async (role: "INTEGRATOR" | "METERING", file: string) => {
      const response = await fetch(`${suite.server.url}/export/${file}`, { headers: { authorization: `Bearer ${await suite.server.key(role)}` } });
      expect(response.status).toBe(403);
      return ((await response.json()) as { errors: Array<{ message: string }> }).errors[0]!.message;
    };
    expect(await refusal("INTEGRATOR", "audit.csv")).toBe("an INTEGRATOR key may not export audit.csv");
    expect(await refusal("METERING", "prices.csv")).toBe("a METERING key may not export prices.csv");
  });
});

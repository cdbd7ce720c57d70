/**
 * Every screen of the console at a phone's width (390 px) and a laptop's (1280 px): axe-core finds
 * no accessibility violation on any of them, and a screenshot of each goes to ./screenshots/.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { OPERATOR, tokens } from "../fixtures/harness.js";
import { type TestServer } from "../fixtures/server.js";
import { DAY, NOW, axeViolations, consoleSuite, overflowX, row, shot } from "./harness.js";

/**
 * An account through the tiered regime (test values, not APS's): FREE from 20 December with
 * revit capped at 3 units a month, which January's usage reaches, then PAID with PAYG from
 * 10 January, with a Token Flex pool that the next jobs drain before PAYG takes the rest.
 */
async function seedTieredAccount(server: TestServer): Promise<void> {
  server.setNow("2025-12-20T00:00:00Z");
  await server.services.tiered.publishFreeCap({ apiCode: "design-automation/revit", unitsPerMonth: 3, note: "Operator's value for the Free tier" }, OPERATOR);
  const account = await server.services.accounts.create({ name: "Sapporo Studio", country: "JP" }, OPERATOR);
  await server.services.tiered.enrollPlan({ accountId: account.id, tier: "FREE" }, OPERATOR);
  const event = (eventId: string, apiCode: string, quantity: string, occurredAt: string) => ({
    eventId, accountId: account.id, apiCode, quantityMicros: tokens(quantity), outcome: "SUCCEEDED" as const, occurredAt: Date.parse(occurredAt),
  });
  server.setNow("2026-01-10T00:00:00Z");
  await server.services.rating.recordUsage(event("sapporo-1", "design-automation/revit", "3600", "2026-01-05T10:00:00Z"));
  await server.services.rating.recordUsage(event("sapporo-2", "design-automation/revit", "10800", "2026-01-08T10:00:00Z"));
  await server.services.tiered.enrollPlan({ accountId: account.id, tier: "PAID", payg: true }, OPERATOR);
  await server.services.funding.importTokenFlexPool(
    { accountId: account.id, tokensMicros: tokens("2"), startsAt: Date.parse("2026-01-10T00:00:00Z"), endsAt: Date.parse("2027-01-10T00:00:00Z"), externalRef: "eba-sapporo-2026" },
    OPERATOR,
  );
  server.setNow(NOW);
  await server.services.tiered.publishFreeCap(
    { apiCode: "design-automation/revit", unitsPerMonth: 5, effectiveFrom: Date.parse("2026-02-01T00:00:00Z"), note: "Raised for the spring term" },
    OPERATOR,
  );
  for (let job = 0; job < 8; job++) await server.services.rating.recordUsage(event(`sapporo-job-${job}`, "model-derivative/complex-job", "1", "2026-01-12T10:00:00Z"));
}

const suite = consoleSuite(async (server) => {
  await seedTieredAccount(server);
  const now = server.now();
  const account = await server.services.accounts.create({ name: "Osaka Visualisation", country: "JP" }, OPERATOR);
  await server.services.funding.recordFlexPurchase(
    { accountId: account.id, tokensMicros: tokens("100"), purchasedAt: now - 20 * DAY, channel: "ESTORE", orderRef: "osaka-1" },
    OPERATOR,
  );
  await server.services.rating.recordUsage({ eventId: "osaka-1", accountId: account.id, apiCode: "model-derivative/complex-job", quantityMicros: tokens("1"), outcome: "SUCCEEDED", occurredAt: now - DAY });
  await server.services.prices.publish(
    { apiCode: "design-automation/revit", meter: "SECOND", unitQuantity: 3600, tokensPerUnitMicros: tokens("2.5"), effectiveFrom: now + 45 * DAY, note: "Annual review" },
    OPERATOR,
  );
  const withdrawn = await server.services.prices.publish(
    { apiCode: "design-automation/revit", meter: "SECOND", unitQuantity: 3600, tokensPerUnitMicros: tokens("3"), effectiveFrom: now + 90 * DAY, note: "Draft" },
    OPERATOR,
  );
  await server.services.prices.cancelScheduled(withdrawn.id, "Drafted by mistake", OPERATOR);
});

/** Checks the page as it is now and takes its picture. */
async function screen(page: Page, name: string, width: number, found: Record<string, string[]>, dialog = false): Promise<void> {
  found[name] = await axeViolations(page);
  if (!dialog) expect(await overflowX(page), `${name} at ${width} px`).toBeLessThanOrEqual(0);
  await shot(page, `${name}-${width}`, !dialog);
}

async function closeDialog(page: Page): Promise<void> {
  await page.keyboard.press("Escape");
  const discard = page.getByRole("button", { name: "Discard changes" });
  if (await discard.isVisible()) await discard.click();
  await page.getByRole("dialog").waitFor({ state: "detached" });
}

describe.each([390, 1280])("every screen at %i px", (width) => {
  it("has no axe-core violation", { timeout: 120_000 }, async () => {
    const found: Record<string, string[]> = {};
    const viewport = { width, height: width < 800 ? 844 : 800 };
    const { page } = await suite.openConsole({ viewport });
    await page.goto(`${suite.server.url}/console/`);
    await page.getByLabel("Operator API key").waitFor();
    await screen(page, "sign-in", width, found);
    await page.getByLabel("Operator API key").fill(suite.server.operatorKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("tr.api-row").count()).toBeGreaterThanOrEqual(10);
    await screen(page, "price-table", width, found);

    await row(page, "design-automation/revit").getByRole("button", { name: /History/ }).click();
    await screen(page, "history-open", width, found);

    await row(page, "model-derivative/complex-job").getByRole("button", { name: /Publish version/ }).click();
    const publish = page.getByRole("dialog");
    await publish.getByLabel("Tokens per unit").fill("0.75");
    await publish.getByLabel("Note (why the price changes)").fill("Proposal under review");
    await publish.getByRole("button", { name: "Preview impact" }).click();
    await publish.locator(".who-pays").waitFor();
    await screen(page, "publish-dialog", width, found, true);
    await closeDialog(page);

    await page.getByRole("button", { name: "Price a new API…" }).click();
    await page.getByRole("dialog").getByLabel("API code").waitFor();
    await screen(page, "new-api-dialog", width, found, true);
    await closeDialog(page);

    await row(page, "design-automation/revit").locator(".scheduled").getByRole("button", { name: /Cancel/ }).click();
    await page.getByRole("dialog").getByLabel("Reason").waitFor();
    await screen(page, "cancel-dialog", width, found, true);
    await closeDialog(page);

    await row(page, "design-automation/fusion").getByRole("button", { name: /Retire/ }).click();
    await page.getByRole("dialog").getByLabel("Now").check();
    await screen(page, "retire-dialog", width, found, true);
    await closeDialog(page);

    await page.getByRole("link", { name: "Accounts" }).click();
    await page.locator("table.accounts").waitFor();
    await page.getByRole("button", { name: "Open Osaka Visualisation" }).click();
    await page.locator("table.charges").waitFor();
    await screen(page, "accounts", width, found);
    await page.locator("table.charges").getByRole("button", { name: /Reverse/ }).click();
    await page.getByRole("dialog").getByLabel("Reason").waitFor();
    await screen(page, "reverse-dialog", width, found, true);
    await closeDialog(page);
    await page.getByRole("button", { name: "Open Sapporo Studio" }).click();
    await page.locator(".account-tiers table.payg-lines").waitFor();
    await screen(page, "account-tiers", width, found);

    await page.getByRole("link", { name: "Free caps" }).click();
    await page.locator("table.caps").waitFor();
    const revitCaps = page.locator('tr.api-row[data-api-code="design-automation/revit"]');
    await revitCaps.getByRole("button", { name: /History/ }).click();
    await screen(page, "free-caps", width, found);
    await revitCaps.getByRole("button", { name: /Publish cap/ }).click();
    await page.getByRole("dialog").getByLabel("Free units a month").fill("5");
    await screen(page, "free-cap-dialog", width, found, true);
    await closeDialog(page);

    await page.getByRole("link", { name: "API keys" }).click();
    await page.locator("table.keys").waitFor();
    await screen(page, "keys", width, found);
    await page.getByRole("button", { name: "Create a key…" }).click();
    await page.getByRole("dialog").getByLabel("Name (who or what uses it)").waitFor();
    await screen(page, "create-key-dialog", width, found, true);
    await closeDialog(page);
    await page.locator("table.keys").getByRole("button", { name: /Revoke/ }).first().click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).waitFor();
    await screen(page, "revoke-key-dialog", width, found, true);
    await closeDialog(page);

    await page.getByRole("link", { name: "Audit log" }).click();
    await page.locator("table.audit").waitFor();
    await page.locator("table.audit summary").first().click();
    await screen(page, "audit", width, found);

    expect(Object.fromEntries(Object.entries(found).filter(([, v]) => v.length > 0))).toEqual({});
  });
});

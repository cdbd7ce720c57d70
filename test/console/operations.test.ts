/** The console beyond prices: looking up an account and reversing a charge, and managing API keys. */
import { describe, expect, it } from "vitest";
import { OPERATOR, tokens } from "../fixtures/harness.js";
import { readFileSync } from "node:fs";
import { DAY, consoleSuite, row, shot } from "./harness.js";

let accountId = 0;
const suite = consoleSuite(async (server) => {
  const now = server.now();
  const account = await server.services.accounts.create({ name: "Kyoto Design Works", country: "JP" }, OPERATOR);
  await server.services.accounts.create({ name: "Lyon Studio", country: "FR" }, OPERATOR);
  accountId = account.id;
  await server.services.funding.recordFlexPurchase(
    { accountId: account.id, tokensMicros: tokens("100"), purchasedAt: now - 20 * DAY, channel: "ESTORE", orderRef: "kyoto-1" },
    OPERATOR,
  );
  for (const [index, daysAgo] of [1, 2].entries()) {
    await server.services.rating.recordUsage({
      eventId: `kyoto-job-${index}`,
      accountId: account.id,
      apiCode: "model-derivative/complex-job",
      quantityMicros: tokens("1"),
      outcome: "SUCCEEDED",
      occurredAt: now - daysAgo * DAY,
    });
  }
});

describe("accounts and keys", () => {
  it("finds an account, shows its balance, packs and charges with their receipts, and reverses a charge with a reason", async () => {
    const { page } = await suite.signedIn();
    await page.getByRole("link", { name: "Accounts" }).click();
    await page.getByRole("heading", { name: "Accounts" }).waitFor();
    await page.getByLabel("Search accounts by name").fill("kyoto");
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => page.locator("table.accounts tbody tr").count()).toBe(1);
    const listed = page.locator(`table.accounts tr[data-account-id="${accountId}"]`);
    expect(await listed.locator("td").nth(1).textContent()).toBe("99");
    await listed.getByRole("button", { name: "Open Kyoto Design Works" }).click();
    const detail = page.locator(".account-detail");
    await detail.getByRole("heading", { name: /Kyoto Design Works/ }).waitFor();
    expect(await detail.locator("table.funding").textContent()).toContain("kyoto-1");
    const charges = detail.locator("table.charges tbody tr");
    expect(await charges.count()).toBe(2);
    expect(await charges.first().locator('[data-label="Paid from"]').textContent()).toMatch(/^Flex pack #\d+: 0\.5 tokens$/);
    await shot(page, "13-account");

    await charges.first().getByRole("button", { name: /Reverse/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Reverse this charge" }).click();
    expect(await dialog.locator('[data-field="reason"] .field-error').textContent()).toContain("Enter a reason");
    await dialog.getByLabel("Reason").fill("Job failed on our side");
    await dialog.getByRole("button", { name: "Reverse this charge" }).click();
    await dialog.waitFor({ state: "detached" });
    await expect.poll(() => detail.locator("tr.reversed").count()).toBe(1);
    await expect.poll(() => detail.locator(".impact-figures dd").first().textContent()).toBe("99.5");
    const { body } = await suite.server.graphql(`query ($id: ID!) { account(id: $id) { balance { available } } }`, { id: String(accountId) });
    expect(body.data.account.balance.available).toBe("99.5");
  });

  it("reads the history and the audit log as a record, filters it, and exports it and the price table as CSV", async () => {
    const second = { ...OPERATOR, name: "second operator" };
    const version = await suite.server.services.prices.publish(
      { apiCode: "design-automation/revit", meter: "SECOND", unitQuantity: 3600, tokensPerUnitMicros: tokens("2.5"), effectiveFrom: Date.parse("2026-03-01T00:00:00Z"), note: "Annual review" },
      OPERATOR,
    );
    await suite.server.services.prices.cancelScheduled(version.id, "Postponed to April", second);
    const { page } = await suite.signedIn();
    await row(page, "design-automation/revit").getByRole("button", { name: /History/ }).click();
    const cancelled = page.locator(`tbody[data-api="design-automation/revit"] tr[data-version-id="${version.id}"]`);
    expect(await cancelled.locator(".cancellation").textContent()).toBe("Cancelled by second operator: Postponed to April");
    await page.getByLabel("Hide cancelled versions in histories").check();
    expect(await cancelled.isVisible()).toBe(false);

    let download = page.waitForEvent("download");
    await page.getByLabel("Price table as of (UTC day, optional)").fill("2021-01-01");
    await page.getByRole("button", { name: "Export CSV" }).click();
    const prices = readFileSync(await (await download).path(), "utf8");
    expect((await download).suggestedFilename()).toBe("prices-2021-01-01.csv");
    expect(prices).toContain("model-derivative/complex-job,");
    expect(prices.split("\r\n").find((l) => l.startsWith("model-derivative/complex-job,"))).toContain(",JOB,1,1.5,");

    await page.getByRole("link", { name: "Audit log" }).click();
    const rows = page.locator("table.audit > tbody > tr");
    await rows.first().waitFor();
    expect(await rows.nth(1).locator(".summary").textContent()).toBe("design-automation/revit: 2 → 2.5 tokens per 3600 SECOND from 2026-03-01 00:00 UTC");
    expect(await rows.nth(1).locator(".local-time").textContent()).toBe("Jan 15, 2026, 6:00 PM");
    expect(await rows.first().locator(".summary").textContent()).toBe("design-automation/revit: 2.5 tokens per 3600 SECOND from 2026-03-01 00:00 UTC will not take effect");
    await shot(page, "15-audit-record");

    await page.getByLabel("Made by").fill("second operator");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.locator(".pager-status").textContent()).toBe("Entries 1–1 of 1");
    expect(await rows.first().getAttribute("data-action")).toBe("price.cancel");
    await page.getByLabel("Made by").fill("");
    await page.getByLabel("Changes to").selectOption({ label: "Charge reversals" });
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => rows.first().getAttribute("data-action")).toBe("charge.reverse");

    download = page.waitForEvent("download");
    await page.getByRole("button", { name: "Export CSV" }).click();
    const audit = readFileSync(await (await download).path(), "utf8").trimEnd().split("\r\n");
    expect(audit[0]).toBe("at,actor,actorRole,action,entityType,entityId,before,after");
    expect(audit.slice(1).map((l) => l.split(",")[3])).toEqual(["charge.reverse"]);
  });

  it("creates a key whose secret is shown once with a copy button, and revokes it", async () => {
    const { page, context } = await suite.signedIn();
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    await page.getByRole("button", { name: "Create a key…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name (who or what uses it)").fill("Metering gateway, Tokyo");
    await dialog.getByLabel("Role").selectOption("METERING");
    await dialog.getByRole("button", { name: "Create key" }).click();
    const secret = await dialog.getByLabel("Secret of the new key").inputValue();
    expect(secret.length).toBeGreaterThan(30);
    await dialog.getByRole("button", { name: "Copy secret" }).click();
    await expect.poll(() => dialog.getByRole("status").textContent()).toBe("Copied.");
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(secret);
    // The secret works, and is nowhere in the list.
    expect((await suite.server.graphql(`{ viewer { role } }`, {}, secret)).body.data.viewer.role).toBe("METERING");
    await dialog.getByRole("button", { name: "Done" }).click();
    const listed = page.locator("table.keys tbody tr", { hasText: "Metering gateway, Tokyo" });
    await listed.waitFor();
    expect(await page.locator("table.keys").textContent()).not.toContain(secret);

    await listed.getByRole("button", { name: "Revoke… Metering gateway, Tokyo" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
    await expect.poll(() => listed.textContent()).toContain("REVOKED");
    expect((await suite.server.graphql(`{ viewer { role } }`, {}, secret)).status).toBe(401);
  });
});

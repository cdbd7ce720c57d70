/**
 * The tiered regime in the console (domain §8): publishing free caps, and an account's plan, free
 * usage, Token Flex pools and PAYG statements, read-only. The test world is domain §8's worked
 * example (test values, not APS's: revit at 1 token per 1200 s, capped at 3 units a month).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { at, OPERATOR, tokens } from "../fixtures/harness.js";
import { anEventAt, COMPLEX, REVIT } from "../fixtures/tiered.js";
import { NOW, consoleSuite, shot } from "./harness.js";

const ids = { free: "", paid: "" };

/** When the test price and cap are published: they take effect now and never in the past. */
const TERMS_AT = "2025-12-20T00:00:00Z";

const suite = consoleSuite(async (server) => {
  server.setNow(TERMS_AT);
  await server.services.prices.publish(
    { apiCode: REVIT, meter: "SECOND", unitQuantity: 1200, tokensPerUnitMicros: tokens("1"), note: "test value, not APS's" },
    OPERATOR,
  );
  await server.services.tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth: 3, note: "test value, not APS's" }, OPERATOR);
  const free = await server.services.accounts.create({ name: "Sapporo Free Studio", country: "JP" }, OPERATOR);
  const paid = await server.services.accounts.create({ name: "Nagoya Paid Works", country: "JP" }, OPERATOR);
  await server.services.tiered.enrollPlan({ accountId: free.id, tier: "FREE" }, OPERATOR);
  await server.services.tiered.enrollPlan({ accountId: paid.id, tier: "PAID", payg: true }, OPERATOR);
  ids.free = String(free.id);
  ids.paid = String(paid.id);
  await server.services.funding.importTokenFlexPool(
    { accountId: paid.id, tokensMicros: tokens("20"), startsAt: at("2025-12-20T00:00:00Z"), endsAt: at("2026-12-20T00:00:00Z"), externalRef: "eba-nagoya-1" },
    OPERATOR,
  );
  // December: 36000 s of revit are 30 units: 20 tokens from the pool, 10 on the PAYG statement.
  server.setNow("2025-12-28T00:00:00Z");
  await server.services.rating.recordUsage(anEventAt(paid.id, REVIT, "36000", "2025-12-27T10:00:00Z"));
  server.setNow(NOW);
  // January: four complex jobs at 0.5 tokens go on January's statement, open until 3 February.
  for (const day of [10, 11, 12, 13]) await server.services.rating.recordUsage(anEventAt(paid.id, COMPLEX, "1", `2026-01-${day}T10:00:00Z`));
  // The FREE account: 1 unit free, 1 unit, then 3 units of which 1 free and 2 overrun: revit is suspended to 1 February.
  for (const [seconds, day] of [["1500", 10], ["1500", 11], ["3000", 12]] as const) {
    await server.services.rating.recordUsage(anEventAt(free.id, REVIT, seconds, `2026-01-${day}T10:00:00Z`));
  }
});

async function freeCapsView() {
  const watched = await suite.signedIn();
  await watched.page.getByRole("link", { name: "Free caps" }).click();
  await watched.page.getByRole("heading", { name: "Free caps" }).waitFor();
  await watched.page.locator(`tr.api-row[data-api-code="${REVIT}"]`).waitFor();
  return watched;
}

const capRow = (page: import("playwright-core").Page, apiCode: string) => page.locator(`tr.api-row[data-api-code="${apiCode}"]`);

async function freeCapsAsOf(asOf: string): Promise<Array<[string, number]>> {
  const { body } = await suite.server.graphql(`query ($asOf: DateTime) { freeCaps(asOf: $asOf) { apiCode unitsPerMonth } }`, { asOf });
  expect(body.errors).toBeUndefined();
  return body.data.freeCaps.map((cap: { apiCode: string; unitsPerMonth: number }) => [cap.apiCode, cap.unitsPerMonth]);
}

describe("free caps", () => {
  it("lists the caps in force with each API's history, and publishes a later cap that shows as scheduled", async () => {
    const { page } = await freeCapsView();
    const revit = capRow(page, REVIT);
    expect(await revit.locator(".cap").textContent()).toBe("3 units a month");
    expect(await revit.locator(".time").textContent()).toBe("2025-12-20 00:00 UTC");
    // A priced API without a cap is listed too: FREE accounts get none of it.
    expect(await capRow(page, COMPLEX).locator(".cap").textContent()).toBe("None (0 units)");

    await revit.getByRole("button", { name: /Publish cap/ }).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.getByLabel("API code").getAttribute("readonly")).toBe("");
    await dialog.getByLabel("Free units a month").fill("5");
    await dialog.getByLabel("Takes effect at (UTC)").fill("2026-02-01T00:00");
    await dialog.getByLabel("Note (why the cap changes)").fill("Raised for the spring term");
    await dialog.getByRole("button", { name: "Publish cap" }).click();
    await dialog.waitFor({ state: "detached" });

    const scheduled = revit.locator(".scheduled li");
    await scheduled.waitFor();
    expect(await scheduled.textContent()).toBe("Scheduled 5 units a month from 2026-02-01 00:00 UTC");
    expect(await page.locator(".status-region").textContent()).toContain("5 units a month, effective 2026-02-01 00:00 UTC (SCHEDULED)");
    expect(await revit.locator(".cap").textContent()).toBe("3 units a month");
    expect(await freeCapsAsOf("2026-02-01T00:00:00Z")).toContainEqual([REVIT, 5]);

    await revit.getByRole("button", { name: /History/ }).click();
    const history = page.locator(`tbody[data-api="${REVIT}"] .history-row tbody tr`);
    expect(await history.evaluateAll((rows) => rows.map((row) => row.getAttribute("data-status")))).toEqual(["SCHEDULED", "IN_FORCE"]);
    expect(await history.first().locator(".note").textContent()).toBe("Raised for the spring term");
    expect(await history.first().locator('[data-label="Published by"]').textContent()).toBe("test operator");
    await shot(page, "21-free-caps");

    // As of a day, the table shows the cap in force then.
    await page.getByLabel("Caps in force as of (UTC day, empty for now)").fill("2026-02-02");
    await page.getByRole("button", { name: "Show", exact: true }).click();
    await expect.poll(() => capRow(page, REVIT).locator(".cap").textContent()).toBe("5 units a month");
  });

  it("shows a field's message once the field is left, and takes it away as soon as the value is fixed", async () => {
    const { page } = await freeCapsView();
    await page.getByRole("button", { name: "Publish a free cap…" }).click();
    const dialog = page.getByRole("dialog");
    const units = dialog.getByLabel("Free units a month");
    const message = dialog.locator('[data-field="unitsPerMonth"] .field-error');
    await units.fill("2.5");
    expect(await message.isVisible()).toBe(false);
    await units.press("Tab");
    await expect.poll(() => message.textContent()).toContain("whole number from 0");
    expect(await units.getAttribute("aria-invalid")).toBe("true");
    await units.fill("2");
    await expect.poll(() => message.isVisible()).toBe(false);
    expect(await units.getAttribute("aria-invalid")).toBeNull();
  });

  it("refuses what the server would refuse in the page, asks before a cap that changes at once, and sends nothing until it is right", async () => {
    const { page, graphqlOperations } = await freeCapsView();
    await page.getByRole("button", { name: "Publish a free cap…" }).click();
    const dialog = page.getByRole("dialog");
    const units = dialog.getByLabel("Free units a month");
    const message = (name: string) => dialog.locator(`[data-field="${name}"] .field-error`);
    await dialog.getByLabel("API code").fill("Model Derivative");
    for (const [input, expected] of [
      ["-1", "whole number from 0"],
      ["2.5", "whole number from 0"],
      ["1000000001", "At most 1000000000"],
      ["", "Enter the whole units a month"],
    ] as const) {
      await units.fill(input);
      await dialog.getByRole("button", { name: "Publish cap" }).click();
      expect(await message("unitsPerMonth").textContent()).toContain(expected);
      expect(await units.getAttribute("aria-invalid")).toBe("true");
    }
    expect(await message("apiCode").textContent()).toContain("lower-case slug");
    expect(await message("note").textContent()).toContain("Enter a note");

    await dialog.getByLabel("API code").fill(COMPLEX);
    await units.fill("0");
    await dialog.getByLabel("Note (why the cap changes)").fill("No free complex jobs");
    await dialog.getByLabel("Now, when published").check();
    await dialog.getByRole("button", { name: "Publish cap" }).click();
    expect(await message("effectiveFrom").textContent()).toContain("tick the box to confirm");
    await shot(page, "22-free-cap-refused-in-page", false);
    expect(graphqlOperations).not.toContain("ConsolePublishFreeCap");

    await dialog.getByLabel(/free use changes immediately when I publish/).check();
    await dialog.getByRole("button", { name: "Publish cap" }).click();
    await dialog.waitFor({ state: "detached" });
    await expect.poll(() => capRow(page, COMPLEX).locator(".cap").textContent()).toBe("0 units a month (no free use)");
    expect(await freeCapsAsOf(NOW)).toContainEqual([COMPLEX, 0]);
  });

  it("shows the server's refusal next to the field it names, with its code", async () => {
    const { page } = await freeCapsView();
    await capRow(page, REVIT).getByRole("button", { name: /Publish cap/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Free units a month").fill("4");
    await dialog.getByLabel("Takes effect at (UTC)").fill("2026-01-15T10:00");
    await dialog.getByLabel("Note (why the cap changes)").fill("In an hour");
    const before = await freeCapsAsOf("2027-01-01T00:00:00Z");
    // The operator left the dialog open for two hours: the chosen moment is past by the time it is sent.
    suite.server.setNow("2026-01-15T11:00:00Z");
    try {
      await dialog.getByRole("button", { name: "Publish cap" }).click();
      const error = dialog.locator('[data-field="effectiveFrom"] .field-error');
      await error.waitFor();
      expect(await error.textContent()).toMatch(/^PRICE_CHANGE_IN_PAST a free cap takes effect now or in the future/);
      expect(await dialog.getByLabel("Takes effect at (UTC)").getAttribute("aria-invalid")).toBe("true");
      await shot(page, "23-free-cap-server-refusal", false);
    } finally {
      suite.server.setNow(NOW);
    }
    expect(await freeCapsAsOf("2027-01-01T00:00:00Z")).toEqual(before);
  });
});

describe("an account under the tiered regime", () => {
  async function openAccount(name: string) {
    const watched = await suite.signedIn();
    const { page } = watched;
    await page.getByRole("link", { name: "Accounts" }).click();
    await page.getByRole("button", { name: `Open ${name}` }).click();
    const detail = page.locator(".account-detail");
    await detail.locator(".account-tiers .plan-now").waitFor();
    return { ...watched, detail };
  }

  it("shows a FREE account's plan, its history and this month's free usage with the suspension", async () => {
    const { page, detail } = await openAccount("Sapporo Free Studio");
    expect(await detail.locator(".plan-now").textContent()).toBe("FREE since 2025-12-20 00:00 UTC");
    const plans = detail.locator("table.plan-history tbody tr");
    expect(await plans.evaluateAll((rows) => rows.map((row) => row.getAttribute("data-tier")))).toEqual(["LEGACY", "FREE"]);
    const usage = detail.locator(`table.free-usage tr[data-api-code="${REVIT}"]`);
    expect(await usage.locator("td").allTextContents()).toEqual(["3 units a month", "3", "2", "SUSPENDED until 2026-02-01 00:00 UTC"]);
    expect(await detail.locator("h3").allTextContents()).toContain("Free usage in 2026-01 (UTC)");
    expect(await detail.locator("table.pools").count()).toBe(0);
    // The charge that reached the cap: 1 unit free, 2 overrun, no tokens.
    const reachedCap = detail.locator("table.charges tbody tr").first();
    expect(await reachedCap.locator('[data-label="Paid from"] li').allTextContents()).toEqual(["Free allowance: 1 unit", "Overrun (not billed): 2 units"]);
    await shot(page, "24-free-account");
  });

  it("shows a paid account's plan, its Token Flex pool and the PAYG statement of a chosen month, with its CSV link", async () => {
    const { page, detail } = await openAccount("Nagoya Paid Works");
    expect(await detail.locator(".plan-now").textContent()).toBe("PAID with PAYG since 2025-12-20 00:00 UTC");
    // Off the Free tier, no allowance: the revit cap does not apply to it.
    expect(await detail.locator("table.free-usage").count()).toBe(0);
    expect(await detail.locator(".account-tiers").textContent()).toContain("No free allowance on PAID with PAYG");
    const pool = detail.locator("table.pools tbody tr");
    expect(await pool.count()).toBe(1);
    expect(await pool.locator("td").allTextContents()).toEqual(["eba-nagoya-1", "20", "0", "2025-12-20 00:00 UTC", "2026-12-20 00:00 UTC"]);

    const december = detail.locator("table.charges tbody tr").last();
    expect(await december.locator('[data-label="Paid from"] li').allTextContents()).toEqual([expect.stringMatching(/^Token Flex pool #\d+: 20 tokens$/), "PAYG statement: 10 tokens (10 units)"]);

    // This month's statement is open.
    const statement = detail.locator(".statement");
    expect(await statement.locator("[data-status]").textContent()).toBe("OPEN");
    expect(await statement.locator("[data-total]").textContent()).toBe("2 tokens");
    expect(await statement.locator(`table.payg-lines tr[data-api-code="${COMPLEX}"] td`).allTextContents()).toEqual(["4", "2"]);

    // December's is final: 30 units of revit, 20 tokens from the pool and 10 on the statement.
    await detail.getByLabel("Statement month (UTC)").fill("2025-12");
    await detail.getByRole("button", { name: "Show statement" }).click();
    await expect.poll(() => statement.locator("[data-status]").textContent()).toBe("FINAL");
    expect(await statement.locator("[data-total]").textContent()).toBe("10 tokens");
    expect(await statement.locator(`table.payg-lines tr[data-api-code="${REVIT}"] td`).allTextContents()).toEqual(["10", "10"]);
    const link = statement.getByRole("link", { name: "Download the 2025-12 statement as CSV" });
    expect(new URL((await link.getAttribute("href"))!).pathname + new URL((await link.getAttribute("href"))!).search).toBe(
      `/export/payg.csv?accountId=${ids.paid}&month=2025-12`,
    );
    // The link fetches the export with the key (a plain link could not send it) and saves it.
    const download = page.waitForEvent("download");
    await link.click();
    expect((await download).suggestedFilename()).toBe(`payg-${ids.paid}-2025-12.csv`);
    expect(readFileSync(await (await download).path(), "utf8").trim().split(/\r?\n/)).toEqual(["month,status,apiCode,units,tokens", `2025-12,FINAL,${REVIT},10,10`]);
    await shot(page, "25-paid-account");
  });
});

/**
 * The console's safety at speed, each found by an operator working with keyboard and mouse:
 * dates typed segment by segment, meter changes, new-API codes that exist, "Now" as a default,
 * clashes with scheduled versions, overflow, discarded forms, and the smaller slips of issue 14.
 */
import { describe, expect, it } from "vitest";
import { OPERATOR, tokens } from "../fixtures/harness.js";
import { DAY, axeViolations, consoleSuite, overflowX, priceHistory, row } from "./harness.js";

const suite = consoleSuite(async (server) => {
  const now = server.now();
  const account = await server.services.accounts.create({ name: "Photo Co", country: "FR" }, OPERATOR);
  await server.services.funding.recordFlexPurchase(
    { accountId: account.id, tokensMicros: tokens("500"), purchasedAt: now - 60 * DAY, channel: "ESTORE", orderRef: "photo-order" },
    OPERATOR,
  );
  // Recent photoscene usage, metered in PHOTO: what a meter change cannot be compared with.
  for (const daysAgo of [2, 5]) {
    await server.services.rating.recordUsage({
      eventId: `photos-${daysAgo}`,
      accountId: account.id,
      apiCode: "reality-capture/photoscene",
      quantityMicros: tokens("100"),
      outcome: "SUCCEEDED",
      occurredAt: now - daysAgo * DAY,
    });
  }
});
const { signedIn, openConsole } = suite;
const history = (apiCode: string) => priceHistory(suite.server, apiCode);
const publishDialogOf = async (page: import("playwright-core").Page, apiCode: string) => {
  await row(page, apiCode).getByRole("button", { name: /Publish version/ }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Tokens per unit").waitFor();
  return dialog;
};

describe("operator console defects", () => {
  it("1. keeps a date typed segment by segment into “Later, at (UTC)”, in the publish and the retire dialog", async () => {
    const { page } = await signedIn();
    const dialog = await publishDialogOf(page, "design-automation/revit");
    await dialog.getByLabel("Later, at (UTC)").check();
    await dialog.getByLabel("Takes effect at (UTC)").focus();
    await page.keyboard.type("12012026", { delay: 20 });
    await page.keyboard.type("0930A", { delay: 20 });
    expect(await dialog.getByLabel("Takes effect at (UTC)").inputValue()).toBe("2026-12-01T09:30");
    expect(await dialog.locator(".when-echo").textContent()).toBe("= 2026-12-01 09:30 UTC");
    await dialog.getByRole("button", { name: "Close" }).click();
    await page.getByRole("button", { name: "Discard changes" }).click();

    await row(page, "design-automation/autocad").getByRole("button", { name: /Retire/ }).click();
    const retire = page.getByRole("dialog");
    await retire.getByLabel("Later, at (UTC)").check();
    await retire.getByLabel("Retire at (UTC)").focus();
    await page.keyboard.type("02032026", { delay: 20 });
    await page.keyboard.type("1015P", { delay: 20 });
    expect(await retire.getByLabel("Retire at (UTC)").inputValue()).toBe("2026-02-03T22:15");
  });

  it("2. publishes a change of meter behind an explicit confirmation that unlike units cannot be compared", async () => {
    const { page } = await signedIn();
    const dialog = await publishDialogOf(page, "reality-capture/photoscene");
    await dialog.getByLabel("Meter (what the quantity counts)").selectOption("GIGAPIXEL");
    await dialog.getByLabel("Unit quantity").fill("1");
    await dialog.getByLabel("Tokens per unit").fill("0.2");
    await dialog.getByLabel("Note (why the price changes)").fill("Rated per gigapixel from now on");
    await dialog.getByRole("button", { name: "Preview impact" }).click();
    const panel = dialog.getByRole("region", { name: "Impact preview" });
    await expect.poll(() => panel.textContent()).toContain("cannot be compared");
    expect(await panel.textContent()).toContain("PHOTO");
    const publish = dialog.getByRole("button", { name: "Publish version" });
    expect(await publish.isDisabled()).toBe(true);
    await dialog.getByLabel(/Publish without a comparison/).check();
    expect(await publish.isEnabled()).toBe(true);
    await publish.click();
    await dialog.waitFor({ state: "detached" });
    const published = (await history("reality-capture/photoscene")).at(-1)!;
    expect(published).toMatchObject({ status: "SCHEDULED", meter: "GIGAPIXEL", tokensPerUnit: "0.2" });
  });

  it("3. recognises an existing code in “Price a new API…” and offers its version flow instead", async () => {
    const { page, graphqlOperations } = await signedIn();
    await page.getByRole("button", { name: "Price a new API…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("API code").fill("design-automation/inventor");
    await dialog.getByLabel("Display name").focus();
    const error = dialog.locator('[data-field="apiCode"] .field-error');
    await expect.poll(() => error.textContent()).toContain("already has a price");
    await dialog.getByLabel("Tokens per unit").fill("9");
    await dialog.getByLabel("Note (why the price changes)").fill("Not a new API at all");
    await dialog.getByRole("button", { name: "Preview impact" }).click();
    expect(await error.isVisible()).toBe(true);
    expect(graphqlOperations).not.toContain("ConsolePreviewPrice");
    await dialog.getByRole("button", { name: "Publish a new version of design-automation/inventor…" }).click();
    await expect.poll(() => page.getByRole("dialog").getByRole("heading").first().textContent()).toBe("Publish a new version of design-automation/inventor");
    expect(await page.getByRole("dialog").getByLabel("API code").inputValue()).toBe("design-automation/inventor");
  });

  it("4. defaults to a later time, confirms a change that bills at once, and reverts to a previous version", async () => {
    const { page } = await signedIn();
    const dialog = await publishDialogOf(page, "model-derivative/complex-job");
    expect(await dialog.getByLabel("Later, at (UTC)").isChecked()).toBe(true);
    expect(await dialog.getByLabel("Takes effect at (UTC)").inputValue()).toBe("2026-01-16T00:00");
    await dialog.getByLabel("Now, when published").check();
    await dialog.getByLabel("Tokens per unit").fill("0.6");
    await dialog.getByLabel("Note (why the price changes)").fill("Immediate increase");
    await dialog.getByRole("button", { name: "Preview impact" }).click();
    await dialog.locator('[data-impact="delta"]').waitFor();
    await dialog.getByRole("button", { name: "Publish version" }).click();
    const when = dialog.locator('[data-field="effectiveFrom"] .field-error');
    await expect.poll(() => when.textContent()).toContain("billing changes immediately");
    expect(await history("model-derivative/complex-job")).toHaveLength(2);
    await dialog.getByLabel(/billing changes immediately/).check();
    await dialog.getByRole("button", { name: "Publish version" }).click();
    await dialog.waitFor({ state: "detached" });
    await expect.poll(() => row(page, "model-derivative/complex-job").locator(".rate").textContent()).toBe("0.6 tokens");

    // Undo: the previous version's terms, published again as a new version.
    await row(page, "model-derivative/complex-job").getByRole("button", { name: /History/ }).click();
    const previous = page.locator('tbody[data-api="model-derivative/complex-job"] .history-row tbody tr').nth(1);
    expect(await previous.textContent()).toContain("0.5 tokens per 1 JOB");
    await previous.getByRole("button", { name: /Revert to these terms/ }).click();
    const revert = page.getByRole("dialog");
    expect(await revert.getByLabel("Tokens per unit").inputValue()).toBe("0.5");
    expect(await revert.getByLabel("Note (why the price changes)").inputValue()).toMatch(/^Revert to version #\d+/);
    await revert.getByRole("button", { name: "Preview impact" }).click();
    await revert.locator('[data-impact="delta"]').waitFor();
    await revert.getByRole("button", { name: "Publish version" }).click();
    await revert.waitFor({ state: "detached" });
    expect((await history("model-derivative/complex-job")).at(-1)).toMatchObject({ status: "SCHEDULED", tokensPerUnit: "0.5" });
  });

  it("5. shows what is scheduled in the dialog, and a clash with it in the preview", async () => {
    const scheduled = await suite.server.services.prices.publish(
      { apiCode: "design-automation/fusion", meter: "SECOND", unitQuantity: 3600, tokensPerUnitMicros: tokens("3"), effectiveFrom: Date.parse("2026-03-01T00:00:00Z"), note: "Annual review" },
      OPERATOR,
    );
    const { page, graphqlOperations } = await signedIn();
    const dialog = await publishDialogOf(page, "design-automation/fusion");
    expect(await dialog.locator(".scheduled-now").textContent()).toContain(`#${scheduled.id}: 3 tokens per 3600 SECOND from 2026-03-01 00:00 UTC`);
    await dialog.getByLabel("Takes effect at (UTC)").fill("2026-03-01T00:00");
    await dialog.getByLabel("Tokens per unit").fill("2.5");
    await dialog.getByLabel("Note (why the price changes)").fill("Clashing change");
    await dialog.getByRole("button", { name: "Preview impact" }).click();
    const error = dialog.locator('[data-field="effectiveFrom"] .field-error');
    await expect.poll(() => error.textContent()).toContain(`Version #${scheduled.id} (3 tokens per 3600 SECOND) already takes effect at 2026-03-01 00:00 UTC`);
    expect(graphqlOperations).not.toContain("ConsolePreviewPrice");
    expect(await dialog.getByRole("button", { name: "Publish version" }).isDisabled()).toBe(true);
  });

  it("6. never overflows sideways from 390 to 1920 px, with a history open", async () => {
    for (const width of [390, 1024, 1280, 1920]) {
      const { page } = await signedIn({ viewport: { width, height: 900 } });
      expect(await overflowX(page), `at ${width} px`).toBeLessThanOrEqual(0);
      const right = await page.locator("td.actions button").evaluateAll((buttons) => Math.max(...buttons.map((b) => b.getBoundingClientRect().right)));
      expect(right, `actions at ${width} px`).toBeLessThanOrEqual(width);
      await row(page, "design-automation/revit").getByRole("button", { name: /History/ }).click();
      expect(await overflowX(page), `history open at ${width} px`).toBeLessThanOrEqual(0);
    }
  });

  it("7. asks before Escape or Close discards a filled form, and closes an untouched one at once", async () => {
    const { page } = await signedIn();
    let dialog = await publishDialogOf(page, "model-derivative/simple-job");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });

    dialog = await publishDialogOf(page, "model-derivative/simple-job");
    await dialog.getByLabel("Tokens per unit").fill("0.3");
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Keep editing" }).click();
    expect(await dialog.getByLabel("Tokens per unit").inputValue()).toBe("0.3");
    await dialog.getByRole("button", { name: "Close" }).click();
    expect(await dialog.textContent()).toContain("Discard");
    await page.getByRole("button", { name: "Discard changes" }).click();
    await dialog.waitFor({ state: "detached" });
  });

  describe("8. smaller slips", () => {
    it("marks a retirement as a retirement in the history, never as a green ACTIVE version", async () => {
      await suite.server.services.prices.retire("flow-graph-engine/processing", null, "Engine discontinued", OPERATOR);
      const { page } = await signedIn();
      await row(page, "flow-graph-engine/processing").getByRole("button", { name: /History/ }).click();
      const badge = page.locator('tbody[data-api="flow-graph-engine/processing"] .history-row tbody tr').first().locator(".badge");
      expect(await badge.textContent()).toBe("RETIRED");
      expect(await badge.getAttribute("class")).not.toContain("active");
    });

    it("clears the retire dialog's error once the note is fixed, and keeps notes on one line", async () => {
      const { page } = await signedIn();
      await row(page, "design-automation/autocad").getByRole("button", { name: /Retire/ }).click();
      const dialog = page.getByRole("dialog");
      await dialog.getByRole("button", { name: "Retire API" }).click();
      const error = dialog.locator('[data-field="note"] .field-error');
      await error.waitFor();
      const note = dialog.getByLabel("Note (why the API is retired)");
      await note.focus();
      await page.keyboard.type("Line one");
      expect(await error.isVisible()).toBe(false);
      await page.keyboard.press("Enter");
      await page.keyboard.type(" line two");
      expect(await note.inputValue()).toBe("Line one line two");
      expect(await dialog.isVisible()).toBe(true);
    });

    it("says “an INTEGRATOR key”", async () => {
      const { page } = await openConsole();
      await page.goto(`${suite.server.url}/console/`);
      await page.getByLabel("Operator API key").fill(await suite.server.key("INTEGRATOR"));
      await page.keyboard.press("Enter");
      await expect.poll(() => page.locator("#key-error").textContent()).toContain("This is an INTEGRATOR key");
    });

    it("names the API in every History button for screen readers", async () => {
      const { page } = await signedIn();
      const names = await page.locator("tr.api-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-api-code")));
      for (const apiCode of names) {
        expect(await row(page, apiCode!).getByRole("button", { name: new RegExp(`^History \\(\\d+\\) of ${apiCode}$`) }).count()).toBe(1);
      }
    });

    it("gives the CANCELLED badge enough contrast", async () => {
      const version = await suite.server.services.prices.publish(
        { apiCode: "model-derivative/basic-interactions", meter: "CALL", unitQuantity: 300000, tokensPerUnitMicros: tokens("2"), effectiveFrom: Date.parse("2026-06-01T00:00:00Z"), note: "Trial" },
        OPERATOR,
      );
      await suite.server.services.prices.cancelScheduled(version.id, "Trial withdrawn", OPERATOR);
      const { page } = await signedIn();
      await row(page, "model-derivative/basic-interactions").getByRole("button", { name: /History/ }).click();
      await page.locator(".badge.cancelled").first().waitFor();
      expect((await axeViolations(page)).filter((v) => v.startsWith("color-contrast"))).toEqual([]);
    });

    it("lets the keyboard reach the audit snapshots", async () => {
      const { page } = await signedIn();
      await page.getByRole("link", { name: "Audit log" }).click();
      const summary = page.locator("table.audit summary").first();
      await summary.focus();
      await page.keyboard.press("Enter");
      await page.keyboard.press("Tab");
      expect(await page.evaluate("document.activeElement.tagName")).toBe("PRE");
      expect(await page.evaluate("document.activeElement.getAttribute('aria-label')")).toMatch(/^Before/);
    });

    it("shows the message beside the table, not over it, and lets it go after a while", async () => {
      const { page, context } = await signedIn({ clock: "controlled" });
      const dialog = await publishDialogOf(page, "design-automation/inventor");
      await dialog.getByLabel("Tokens per unit").fill("4");
      await dialog.getByLabel("Note (why the price changes)").fill("Scheduled review");
      await dialog.getByRole("button", { name: "Preview impact" }).click();
      await dialog.locator('[data-impact="delta"]').waitFor();
      await dialog.getByRole("button", { name: "Publish version" }).click();
      const message = page.locator(".status-region p");
      await message.waitFor();
      const box = (await message.boundingBox())!;
      const rows = await page.locator("tr.api-row").evaluateAll((trs) => trs.map((tr) => tr.getBoundingClientRect()).map((r) => ({ top: r.top, bottom: r.bottom })));
      expect(rows.filter((r) => r.bottom > box.y && r.top < box.y + box.height)).toEqual([]);
      await context.clock.fastForward("00:30");
      await message.waitFor({ state: "detached" });
    });
  });
});

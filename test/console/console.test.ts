/**
 * The operator console in Debian's Chromium against the real server on an ephemeral port.
 * Every page is watched: a request to anything but the test server, a script error or a console
 * error fails the test that caused it. Screenshots of the main screens go to ./screenshots/.
 */
import { CONSOLE_CSP } from "../../server/http/console.js";
import { OPERATOR, tokens } from "../fixtures/harness.js";
import { DAY, consoleSuite, priceHistory, row, shot } from "./harness.js";
import { describe, expect, it } from "vitest";

const XSS_NOTE = "Spring review <img src=x onerror=alert(1)> approved";

const suite = consoleSuite(async (server) => {
  const now = suite.server.now();
  // Usage for the impact preview: four complex jobs within the last 30 days (4 × 0.5 = 2 tokens)
  // and one 40 days ago, outside the window.
  const account = await server.services.accounts.create({ name: "Preview Co", country: "JP" }, OPERATOR);
  await server.services.funding.recordFlexPurchase(
    { accountId: account.id, tokensMicros: tokens("500"), purchasedAt: now - 60 * DAY, channel: "ESTORE", orderRef: "preview-order" },
    OPERATOR,
  );
  for (const [index, daysAgo] of [1, 3, 10, 29, 40].entries()) {
    await server.services.rating.recordUsage({
      eventId: `preview-${index}`,
      accountId: account.id,
      apiCode: "model-derivative/complex-job",
      quantityMicros: tokens("1"),
      outcome: "SUCCEEDED",
      occurredAt: now - daysAgo * DAY,
    });
  }
});
const { openConsole, signedIn } = suite;
const history = (apiCode: string) => priceHistory(suite.server, apiCode);

describe("operator console", () => {
  it("is served under a strict CSP, with nosniff and revalidation", async () => {
    const page = await fetch(`${suite.server.url}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(await page.text()).not.toMatch(/<script>|\sstyle=|\son\w+=/i);
    const scriptName = /src="([^"]+)"/.exec(await (await fetch(`${suite.server.url}/console/`)).text())![1];
    const script = await fetch(`${suite.server.url}/console/${scriptName}`);
    expect(script.headers.get("content-type")).toMatch(/javascript/);
    expect(script.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
    const bare = await fetch(`${suite.server.url}/console`, { redirect: "manual" });
    expect(bare.status).toBe(308);
    expect(bare.headers.get("location")).toBe("/console/");
    expect((await fetch(`${suite.server.url}/console/src/main.ts`)).status).toBe(404);
  });

  it("refuses a bad key, signs in with the operator key from the keyboard, and forgets it on sign-out", async () => {
    const { page, requests } = await openConsole();
    await page.goto(`${suite.server.url}/console/`);
    await expect.poll(() => page.evaluate("document.activeElement?.id")).toBe("operator-key");
    await page.keyboard.type("fg_not_a_real_key");
    await page.keyboard.press("Enter");
    const error = page.locator("#key-error");
    await error.waitFor();
    expect(await error.textContent()).toContain("UNAUTHENTICATED");
    await shot(page, "01-sign-in-refused");

    // A good key of another role is not enough.
    await page.getByLabel("Operator API key").fill(await suite.server.key("INTEGRATOR"));
    await page.keyboard.press("Enter");
    await expect.poll(() => error.textContent()).toContain("needs an OPERATOR key");

    await page.getByLabel("Operator API key").fill(suite.server.operatorKey);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Price table" }).waitFor();
    expect(await page.locator(".who").textContent()).toContain("OPERATOR");
    expect(page.url()).not.toContain(suite.server.operatorKey);
    expect(requests.every((r) => !r.includes(suite.server.operatorKey))).toBe(true);
    expect(await page.evaluate(`sessionStorage.getItem("flexgate.console.operatorKey")`)).toBe(suite.server.operatorKey);
    expect(await page.evaluate("localStorage.length")).toBe(0);

    // Nothing has changed yet: the audit log says so.
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByText("No price change has been recorded yet.").waitFor();
    await page.goBack();
    await page.getByRole("heading", { name: "Price table" }).waitFor();

    // The session survives a reload of the tab...
    await page.reload();
    await page.getByRole("heading", { name: "Price table" }).waitFor();
    // ...and ends with sign-out.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Operator API key").waitFor();
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
  });

  it("shows the shipped APS rates, scheduled versions and the full history", async () => {
    const { page } = await signedIn();
    const revit = row(page, "design-automation/revit");
    expect(await revit.locator(".rate").textContent()).toBe("2 tokens");
    expect(await revit.locator(".unit").textContent()).toBe("3600 SECOND");
    const complex = row(page, "model-derivative/complex-job");
    expect(await complex.locator(".rate").textContent()).toBe("0.5 tokens");
    expect(await complex.locator(".unit").textContent()).toBe("1 JOB");
    expect(await row(page, "reality-capture/photoscene").locator(".unit").textContent()).toBe("50 PHOTO");
    expect(await row(page, "model-derivative/basic-interactions").locator(".unit").textContent()).toBe("300000 CALL");
    await shot(page, "02-price-table");

    const toggle = complex.getByRole("button", { name: /History/ });
    await toggle.focus();
    await page.keyboard.press("Enter");
    expect(await toggle.getAttribute("aria-expanded")).toBe("true");
    const versions = page.locator(`tbody[data-api="model-derivative/complex-job"] .history-row tbody tr`);
    expect(await versions.count()).toBe(2);
    expect(await versions.nth(0).textContent()).toContain("ACTIVE");
    expect(await versions.nth(1).textContent()).toContain("SUPERSEDED");
    expect(await versions.nth(1).textContent()).toContain("1.5 tokens per 1 JOB");
    expect(await versions.nth(1).textContent()).toContain("Autodesk (published rate)");
    await shot(page, "03-price-history");

    await page.getByLabel("Filter APIs").fill("reality");
    await expect.poll(() => page.locator("tr.api-row").count()).toBe(1);
  });

  it("shows a clear error when the server fails, and recovers on retry", async () => {
    const watched = await openConsole();
    const { page, context } = watched;
    await page.goto(`${suite.server.url}/console/`);
    await page.getByLabel("Operator API key").fill(suite.server.operatorKey);
    let failing = true;
    await context.route("**/graphql", async (route) => {
      const body = route.request().postData() ?? "";
      if (!failing || !body.includes("ConsolePriceVersions")) return route.fallback();
      await route.fulfill({
        status: 500,
        contentType: "application/json",
        body: JSON.stringify({ errors: [{ message: "Something went wrong on our side.", extensions: { code: "INTERNAL_SERVER_ERROR" } }] }),
      });
    });
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert").filter({ hasText: "could not be loaded" });
    await alert.waitFor();
    expect(await alert.textContent()).toContain("INTERNAL_SERVER_ERROR");
    await shot(page, "12-error-state");
    failing = false;
    await alert.getByRole("button", { name: "Try again" }).click();
    await expect.poll(() => page.locator("tr.api-row").count()).toBeGreaterThanOrEqual(10);
  });

  it("shows a field's message once the field is left, and takes it away as soon as the value is fixed", async () => {
    const { page } = await signedIn();
    await row(page, "design-automation/fusion").getByRole("button", { name: /Publish version/ }).click();
    const dialog = page.getByRole("dialog");
    const unitQuantity = dialog.getByLabel("Unit quantity");
    const message = dialog.locator('[data-field="unitQuantity"] .field-error');
    await unitQuantity.fill("0");
    expect(await message.isVisible()).toBe(false);
    await unitQuantity.press("Tab");
    await expect.poll(() => message.textContent()).toContain("whole number from 1");
    expect(await unitQuantity.getAttribute("aria-invalid")).toBe("true");
    await unitQuantity.fill("3600");
    await expect.poll(() => message.isVisible()).toBe(false);
    expect(await unitQuantity.getAttribute("aria-invalid")).toBeNull();
  });

  it("refuses an invalid rate with a visible message and publishes nothing", async () => {
    const before = await history("design-automation/fusion");
    const { page, graphqlOperations } = await signedIn();
    await row(page, "design-automation/fusion").getByRole("button", { name: /Publish version/ }).click();
    const dialog = page.getByRole("dialog");
    const rate = dialog.getByLabel("Tokens per unit");
    const message = dialog.locator('[data-field="tokensPerUnit"] .field-error');
    for (const [input, expected] of [
      ["1.2345678", "At most 6 digits after the dot"],
      ["-1", "plain decimal"],
      ["1e3", "plain decimal"],
      ["1,5", "plain decimal"],
    ] as const) {
      await rate.fill(input);
      await dialog.getByLabel("Note (why the price changes)").fill("Rate review");
      await dialog.getByRole("button", { name: "Preview impact" }).click();
      await message.waitFor();
      expect(await message.textContent()).toContain(expected);
      expect(await rate.getAttribute("aria-invalid")).toBe("true");
      expect(await dialog.getByRole("button", { name: "Publish version" }).isDisabled()).toBe(true);
    }
    await dialog.getByLabel("Note (why the price changes)").fill("");
    await dialog.getByLabel("Unit quantity").fill("0");
    await dialog.getByRole("button", { name: "Preview impact" }).click();
    expect(await dialog.locator('[data-field="note"] .field-error').textContent()).toContain("Enter a note");
    expect(await dialog.locator('[data-field="unitQuantity"] .field-error').textContent()).toContain("whole number from 1");
    await shot(page, "04-invalid-rate", false);
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Discard changes" }).click();
    await expect.poll(() => dialog.count()).toBe(0);

    expect(graphqlOperations).not.toContain("ConsolePreviewPrice");
    expect(graphqlOperations).not.toContain("ConsolePublishPrice");
    expect(await history("design-automation/fusion")).toEqual(before);
  });

  it("previews the impact of a change on the seeded usage history", async () => {
    const { page } = await signedIn();
    await row(page, "model-derivative/complex-job").getByRole("button", { name: /Publish version/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Tokens per unit").fill("0.75");
    await dialog.getByLabel("Note (why the price changes)").fill("Proposal under review");
    await dialog.getByRole("button", { name: "Preview impact" }).click();
    const figure = (name: string) => dialog.locator(`[data-impact="${name}"]`).textContent();
    await dialog.locator('[data-impact="delta"]').waitFor();
    // Four jobs in the last 30 days: 4 × 0.5 = 2 tokens now, 4 × 0.75 = 3 proposed.
    expect(await figure("events")).toBe("4");
    expect(await figure("current")).toBe("2");
    expect(await figure("proposed")).toBe("3");
    expect(await figure("delta")).toBe("+1");
    expect(await figure("zero")).toBe("0");
    // Who pays: the one account with usage, 2 → 3 tokens; its pack expires before it runs out either way.
    const payer = dialog.locator(".who-pays tbody tr");
    expect(await payer.count()).toBe(1);
    expect(await payer.locator("th").textContent()).toContain("Preview Co");
    expect(await payer.locator("td").allTextContents()).toEqual(["4", "2", "3", "+1 (+50.0 %)", "2026-11-16 09:00 UTC"]);
    expect(await figure("sooner")).toContain("0 of 1 account would run out of tokens sooner");
    expect(await dialog.getByRole("button", { name: "Publish version" }).isEnabled()).toBe(true);
    await shot(page, "05-impact-preview", false);

    // A changed input withdraws the preview, so what is published is always what was previewed.
    await dialog.getByLabel("Tokens per unit").fill("0.8");
    expect(await dialog.getByRole("button", { name: "Publish version" }).isDisabled()).toBe(true);
    await dialog.getByRole("button", { name: "Close" }).click();
    expect((await history("model-derivative/complex-job")).length).toBe(2);
  });

  it("publishes a future version, scheduled in the page and in the API, with its note shown as text", async () => {
    const { page, requests } = await signedIn();
    await row(page, "design-automation/revit").getByRole("button", { name: /Publish version/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Tokens per unit").fill("1.5");
    await dialog.getByLabel("Later, at (UTC)").check();
    await dialog.getByLabel("Takes effect at (UTC)").fill("2026-03-01T00:00");
    await dialog.getByLabel("Note (why the price changes)").fill(XSS_NOTE);
    await dialog.getByRole("button", { name: "Preview impact" }).click();
    await dialog.locator('[data-impact="delta"]').waitFor();
    await dialog.getByRole("button", { name: "Publish version" }).click();
    await dialog.waitFor({ state: "detached" });

    const scheduled = row(page, "design-automation/revit").locator(".scheduled li");
    await scheduled.waitFor();
    expect(await scheduled.textContent()).toContain("1.5 tokens per 3600 SECOND from 2026-03-01 00:00 UTC");
    expect(await page.locator(".status-region").textContent()).toContain("SCHEDULED");
    expect(await row(page, "design-automation/revit").locator(".rate").textContent()).toBe("2 tokens");

    const versions = await history("design-automation/revit");
    const published = versions.at(-1)!;
    expect(published).toMatchObject({ status: "SCHEDULED", tokensPerUnit: "1.5", note: XSS_NOTE, retired: false });
    expect(Date.parse(published.effectiveFrom)).toBe(Date.parse("2026-03-01T00:00:00Z"));

    await row(page, "design-automation/revit").getByRole("button", { name: /History/ }).click();
    const note = page.locator(`tbody[data-api="design-automation/revit"] tr[data-version-id="${published.id}"] .note`);
    expect(await note.textContent()).toBe(XSS_NOTE);
    expect(await page.locator("img").count()).toBe(0);
    await shot(page, "06-scheduled-version");
    expect(requests.some((r) => r.endsWith("/console/x"))).toBe(false);
  });

  it("shows the server's refusal next to the field it names, with its code", async () => {
    const { page } = await signedIn();
    await row(page, "design-automation/inventor").getByRole("button", { name: /Publish version/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Tokens per unit").fill("1.25");
    await dialog.getByLabel("Takes effect at (UTC)").fill("2026-04-01T00:00");
    await dialog.getByLabel("Note (why the price changes)").fill("Clashing change");
    await dialog.getByRole("button", { name: "Preview impact" }).click();
    await dialog.locator('[data-impact="delta"]').waitFor();
    // Another operator schedules a version at the same moment after this table was loaded: the
    // console could not know, the server refuses the clash.
    await suite.server.services.prices.publish(
      { apiCode: "design-automation/inventor", meter: "SECOND", unitQuantity: 3600, tokensPerUnitMicros: tokens("1"), effectiveFrom: Date.parse("2026-04-01T00:00:00Z"), note: "Meanwhile" },
      OPERATOR,
    );
    await dialog.getByRole("button", { name: "Publish version" }).click();
    const error = dialog.locator('[data-field="effectiveFrom"] .field-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/^BAD_USER_INPUT Version #\d+ already takes effect at 2026-04-01 00:00 UTC: cancel it first/);
    await shot(page, "07-server-refusal", false);
    expect((await history("design-automation/inventor")).filter((v) => v.status === "SCHEDULED")).toHaveLength(1);
  });

  it("cancels a scheduled version with a reason", async () => {
    const { page } = await signedIn();
    const revit = row(page, "design-automation/revit");
    await revit.locator(".scheduled").getByRole("button", { name: /Cancel/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Cancel this version" }).click();
    expect(await dialog.locator('[data-field="reason"] .field-error').textContent()).toContain("Enter a reason");
    await shot(page, "08-cancel-dialog", false);
    await dialog.getByLabel("Reason").fill("Superseded by the annual review");
    await dialog.getByRole("button", { name: "Cancel this version" }).click();
    await dialog.waitFor({ state: "detached" });
    await expect.poll(() => revit.locator(".scheduled").textContent()).toBe("None");
    expect((await history("design-automation/revit")).at(-1)?.status).toBe("CANCELLED");
  });

  it("retires an API", async () => {
    const { page } = await signedIn();
    await row(page, "design-automation/3dsmax").getByRole("button", { name: /Retire/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Note (why the API is retired)").fill("Engine discontinued");
    await dialog.getByLabel("Now").check();
    await dialog.getByRole("button", { name: "Retire API" }).click();
    expect(await dialog.locator('[data-field="effectiveFrom"] .field-error').textContent()).toContain("tick the box to confirm");
    await dialog.getByLabel(/usage is refused from the moment I retire it/).check();
    await dialog.getByRole("button", { name: "Retire API" }).click();
    await dialog.waitFor({ state: "detached" });
    await expect.poll(() => row(page, "design-automation/3dsmax").locator(".rate").textContent()).toBe("Retired");
    const { body } = await suite.server.graphql(`{ priceTable { apiCode } }`);
    expect(body.data.priceTable.map((e: { apiCode: string }) => e.apiCode)).not.toContain("design-automation/3dsmax");
  });

  it("pages through the audit log of price changes, newest first", async () => {
    // Enough changes for a second page of 20.
    for (let day = 1; day <= 20; day++) {
      await suite.server.services.prices.publish(
        { apiCode: "flow-graph-engine/processing", meter: "SECOND", unitQuantity: 3600, tokensPerUnitMicros: tokens("1"), effectiveFrom: suite.server.now() + (30 + day) * DAY, note: `Seeded change ${day}` },
        OPERATOR,
      );
    }
    const { page } = await signedIn();
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByRole("heading", { name: "Audit log" }).waitFor();
    const rows = page.locator("table.audit > tbody > tr");
    await rows.first().waitFor();
    expect(await rows.count()).toBe(20);
    expect(await rows.first().textContent()).toContain("Seeded change 20");
    const status = page.locator(".pager-status");
    const total = Number(/of (\d+)/.exec((await status.textContent()) ?? "")?.[1]);
    expect(total).toBe(24);
    await shot(page, "09-audit-log");

    await page.getByRole("button", { name: "Older →" }).click();
    await expect.poll(() => status.textContent()).toBe(`Entries 21–${total} of ${total}`);
    expect(await page.getByRole("button", { name: "Older →" }).isDisabled()).toBe(true);
    // Newest first: the retirement, the cancellation, the clashing publication, then the
    // publication with the hostile note, which is shown as text.
    const actions = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-action")));
    expect(actions).toEqual(["price.retire", "price.cancel", "price.publish", "price.publish"]);
    expect(await rows.nth(3).locator(".facts").textContent()).toContain(XSS_NOTE);
    expect(await page.locator("img").count()).toBe(0);
    await page.getByRole("button", { name: "← Newer" }).click();
    await expect.poll(() => status.textContent()).toBe(`Entries 1–20 of ${total}`);
  });

  it("stays readable in a narrow window", async () => {
    const { page } = await signedIn({ viewport: { width: 390, height: 844 } });
    expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await shot(page, "10-narrow-price-table", false);
    await row(page, "design-automation/revit").getByRole("button", { name: /Publish version/ }).click();
    await page.getByRole("dialog").getByLabel("Tokens per unit").waitFor();
    await shot(page, "11-narrow-publish", false);
  });
});

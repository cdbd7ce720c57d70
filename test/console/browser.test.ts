/** The packaged Chromium, used where Debian's is not installed, runs the console too. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { launchChromium } from "./browser.js";
import { ensureConsoleBuilt } from "./build.js";

let server: TestServer;
beforeAll(async () => {
  await ensureConsoleBuilt();
  server = await startTestServer();
});
afterAll(async () => server?.close());

describe("console test browser", () => {
  it("launches the Chromium shipped in @sparticuz/chromium and shows the sign-in form", { timeout: 120_000 }, async () => {
    const browser = await launchChromium({ preferPackaged: true });
    try {
      expect(browser.version()).toMatch(/^\d+\./);
      const page = await browser.newPage();
      await page.goto(`${server.url}/console/`);
      await page.getByLabel("Operator API key").waitFor();
    } finally {
      await browser.close();
    }
  });

  it("keeps serving new pages after a test's context is closed, as each console test file does", { timeout: 120_000 }, async () => {
    const browser = await launchChromium({ preferPackaged: true });
    try {
      for (let test = 0; test < 3; test++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(`${server.url}/console/`);
        await page.getByLabel("Operator API key").waitFor();
        await context.close();
      }
    } finally {
      await browser.close();
    }
  });
});

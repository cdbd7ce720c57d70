/**
 * What every console test file shares: the real server on an ephemeral port, one Chromium per
 * file, and pages that are watched. A request to anything but the test server, a script error or
 * a console error fails the test that caused it.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { launchChromium } from "./browser.js";
import { ensureConsoleBuilt } from "./build.js";

export const NOW = "2026-01-15T09:00:00Z";
export const DAY = 86_400_000;
const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), "screenshots");
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface Watched {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Script errors, console errors, dialogs and requests that left the test server. */
  readonly problems: string[];
  readonly requests: string[];
  readonly graphqlOperations: string[];
}

export interface OpenOptions {
  readonly viewport?: { width: number; height: number };
  /** "fixed" pins Date.now at NOW with real timers; "controlled" also lets the test move timers (clock.fastForward). */
  readonly clock?: "fixed" | "controlled";
  readonly colorScheme?: "light" | "dark";
}

export interface ConsoleSuite {
  readonly server: TestServer;
  openConsole(options?: OpenOptions): Promise<Watched>;
  /** Signed in with the operator key, the price table loaded. */
  signedIn(options?: OpenOptions): Promise<Watched>;
}

/** Registers the hooks of a console test file and returns its server and page openers. */
export function consoleSuite(seed: (server: TestServer) => void | Promise<void> = () => {}): ConsoleSuite {
  let server: TestServer;
  let browser: Browser;
  const opened: Watched[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await ensureConsoleBuilt();
    server = await startTestServer({ now: NOW });
    await seed(server);
    browser = await launchChromium();
  });

  afterEach(async () => {
    const pages = opened.splice(0);
    for (const { context } of pages) await context.close();
    expect(pages.flatMap((p) => p.problems)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function openConsole({ viewport = { width: 1280, height: 800 }, clock = "fixed", colorScheme = "light" }: OpenOptions = {}): Promise<Watched> {
    const context = await browser.newContext({ viewport, timezoneId: "Asia/Tokyo", locale: "en-US", colorScheme });
    // The server's clock is fixed at NOW; the page's must agree, or "not in the past" disagrees too.
    if (clock === "fixed") await context.clock.setFixedTime(new Date(NOW));
    else await context.clock.install({ time: new Date(NOW) });
    const problems: string[] = [];
    const requests: string[] = [];
    const graphqlOperations: string[] = [];
    const origin = new URL(server.url).origin;
    await context.route("**/*", async (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      problems.push(`request left the test server: ${url}`);
      return route.abort();
    });
    const page = await context.newPage();
    // Failing steps fail fast; the suite-wide timeout is for slow machines, not for waiting on what never comes.
    page.setDefaultTimeout(10_000);
    page.on("request", (request) => {
      requests.push(`${request.method()} ${request.url()}`);
      const body = request.postData();
      const operation = body ? /"query":"(?:query|mutation) (\w+)/.exec(body)?.[1] : undefined;
      if (operation) graphqlOperations.push(operation);
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("dialog", (dialog) => {
      problems.push(`unexpected ${dialog.type()} dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on("console", (message) => {
      if (message.type() !== "error" && message.type() !== "warning") return;
      // Chromium logs every 4xx/5xx answer; the console handles those from /graphql (a bad key is a 401).
      const expected = /^Failed to load resource: the server responded with a status of [45]\d\d/.test(message.text()) && message.location().url.endsWith("/graphql");
      if (!expected) problems.push(`console ${message.type()}: ${message.text()}`);
    });
    const watched = { context, page, problems, requests, graphqlOperations };
    opened.push(watched);
    return watched;
  }

  async function signedIn(options?: OpenOptions): Promise<Watched> {
    const watched = await openConsole(options);
    await watched.page.goto(`${server.url}/console/`);
    await watched.page.getByLabel("Operator API key").fill(server.operatorKey);
    await watched.page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => watched.page.locator("tr.api-row").count()).toBeGreaterThanOrEqual(10);
    return watched;
  }

  return {
    get server() {
      return server;
    },
    openConsole,
    signedIn,
  };
}

/** Whole pages; a screen with an open dialog is taken as the operator sees it (the viewport). */
export const shot = (page: Page, name: string, fullPage = true) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
export const row = (page: Page, apiCode: string) => page.locator(`tr.api-row[data-api-code="${apiCode}"]`);

/** axe-core's violations on the page as it is now, as "rule: target" lines. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's CSP (no inline script) does not govern.
  if (!(await page.evaluate("typeof window.axe === 'object'"))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate<Array<{ id: string; nodes: Array<{ target: unknown[] }> }>>(
    `axe.run(document, { resultTypes: ["violations"] }).then((result) => result.violations)`,
  );
  return violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${JSON.stringify(n.target)}`));
}

/** The horizontal overflow of the page: how far its content reaches past the window. */
export const overflowX = (page: Page) => page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");

export async function priceHistory(server: TestServer, apiCode: string): Promise<Array<{ id: string; status: string; meter: string; tokensPerUnit: string; effectiveFrom: string; note: string; retired: boolean }>> {
  const { body } = await server.graphql(
    `query ($apiCode: String!) { priceHistory(apiCode: $apiCode) { id status meter tokensPerUnit effectiveFrom note retired } }`,
    { apiCode },
  );
  expect(body.errors).toBeUndefined();
  return body.data.priceHistory;
}

/** How the console reaches the operator: few requests, the system's colours, and a session that ends when left alone. */
import { describe, expect, it } from "vitest";
import { axeViolations, consoleSuite } from "./harness.js";

const suite = consoleSuite();

describe("console delivery", () => {
  it("needs only the page, one stylesheet and one script before the sign-in form is usable", async () => {
    const { page, requests } = await suite.openConsole();
    await page.goto(`${suite.server.url}/console/`);
    await expect.poll(() => page.evaluate("document.activeElement?.id")).toBe("operator-key");
    const files = requests.map((r) => new URL(r.split(" ")[1]!).pathname.replace("/console/", ""));
    // Nothing is chained: both files are named in the HTML, and the script imports nothing.
    expect(files.filter((f) => f.endsWith(".js"))).toEqual([expect.stringMatching(/^main-[A-Z0-9]{8}\.js$/)]);
    expect(files.filter((f) => f.endsWith(".css"))).toEqual([expect.stringMatching(/^console-[A-Z0-9]{8}\.css$/)]);
  });

  it("follows the system's dark mode, with every text still readable", async () => {
    const { page } = await suite.signedIn({ colorScheme: "dark" });
    const background = await page.evaluate<string>("getComputedStyle(document.documentElement).backgroundColor");
    const [r, g, b] = background.match(/\d+/g)!.map(Number);
    expect(r! + g! + b!).toBeLessThan(3 * 64);
    expect(await axeViolations(page)).toEqual([]);
  });

  it("signs out after 30 idle minutes (FLEXGATE_CONSOLE_IDLE_MINUTES), and activity keeps the session", async () => {
    const { page, context } = await suite.signedIn({ clock: "controlled" });
    await context.clock.fastForward("29:00");
    expect(await page.getByRole("heading", { name: "Price table" }).isVisible()).toBe(true);
    await page.keyboard.press("Shift");
    await context.clock.fastForward("29:00");
    expect(await page.getByRole("heading", { name: "Price table" }).isVisible()).toBe(true);
    await context.clock.fastForward("02:00");
    await page.getByLabel("Operator API key").waitFor();
    expect(await page.locator(".signin").textContent()).toContain("Signed out after 30 minutes without activity.");
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
  });
});

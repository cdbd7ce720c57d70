/**
 * The Chromium the console tests drive: Debian's where it is installed, otherwise the one inside
 * the @sparticuz/chromium npm package, so `npm test` needs no browser download of its own.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

const DEBIAN_CHROMIUM = "/usr/bin/chromium";

/** Flags that keep Chromium from calling home on a closed network. */
const QUIET = ["--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export async function launchChromium(options: { preferPackaged?: boolean } = {}): Promise<Browser> {
  // Launched without a persistent profile, Playwright gives Chromium a fresh temporary
  // --user-data-dir of its own.
  if (existsSync(DEBIAN_CHROMIUM) && !options.preferPackaged) {
    return chromium.launch({ executablePath: DEBIAN_CHROMIUM, headless: true, args: ["--headless", "--no-sandbox", "--disable-gpu", ...QUIET] });
  }
  const packaged = (await import("@sparticuz/chromium")).default;
  // The package unpacks its browser into the temporary folder on first use and knows the flags it
  // needs, but for --single-process, made for one page per browser (AWS Lambda): with it, the
  // browser is gone once a context closes, and each console test file closes one per test.
  const args = packaged.args.filter((flag) => flag !== "--single-process");
  return chromium.launch({ executablePath: await packaged.executablePath(), headless: true, args: [...args, ...QUIET] });
}

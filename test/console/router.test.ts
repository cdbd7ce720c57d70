import type { AddressInfo } from "node:net";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { CONSOLE_CSP, consoleFolders, consoleRouter } from "../../server/http/console.js";

let close: (() => Promise<void>) | null = null;
afterEach(async () => {
  await close?.();
  close = null;
});

async function serve(router: express.Router): Promise<string> {
  const app = express();
  app.use("/console", router);
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  close = () => new Promise((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("console router", () => {
  it("says the console is not built instead of serving a page that does nothing", async () => {
    const url = await serve(consoleRouter({ ...consoleFolders(), distDir: "/nonexistent/console-dist" }));
    const response = await fetch(`${url}/console/`);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain("npm run build:console");
    expect(response.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
  });

  it("answers unknown files and other methods with a plain 404 under the same headers", async () => {
    const url = await serve(consoleRouter());
    for (const response of [await fetch(`${url}/console/nope.js`), await fetch(`${url}/console/`, { method: "POST", body: "x" })]) {
      expect(response.status).toBe(404);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
    }
    const css = await fetch(`${url}/console/console.css`);
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
    // As a browser revalidates (fetch would add "cache-control: no-cache" to a conditional request).
    const again = await fetch(`${url}/console/console.css`, { headers: { "if-none-match": css.headers.get("etag")!, "cache-control": "max-age=0" } });
    expect(again.status).toBe(304);
  });
});

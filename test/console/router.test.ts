import { get, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { gunzipSync } from "node:zlib";
import { CONSOLE_CSP, consoleRouter } from "../../server/http/console.js";
import { ensureConsoleBuilt } from "./build.js";

let close: (() => Promise<void>) | null = null;
afterEach(async () => {
  await close?.();
  close = null;
});

/** A GET without fetch's automatic decompression, to see exactly what the server sent. */
function rawGet(url: string, acceptEncoding: string): Promise<{ statusCode: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { "accept-encoding": acceptEncoding } }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ statusCode: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
    }).on("error", reject);
  });
}

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
    const url = await serve(consoleRouter({ distDir: "/nonexistent/console-dist" }));
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
    // Only the hashed names are served: the unhashed source names are not.
    expect((await fetch(`${url}/console/console.css`)).status).toBe(404);
    expect((await fetch(`${url}/console/main.js`)).status).toBe(404);
  });

  it("serves one hashed, minified script and hashed assets for a year, and index.html revalidated", async () => {
    await ensureConsoleBuilt();
    const url = await serve(consoleRouter());
    const page = await fetch(`${url}/console/`);
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const html = await page.text();
    const scripts = [...html.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    expect(scripts[0]).toMatch(/^main-[A-Z0-9]{8}\.js$/);
    const stylesheet = /<link rel="stylesheet" href="(console-[A-Z0-9]{8}\.css)"/.exec(html)?.[1];
    expect(stylesheet).toBeDefined();
    for (const file of [scripts[0]!, stylesheet!]) {
      const response = await fetch(`${url}/console/${file}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    }
    const script = await (await fetch(`${url}/console/${scripts[0]}`, { headers: { "accept-encoding": "identity" } })).text();
    // One bundle with no module imports left, minified: no comments, local names shortened.
    expect(script).not.toMatch(/^\s*import\s|from\s*"\.\//m);
    expect(script).not.toContain("The console's only way to the server");
    expect(script).not.toContain("expireIfUnauthenticated(error)");
    // As a browser revalidates (fetch would add "cache-control: no-cache" to a conditional request).
    const again = await fetch(`${url}/console/`, { headers: { "if-none-match": page.headers.get("etag")!, "cache-control": "max-age=0" } });
    expect(again.status).toBe(304);
  });

  it("sends the precompressed brotli or gzip file the browser accepts, and the plain file otherwise", async () => {
    await ensureConsoleBuilt();
    const url = await serve(consoleRouter());
    const html = await (await fetch(`${url}/console/`)).text();
    const script = /src="([^"]+)"/.exec(html)![1]!;
    const get = async (encoding: string) => {
      const { statusCode, headers, body } = await rawGet(`${url}/console/${script}`, encoding);
      return { statusCode, encoding: headers["content-encoding"], vary: headers.vary, type: headers["content-type"], body };
    };
    const plain = await get("identity");
    const brotli = await get("gzip, deflate, br");
    const gzip = await get("gzip");
    expect(plain).toMatchObject({ statusCode: 200, encoding: undefined });
    expect(brotli).toMatchObject({ statusCode: 200, encoding: "br", vary: "Accept-Encoding" });
    expect(gzip).toMatchObject({ statusCode: 200, encoding: "gzip" });
    expect(brotli.type).toMatch(/javascript/);
    expect(brotli.body.length).toBeLessThan(plain.body.length / 2);
    expect(gunzipSync(gzip.body).equals(plain.body)).toBe(true);
  });

  it("tells the page after how many idle minutes to sign out", async () => {
    const url = await serve(consoleRouter({ idleMinutes: 7 }));
    const response = await fetch(`${url}/console/config.json`);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.json()).toEqual({ idleMinutes: 7 });
  });
});

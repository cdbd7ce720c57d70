/**
 * The read pool's worker loads however the server is started (the TypeScript sources through
 * tsx, or bundled), answers heavy reads, and stops with the server on SIGTERM.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleServer, type Launcher, post, startServer, TSX } from "./support/server-process.js";

const OPERATOR_SECRET = "read-pool-launch-operator-secret-0123456789";
let bundle: Awaited<ReturnType<typeof bundleServer>>;
const dir = mkdtempSync(join(tmpdir(), "flexgate-read-pool-"));

beforeAll(async () => {
  bundle = await bundleServer();
}, 60_000);

afterAll(() => {
  bundle?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("the read pool's worker", () => {
  it.each([
    ["the sources through tsx", () => TSX],
    ["the bundle", () => bundle.launcher],
  ] as [string, () => Launcher][])("answers heavy reads and stops on SIGTERM when started from %s", async (label, launcher) => {
    const server = await startServer({
      dbPath: join(dir, `${label.replace(/\W/g, "-")}.sqlite`),
      launcher: launcher(),
      env: { FLEXGATE_READ_THREADS: "1", FLEXGATE_DEMO: "on", FLEXGATE_BOOTSTRAP_OPERATOR_KEY: OPERATOR_SECRET },
    });
    try {
      const answer = await post(
        server.url,
        OPERATOR_SECRET,
        `{ account(id: "1") { forecast { burnRatePerDay } balance(asOf: "2025-01-01") { available } } }`,
      );
      expect(answer.kind, server.output()).toBe("answer");
      if (answer.kind !== "answer") return;
      expect(answer.body.errors, JSON.stringify(answer.body.errors)).toBeUndefined();
      expect(answer.body.data.account.forecast.burnRatePerDay).toMatch(/^\d+(\.\d+)?$/);
    } finally {
      server.child.kill("SIGTERM");
    }
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain("Flexgate stopped");
  }, 60_000);
});

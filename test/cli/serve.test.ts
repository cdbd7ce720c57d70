/**
 * `flexgate serve` in a child process, as an operator starts it: what it does with
 * FLEXGATE_BOOTSTRAP_OPERATOR_KEY, said in the log every time, and a start that cannot happen
 * (a revoked or example secret, a port in use) ending with one clear line.
 */
import { SqliteStore } from "../../server/store/sqlite/store.js";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../../server/core/model.js";
import { DEFAULT_RULES } from "../../server/services/context.js";
import { createServices } from "../../server/services/index.js";
import { migrateDatabase, openDatabase } from "../../server/store/sqlite/database.js";
import { killServersLeft, serveOnce } from "./support/serve-once.js";

const README_EXAMPLE = "choose-a-secret-of-32-characters-or-more";
const freshSecret = () => randomBytes(32).toString("base64");

let dir: string;
let dbPath: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "flexgate-serve-"));
  dbPath = join(dir, "serve.sqlite");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
afterAll(killServersLeft);

/** Runs the keys service on the test's file, as another process would. */
async function withKeys<T>(work: (keys: ReturnType<typeof createServices>["keys"]) => T | Promise<T>): Promise<T> {
  const db = openDatabase({ path: dbPath, synchronous: "NORMAL" });
  migrateDatabase(db);
  try {
    return await work(createServices({ store: new SqliteStore(db), clock: Date.now, rules: DEFAULT_RULES }).keys);
  } finally {
    db.$client.close();
  }
}

const serve = (env: Record<string, string>) => serveOnce(dbPath, env);

const logLines = (stderr: string) => stderr.trim().split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as { level: string; message: string });

describe("FLEXGATE_BOOTSTRAP_OPERATOR_KEY", () => {
  it("refuses the README's example value before touching the database, saying how to make a secret", async () => {
    const { code, listened, stderr } = await serve({ FLEXGATE_BOOTSTRAP_OPERATOR_KEY: README_EXAMPLE });
    expect({ code, listened }).toEqual({ code: 2, listened: false });
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/^flexgate: FLEXGATE_BOOTSTRAP_OPERATOR_KEY holds the example value from the README/);
    expect(stderr).toContain("openssl rand -base64 32");
  }, 30_000);

  it("refuses a revoked secret with one clear line at every start, and never brings the key back", async () => {
    const secret = freshSecret();
    await withKeys(async (keys) => {
      const key = await keys.bootstrapOperator(secret, SYSTEM_ACTOR);
      expect(key.outcome).toBe("registered");
      await keys.revoke(key.key!.id, SYSTEM_ACTOR);
    });
    for (let start = 0; start < 2; start++) {
      const { code, listened, stderr } = await serve({ FLEXGATE_BOOTSTRAP_OPERATOR_KEY: secret });
      expect({ code, listened }).toEqual({ code: 2, listened: false });
      expect(stderr.trim().split("\n")).toEqual([expect.stringMatching(/^flexgate: FLEXGATE_BOOTSTRAP_OPERATOR_KEY holds the secret of a revoked key/)]);
    }
    expect(await withKeys((keys) => keys.authenticate(secret))).toBeNull();
  }, 30_000);

  it("registers a new secret when no operator key is active, and says so", async () => {
    const secret = freshSecret();
    const { listened, stderr } = await serve({ FLEXGATE_BOOTSTRAP_OPERATOR_KEY: secret });
    expect(listened).toBe(true);
    expect(logLines(stderr).map((line) => line.message)).toContain("registered the bootstrap operator key from FLEXGATE_BOOTSTRAP_OPERATOR_KEY");
    expect((await withKeys((keys) => keys.authenticate(secret)))?.role).toBe("OPERATOR");
    expect(stderr).not.toContain(secret);
  }, 30_000);

  it("says the value is ignored when another operator key is active, and registers nothing", async () => {
    await withKeys((keys) => keys.create({ name: "existing operator", role: "OPERATOR" }, SYSTEM_ACTOR));
    const secret = freshSecret();
    const { listened, stderr } = await serve({ FLEXGATE_BOOTSTRAP_OPERATOR_KEY: secret });
    expect(listened).toBe(true);
    expect(logLines(stderr)).toContainEqual(expect.objectContaining({ level: "warn", message: expect.stringMatching(/FLEXGATE_BOOTSTRAP_OPERATOR_KEY is ignored: an operator key exists/) }));
    expect(await withKeys((keys) => keys.authenticate(secret))).toBeNull();
  }, 30_000);
});

describe("a port already in use", () => {
  let blocker: Server;
  afterEach(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it("ends the start with one clear line and exit code 2, not a stack trace", async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as AddressInfo;
    const { code, listened, stderr } = await serve({ PORT: String(port), LOG_LEVEL: "error" });
    expect({ code, listened }).toEqual({ code: 2, listened: false });
    expect(stderr.trim().split("\n")).toEqual([`flexgate: port ${port} on 127.0.0.1 is already in use: stop what listens there, or set PORT to a free port`]);
  }, 30_000);
});

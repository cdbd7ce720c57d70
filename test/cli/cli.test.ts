import { SqliteStore } from "../../server/store/sqlite/store.js";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RULES } from "../../server/services/context.js";
import { createServices } from "../../server/services/index.js";
import { openDatabase } from "../../server/store/sqlite/database.js";

const run = promisify(execFile);
const REPO = new URL("../..", import.meta.url).pathname;

describe("flexgate command line", () => {
  let dir: string;
  let dbPath: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "flexgate-cli-"));
    dbPath = join(dir, "cli.sqlite");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function flexgate(args: string[], env: Record<string, string> = {}) {
    try {
      const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "server/cli.ts", ...args], {
        cwd: REPO,
        // NORMAL durability: these files are thrown away, and fsyncs would only slow the test.
        env: { ...process.env, FLEXGATE_DB: dbPath, FLEXGATE_SYNCHRONOUS: "NORMAL", LOG_LEVEL: "error", ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  function services() {
    const db = openDatabase({ path: dbPath });
    return { db, services: createServices({ store: new SqliteStore(db), clock: Date.now, rules: DEFAULT_RULES }) };
  }

  it.each(["--help", "keys create --help"])("prints the usage for `flexgate %s` and exits 0", async (args) => {
    const { code, stdout } = await flexgate(args.split(" "));
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: flexgate/);
  });

  it("refuses an unknown command with exit code 2 and the usage", async () => {
    const { code, stderr } = await flexgate(["frobnicate"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown command "frobnicate"/);
  });

  it("refuses a bad setting by naming the variable, before touching the database", async () => {
    const { code, stderr } = await flexgate(["migrate"], { FLEXGATE_SYNCHRONOUS: "OFF" });
    expect(code).toBe(2);
    expect(stderr).toMatch(/FLEXGATE_SYNCHRONOUS must be FULL or NORMAL/);
  });

  it("migrates, creates a key whose secret is printed once and stored only as a hash, lists and revokes it", async () => {
    expect((await flexgate(["migrate"])).code).toBe(0);
    const created = await flexgate(["keys", "create", "--role", "operator", "--name", "ci operator"]);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^fg_[A-Za-z0-9_-]{43}$/);

    const { db, services: live } = services();
    const key = await live.keys.authenticate(secret);
    expect(key?.role).toBe("OPERATOR");
    db.$client.close();
    expect(readFileSync(dbPath).includes(secret)).toBe(false);

    const listed = await flexgate(["keys", "list"]);
    expect(listed.stdout).toMatch(/OPERATOR\t-\tfg_/);
    expect(listed.stdout).not.toContain(secret);

    expect((await flexgate(["keys", "revoke", "--id", String(key!.id)])).stdout).toMatch(/revoked key/);
    const after = services();
    expect(await after.services.keys.authenticate(secret)).toBeNull();
    after.db.$client.close();
    // Four command-line runs, each starting Node and tsx: several seconds apiece on a loaded machine.
  }, 90_000);

  it("refuses a partner key without a reseller with the input's name and writes no key", async () => {
    const { code, stderr } = await flexgate(["keys", "create", "--role", "PARTNER", "--name", "portal"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/PARTNER key is bound to one reseller/);
    const { db, services: live } = services();
    expect((await live.keys.list()).filter((key) => key.role === "PARTNER")).toEqual([]);
    db.$client.close();
  });

  it("loads the demo data once", async () => {
    expect((await flexgate(["seed"])).stdout).toMatch(/demo data loaded/);
    expect((await flexgate(["seed"])).stdout).toMatch(/already has accounts/);
  });
});

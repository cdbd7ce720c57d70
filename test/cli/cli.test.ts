import { SqliteStore } from "../../server/store/sqlite/store.js";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RULES } from "../../server/services/context.js";
import { createServices } from "../../server/services/index.js";
import { openDatabase } from "../../server/store/sqlite/database.js";
import { flexgate as runCli } from "./support/flexgate.js";

describe("flexgate command line", () => {
  let dir: string;
  let dbPath: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "flexgate-cli-"));
    dbPath = join(dir, "cli.sqlite");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const flexgate = (args: string[], env: Record<string, string> = {}) => runCli(args, { FLEXGATE_DB: dbPath, ...env });

  function services() {
    const db = openDatabase({ path: dbPath });
    return { db, services: createServices({ store: new SqliteStore(db), clock: Date.now, rules: DEFAULT_RULES }) };
  }

  it.each(["--help", "keys create --help"])("prints the usage for `flexgate %s` and exits 0", async (args) => {
    const { code, stdout } = await flexgate(args.split(" "));
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: flexgate/);
  });

  it.each(["keys --help", "keys -h"])("prints the usage of every keys subcommand for `flexgate %s` and exits 0", async (args) => {
    const { code, stdout } = await flexgate(args.split(" "));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: flexgate keys <create\|revoke\|list>/);
    for (const usage of ["keys create --role", "keys revoke --id", "keys list"]) expect(stdout).toContain(`flexgate ${usage}`);
  });

  it("answers a bare `flexgate keys` with the keys usage on stderr and exit code 2", async () => {
    const { code, stdout, stderr } = await flexgate(["keys"]);
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    expect(stderr).toMatch(/^Usage: flexgate keys <create\|revoke\|list>/);
  });

  it.each([
    ["migrate --role OPERATOR", "migrate", "role"],
    ["seed --no-demo", "seed", "no-demo"],
    ["keys list --name ci", "keys list", "name"],
    ["keys revoke --id 1 --reseller 2", "keys revoke", "reseller"],
    ["keys create --role OPERATOR --name ci --id 3", "keys create", "id"],
    ["migrate-to postgres://127.0.0.1:1/flexgate --role OPERATOR", "migrate-to", "role"],
  ])("refuses `flexgate %s`, an option of another command, with one line and exit code 2, touching no database", async (args, command, option) => {
    const untouched = join(dir, "untouched", "flexgate.sqlite");
    const { code, stdout, stderr } = await flexgate(args.split(" "), { FLEXGATE_DB: untouched });
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    expect(stderr).toBe(`flexgate: ${command} takes no --${option} (see flexgate ${command} --help)\n`);
    expect(existsSync(untouched)).toBe(false);
  });

  it("answers a bare `flexgate` with the usage on stderr and exit code 2", async () => {
    const { code, stdout, stderr } = await flexgate([]);
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    expect(stderr).toMatch(/^flexgate — .*\n\nUsage: flexgate <command> \[options\]/);
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

  it("still takes each command's own options, and --help with any command", async () => {
    // --reseller reaches the keys service, which finds no reseller 999.
    const partner = await flexgate(["keys", "create", "--role", "PARTNER", "--name", "portal", "--reseller", "999"]);
    expect(partner.code).toBe(2);
    expect(partner.stderr).not.toMatch(/takes no/);
    expect(partner.stderr).toMatch(/reseller/i);
    for (const args of ["migrate --help", "keys revoke -h", "serve --no-demo --help"]) {
      const { code, stdout } = await flexgate(args.split(" "));
      expect({ args, code }).toEqual({ args, code: 0 });
      expect(stdout).toMatch(/^Usage: flexgate/);
    }
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

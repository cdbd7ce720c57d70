/**
 * What `flexgate` does when FLEXGATE_DB names a file it cannot use: one that does not exist (only
 * the commands that set a database up create it), one this user may not write, one that is not a
 * SQLite database, one that is not Flexgate's (empty, or another program's). Each is refused with
 * one line naming the file and what is wrong, exit code 2 like the other refusals of a setting, and
 * the file is left as it was.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase, openDatabase } from "../../server/store/sqlite/database.js";
import { flexgate } from "./support/flexgate.js";
import { killServersLeft, serveOnce } from "./support/serve-once.js";

// Root writes any file whatever its mode: the tests run as root run the command as nobody.
const ANOTHER_USER = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

let dir: string;
let migrated: string;
let folders = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "flexgate-db-file-"));
  chmodSync(dir, 0o755); // for nobody to reach the files in it
  migrated = join(dir, "migrated.sqlite");
  const db = openDatabase({ path: migrated, synchronous: "NORMAL" });
  migrateDatabase(db);
  db.$client.close();
});
afterAll(() => {
  killServersLeft();
  for (const entry of readdirSync(dir)) chmodSync(join(dir, entry), 0o755);
  rmSync(dir, { recursive: true, force: true });
});

/** A folder of its own holding `name`, for a test to change and look into. */
function aFolder(): string {
  const folder = join(dir, `folder-${++folders}`);
  mkdirSync(folder);
  chmodSync(folder, 0o755);
  return folder;
}

/** A copy of the migrated database with these modes for itself and its folder. */
function aCopy(fileMode: number, folderMode: number): string {
  const path = join(aFolder(), "flexgate.sqlite");
  copyFileSync(migrated, path);
  chmodSync(path, fileMode);
  chmodSync(dirname(path), folderMode);
  return path;
}

/** The file's bytes and its folder's names, to show a refusal changed neither. */
const state = (path: string) => ({ bytes: readFileSync(path).toString("base64"), folder: readdirSync(dirname(path)) });

const ONE_SHOT = ["migrate", "seed", "keys list", "keys create --role OPERATOR --name ci"];

/** A target nobody listens on: migrate-to gets that far only with a source it takes. */
const MIGRATE_TO = "migrate-to postgres://127.0.0.1:1/flexgate";

/** The commands that work on an existing database only, and never create one. */
const EXISTING_ONLY = ["keys list", "keys create --role OPERATOR --name ci", "keys revoke --id 1", MIGRATE_TO];

describe("a database that does not exist", () => {
  it.each(["keys list", "keys create --role OPERATOR --name typo", "keys revoke --id 1"])(
    "refuses `flexgate %s` with one line naming the path and how to create it, and creates nothing",
    async (args) => {
      const path = join(dir, "no-such-folder", "typo.sqlite");
      const { code, stdout, stderr } = await flexgate(args.split(" "), { FLEXGATE_DB: path });
      expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
      expect(stderr).toBe(`flexgate: no SQLite database at ${path} (FLEXGATE_DB): create it with \`flexgate migrate\` or \`flexgate serve\`, or set FLEXGATE_DB to the server's file\n`);
      expect(existsSync(dirname(path))).toBe(false);
    },
  );

  it("refuses `flexgate migrate-to` with one line naming the path, exit code 2, and creates nothing", async () => {
    const path = join(dir, "no-such-folder", "typo.sqlite");
    const { code, stdout, stderr } = await flexgate(MIGRATE_TO.split(" "), { FLEXGATE_DB: path });
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    expect(stderr).toBe(`flexgate: no SQLite database at ${path} (FLEXGATE_DB): set FLEXGATE_DB to the file the server uses\n`);
    expect(existsSync(dirname(path))).toBe(false);
  });

  it.each(["migrate", "seed"])("is still created, folder and all, by `flexgate %s`", async (command) => {
    const path = join(dir, `new-by-${command}`, "flexgate.sqlite");
    expect((await flexgate([command], { FLEXGATE_DB: path })).code).toBe(0);
    expect(existsSync(path)).toBe(true);
  });
});

describe("a database this user may not write", () => {
  it.each(ONE_SHOT)("refuses `flexgate %s` on a read-only file with one line, leaving the file as it was", async (args) => {
    const path = aCopy(0o444, 0o777);
    const before = state(path);
    const { code, stderr } = await flexgate(args.split(" "), { FLEXGATE_DB: path }, ANOTHER_USER);
    expect(code).toBe(2);
    expect(stderr).toBe(`flexgate: cannot use the SQLite database ${path} (FLEXGATE_DB): the file is read-only to this user\n`);
    expect(state(path)).toEqual(before);
  });

  it.each([...ONE_SHOT, "serve --no-demo"])("refuses `flexgate %s` in a read-only folder with one line naming the folder", async (args) => {
    const path = aCopy(0o666, 0o555);
    const before = state(path);
    const { code, stderr } = await flexgate(args.split(" "), { FLEXGATE_DB: path, PORT: "0" }, ANOTHER_USER);
    expect(code).toBe(2);
    expect(stderr).toBe(`flexgate: cannot use the SQLite database ${path} (FLEXGATE_DB): the folder ${dirname(path)} is read-only to this user, and SQLite writes its -wal and -shm files there\n`);
    expect(state(path)).toEqual(before);
  });

  it("refuses to create a database in a read-only folder, naming the folder", async () => {
    const folder = aFolder();
    chmodSync(folder, 0o555);
    const path = join(folder, "flexgate.sqlite");
    const { code, stderr } = await flexgate(["migrate"], { FLEXGATE_DB: path }, ANOTHER_USER);
    expect(code).toBe(2);
    expect(stderr).toBe(`flexgate: cannot use the SQLite database ${path} (FLEXGATE_DB): the folder ${folder} is read-only to this user, so the file cannot be created\n`);
    expect(readdirSync(folder)).toEqual([]);
  });
});

describe("a file that is not a SQLite database", () => {
  it.each([...ONE_SHOT, "serve --no-demo"])("refuses `flexgate %s` with one line, leaving the file as it was", async (args) => {
    const path = join(aFolder(), "notes.txt");
    writeFileSync(path, "not a database, just notes\n");
    const { code, stderr } = await flexgate(args.split(" "), { FLEXGATE_DB: path, PORT: "0" });
    expect(code).toBe(2);
    expect(stderr).toBe(`flexgate: cannot use the SQLite database ${path} (FLEXGATE_DB): the file is not a SQLite database\n`);
    expect(state(path)).toEqual({ bytes: Buffer.from("not a database, just notes\n").toString("base64"), folder: ["notes.txt"] });
  });

  it("refuses a folder, and a path through a regular file, with one line each", async () => {
    const folder = aFolder();
    const notes = join(folder, "notes.txt");
    writeFileSync(notes, "notes\n");
    const cases = [
      [folder, "it is a folder, not a file"],
      [join(notes, "flexgate.sqlite"), `the folder ${notes} cannot be created: part of its path is a file`],
    ];
    for (const [path, why] of cases) {
      const { code, stderr } = await flexgate(["migrate"], { FLEXGATE_DB: path! });
      expect({ code, stderr }).toEqual({ code: 2, stderr: `flexgate: cannot use the SQLite database ${path} (FLEXGATE_DB): ${why}\n` });
    }
    expect(readdirSync(folder)).toEqual(["notes.txt"]);
  });
});

describe("a file that is not a Flexgate database", () => {
  /** Another program's SQLite database in WAL mode, as Flexgate's own would be, in a folder of its own. */
  function anotherProgramsDatabase(tables = ["notes", "tags"]): string {
    const path = join(aFolder(), "other.sqlite");
    const other = new Database(path);
    other.pragma("journal_mode = WAL");
    for (const table of tables) other.exec(`create table ${table} (id integer primary key, body text); insert into ${table} (body) values ('kept')`);
    other.close();
    return path;
  }

  it.each([...ONE_SHOT, ...EXISTING_ONLY.slice(2)])("refuses `flexgate %s` on another program's database with one line, leaving it as it was", async (args) => {
    const path = anotherProgramsDatabase();
    const before = state(path);
    const { code, stdout, stderr } = await flexgate(args.split(" "), { FLEXGATE_DB: path });
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    expect(stderr).toBe(`flexgate: cannot use the SQLite database ${path} (FLEXGATE_DB): it is not a Flexgate database (it holds notes, tags)\n`);
    expect(state(path)).toEqual(before);
  });

  it("refuses `flexgate serve` on another program's database, and on one whose only table is an accounts table", async () => {
    for (const tables of [["notes", "tags"], ["accounts"]]) {
      const path = anotherProgramsDatabase(tables);
      const before = state(path);
      const { code, listened, stderr } = await serveOnce(path, {});
      expect({ code, listened }).toEqual({ code: 2, listened: false });
      expect(stderr).toBe(`flexgate: cannot use the SQLite database ${path} (FLEXGATE_DB): it is not a Flexgate database (it holds ${tables.join(", ")})\n`);
      expect(state(path)).toEqual(before);
    }
  });

  it.each(EXISTING_ONLY)("refuses `flexgate %s` on an empty file with one line, leaving it empty", async (args) => {
    const path = join(aFolder(), "empty.sqlite");
    writeFileSync(path, "");
    const { code, stdout, stderr } = await flexgate(args.split(" "), { FLEXGATE_DB: path });
    expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
    expect(stderr).toBe(`flexgate: cannot use the SQLite database ${path} (FLEXGATE_DB): it is not a Flexgate database (it is empty)\n`);
    expect(state(path)).toEqual({ bytes: "", folder: ["empty.sqlite"] });
  });

  it.each(["migrate", "seed", "serve"])("sets up an empty file given to `flexgate %s` as a new database", async (command) => {
    const path = join(aFolder(), "empty.sqlite");
    writeFileSync(path, "");
    if (command === "serve") expect(await serveOnce(path, {})).toMatchObject({ code: 0, listened: true });
    else expect((await flexgate([command], { FLEXGATE_DB: path })).code).toBe(0);
    expect((await flexgate(["keys", "list"], { FLEXGATE_DB: path })).code).toBe(0);
  }, 60_000);

  it("takes a Flexgate database whose tables are still only in the WAL of a server running on it", async () => {
    const path = join(aFolder(), "running.sqlite");
    const server = openDatabase({ path, synchronous: "NORMAL" });
    try {
      migrateDatabase(server);
      expect(readFileSync(path).length).toBeLessThanOrEqual(4096); // no table in the file itself yet
      const listed = await flexgate(["keys", "list"], { FLEXGATE_DB: path });
      expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: "" });
    } finally {
      server.$client.close();
    }
  });

  it("takes a file another server is creating this moment: drizzle's record of migrations made, the migrations not committed yet", async () => {
    const path = join(aFolder(), "starting.sqlite");
    const starting = new Database(path);
    starting.pragma("journal_mode = WAL");
    starting.exec(`create table "__drizzle_migrations" (id integer primary key, hash text not null, created_at numeric)`);
    starting.close();
    expect(await serveOnce(path, {})).toMatchObject({ code: 0, listened: true });
  }, 60_000);

  it("refuses a file holding drizzle's record of migrations beside another program's tables", async () => {
    const path = anotherProgramsDatabase(["__drizzle_migrations", "notes"]);
    const { code, stderr } = await flexgate(["migrate"], { FLEXGATE_DB: path });
    expect({ code, stderr }).toEqual({ code: 2, stderr: `flexgate: cannot use the SQLite database ${path} (FLEXGATE_DB): it is not a Flexgate database (it holds __drizzle_migrations, notes)\n` });
  });

  it("takes a Flexgate database for `flexgate migrate-to`, which then goes on to the target", async () => {
    const { code, stderr } = await flexgate(MIGRATE_TO.split(" "), { FLEXGATE_DB: aCopy(0o644, 0o755) });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^flexgate: cannot reach the PostgreSQL database 127\.0\.0\.1:1\/flexgate/);
  });
});

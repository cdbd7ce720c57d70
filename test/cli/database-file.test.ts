/**
 * What `flexgate` does when FLEXGATE_DB names a file it cannot use: one that does not exist (only
 * the commands that set a database up create it), one this user may not write, one that is not a
 * SQLite database. Each is refused with one line naming the file and what is wrong, exit code 2
 * like the other refusals of a setting, and the file is left as it was.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase, openDatabase } from "../../server/store/sqlite/database.js";
import { flexgate } from "./support/flexgate.js";

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

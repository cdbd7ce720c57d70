import { accessSync, constants, type Stats, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type Config, ConfigError } from "../config.js";
import type { Store } from "./port.js";
import { SqliteStore } from "./sqlite/store.js";

export type StoreConfig = Pick<Config, "dbPath" | "synchronous" | "databaseUrl"> & Partial<Pick<Config, "readThreads" | "ratingThread" | "databasePool">>;

/**
 * Opens the configured engine and applies pending migrations: FLEXGATE_DATABASE_URL selects
 * PostgreSQL, otherwise the SQLite file FLEXGATE_DB (created when missing) serves alone. A file
 * or folder this user cannot use is a ConfigError saying what is wrong with it.
 */
export async function openStore(config: StoreConfig): Promise<Store> {
  if (config.databaseUrl !== null) {
    // Loaded only when chosen: node-postgres, drizzle's PostgreSQL dialect and our PostgreSQL
    // store held about 7 MB of an idle SQLite server's memory for nothing, 15 MB at B5's peak.
    const { PgStore } = await import("./pg/store.js");
    return PgStore.open({ url: config.databaseUrl, poolSize: config.databasePool });
  }
  const unusable = (why: string) => new ConfigError(`cannot use the SQLite database ${config.dbPath} (FLEXGATE_DB): ${why}`);
  // SQLite opens a file it may not write read-only without a word: a database already migrated
  // and in WAL mode would then fail at its first write, a server after it has started.
  if (statOrNull(config.dbPath)?.isFile() && !allowed(config.dbPath, constants.R_OK | constants.W_OK)) {
    throw unusable(allowed(config.dbPath, constants.R_OK) ? "the file is read-only to this user" : "the file is not readable by this user");
  }
  let store: SqliteStore;
  try {
    store = SqliteStore.open({ path: config.dbPath, synchronous: config.synchronous, readThreads: config.readThreads, ratingThread: config.ratingThread });
  } catch (error) {
    const why = whyUnusable(config.dbPath, error);
    if (why === null) throw error;
    throw unusable(why);
  }
  await store.ready();
  return store;
}

/** Applies pending migrations to the configured engine and closes it again (`flexgate migrate`). */
export async function migrateStore(config: StoreConfig): Promise<void> {
  if (config.databaseUrl !== null) {
    const { migratePostgres, openPool } = await import("./pg/database.js");
    const pool = openPool(config.databaseUrl, 1);
    try {
      await migratePostgres(pool);
    } finally {
      await pool.end();
    }
    return;
  }
  await (await openStore({ ...config, readThreads: 0, ratingThread: false })).close();
}

/**
 * What is wrong with the file or its folder when opening the SQLite database failed for a reason
 * the operator has to fix (permissions, a wrong path, another kind of file); null for any other
 * failure. SQLite's own words name neither the file nor the cause: "attempt to write a readonly
 * database" is also what a read-only folder gives.
 */
function whyUnusable(path: string, error: unknown): string | null {
  const { code = "", syscall } = error as { code?: string; syscall?: string };
  const folder = dirname(resolve(path));
  // SQLite creates its -wal and -shm files beside the database.
  if (code === "SQLITE_READONLY_DIRECTORY") return `the folder ${folder} is read-only to this user, and SQLite writes its -wal and -shm files there`;
  if (code.startsWith("SQLITE_READONLY")) return "the file is read-only to this user";
  if (code === "SQLITE_NOTADB") return "the file is not a SQLite database";
  if (code === "SQLITE_CORRUPT") return "the file is damaged (SQLite: database disk image is malformed)";
  if (code.startsWith("SQLITE_CANTOPEN")) {
    const found = statOrNull(path);
    if (found?.isDirectory()) return "it is a folder, not a file";
    if (found) return "SQLite cannot open the file";
    return allowed(folder, constants.W_OK) ? `SQLite cannot create the file in ${folder}` : `the folder ${folder} is read-only to this user, so the file cannot be created`;
  }
  // openDatabase creates the folders on the way to a new file.
  if (syscall === "mkdir" && (code === "EEXIST" || code === "ENOTDIR")) return `the folder ${folder} cannot be created: part of its path is a file`;
  if (syscall === "mkdir") return `the folder ${folder} cannot be created (${code})`;
  return null;
}

/** The file's stat, or null when there is none (also when part of its path is a file). */
function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function allowed(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { type BetterSQLite3Database, drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { schemaTables } from "../../schema/tables.js";

export type Schema = typeof schemaTables;
export type Db = BetterSQLite3Database<Schema> & { $client: Database.Database };

/** Either the database or an open transaction: store functions accept both. */
export type Tx = Omit<BetterSQLite3Database<Schema>, "$client">;

export type SynchronousMode = "FULL" | "NORMAL";

export interface OpenOptions {
  /** SQLite file path, or ":memory:". */
  readonly path: string;
  /** FULL (default) makes every acknowledged commit survive a power loss. */
  readonly synchronous?: SynchronousMode;
  /** How long a writer waits for another connection's lock before giving up. */
  readonly busyTimeoutMs?: number;
  /** Called with every SQL statement run: tests count statements with it. */
  readonly onStatement?: (sql: string) => void;
}

export function openDatabase(options: OpenOptions): Db {
  if (options.path !== ":memory:") mkdirSync(dirname(resolve(options.path)), { recursive: true });
  const sqlite = new Database(options.path, options.onStatement ? { verbose: (sql) => options.onStatement!(String(sql)) } : {});
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma(`synchronous = ${options.synchronous ?? "FULL"}`);
  sqlite.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
  sqlite.pragma("foreign_keys = ON");
  return drizzle({ client: sqlite, schema: schemaTables });
}

/** The committed drizzle-kit migrations, found from here both in the sources and in dist/. */
export function migrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "migrations");
    if (existsSync(join(candidate, "meta", "_journal.json"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("migrations folder not found");
    dir = parent;
  }
}

/**
 * Applies every pending migration. drizzle runs them in one transaction, where
 * `PRAGMA foreign_keys` cannot change, so foreign keys are switched off on the connection around
 * it and checked afterwards: a migration that rebuilds a table must not trip over its own rows.
 */
export function migrateDatabase(db: Db): void {
  const sqlite = db.$client;
  sqlite.pragma("foreign_keys = OFF");
  try {
    migrate(db, { migrationsFolder: migrationsFolder() });
    const violations = sqlite.pragma("foreign_key_check") as unknown[];
    if (violations.length > 0) throw new Error(`migration left ${violations.length} foreign key violations`);
  } finally {
    sqlite.pragma("foreign_keys = ON");
  }
}

export type TransactionBehavior = "deferred" | "immediate";

/**
 * The one transaction boundary. Synchronous on purpose: with better-sqlite3 an async callback
 * would commit its writes after the first await outside the transaction. Read-modify-write
 * work asks for "immediate" so it takes the write lock before reading.
 */
export function inTransaction<T>(db: Db, behavior: TransactionBehavior, work: (tx: Tx) => T): T {
  return db.transaction((tx) => work(tx), { behavior });
}

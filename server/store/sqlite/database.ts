import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { type BetterSQLite3Database, drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { getTableColumns, getTableName, type InferSelectModel, sql } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { schemaTables } from "../../../schema/tables.js";
import type { ArrayRow } from "../array-rows.js";
import { findMigrationsFolder } from "../folders.js";

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
  /** A reader beside the writer (the read pool's): the file must exist and be in WAL mode already. */
  readonly readonly?: boolean;
}

export function openDatabase(options: OpenOptions): Db {
  if (options.path !== ":memory:" && !options.readonly) mkdirSync(dirname(resolve(options.path)), { recursive: true });
  const busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
  const sqlite = new Database(options.path, {
    timeout: busyTimeoutMs,
    ...(options.readonly ? { readonly: true, fileMustExist: true } : {}),
    ...(options.onStatement ? { verbose: (sql: unknown) => options.onStatement!(String(sql)) } : {}),
  });
  if (options.readonly) {
    sqlite.pragma("temp_store = MEMORY");
    return drizzle({ client: sqlite, schema: schemaTables });
  }
  switchToWal(sqlite, busyTimeoutMs);
  sqlite.pragma(`synchronous = ${options.synchronous ?? "FULL"}`);
  sqlite.pragma("foreign_keys = ON");
  // Statement journals and the savepoints of nested units copy the pages they change into
  // temporary storage: kept in memory that costs a copy, in a temporary file a write.
  sqlite.pragma("temp_store = MEMORY");
  // Checkpoint when the WAL holds about 40 MB rather than the default 4 MB: a busy ledger
  // rewrites the same index pages commit after commit, and each checkpoint copies them back and
  // (with synchronous=FULL) waits for a sync of the database file. Fewer, larger checkpoints
  // copy a hot page once. Durability is the WAL's either way.
  sqlite.pragma("wal_autocheckpoint = 10000");
  return drizzle({ client: sqlite, schema: schemaTables });
}

/**
 * Turning a new file to WAL needs it to itself for a moment, and SQLite answers SQLITE_BUSY at
 * once, without its busy handler, while another process is opening the same new file: two
 * servers starting together on it would otherwise fail about half the time. Wait and retry, as
 * the busy timeout would. An existing WAL file needs no switch and never waits here.
 */
function switchToWal(sqlite: Database.Database, timeoutMs: number): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; ; waited += 10) {
    try {
      sqlite.pragma("journal_mode = WAL");
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== "SQLITE_BUSY" || waited >= timeoutMs) throw error;
      Atomics.wait(pause, 0, 0, 10);
    }
  }
}

/** The committed SQLite migrations. */
export const migrationsFolder = () => findMigrationsFolder("migrations");

/**
 * drizzle reads which migrations are applied before it takes the write lock, so two processes
 * starting together on a new file may both try to apply the same one. The loser's transaction
 * rolls back whole; running again sees what the winner applied and has nothing left to do.
 */
function migrateOnce(db: Db): void {
  for (let attempt = 1; ; attempt++) {
    try {
      migrate(db, { migrationsFolder: migrationsFolder() });
      return;
    } catch (error) {
      const cause = String((error as { cause?: unknown }).cause ?? error);
      if (attempt >= 3 || !/already exists|SQLITE_BUSY/.test(cause)) throw error;
    }
  }
}

/** How many migrations the file has had: drizzle records each one it applies. */
function migrationsApplied(db: Db): number {
  const recorded = db.$client.prepare("select 1 from sqlite_master where type = 'table' and name = '__drizzle_migrations'").get();
  return recorded ? (db.$client.prepare("select count(*) from __drizzle_migrations").pluck().get() as number) : 0;
}

/**
 * Applies every pending migration. drizzle runs them in one transaction, where
 * `PRAGMA foreign_keys` cannot change, so foreign keys are switched off on the connection around
 * it and checked afterwards: a migration that rebuilds a table must not trip over its own rows.
 * Only after a migration ran: the check reads every row of every table (1.2 s and 17 MB more at
 * peak on a million charges), and rows written since the last one were checked as they were.
 */
export function migrateDatabase(db: Db): void {
  const sqlite = db.$client;
  sqlite.pragma("foreign_keys = OFF");
  try {
    const before = migrationsApplied(db);
    migrateOnce(db);
    if (migrationsApplied(db) === before) return;
    const violations = sqlite.pragma("foreign_key_check") as unknown[];
    if (violations.length > 0) throw new Error(`migration left ${violations.length} foreign key violations`);
  } finally {
    sqlite.pragma("foreign_keys = ON");
  }
}

/**
 * A statement prepared once per connection and reused, instead of built and prepared again on
 * every call: building a drizzle query and preparing it cost more than running it.
 *
 * `build` makes the statement with `sql.placeholder` for its parameters; it is called once per
 * connection and must be a module-level function (it is the cache key). better-sqlite3 runs
 * every statement of a connection in whatever transaction or savepoint is open on it, so a
 * statement prepared on the database serves inside `inTransaction` too; the cache is keyed by
 * the connection's session, which the database and all its transactions share.
 */
export function prepared<T>(tx: Tx, build: (tx: Tx) => T): T {
  const session = (tx as unknown as { session: object }).session;
  let statements = preparedBySession.get(session);
  if (!statements) preparedBySession.set(session, (statements = new Map()));
  let statement = statements.get(build) as T | undefined;
  if (statement === undefined) {
    statement = build(tx);
    statements.set(build, statement);
  }
  return statement;
}

const preparedBySession = new WeakMap<object, Map<unknown, unknown>>();

/** The better-sqlite3 connection behind a database or a transaction (drizzle keeps it on the session). */
function connectionOf(tx: Tx): Database.Database {
  return (tx as unknown as { session: { client: Database.Database } }).session.client;
}

/**
 * A parameter that SQLite must not read while it plans: write `limit ${unplanned("limit")}`, not
 * `limit @limit`, in a statement kept prepared. SQLite (3.53, in better-sqlite3 12) reads the
 * value bound to a bare LIMIT (to size the result) or LIKE pattern (to range over an index by the
 * pattern's fixed prefix) while it prepares a statement, so binding that parameter again expires
 * the statement and its next run prepares it anew. The portal's account page was prepared again
 * on every request: 12 of its 44 µs in a quiet process, and 14% of a page's server CPU under
 * B3's load (`npm run bench:compare`), where SQLite's parser runs with cold caches. Under a unary
 * plus, which changes no value in SQLite, the parameter is an expression SQLite does not look
 * into; the plans stay the same (no index serves these limits better, and the patterns start
 * with `%`).
 */
export const unplanned = (parameter: string) => `+@${parameter}`;

/**
 * A LIMIT for drizzle's `.limit()`, for the same reason as unplanned: drizzle prepares its query
 * on every call and binds a bare `limit ?`, so SQLite prepared it twice, the second time at its
 * first step, once the limit was bound (15 of the charges page's 229 µs in a quiet process).
 * drizzle writes SQL given as the limit into the query as it is, although its types name only
 * numbers and placeholders.
 */
export const unplannedLimit = (limit: number): number => sql`+${limit}` as unknown as number;

/**
 * Prepares a statement to be kept and run many times, refusing one that binds a bare LIMIT or
 * LIKE parameter: SQLite would prepare it again on every run (see unplanned).
 */
export function prepareKept(connection: Database.Database, source: string): Database.Statement {
  const planned = /\b(limit|like)\s+[@:$?]/i.exec(source);
  if (planned) throw new Error(`a kept statement binds a bare ${planned[1]!.toUpperCase()} parameter, which SQLite reads while planning: write \`${planned[1]} \${unplanned(name)}\``);
  return connection.prepare(source);
}

/**
 * A plain better-sqlite3 statement with named parameters (`@name`), for `prepared()`. The hot
 * statements of rating and of the portal's pages are written this way: drizzle's per-row mapping
 * and parameter filling cost as much as SQLite's own work for these small statements.
 */
export const rawStatement = (source: string) => (tx: Tx) => prepareKept(connectionOf(tx), source);

/**
 * Like rawStatement, for a select whose rows come back as arrays (better-sqlite3's raw mode),
 * to be read with columnsOf(...).read: building an object per row natively, then copying it
 * into the domain object, cost more than the query on pages of a hundred and more rows.
 */
export const rowsStatement = (source: string) => (tx: Tx) => prepareKept(connectionOf(tx), source).raw(true);

/**
 * Like rowsStatement, for the reads that bring a page its hundreds of rows: SQLite hands the rows
 * over as one JSON text, `[[…], …]`, which JSON.parse turns into the same arrays. better-sqlite3
 * makes every value through V8's API, about 0.15 µs each here, and a portal page's Flex packs
 * alone are 1,800 values; JSON.parse makes them in a third of the time (the page's packs read in
 * 211 µs instead of 340). `columns` are the select list, plain names of integer, text or null
 * columns (a REAL would print with 15 digits only); `from` is the rest of the select, from its
 * `from`; the rows come in `orderBy`'s order, or in no particular one without it.
 */
export const jsonRowsStatement = (columns: string, from: string, orderBy?: string) => (tx: Tx) => {
  const statement = prepareKept(connectionOf(tx), `select json_group_array(json_array(${columns})${orderBy ? ` order by ${orderBy}` : ""}) ${from}`)
    .pluck(true);
  return { all: (params?: Record<string, unknown>) => JSON.parse((params === undefined ? statement.get() : statement.get(params)) as string) as ArrayRow[] };
};

/**
 * The select list of a table's columns, in its drizzle key order, and a reader turning a raw
 * row (an array in that order) into the table's InferSelectModel: boolean-mode columns become
 * booleans as drizzle makes them. Columns in `except` (say, an idempotency fingerprint nobody
 * reads back) are neither selected nor set.
 */
export function columnsOf<T extends SQLiteTable, K extends keyof InferSelectModel<T> & string = never>(table: T, except: readonly K[] = []) {
  const name = getTableName(table);
  const columns = Object.entries(getTableColumns(table)).filter(([key]) => !(except as readonly string[]).includes(key));
  const keys = columns.map(([key]) => key);
  const booleans = new Set(columns.filter(([, column]) => column.columnType === "SQLiteBoolean").map(([key]) => key));
  return {
    list: columns.map(([key, column]) => `"${name}"."${column.name}" as "${key}"`).join(", "),
    /** How many values of a raw row are the table's; any further ones follow them. */
    count: keys.length,
    read(values: unknown): Omit<InferSelectModel<T>, K> {
      const row = values as unknown[];
      const record: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const value = row[i];
        record[key] = booleans.has(key) && value !== null ? value === 1 : value;
      }
      return record as Omit<InferSelectModel<T>, K>;
    },
  };
}

export type TransactionBehavior = "deferred" | "immediate";

/**
 * A synchronous transaction, for work that never awaits (rating a group). With better-sqlite3 an
 * async callback would commit its writes after the first await outside the transaction; work that
 * awaits goes through SqliteStore's units instead. Read-modify-write work asks for "immediate" so
 * it takes the write lock before reading.
 */
export function inTransaction<T>(db: Db, behavior: TransactionBehavior, work: (tx: Tx) => T): T {
  return db.transaction((tx) => work(tx), { behavior });
}

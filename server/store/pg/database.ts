import { drizzle, type NodePgDatabase, type NodePgQueryResultHKT } from "drizzle-orm/node-postgres";
import type { PgColumn, PgDatabase } from "drizzle-orm/pg-core";
import { DrizzleQueryError, eq, sql } from "drizzle-orm";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { log } from "../../log.js";
import { schemaTables } from "../../../schema/tables.pg.js";
import type { ArrayRow } from "../array-rows.js";
import { findMigrationsFolder } from "../folders.js";
import { safeInteger } from "../rows.js";

export type PgDb = NodePgDatabase<typeof schemaTables>;

/**
 * node-postgres hands int8 and numeric values over as strings, since they may not fit a double.
 * Every bigint column here holds micro-tokens, instants or ids, which the store keeps within safe
 * integers (the SQLite store checks its reads with the same safeInteger): read them as numbers,
 * and refuse any that is not.
 */
pg.types.setTypeParser(pg.types.builtins.INT8, safeInteger);
pg.types.setTypeParser(pg.types.builtins.NUMERIC, safeInteger);

/** A pool of connections to the database at `url`. */
export function openPool(url: string, max = 10): pg.Pool {
  // An answer means stored: every commit waits for its WAL flush, whatever the server's or the
  // role's default says.
  const pool = new pg.Pool({ connectionString: url, max, options: "-c synchronous_commit=on" });
  // An idle connection the server ends (a restart, a failover, a dropped database) emits an error
  // on the pool; unheard, it would end the process. The next query opens a new connection.
  pool.on("error", (error) => log.warn("an idle PostgreSQL connection was closed", { error: error.message }));
  // One the server ends while a unit holds it (between two of its statements) emits the error on
  // the connection itself, which the pool no longer listens to: unheard, that too ended the
  // process. The unit's next statement fails, and the unit answers for it as for any failure.
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
}

/** The committed PostgreSQL migrations. */
export const pgMigrationsFolder = () => findMigrationsFolder("migrations-postgres");

/** Any fixed number: the key of the advisory lock every Flexgate process takes to migrate. */
const MIGRATION_LOCK = 7_242_024_001;

/**
 * Applies every pending migration. Replicas starting together would each read which migrations
 * are applied and then race to apply the same one, so the whole read-and-apply runs under a
 * session advisory lock on one connection: the others wait, then find nothing left to do.
 */
export async function migratePostgres(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await migrate(drizzle({ client, schema: schemaTables }), { migrationsFolder: pgMigrationsFolder() });
      // Plans chosen on empty, never-analysed tables (sequential scans for foreign-key checks)
      // stay slow as the tables fill; fresh statistics after a migration avoid them.
      await client.query("analyze");
    } finally {
      await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** The database or an open transaction: store functions accept both. */
export type Q = PgDatabase<NodePgQueryResultHKT, typeof schemaTables>;

/**
 * Whether `text` can be stored at all: PostgreSQL text holds no NUL character, and the server
 * refuses a parameter with one. No stored value equals or contains such a text, so a filter on
 * it matches nothing (SQLite, which stores NULs, finds nothing either).
 */
export const storableText = (text: string) => !text.includes("\u0000");

/** `column = text`, or nothing at all for a text no row can hold. */
export const textEquals = (column: PgColumn, text: string) => (storableText(text) ? eq(column, text) : sql`false`);

/** The node-postgres pool or connection behind drizzle (drizzle keeps it on the session). */
function clientOf(q: Q): pg.Pool | pg.ClientBase {
  return (q as unknown as { session: { client: pg.Pool | pg.ClientBase } }).session.client;
}

/**
 * The rows of a hand-written select as arrays (see array-rows.ts), on the connection `q` runs
 * on, skipping drizzle's query building and row mapping: the page reads run on every portal
 * request. Named, so each connection prepares it once. A failure comes out as drizzle's query
 * error, as from every other read of the store, the driver's or type parser's error its cause.
 */
export async function arrayRows(q: Q, name: string, text: string, values: readonly unknown[]): Promise<ArrayRow[]> {
  try {
    return (await clientOf(q).query<unknown[]>({ name, text, values: [...values], rowMode: "array" })).rows;
  } catch (error) {
    throw new DrizzleQueryError(text, [...values], error as Error);
  }
}

/** A select whose rows a page reads by the hundred: see jsonRows. */
export interface ManyRows {
  /** A plain select of `columns`, from one table or subquery. */
  readonly select: string;
  readonly columns: string;
  /** The order of the rows, in terms of `columns`. */
  readonly orderBy: string;
}

/**
 * The rows of a select as one JSON array of arrays, as the SQLite store's jsonRowsStatement reads
 * them: node-postgres parses every value of every row on its own, about twice the CPU of
 * JSON.parse reading the same rows as one value (150 packs: 320–370 µs against 150–210). The
 * select stays as written, first in the statement, so the statement still shows what it reads.
 * `columns` are plain integer, boolean, text or null columns. JSON.parse would round an integer
 * beyond 2^53 where the int8 parser refuses it: each number is checked, and one that is not a
 * safe integer fails the read as the parser would have.
 */
export async function jsonRows(q: Q, name: string, read: ManyRows, values: readonly unknown[]): Promise<ArrayRow[]> {
  const text = `with "selected" as (${read.select}) select coalesce(json_agg(json_build_array(${read.columns}) order by ${read.orderBy}), '[]'::json) from "selected"`;
  const rows = (await arrayRows(q, name, text, values))[0]![0] as ArrayRow[];
  for (const row of rows) {
    for (const value of row) {
      if (typeof value === "number" && !Number.isSafeInteger(value)) {
        throw new DrizzleQueryError(text, [...values], new RangeError(`stored integer ${value} (rounded) is not a safe integer`));
      }
    }
  }
  return rows;
}

/**
 * The PostgreSQL side of the benchmarks: a database of its own per run on the server named by
 * FLEXGATE_BENCH_DATABASE_URL, filled with a copy of the SQLite database the SQLite figures start
 * from (same accounts, lots, packs and ids), so both engines are measured on the same data.
 */
import { asc, getTableColumns, getTableName, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import type { PgTable } from "drizzle-orm/pg-core";
import pg from "pg";
import * as pgSchema from "../schema/tables.pg.js";
import * as sqliteSchema from "../schema/tables.js";
import { migratePostgres, openPool } from "../server/store/pg/database.js";
import { openDatabase } from "../server/store/sqlite/database.js";

/** The server the bench database is created on, as an admin URL (its own database is only connected to). */
export const BENCH_ADMIN_URL = process.env.FLEXGATE_BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";

export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

async function onAdmin(statement: string): Promise<void> {
  const admin = new pg.Client({ connectionString: BENCH_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(statement);
  } finally {
    await admin.end();
  }
}

/**
 * Fails at once, before the SQLite half of the run, when the PostgreSQL server cannot be reached
 * or cannot take the connections the run opens: `connections` at most at one time.
 */
export async function assertServerFits(connections: number): Promise<void> {
  const admin = new pg.Client({ connectionString: BENCH_ADMIN_URL });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`cannot reach the PostgreSQL server of FLEXGATE_BENCH_DATABASE_URL (${new URL(BENCH_ADMIN_URL).host}): ${(error as Error).message}`);
  }
  try {
    const { rows } = await admin.query<{ max: number; used: number }>(
      "select current_setting('max_connections')::int as max, (select count(*)::int from pg_stat_activity where backend_type = 'client backend') as used",
    );
    const { max, used } = rows[0]!;
    if (used + connections > max) {
      throw new Error(`the run opens up to ${connections} PostgreSQL connections, and the server has ${max - used} of its max_connections (${max}) free: lower --pool`);
    }
  } finally {
    await admin.end();
  }
}

/** Creates flexgate_bench_<pid> (dropping a leftover of the same name first); drop() removes it, connections and all. */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `flexgate_bench_${process.pid}`;
  await onAdmin(`drop database if exists "${name}" with (force)`);
  await onAdmin(`create database "${name}"`);
  const url = new URL(BENCH_ADMIN_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => onAdmin(`drop database if exists "${name}" with (force)`) };
}

/** Tables in foreign-key order; every one but the price book stamp exists on both engines. */
const TABLES = [
  "resellers",
  "accounts",
  "creditLots",
  "flexPacks",
  "priceEntries",
  "priceCancellations",
  "usageCharges",
  "allocations",
  "deficitSettlements",
  "reversals",
  "apiKeys",
  "auditLog",
] as const satisfies readonly (keyof typeof sqliteSchema.schemaTables & keyof typeof pgSchema.schemaTables)[];

const CHUNK_ROWS = 1000;

/**
 * Migrates the PostgreSQL database at `url` and copies every row of the SQLite file into it, ids
 * kept, then moves each identity past the copied ids. The migration's shipped price history is
 * replaced by the SQLite file's (the same versions, ids included). Meant for the benchmark's small
 * database; `moveToPostgres` (flexgate migrate-to) is the product's checked move.
 */
export async function copySqliteToPostgres(sqlitePath: string, url: string): Promise<Record<string, number>> {
  const source = openDatabase({ path: sqlitePath, synchronous: "NORMAL" });
  const pool = openPool(url, 1);
  try {
    await migratePostgres(pool);
    const target = drizzle({ client: pool, schema: pgSchema.schemaTables });
    const copied: Record<string, number> = {};
    await target.transaction(async (tx) => {
      await tx.delete(pgSchema.priceEntries);
      for (const key of TABLES) {
        const from = sqliteSchema.schemaTables[key];
        const to = pgSchema.schemaTables[key] as PgTable;
        const id = (getTableColumns(from) as Record<string, unknown>).id;
        const rows = (id ? source.select().from(from).orderBy(asc(id as never)) : source.select().from(from)).all() as Record<string, unknown>[];
        for (let at = 0; at < rows.length; at += CHUNK_ROWS) await tx.insert(to).values(rows.slice(at, at + CHUNK_ROWS) as never);
        copied[getTableName(to)] = rows.length;
        if (id) await tx.execute(sql`select setval(pg_get_serial_sequence(${getTableName(to)}, 'id'), coalesce(max(id), 0) + 1, false) from ${to}`);
      }
      // Any cached price book is stale now.
      await tx.update(pgSchema.priceBookVersion).set({ version: sql`${pgSchema.priceBookVersion.version} + 1` });
    });
    await pool.query("analyze");
    return copied;
  } finally {
    await pool.end();
    source.$client.close();
  }
}

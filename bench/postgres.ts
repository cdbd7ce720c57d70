/**
 * The PostgreSQL side of the benchmarks: a database of its own per run on the server named by
 * FLEXGATE_BENCH_DATABASE_URL, filled with a copy of the SQLite database the SQLite figures start
 * from (same accounts, lots, packs and ids), so both engines are measured on the same data.
 */
import pg from "pg";
import { moveToPostgres } from "../server/store/move-to-postgres.js";

/** The server the bench database is created on, as an admin URL (its own database is only connected to). */
export const BENCH_ADMIN_URL = process.env.FLEXGATE_BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";

/**
 * Where the bench's server is, as the run reports it: host and port over TCP, or the socket's
 * folder when the URL names one (`postgres://postgres@localhost/postgres?host=/var/run/postgresql`
 * connects every server of the run over the Unix socket).
 */
export function benchServerPlace(url = BENCH_ADMIN_URL): string {
  const parsed = new URL(url);
  const socket = parsed.searchParams.get("host");
  return socket?.startsWith("/") ? `the Unix socket in ${socket}` : parsed.host;
}

/** Whether the bench's server takes a connection (within three seconds). */
export async function benchServerAnswers(): Promise<boolean> {
  const admin = new pg.Client({ connectionString: BENCH_ADMIN_URL, connectionTimeoutMillis: 3_000 });
  try {
    await admin.connect();
    return true;
  } catch {
    return false;
  } finally {
    await admin.end().catch(() => undefined);
  }
}

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
    throw new Error(`cannot reach the PostgreSQL server of FLEXGATE_BENCH_DATABASE_URL (${benchServerPlace()}): ${(error as Error).message}`);
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

/** Creates flexgate_bench_<pid><suffix> (dropping a leftover of the same name first); drop() removes it, connections and all. */
export async function createBenchDatabase(suffix = ""): Promise<BenchDatabase> {
  const name = `flexgate_bench_${process.pid}${suffix}`;
  await onAdmin(`drop database if exists "${name}" with (force)`);
  await onAdmin(`create database "${name}"`);
  const url = new URL(BENCH_ADMIN_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => onAdmin(`drop database if exists "${name}" with (force)`) };
}

/**
 * Fills the PostgreSQL database at `url` with the SQLite file's rows, ids kept, through the
 * product's own move (`flexgate migrate-to`), then refreshes the planner's statistics: plans made
 * on the freshly migrated, empty tables would otherwise stay in use.
 */
export async function fillFromSqlite(sqlitePath: string, url: string): Promise<Record<string, number>> {
  const { tables } = await moveToPostgres({ sqlitePath, postgresUrl: url });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("analyze");
  } finally {
    await client.end();
  }
  return Object.fromEntries(tables.map(({ table, rows }) => [table, rows]));
}

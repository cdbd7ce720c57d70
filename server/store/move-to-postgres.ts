/**
 * `flexgate migrate-to`: moves a SQLite database, every row with its id, into an empty
 * PostgreSQL database, so a deployment outgrowing one machine keeps its ledger and history.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { asc, count, getTableColumns, getTableName, sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import { getTableConfig, type SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";
import type pg from "pg";
import * as pgSchema from "../../schema/tables.pg.js";
import * as sqliteSchema from "../../schema/tables.js";
import { migratePostgres, openPool } from "./pg/database.js";
import { type Db, migrationsFolder, openDatabase } from "./sqlite/database.js";

/** A move that cannot go ahead: no row has been copied (the target may have been migrated). */
export class MoveRefused extends Error {}

export interface MoveProgress {
  readonly table: string;
  readonly copied: number;
  readonly total: number;
}

export interface MoveOptions {
  /** The SQLite file (FLEXGATE_DB); it is only read. */
  readonly sqlitePath: string;
  /** A postgres:// URL of an empty (or freshly migrated) database. */
  readonly postgresUrl: string;
  /** Rows per multi-row insert. */
  readonly chunkRows?: number;
  /** Called after every chunk. */
  readonly onProgress?: (progress: MoveProgress) => void;
}

export interface MoveResult {
  /** Rows copied per table, in the order they were copied. */
  readonly tables: readonly { readonly table: string; readonly rows: number }[];
}

/**
 * About a thousand rows per insert: few round trips, and the widest table's parameters
 * (13 columns) stay far below PostgreSQL's limit of 65,535 per statement.
 */
const DEFAULT_CHUNK_ROWS = 1000;

/** One table on both sides, with the source's column keys paired to the target's by column name. */
interface TablePair {
  readonly name: string;
  readonly source: SQLiteTable;
  readonly target: PgTable;
  /** The primary key's columns (one, or several for a composite key), to page on. */
  readonly key: readonly SQLiteColumn[];
  /** The source row's properties holding them. */
  readonly keyProperties: readonly string[];
  readonly columns: readonly (readonly [sourceKey: string, targetKey: string, column: string])[];
  /** Whether the target's id is an identity whose sequence must continue past the copied ids. */
  readonly identity: boolean;
}

/**
 * Copies every table of the SQLite file at `sqlitePath` into the PostgreSQL database at
 * `postgresUrl`, ids kept, in one PostgreSQL transaction read from one SQLite snapshot.
 *
 * The target is migrated first, then must hold nothing but the shipped price history: any
 * account, reseller, key, ledger row, audit row or price change there refuses the move
 * (MoveRefused) and the transaction writes nothing. The source's price entries, which begin
 * with the same shipped versions, replace the target's.
 */
export async function moveToPostgres(options: MoveOptions): Promise<MoveResult> {
  const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const target = describeUrl(options.postgresUrl);
  const source = openSource(options.sqlitePath);
  try {
    const pool = openPool(options.postgresUrl, 1);
    try {
      await reach(pool, target);
      await migratePostgres(pool);
      // One connection, one transaction: a failure anywhere rolls the whole copy back.
      const client = await pool.connect();
      try {
        const db = drizzle({ client, schema: pgSchema.schemaTables });
        // One read transaction on the source: every table is read from the same snapshot, even
        // if something wrote to the file meanwhile (WAL readers see the commit they began on).
        source.$client.exec("begin");
        await client.query("begin");
        try {
          const tables = await copyAll(client, db, source, target, chunkRows, options.onProgress);
          await client.query("commit");
          return { tables };
        } catch (error) {
          await client.query("rollback");
          throw error;
        } finally {
          source.$client.exec("rollback");
        }
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  } finally {
    source.$client.close();
  }
}

type PgDb = NodePgDatabase<typeof pgSchema.schemaTables>;

async function copyAll(client: pg.PoolClient, db: PgDb, source: Db, target: string, chunkRows: number, onProgress?: (progress: MoveProgress) => void) {
  const pairs = tablePairs();
  // A replica already serving the target waits until the copy commits, rather than writing
  // between the emptiness check and the copy; plain reads go on.
  await client.query(`lock table ${[...pairs.map((pair) => pair.name), "price_book_version"].map((name) => `"${name}"`).join(", ")} in exclusive mode`);
  await refuseUnlessEmpty(db, source, target);
  // Nothing references the shipped versions yet (no charges, no cancellations): the source's
  // own copies of them, ids and all, take their place.
  await db.delete(pgSchema.priceEntries);
  const tables: { table: string; rows: number }[] = [];
  for (const pair of pairs) tables.push({ table: pair.name, rows: await copyTable(client, source, pair, chunkRows, onProgress) });
  for (const pair of pairs.filter((p) => p.identity)) {
    // An insert after the move must get the next id, not one the copy already used.
    await client.query(`select setval(pg_get_serial_sequence('"${pair.name}"', 'id'), max(id)) from "${pair.name}"`);
  }
  // Running servers cache the price book until this stamp moves.
  await db.update(pgSchema.priceBookVersion).set({ version: sql`${pgSchema.priceBookVersion.version} + 1` });
  return tables;
}

/** The target named without its password, for messages. */
function describeUrl(url: string): string {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new MoveRefused(`the target must be a postgres:// URL, got "${url}"`);
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}${parsed.port ? `:${parsed.port}` : ""}${parsed.pathname}`;
  } catch {
    throw new MoveRefused(`the target is not a valid URL: "${url.replace(/:[^:@/]*@/, ":***@")}"`);
  }
}

/** A read-only connection to the source, which must be a Flexgate database as this build migrates it. */
function openSource(path: string): Db {
  if (!existsSync(path)) throw new MoveRefused(`no SQLite database at ${path} (set FLEXGATE_DB to the file the server uses)`);
  let db: Db;
  try {
    db = openDatabase({ path, readonly: true });
  } catch (error) {
    throw new MoveRefused(`cannot open the SQLite database at ${path}: ${(error as Error).message}`);
  }
  try {
    refuseUnlessCurrent(db, path);
    return db;
  } catch (error) {
    db.$client.close();
    throw error;
  }
}

/** The source's columns must be this build's: an older file is migrated first by `flexgate migrate`. */
function refuseUnlessCurrent(db: Db, path: string): void {
  const journal = JSON.parse(readFileSync(join(migrationsFolder(), "meta", "_journal.json"), "utf8")) as { entries: { when: number }[] };
  const latest = Math.max(...journal.entries.map((entry) => entry.when));
  let applied: number | null;
  try {
    applied = db.$client.prepare("select max(created_at) from __drizzle_migrations").pluck().get() as number | null;
  } catch {
    applied = null;
  }
  if (applied === null) throw new MoveRefused(`${path} is not a Flexgate database (it has no migrations applied)`);
  if (applied < latest) throw new MoveRefused(`${path} lacks migrations of this version: run \`flexgate migrate\` on it first`);
  if (applied > latest) throw new MoveRefused(`${path} was migrated by a newer Flexgate: run migrate-to from that version`);
}

/** Connects once, so an unreachable server or a missing database is one clear line. */
async function reach(pool: pg.Pool, target: string): Promise<void> {
  try {
    await pool.query("select 1");
  } catch (error) {
    throw new MoveRefused(`cannot reach the PostgreSQL database ${target}: ${(error as Error).message || (error as { code?: string }).code}`);
  }
}

/** The tables in foreign-key order: each after every table it references. */
function tablePairs(): TablePair[] {
  const targets = new Map<string, PgTable>(Object.values(pgSchema.schemaTables).map((table) => [getTableName(table), table]));
  const remaining = new Map<string, SQLiteTable>(Object.values(sqliteSchema.schemaTables).map((table) => [getTableName(table), table]));
  const ordered: TablePair[] = [];
  while (remaining.size > 0) {
    const ready = [...remaining].find(([, table]) =>
      getTableConfig(table).foreignKeys.every((key) => {
        const referenced = getTableName(key.reference().foreignTable);
        return referenced === getTableName(table) || !remaining.has(referenced);
      }),
    );
    if (!ready) throw new Error(`the tables' foreign keys form a cycle: ${[...remaining.keys()].join(", ")}`);
    const [name, source] = ready;
    remaining.delete(name);
    const target = targets.get(name);
    if (!target) throw new Error(`table ${name} has no PostgreSQL definition`);
    ordered.push(pairOf(name, source, target));
  }
  return ordered;
}

function pairOf(name: string, source: SQLiteTable, target: PgTable): TablePair {
  const targetKeys = new Map(Object.entries(getTableColumns(target)).map(([key, column]) => [column.name, key]));
  const sourceColumns = Object.entries(getTableColumns(source));
  if (sourceColumns.length !== targetKeys.size) throw new Error(`table ${name} has different columns in the two schemas`);
  const columns = sourceColumns.map(([key, column]) => {
    const targetKey = targetKeys.get(column.name);
    if (!targetKey) throw new Error(`column ${name}.${column.name} has no PostgreSQL definition`);
    return [key, targetKey, column.name] as const;
  });
  const composite = getTableConfig(source).primaryKeys[0]?.columns;
  const key = composite ?? sourceColumns.filter(([, column]) => column.primary).map(([, column]) => column);
  if (key.length === 0) throw new Error(`table ${name} has no primary key`);
  const propertyOf = new Map(sourceColumns.map(([property, column]) => [column.name, property]));
  const keyProperties = key.map((column) => propertyOf.get(column.name)!);
  const targetId = getTableColumns(target).id as (PgColumn & { generatedIdentity?: unknown }) | undefined;
  return { name, source, target, key, keyProperties, columns, identity: Boolean(targetId?.generatedIdentity) };
}

/** The tables that must be empty on the target; price entries are compared instead. */
const MUST_BE_EMPTY = Object.values(pgSchema.schemaTables).filter((table) => table !== pgSchema.priceEntries);

async function refuseUnlessEmpty(tx: PgDb, source: Db, target: string): Promise<void> {
  const occupied: string[] = [];
  for (const table of MUST_BE_EMPTY) {
    const [row] = await tx.select({ rows: count() }).from(table);
    if (row!.rows > 0) occupied.push(`${row!.rows} ${getTableName(table)}`);
  }
  if (occupied.length > 0) {
    throw new MoveRefused(`the PostgreSQL database ${target} is not empty (${occupied.join(", ")}): migrate-to only fills an empty database`);
  }
  const [stamp] = await tx.select().from(pgSchema.priceBookVersion);
  if (stamp && stamp.version !== 0) {
    throw new MoveRefused(`prices were published or cancelled on the PostgreSQL database ${target}: migrate-to only fills an empty database`);
  }
  // The versions the target was created with must be the source's first ones, ids included:
  // replacing them by the source's then loses nothing.
  const shipped = await tx.select().from(pgSchema.priceEntries).orderBy(asc(pgSchema.priceEntries.id));
  const pair = pairOf("price_entries", sqliteSchema.priceEntries, pgSchema.priceEntries);
  const ours = source.select().from(sqliteSchema.priceEntries).orderBy(asc(sqliteSchema.priceEntries.id)).limit(shipped.length).all();
  if (!isDeepStrictEqual(ours.map((row) => targetRow(pair, row)), shipped)) {
    throw new MoveRefused(
      `the price entries of the PostgreSQL database ${target} differ from the SQLite database's shipped price history: migrate-to only fills an empty database`,
    );
  }
}

/**
 * Copies one table in chunks read by ascending key, so memory stays flat however large it is.
 * The inserts are written by hand: drizzle's query builder cost more CPU than PostgreSQL's work.
 */
async function copyTable(client: pg.PoolClient, source: Db, pair: TablePair, chunkRows: number, onProgress?: (progress: MoveProgress) => void): Promise<number> {
  const total = source.select({ rows: count() }).from(pair.source).get()!.rows;
  const insert = `insert into "${pair.name}" (${pair.columns.map(([, , column]) => `"${column}"`).join(", ")}) values `;
  let copied = 0;
  let last: readonly unknown[] | null = null;
  for (;;) {
    const query = source.select().from(pair.source);
    // A row-value comparison pages on a composite key as on a single column.
    const after = last && sql`(${sql.join([...pair.key], sql`, `)}) > (${sql.join(last.map((value) => sql`${value}`), sql`, `)})`;
    const rows = (after ? query.where(after) : query).orderBy(...pair.key.map((column) => asc(column))).limit(chunkRows).all() as Record<string, unknown>[];
    if (rows.length === 0) break;
    const values: unknown[] = [];
    const tuples = rows.map((row) => {
      const first = values.length;
      for (const [sourceKey] of pair.columns) values.push(checked(pair, sourceKey, row[sourceKey]));
      return `(${pair.columns.map((_, i) => `$${first + i + 1}`).join(", ")})`;
    });
    await client.query(insert + tuples.join(", "), values);
    copied += rows.length;
    const lastRow = rows[rows.length - 1]!;
    last = pair.keyProperties.map((property) => lastRow[property]);
    onProgress?.({ table: pair.name, copied, total });
  }
  if (copied !== total) throw new Error(`table ${pair.name}: copied ${copied} rows of ${total}`);
  if (total === 0) onProgress?.({ table: pair.name, copied: 0, total: 0 });
  return copied;
}

/** Amounts, instants and ids must be exact: better-sqlite3 rounds integers past 2^53 to doubles. */
function checked(pair: TablePair, key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isSafeInteger(value)) throw new Error(`${pair.name}.${key} holds ${value}, which is not a safe integer`);
  return value;
}

/** A source row under the target's keys; drizzle already made 0/1 flags booleans. */
function targetRow(pair: TablePair, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [sourceKey, targetKey] of pair.columns) out[targetKey] = checked(pair, sourceKey, row[sourceKey]);
  return out;
}

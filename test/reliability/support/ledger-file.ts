/**
 * A Flexgate database file as the tests see it from outside the server: seeded before the
 * server starts, and checked after it stopped or died (integrity, the ledger recomputation,
 * logical contents).
 */
import { SqliteStore } from "../../../server/store/sqlite/store.js";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import type { Actor } from "../../../server/core/model.js";
import { DEFAULT_RULES } from "../../../server/services/context.js";
import { createServices, type Services } from "../../../server/services/index.js";
import { type Db, migrateDatabase, openDatabase } from "../../../server/store/sqlite/database.js";
import type { TestSql } from "../../fixtures/test-sql.js";

export const TEST_ACTOR: Actor = { name: "reliability test", role: "OPERATOR", keyId: null, resellerId: null };

export interface LedgerFile {
  readonly dir: string;
  readonly path: string;
  /** Opens the file (running WAL recovery if the last writer died), hands services over it, closes it. */
  with<T>(work: (services: Services, db: Db) => T | Promise<T>): Promise<T>;
  remove(): void;
}

export function newLedgerFile(prefix = "flexgate-reliability-"): LedgerFile {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, "flexgate.sqlite");
  return {
    dir,
    path,
    async with(work) {
      const db = openDatabase({ path });
      try {
        migrateDatabase(db);
        return await work(createServices({ store: new SqliteStore(db), clock: Date.now, rules: DEFAULT_RULES }), db);
      } finally {
        db.$client.close();
      }
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `PRAGMA integrity_check` says ok, the foreign keys hold and every stored balance equals the ledger's recomputation. */
export async function expectSoundLedger(services: Services, db: Db): Promise<void> {
  expect(db.$client.pragma("integrity_check")).toEqual([{ integrity_check: "ok" }]);
  expect(db.$client.pragma("foreign_key_check")).toEqual([]);
  expect(await services.ledger.verify()).toEqual([]);
}

/**
 * Row count and, per column, the sum of its numbers and the total length of its text: equal
 * snapshots mean nothing was inserted, deleted or changed in any way a refusal could.
 */
export async function logicalSnapshot(sql: TestSql): Promise<Record<string, Record<string, number>>> {
  const snapshot: Record<string, Record<string, number>> = {};
  if (sql.engine === "postgres") {
    // One statement for every table: thousands of requests each take two snapshots.
    const columns = await sql.rows<{ table: string; column: string; numeric: boolean }>(
      `select table_name as "table", column_name as "column", data_type in ('bigint', 'integer', 'smallint', 'numeric') as numeric
       from information_schema.columns where table_schema = 'public' order by table_name, ordinal_position`,
    );
    const tables = [...new Set(columns.map((column) => column.table))];
    const parts = tables.map((table) => {
      const figures = columns
        .filter((column) => column.table === table)
        .flatMap(({ column, numeric }) => [
          ...(numeric ? [`'sum:${column}', coalesce(sum("${column}"), 0)`] : []),
          `'bytes:${column}', coalesce(sum(octet_length("${column}"::text)), 0)`,
        ]);
      return `(select jsonb_build_object('rows', count(*), ${figures.join(", ")}) from "${table}") as "${table}"`;
    });
    const [row] = await sql.rows<Record<string, Record<string, number>>>(`select ${parts.join(", ")}`);
    for (const table of tables) snapshot[table] = row![table]!;
    return snapshot;
  }
  for (const table of await sql.tables()) {
    const columns = await sql.column<string>(`select name from pragma_table_info('${table}')`);
    const parts = [
      "count(*) as rows",
      ...columns.flatMap((column) => [
        `coalesce(sum(case when typeof("${column}") in ('integer', 'real') then "${column}" end), 0) as "sum:${column}"`,
        `coalesce(sum(length(cast("${column}" as blob))), 0) as "bytes:${column}"`,
      ]),
    ];
    snapshot[table] = (await sql.rows<Record<string, number>>(`select ${parts.join(", ")} from "${table}"`))[0]!;
  }
  return snapshot;
}

/** The raw bytes of the database and its WAL and shared-memory files, whichever exist. */
export function rawDatabaseBytes(path: string): Buffer {
  return Buffer.concat(
    [path, `${path}-wal`, `${path}-shm`, `${path}-journal`].filter((file) => existsSync(file)).map((file) => readFileSync(file)),
  );
}

/** Size of the WAL file, or -1 when there is none. */
export function walSize(path: string): number {
  return existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : -1;
}

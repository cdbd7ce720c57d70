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
export function logicalSnapshot(db: Db): Record<string, Record<string, number>> {
  const sqlite = db.$client;
  const tables = sqlite
    .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name")
    .pluck()
    .all() as string[];
  return Object.fromEntries(
    tables.map((table) => {
      const columns = (sqlite.pragma(`table_info("${table}")`) as { name: string }[]).map((column) => column.name);
      const parts = [
        "count(*) as rows",
        ...columns.flatMap((column) => [
          `coalesce(sum(case when typeof("${column}") in ('integer', 'real') then "${column}" end), 0) as "sum:${column}"`,
          `coalesce(sum(length(cast("${column}" as blob))), 0) as "bytes:${column}"`,
        ]),
      ];
      return [table, sqlite.prepare(`select ${parts.join(", ")} from "${table}"`).get() as Record<string, number>];
    }),
  );
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

/**
 * The PostgreSQL migrations: the schema and the shipped APS price history, applied once however
 * many replicas start together, and by `flexgate migrate` alone.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migratePostgres, openPool, pgMigrationsFolder } from "../../server/store/pg/database.js";
import { freshDatabase, NO_SERVER, TEST_DATABASE_URL, type TestDatabase } from "../fixtures/postgres.js";

const APS_PRICE_VERSIONS = 18;
const TABLES = [
  "accounts",
  "allocations",
  "api_keys",
  "audit_log",
  "credit_lots",
  "deficit_settlements",
  "flex_packs",
  "free_caps",
  "free_months",
  "payg_parts",
  "plan_enrollments",
  "price_book_version",
  "price_cancellations",
  "price_entries",
  "resellers",
  "reversals",
  "token_flex_pools",
  "unit_remainders",
  "usage_charges",
];

type Query = (text: string) => Promise<{ rows: Record<string, unknown>[] }>;

async function expectMigrated(query: Query): Promise<void> {
  const tables = await query("select table_name as name from information_schema.tables where table_schema = 'public' order by table_name");
  expect(tables.rows.map((row) => row.name)).toEqual(TABLES);
  expect((await query("select count(*)::int as n from price_entries")).rows[0]!.n).toBe(APS_PRICE_VERSIONS);
  expect((await query("select id, version from price_book_version")).rows).toEqual([{ id: 1, version: 0 }]);
  const journal = JSON.parse(readFileSync(join(pgMigrationsFolder(), "meta", "_journal.json"), "utf8")) as { entries: unknown[] };
  expect((await query("select count(*)::int as n from drizzle.__drizzle_migrations")).rows[0]!.n).toBe(journal.entries.length);
}

describe("PostgreSQL migrations in process (PGlite)", () => {
  it("create every table and the APS price history, and a second run changes nothing", async () => {
    const lite = new PGlite();
    try {
      const db = drizzle({ client: lite });
      await migrate(db, { migrationsFolder: pgMigrationsFolder() });
      await migrate(db, { migrationsFolder: pgMigrationsFolder() });
      await expectMigrated((text) => lite.query(text));
    } finally {
      await lite.close();
    }
  });
  it("on upgrade keep each FREE month's reach of its cap, under the level of the cap in force then", async () => {
    const lite = new PGlite();
    const before = join(mkdtempSync(join(tmpdir(), "flexgate-pg-migrations-")), "migrations");
    try {
      cpSync(pgMigrationsFolder(), before, { recursive: true });
      const journal = JSON.parse(readFileSync(join(before, "meta", "_journal.json"), "utf8")) as { entries: { tag: string }[] };
      journal.entries = journal.entries.filter((entry) => entry.tag < "0007");
      writeFileSync(join(before, "meta", "_journal.json"), JSON.stringify(journal));
      const db = drizzle({ client: lite });
      await migrate(db, { migrationsFolder: before });
      const t = (month: number, day: number) => Date.UTC(2026, month - 1, day);
      await lite.exec(`
        insert into accounts (id, name, balance_policy, created_at, updated_at) values (1, 'Free', 'HARD_STOP', 0, 0);
        insert into free_caps (api_code, units_per_month, effective_from, published_by, published_at)
          values ('revit', 3, ${t(1, 1)}, 'operator', 0), ('revit', 5, ${t(1, 15)}, 'operator', 0);
        insert into free_months (account_id, api_code, month, used_units, overrun_units, latest_at, reached_at) values
          (1, 'revit', '2026-01', 3, 0, ${t(1, 10)}, ${t(1, 10)}), (1, 'revit', '2026-02', 5, 0, ${t(2, 20)}, ${t(2, 20)}),
          (1, 'revit', '2026-03', 2, 0, ${t(3, 12)}, ${t(3, 12)}), (1, 'revit', '2026-04', 1, 0, ${t(4, 9)}, null),
          (1, 'photo', '2026-01', 0, 0, ${t(1, 7)}, ${t(1, 7)});`);
      await migrate(db, { migrationsFolder: pgMigrationsFolder() });
      const { rows } = await lite.query("select api_code as api, month, reaches from free_months order by api_code, month");
      expect(rows.map((row) => JSON.parse((row as { reaches: string }).reaches))).toEqual([[[0, t(1, 7)]], [[3, t(1, 10)]], [[5, t(2, 20)]], [], []]);
    } finally {
      await lite.close();
      rmSync(dirname(before), { recursive: true, force: true });
    }
  });
});

describe.skipIf(!TEST_DATABASE_URL)(`PostgreSQL migrations on a server${TEST_DATABASE_URL ? "" : ` (skipped: ${NO_SERVER})`}`, () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await freshDatabase("migrations");
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("apply once when three replicas migrate the same new database at the same moment", async () => {
    const pools = [1, 2, 3].map(() => openPool(database.url, 2));
    try {
      await Promise.all(pools.map((pool) => migratePostgres(pool)));
      await expectMigrated((text) => pools[0]!.query(text));
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it("run alone with `flexgate migrate` on FLEXGATE_DATABASE_URL", async () => {
    const fresh = await freshDatabase("cli");
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "server/cli.ts", "migrate"], {
        cwd: new URL("../..", import.meta.url).pathname,
        env: { ...process.env, FLEXGATE_DATABASE_URL: fresh.url, LOG_LEVEL: "error" },
      });
      expect(stdout).toContain("migrations applied to the PostgreSQL database");
      const client = new pg.Client({ connectionString: fresh.url });
      await client.connect();
      try {
        await expectMigrated((text) => client.query(text));
      } finally {
        await client.end();
      }
    } finally {
      await fresh.drop();
    }
  });
});

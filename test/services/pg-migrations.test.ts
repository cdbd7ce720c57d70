/**
 * The PostgreSQL migrations: the schema and the shipped APS price history, applied once however
 * many replicas start together, and by `flexgate migrate` alone.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
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

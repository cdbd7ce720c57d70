/**
 * `flexgate migrate-to`: a SQLite database moved into an empty PostgreSQL database keeps every
 * row of every table, ids included, and the target's sequences continue after them; a target
 * that is not empty, or cannot be reached, is refused with one line and left as it was.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { getTableName } from "drizzle-orm";
import { getTableConfig } from "drizzle-orm/sqlite-core";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schemaTables } from "../../schema/tables.js";
import { seedDemoData } from "../../server/seed/demo.js";
import { type MoveProgress, MoveRefused, moveToPostgres } from "../../server/store/move-to-postgres.js";
import { createServices } from "../../server/services/index.js";
import { migratePostgres, openPool } from "../../server/store/pg/database.js";
import { PgStore } from "../../server/store/pg/store.js";
import { aFlexPack, anAccount, aReseller, at, aUsageEvent, createSqliteHarness, type SqliteHarness, OPERATOR, tokens } from "../fixtures/harness.js";
import { anEnrolledAccount, anEventAt, publishTestTerms, REVIT } from "../fixtures/tiered.js";
import { freshDatabase, NO_SERVER, TEST_DATABASE_URL, type TestDatabase } from "../fixtures/postgres.js";

const run = promisify(execFile);

const REPO = new URL("../..", import.meta.url).pathname;

/** Every table with the column its rows are ordered by. */
const TABLES = Object.values(schemaTables).map((table) => {
  const config = getTableConfig(table);
  const key = config.primaryKeys[0]?.columns ?? config.columns.filter((column) => column.primary);
  return { name: getTableName(table), key: key.map((column) => `"${column.name}"`).join(", ") };
});
const IDENTITY_TABLES = TABLES.filter((table) => table.key === '"id"').map((table) => table.name);

/** Demo data plus what the demo lacks: a settled deficit, a reversal, a cancelled and a retired price, a key. */
async function aBusySource(h: SqliteHarness): Promise<void> {
  expect(await seedDemoData(h.services)).toBe(true);
  const owing = await anAccount(h);
  const charged = await h.services.rating.recordUsage(aUsageEvent(owing.id, { quantity: "300", labels: { project: "tower" } }));
  await h.services.rating.recordUsage(aUsageEvent(owing.id, { quantity: "100" }));
  await aFlexPack(h, owing.id, { tokens: "100" }); // pays half the deficit of 200
  await h.services.rating.reverseCharge(charged.charge.id, "reported twice", OPERATOR);
  const scheduled = await h.services.prices.publish(
    { apiCode: "model-derivative/complex-job", meter: "JOB", unitQuantity: 1, tokensPerUnitMicros: tokens("0.4"), effectiveFrom: at("2024-09-01T00:00:00Z"), note: "planned cut" },
    OPERATOR,
  );
  await h.services.prices.cancelScheduled(scheduled.id, "postponed", OPERATOR);
  await h.services.prices.retire("design-automation/inventor", at("2025-01-01T00:00:00Z"), "withdrawn", OPERATOR);
  await h.services.keys.create({ name: "partner portal", role: "PARTNER", resellerId: (await aReseller(h)).id }, OPERATOR);
  await h.services.keys.create({ name: "metering", role: "METERING" }, OPERATOR);
  // The tiered regime's rows: a plan, a cap, a pool, a remainder, a FREE month, a PAYG part.
  await publishTestTerms(h);
  const free = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-05T00:00:00Z" });
  h.setNow("2026-01-07T00:00:00Z");
  await h.services.rating.recordUsage(anEventAt(free.id, REVIT, "1500", "2026-01-06T10:00:00Z"));
  h.setNow("2026-01-05T00:00:00Z");
  const paid = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-05T00:00:00Z" });
  await h.services.funding.importTokenFlexPool(
    { accountId: paid.id, tokensMicros: tokens("20"), startsAt: at("2026-01-01T00:00:00Z"), endsAt: at("2027-01-01T00:00:00Z"), externalRef: "EBA-move" },
    OPERATOR,
  );
  h.setNow("2026-01-07T00:00:00Z");
  await h.services.rating.recordUsage(anEventAt(paid.id, REVIT, "30000", "2026-01-06T11:00:00Z")); // 25 tokens: pool 20, PAYG 5
}

function sqliteRows(h: SqliteHarness, table: { name: string; key: string }): Record<string, unknown>[] {
  return h.file.db.$client.prepare(`select * from "${table.name}" order by ${table.key}`).all() as Record<string, unknown>[];
}

/** PostgreSQL rows as SQLite stores them: booleans as 0 and 1 (bigints already arrive as numbers). */
async function pgRows(pool: pg.Pool, table: { name: string; key: string }): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query(`select * from "${table.name}" order by ${table.key}`);
  return rows.map((row: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(row).map(([column, value]) => [column, typeof value === "boolean" ? Number(value) : value])),
  );
}

/** Everything in the target database, for proving a refusal left it as it was. */
async function dump(pool: pg.Pool) {
  const tables: Record<string, unknown> = {};
  for (const table of [...TABLES, { name: "price_book_version", key: '"id"' }]) tables[table.name] = await pgRows(pool, table);
  return tables;
}

async function flexgate(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "server/cli.ts", ...args], {
      cwd: REPO,
      env: { ...process.env, LOG_LEVEL: "error", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe.skipIf(!TEST_DATABASE_URL)(`flexgate migrate-to${TEST_DATABASE_URL ? "" : ` (skipped: ${NO_SERVER})`}`, () => {
  let h: SqliteHarness;
  let target: TestDatabase;
  let pool: pg.Pool;
  const progress: MoveProgress[] = [];

  beforeAll(async () => {
    h = await createSqliteHarness({ now: "2024-06-01T00:00:00Z" });
    await aBusySource(h);
    target = await freshDatabase("move");
    pool = openPool(target.url, 2);
    await moveToPostgres({ sqlitePath: h.file.path, postgresUrl: target.url, chunkRows: 100, onProgress: (step) => progress.push(step) });
  }, 60_000);

  afterAll(async () => {
    await pool?.end();
    await target?.drop();
    await h?.close();
  });

  it("seeds a source with rows in every table, flags set both ways", () => {
    for (const table of TABLES) expect(sqliteRows(h, table).length, table.name).toBeGreaterThan(0);
    expect(h.file.db.$client.prepare("select count(distinct retired) from price_entries").pluck().get()).toBe(2);
  });

  it.each(TABLES)("copies $name row for row: same ids, same values in every column", async (table) => {
    expect(await pgRows(pool, table)).toEqual(sqliteRows(h, table));
  });

  it("gives every account the same balance and status through the services on PostgreSQL as on SQLite", async () => {
    const store = await PgStore.open({ url: target.url, poolSize: 2 });
    try {
      const onPg = createServices({ ...h.services.context, store });
      const ids = sqliteRows(h, { name: "accounts", key: "id" }).map((row) => row.id as number);
      for (const id of ids) {
        const [here, there] = [(await h.services.accounts.find(id))!, (await onPg.accounts.find(id))!];
        expect(there, `account ${id}`).toEqual(here);
        expect(await onPg.accounts.balances([there]), `account ${id}`).toEqual(await h.services.accounts.balances([here]));
        expect(await onPg.accounts.status(there)).toBe(await h.services.accounts.status(here));
      }
      expect(await onPg.prices.allVersions()).toEqual(await h.services.prices.allVersions());
      expect(await onPg.ledger.verify()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("copies in chunks, in foreign-key order, reporting rows copied of the total", () => {
    const charges = progress.filter((step) => step.table === "usage_charges");
    const total = sqliteRows(h, { name: "usage_charges", key: "id" }).length;
    expect(charges.map((step) => step.copied)).toEqual(Array.from({ length: Math.ceil(total / 100) }, (_, i) => Math.min((i + 1) * 100, total)));
    expect(charges.every((step) => step.total === total)).toBe(true);
    const order = [...new Set(progress.map((step) => step.table))];
    expect(order.indexOf("resellers")).toBeLessThan(order.indexOf("accounts"));
    expect(order.indexOf("price_entries")).toBeLessThan(order.indexOf("price_cancellations"));
    expect(order.indexOf("usage_charges")).toBeLessThan(order.indexOf("allocations"));
    expect(order.indexOf("allocations")).toBeLessThan(order.indexOf("deficit_settlements"));
    expect(order).toHaveLength(TABLES.length);
  });

  it("bumps the price book's stamp, so running servers reread the prices", async () => {
    expect((await pool.query("select id, version from price_book_version")).rows).toEqual([{ id: 1, version: 1 }]);
  });

  it("continues every id sequence after the highest copied id", async () => {
    const inserted = await pool.query(
      "insert into accounts (name, balance_policy, created_at, updated_at) values ('after the move', 'HARD_STOP', 0, 0) returning id",
    );
    const highest = sqliteRows(h, { name: "accounts", key: "id" }).at(-1)!.id as number;
    expect(inserted.rows[0].id).toBe(highest + 1);
    for (const name of IDENTITY_TABLES.filter((name) => name !== "accounts")) {
      const max = (await pool.query(`select max(id) as max from "${name}"`)).rows[0].max as number;
      const next = (await pool.query(`select nextval(pg_get_serial_sequence('"${name}"', 'id')) as next`)).rows[0].next as number;
      expect(next, name).toBe(max + 1);
    }
  });

  it("refuses a target that holds data, in one line, and leaves it as it was", async () => {
    const before = await dump(pool);
    const refused = moveToPostgres({ sqlitePath: h.file.path, postgresUrl: target.url });
    await expect(refused).rejects.toThrow(MoveRefused);
    await expect(refused).rejects.toThrow(/is not empty \(\d+ resellers, \d+ accounts, .*\): migrate-to only fills an empty database/);
    expect(await dump(pool)).toEqual(before);
  });

  it("refuses a migrated target whose only change is a published price", async () => {
    const other = await freshDatabase("move_priced");
    const otherPool = openPool(other.url, 1);
    try {
      await migratePostgres(otherPool);
      await otherPool.query("update price_book_version set version = version + 1");
      await otherPool.query(
        "insert into price_entries (api_code, name, meter, unit_quantity, tokens_per_unit_micros, chargeable_outcomes, effective_from, note, published_by, published_at) select api_code, name, meter, unit_quantity, 1, chargeable_outcomes, 4102444800000, 'later', 'someone', 0 from price_entries where id = 1",
      );
      const before = await dump(otherPool);
      await expect(moveToPostgres({ sqlitePath: h.file.path, postgresUrl: other.url })).rejects.toThrow(/prices were published or cancelled/);
      expect(await dump(otherPool)).toEqual(before);
    } finally {
      await otherPool.end();
      await other.drop();
    }
  });

  it("refuses a target whose price history differs from the shipped one", async () => {
    const other = await freshDatabase("move_edited");
    const otherPool = openPool(other.url, 1);
    try {
      await migratePostgres(otherPool);
      await otherPool.query("update price_entries set note = 'edited by hand' where id = 3");
      const before = await dump(otherPool);
      await expect(moveToPostgres({ sqlitePath: h.file.path, postgresUrl: other.url })).rejects.toThrow(/differ from the SQLite database's shipped price history/);
      expect(await dump(otherPool)).toEqual(before);
    } finally {
      await otherPool.end();
      await other.drop();
    }
  });

  it.each([
    ["a URL of another scheme", "mysql://127.0.0.1/flexgate", /the target must be a postgres:\/\/ URL/],
    ["a server nobody listens on", "postgres://postgres@127.0.0.1:1/flexgate", /cannot reach the PostgreSQL database 127\.0\.0\.1:1\/flexgate: .*ECONNREFUSED/],
  ])("refuses %s with a clear error", async (_, url, message) => {
    await expect(moveToPostgres({ sqlitePath: h.file.path, postgresUrl: url })).rejects.toThrow(message);
  });

  it("never names the password of a database it cannot reach", async () => {
    const url = new URL(TEST_DATABASE_URL!);
    url.password = "hunter2-secret";
    url.pathname = "/flexgate_no_such_database";
    const error = (await moveToPostgres({ sqlitePath: h.file.path, postgresUrl: url.toString() }).catch((refusal: unknown) => refusal)) as Error;
    expect(error).toBeInstanceOf(MoveRefused);
    expect(error.message).toMatch(/cannot reach the PostgreSQL database .*flexgate_no_such_database/);
    expect(error.message).not.toContain("hunter2");
  });

  it("refuses a SQLite file that does not exist, before touching the target", async () => {
    const other = await freshDatabase("move_nosource");
    try {
      await expect(moveToPostgres({ sqlitePath: `${h.file.dir}/missing.sqlite`, postgresUrl: other.url })).rejects.toThrow(/no SQLite database at .*missing\.sqlite/);
      const check = openPool(other.url, 1);
      try {
        expect((await check.query("select count(*)::int as n from information_schema.tables where table_schema = 'public'")).rows[0].n).toBe(0);
      } finally {
        await check.end();
      }
    } finally {
      await other.drop();
    }
  });

  it("refuses a SQLite file that is not a Flexgate database, or lacks this version's migrations", async () => {
    const foreign = new Database(`${h.file.dir}/foreign.sqlite`);
    foreign.exec("create table notes (body text)");
    foreign.close();
    await expect(moveToPostgres({ sqlitePath: `${h.file.dir}/foreign.sqlite`, postgresUrl: target.url })).rejects.toThrow(/foreign\.sqlite is not a Flexgate database/);

    h.file.db.$client.exec(`vacuum into '${h.file.dir}/older.sqlite'`);
    const older = new Database(`${h.file.dir}/older.sqlite`);
    older.exec("delete from __drizzle_migrations where created_at = (select max(created_at) from __drizzle_migrations)");
    older.close();
    await expect(moveToPostgres({ sqlitePath: `${h.file.dir}/older.sqlite`, postgresUrl: target.url })).rejects.toThrow(/older\.sqlite lacks migrations of this version: run `flexgate migrate` on it first/);
  });

  it("runs as `flexgate migrate-to <url>` on FLEXGATE_DB, with progress on stderr, into an already migrated target", async () => {
    const other = await freshDatabase("move_cli");
    try {
      const migrated = await flexgate(["migrate"], { FLEXGATE_DATABASE_URL: other.url });
      expect(migrated.code).toBe(0);
      const moved = await flexgate(["migrate-to", other.url], { FLEXGATE_DB: h.file.path });
      expect(moved.code).toBe(0);
      const charges = sqliteRows(h, { name: "usage_charges", key: "id" }).length;
      expect(moved.stderr).toContain(`usage_charges: ${charges}/${charges} rows copied`);
      expect(moved.stdout).toMatch(new RegExp(`^moved \\d+ rows in ${TABLES.length} tables from `));

      const again = await flexgate(["migrate-to", other.url], { FLEXGATE_DB: h.file.path });
      expect(again.code).toBe(1);
      expect(again.stderr.trim().split("\n")).toHaveLength(1);
      expect(again.stderr).toMatch(/^flexgate: the PostgreSQL database .* is not empty/);
    } finally {
      await other.drop();
    }
  }, 60_000);

  it.each([
    ["migrate-to not-a-url", 1, /^flexgate: the target must be a postgres:\/\/ URL, got "not-a-url"\n$/],
    ["migrate-to", 2, /^Usage: flexgate migrate-to <postgres-url>/],
  ])("refuses `flexgate %s` with exit code %i and says why", async (args, code, message) => {
    const result = await flexgate(args.split(" "), { FLEXGATE_DB: h.file.path });
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
  });

  it("makes a server already on the target wait for the copy, then continue after the copied ids", async () => {
    const other = await freshDatabase("move_busy");
    const replica = openPool(other.url, 1);
    try {
      await migratePostgres(replica);
      let write: Promise<pg.QueryResult> | null = null;
      await moveToPostgres({
        sqlitePath: h.file.path,
        postgresUrl: other.url,
        onProgress: ({ table }) => {
          write ??= table === "usage_charges"
            ? replica.query("insert into resellers (name, tier, created_at, updated_at) values ('meanwhile', 'GOLD', 0, 0) returning id")
            : null;
        },
      });
      const resellers = sqliteRows(h, { name: "resellers", key: "id" });
      expect((await write!).rows[0].id).toBe((resellers.at(-1)!.id as number) + 1);
      expect((await pgRows(replica, { name: "resellers", key: "id" })).slice(0, -1)).toEqual(resellers);
    } finally {
      await replica.end();
      await other.drop();
    }
  });

  // Last: it writes to the source.
  it("copies one snapshot of the file: a row written to it during the move is left out", async () => {
    const other = await freshDatabase("move_snapshot");
    const otherPool = openPool(other.url, 1);
    try {
      const audit = { name: "audit_log", key: "id" };
      const before = sqliteRows(h, audit);
      let written = false;
      await moveToPostgres({
        sqlitePath: h.file.path,
        postgresUrl: other.url,
        onProgress: ({ table }) => {
          if (table !== "usage_charges" || written) return;
          written = true;
          h.file.db.$client
            .prepare("insert into audit_log (at, actor, actor_role, action, entity_type, entity_id) values (1, 'meanwhile', 'SYSTEM', 'test.write', 'Test', '1')")
            .run();
        },
      });
      expect(written).toBe(true);
      expect(sqliteRows(h, audit)).toHaveLength(before.length + 1);
      expect(await pgRows(otherPool, audit)).toEqual(before);
    } finally {
      await otherPool.end();
      await other.drop();
    }
  });
});

/**
 * The PostgreSQL insight reads and ledger recomputation give the SQLite figures: one ledger is
 * built on SQLite through the services, copied row for row (ids included) into PostgreSQL, and
 * every read is asked the same questions of both.
 */
import { drizzle } from "drizzle-orm/node-postgres";
import { getTableName } from "drizzle-orm";
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pgSchema from "../../schema/tables.pg.js";
import * as sqliteSchema from "../../schema/tables.js";
import type { DailyUsage, LedgerAsOf } from "../../server/core/history.js";
import type { AccountUsageGroup } from "../../server/core/price-impact.js";
import { DAY_MS, type Instant } from "../../server/core/time.js";
import { type Q, migratePostgres, openPool, type PgDb } from "../../server/store/pg/database.js";
import * as pgInsight from "../../server/store/pg/insight.js";
import { recomputeLedger as pgRecompute } from "../../server/store/pg/recompute.js";
import type { ExportCursor, ExportPage, LedgerDrift } from "../../server/store/port.js";
import type { Db } from "../../server/store/sqlite/database.js";
import * as sqliteInsight from "../../server/store/sqlite/insight.store.js";
import { recomputeLedger as sqliteRecompute } from "../../server/store/sqlite/recompute.store.js";
import { formatMicros } from "../../server/core/money.js";
import * as pgFunding from "../../server/store/pg/funding.js";
import * as sqliteFunding from "../../server/store/sqlite/funding.store.js";
import { aCreditLot, aFlexPack, anAccount, aReseller, at, aUsageEvent, createSqliteHarness, type SqliteHarness, OPERATOR, tokens } from "../fixtures/harness.js";
import { anEnrolledAccount, publishTestTerms, REVIT } from "../fixtures/tiered.js";
import { freshDatabase, NO_SERVER, TEST_DATABASE_URL, type TestDatabase } from "../fixtures/postgres.js";

const COMPLEX_JOB = "model-derivative/complex-job";
const SIMPLE_JOB = "model-derivative/simple-job";
const AUTOCAD = "design-automation/autocad";
const API_CODES = [COMPLEX_JOB, SIMPLE_JOB, AUTOCAD, "reality-capture/photoscene"];

type TableKey = keyof typeof sqliteSchema.schemaTables;

/** The tables in foreign-key order, each after every table it references (pools before allocations). */
function tablesInKeyOrder(): TableKey[] {
  const remaining = new Map<string, TableKey>((Object.keys(sqliteSchema.schemaTables) as TableKey[]).map((key) => [getTableName(sqliteSchema.schemaTables[key]), key]));
  const ordered: TableKey[] = [];
  while (remaining.size > 0) {
    const ready = [...remaining].find(([name, key]) =>
      getTableConfig(sqliteSchema.schemaTables[key]).foreignKeys.every((foreign) => {
        const referenced = getTableName(foreign.reference().foreignTable);
        return referenced === name || !remaining.has(referenced);
      }),
    )!;
    remaining.delete(ready[0]);
    ordered.push(ready[1]);
  }
  return ordered;
}

/**
 * Copies every table of the SQLite database into the migrated PostgreSQL one, ids included. The
 * migration's own copy of the price history goes first, so the charges point at the same ids.
 */
async function copyTables(from: Db, to: PgDb): Promise<void> {
  await to.delete(pgSchema.priceCancellations);
  await to.delete(pgSchema.priceEntries);
  for (const name of tablesInKeyOrder()) {
    const rows = from
      .select()
      .from(sqliteSchema.schemaTables[name] as SQLiteTable)
      .all();
    for (let start = 0; start < rows.length; start += 500) {
      await to.insert(pgSchema.schemaTables[name]).values(rows.slice(start, start + 500) as never[]);
    }
  }
}

/** Connects to a fresh, migrated database; `close` ends the pool and drops the database. */
async function migratedDatabase(prefix: string): Promise<{ db: PgDb; close(): Promise<void> }> {
  const database: TestDatabase = await freshDatabase(prefix);
  const pool: pg.Pool = openPool(database.url, 2);
  try {
    await migratePostgres(pool);
  } catch (error) {
    await pool.end();
    await database.drop();
    throw error;
  }
  return {
    db: drizzle({ client: pool, schema: pgSchema.schemaTables }),
    async close() {
      await pool.end();
      await database.drop();
    },
  };
}

// Draws, deficit moves, daily sums, usage groups and drifts come in no promised order: compare them sorted.
const byText = <T>(items: readonly T[]): T[] =>
  [...items].sort((a, b) => {
    const [x, y] = [JSON.stringify(a, bigintText), JSON.stringify(b, bigintText)];
    return x < y ? -1 : x > y ? 1 : 0;
  });
const bigintText = (_key: string, value: unknown) => (typeof value === "bigint" ? `${value}n` : value);
const ledgerInAnyOrder = (ledger: LedgerAsOf) => ({ ...ledger, draws: byText(ledger.draws), deficitMoves: byText(ledger.deficitMoves) });

/** Every page of the export, following each engine's own cursors. */
async function allPages(
  read: (after: ExportCursor | null) => ExportPage | Promise<ExportPage>,
): Promise<ExportPage[]> {
  const pages: ExportPage[] = [];
  let after: ExportCursor | null = null;
  do {
    const page: ExportPage = await read(after);
    pages.push(page);
    after = page.next;
  } while (after !== null && pages.length < 1_000);
  return pages;
}

const record = async (h: SqliteHarness, accountId: number, apiCode: string, quantity: string, occurredAt: string, clientId: string | null = null) => {
  h.setNow(at(occurredAt) + 60_000);
  return (await h.services.rating.recordUsage(aUsageEvent(accountId, { apiCode, quantity, occurredAt: at(occurredAt), clientId }))).charge;
};

/**
 * Lots and packs drained in order; usage on four UTC days, two charges on either side of a
 * midnight and one reported days late; a deficit settled by a later pack, a second one only
 * partly settled; reversals of a funded charge, a settled deficit charge and a partly settled one.
 */
async function busyLedger(h: SqliteHarness) {
  const reseller = await aReseller(h);
  const pack = (accountId: number, iso: string) => {
    h.setNow(iso);
    return aFlexPack(h, accountId, { tokens: "100", channel: "RESELLER", resellerId: reseller.id, purchasedAt: at(iso) });
  };
  const funded = await anAccount(h);
  const owing = await anAccount(h);
  const other = await anAccount(h);
  const quiet = await anAccount(h);
  await aCreditLot(h, funded.id, { amount: "30", purchasedAt: at("2022-10-01T00:00:00Z") });
  await aCreditLot(h, funded.id, { amount: "5", purchasedAt: at("2022-09-01T00:00:00Z") });
  await pack(funded.id, "2023-05-31T00:00:00Z");
  await pack(other.id, "2023-05-31T12:00:00Z");

  await record(h, funded.id, COMPLEX_JOB, "10", "2023-06-01T10:00:00Z", "web");
  await record(h, funded.id, SIMPLE_JOB, "20", "2023-06-01T23:59:59.999Z", "cli");
  const atMidnight = await record(h, funded.id, COMPLEX_JOB, "4", "2023-06-02T00:00:00.000Z", "web");
  await record(h, funded.id, COMPLEX_JOB, "2", "2023-06-02T00:00:00.001Z");
  await record(h, other.id, COMPLEX_JOB, "10", "2023-06-02T12:00:00Z", "web");
  const settled = await record(h, owing.id, COMPLEX_JOB, "20", "2023-06-02T13:00:00Z");
  await record(h, funded.id, AUTOCAD, "7200", "2023-06-03T08:00:00Z", "cli");
  await record(h, funded.id, COMPLEX_JOB, "60", "2023-06-03T09:00:00Z");
  await record(h, funded.id, COMPLEX_JOB, "1", "2023-06-03T10:00:00Z");
  h.setNow("2023-06-03T10:30:00Z");
  await h.services.rating.recordUsage(aUsageEvent(funded.id, { quantity: "3", outcome: "FAILED", occurredAt: at("2023-06-03T10:20:00Z") }));
  await pack(owing.id, "2023-06-04T00:00:00Z"); // settles the 10 owed
  const partlySettled = await record(h, owing.id, COMPLEX_JOB, "600", "2023-06-04T10:00:00Z"); // 90 from the pack, 210 owed
  h.setNow("2023-06-04T11:00:00Z");
  await h.services.rating.recordUsage(aUsageEvent(owing.id, { quantity: "2", occurredAt: at("2023-06-01T20:00:00Z") })); // late, owed
  h.setNow("2023-06-05T00:00:00Z");
  await h.services.rating.reverseCharge(atMidnight.id, "duplicate", OPERATOR);
  h.setNow("2023-06-05T01:00:00Z");
  await h.services.rating.reverseCharge(settled.id, "test job", OPERATOR);
  await pack(owing.id, "2023-06-06T00:00:00Z"); // pays 100 of the 211 owed
  h.setNow("2023-06-07T00:00:00Z");
  await h.services.rating.reverseCharge(partlySettled.id, "wrong account", OPERATOR);
  await record(h, owing.id, SIMPLE_JOB, "30", "2023-06-07T12:00:00Z", "cli");
  h.setNow("2023-06-08T00:00:00Z");
  return { accounts: [funded, owing, other, quiet].map((account) => account.id) };
}

/** Every instant the ledger records, a millisecond either side, and the UTC midnights around them. */
function instantsOf(h: SqliteHarness): Instant[] {
  const recorded = h.file.db.$client
    .prepare(
      `select occurred_at as t from usage_charges union select rated_at from usage_charges
       union select settled_at from deficit_settlements union select reversed_at from reversals
       union select purchased_at from credit_lots union select purchased_at from flex_packs`,
    )
    .pluck()
    .all() as number[];
  const all = new Set<Instant>([0, h.now()]);
  for (const t of recorded) {
    for (const near of [t - 1, t, t + 1, Math.floor(t / DAY_MS) * DAY_MS, Math.floor(t / DAY_MS) * DAY_MS + DAY_MS]) all.add(near);
  }
  return [...all].sort((a, b) => a - b);
}

describe.skipIf(!TEST_DATABASE_URL)(`PostgreSQL insight reads${TEST_DATABASE_URL ? "" : ` (skipped: ${NO_SERVER})`}`, () => {
  let h: SqliteHarness;
  let postgres: Awaited<ReturnType<typeof migratedDatabase>>;
  let q: Q;
  let accounts: number[];
  let instants: Instant[];

  beforeAll(async () => {
    h = await createSqliteHarness({ now: "2022-11-01T00:00:00Z" });
    ({ accounts } = await busyLedger(h));
    instants = instantsOf(h);
    postgres = await migratedDatabase("insight");
    q = postgres.db;
    await copyTables(h.file.db, postgres.db);
  }, 60_000);
  afterAll(async () => {
    await postgres?.close();
    await h?.close();
  });

  it("copies a ledger whose stored figures agree with its entries", async () => {
    expect(instants.length).toBeGreaterThan(40);
    expect(sqliteRecompute(h.file.db)).toEqual([]);
    expect(await pgRecompute(q)).toEqual([]);
  });

  it("rebuild each account's ledger as of every recorded instant, and either side of it, as SQLite does", async () => {
    let deficitMoves = 0;
    for (const accountId of [...accounts, 999]) {
      for (const t of instants) {
        const expected = sqliteInsight.ledgerAsOf(h.file.db, accountId, t);
        deficitMoves += expected.deficitMoves.length;
        expect(ledgerInAnyOrder(await pgInsight.ledgerAsOf(q, accountId, t)), `account ${accountId} as of ${t}`).toEqual(ledgerInAnyOrder(expected));
      }
    }
    // The ledger exercised what these reads are for: bookings, settlements and reversals of a deficit.
    expect(deficitMoves).toBeGreaterThan(0);
    const owing = sqliteInsight.ledgerAsOf(h.file.db, accounts[1]!, h.now());
    // Booked: 10, 210 and the late 1; settled: 10 and 100; reversed: the settled charge (nothing
    // left owed) and the partly settled one (110 still owed).
    expect(owing.deficitMoves.map((move) => move.deltaMicros).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(
      [-tokens("110"), -tokens("100"), -tokens("10"), 0n, tokens("1"), tokens("10"), tokens("210")],
    );
  });

  it("sum the tokens charged since each instant, as SQLite does", async () => {
    for (const accountId of accounts) {
      for (const since of instants) {
        expect(await pgInsight.chargedSince(q, accountId, since), `account ${accountId} since ${since}`).toBe(sqliteInsight.chargedSince(h.file.db, accountId, since));
      }
    }
    expect(await pgInsight.chargedSince(q, accounts[0]!, 0)).toBeGreaterThan(0n);
  });

  it("sum usage per UTC day and API code, a millisecond before midnight on the earlier day, as SQLite does", async () => {
    const windows: [Instant, Instant][] = [];
    const midnights = instants.filter((t) => t % DAY_MS === 0);
    for (const from of [0, ...midnights, at("2023-06-01T23:59:59.999Z"), at("2023-06-02T00:00:00.001Z")]) {
      for (const to of [...midnights, at("2023-06-02T00:00:00.001Z"), h.now() + DAY_MS]) if (from < to) windows.push([from, to]);
    }
    for (const accountId of accounts) {
      for (const [from, to] of windows) {
        for (const clientId of [null, "web", "cli", "nobody"]) {
          const expected: DailyUsage[] = sqliteInsight.dailyUsage(h.file.db, accountId, from, to, clientId);
          expect(byText(await pgInsight.dailyUsage(q, accountId, from, to, clientId)), `account ${accountId} [${from}, ${to}) ${clientId}`).toEqual(byText(expected));
        }
      }
    }
    const aroundMidnight = await pgInsight.dailyUsage(q, accounts[0]!, at("2023-06-01T00:00:00Z"), at("2023-06-03T00:00:00Z"), null);
    expect(aroundMidnight.map((row) => [row.day * DAY_MS, row.apiCode, row.events])).toEqual([
      [at("2023-06-01T00:00:00Z"), COMPLEX_JOB, 1],
      [at("2023-06-01T00:00:00Z"), SIMPLE_JOB, 1],
      [at("2023-06-02T00:00:00Z"), COMPLEX_JOB, 1], // the charge at midnight itself was reversed
    ]);
  });

  it("group each API's standing usage by account, meter, quantity and outcome, as SQLite does", async () => {
    let groups = 0;
    for (const apiCode of [...API_CODES, "no/such-api"]) {
      for (const since of instants) {
        const expected: AccountUsageGroup[] = sqliteInsight.usageGroupsSince(h.file.db, apiCode, since);
        groups += expected.length;
        expect(byText(await pgInsight.usageGroupsSince(q, apiCode, since)), `${apiCode} since ${since}`).toEqual(byText(expected));
      }
    }
    expect(groups).toBeGreaterThan(0);
  });

  it("page through the usage export with the same rows and cursors as SQLite, at any page size", async () => {
    const windows: [Instant, Instant][] = [
      [0, h.now() + DAY_MS],
      [at("2023-06-02T00:00:00Z"), at("2023-06-03T00:00:00Z")],
      [at("2023-06-01T23:59:59.999Z"), at("2023-06-02T00:00:00.001Z")],
    ];
    for (const accountId of accounts) {
      for (const [from, to] of windows) {
        for (const limit of [1, 2, 3, 100]) {
          const expected = await allPages((after) => sqliteInsight.exportPage(h.file.db, accountId, from, to, after, limit));
          const pages = await allPages((after) => pgInsight.exportPage(q, accountId, from, to, after, limit));
          expect(pages, `account ${accountId} [${from}, ${to}) by ${limit}`).toEqual(expected);
        }
      }
    }
    const whole = await pgInsight.exportPage(q, accounts[1]!, 0, h.now() + DAY_MS, null, 100);
    expect(whole.next).toBeNull();
    expect(whole.rows.some((row) => row.deficitMicros > 0n)).toBe(true);
  });

  it("report the same drifts as SQLite when stored figures disagree with the ledger", async () => {
    const drift = [
      "update credit_lots set remaining_micros = remaining_micros + 7 where id = (select min(id) from credit_lots)",
      "update flex_packs set remaining_micros = remaining_micros - 3 where id = (select max(id) from flex_packs)",
      `update accounts set deficit_micros = deficit_micros + 11 where id = ${accounts[3]!}`,
    ];
    const undo = drift.map((statement) => statement.replace("+ 7", "- 7").replace("- 3", "+ 3").replace("+ 11", "- 11"));
    try {
      for (const statement of drift) {
        h.file.db.$client.exec(statement);
        await q.execute(statement);
      }
      const expected: LedgerDrift[] = sqliteRecompute(h.file.db);
      expect(expected.map((found) => [found.entity, found.storedMicros - found.recomputedMicros])).toEqual([
        ["CreditLot", 7n],
        ["FlexPack", -3n],
        ["Account", 11n],
      ]);
      expect(byText(await pgRecompute(q))).toEqual(byText(expected));
    } finally {
      for (const statement of undo) {
        h.file.db.$client.exec(statement);
        await q.execute(statement);
      }
    }
    expect(await pgRecompute(q)).toEqual([]);
  });
});

/**
 * Tiered accounts (domain §8), test values chosen for the test: revit at 1 token per 1200 s
 * capped at 3 units a month. A PAID prepay-only account drains a Token Flex pool then a pack,
 * owes the rest, has it settled by a second pool, and has a pool-paid charge reversed; a PAID
 * account with PAYG pays beyond its pool on the statement; a FREE account counts free and
 * overrun units; a LEGACY account holds a pool its usage draws on.
 */
async function tieredLedger(h: SqliteHarness) {
  await publishTestTerms(h);
  const pool = (accountId: number, size: string, startsAt: string, endsAt: string, ref: string) =>
    h.services.funding.importTokenFlexPool({ accountId, tokensMicros: tokens(size), startsAt: at(startsAt), endsAt: at(endsAt), externalRef: ref }, OPERATOR);
  const legacy = await anAccount(h);
  await pool(legacy.id, "5", "2025-12-01T00:00:00Z", "2026-06-01T00:00:00Z", "EBA-legacy");
  await record(h, legacy.id, COMPLEX_JOB, "4", "2025-12-21T10:00:00Z");
  const prepay = await anEnrolledAccount(h, { tier: "PAID", from: "2026-01-01T00:00:00Z" });
  await pool(prepay.id, "20", "2026-01-02T00:00:00Z", "2026-03-01T00:00:00Z", "EBA-prepay");
  await aFlexPack(h, prepay.id, { tokens: "100", purchasedAt: at("2026-01-01T00:00:00Z") });
  const drained = await record(h, prepay.id, REVIT, "12000", "2026-01-05T10:00:00Z"); // 10 from the pool
  await record(h, prepay.id, REVIT, "144000", "2026-01-06T10:00:00Z"); // 120: pool 10, pack 100, 10 owed
  h.setNow("2026-01-08T00:00:00Z");
  await pool(prepay.id, "30", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-settles"); // pays the 10 owed
  h.setNow("2026-01-09T00:00:00Z");
  await h.services.rating.reverseCharge(drained.id, "test: reversed", OPERATOR);
  await record(h, prepay.id, REVIT, "1500", "2026-01-09T10:00:00Z"); // 1 unit, 300 s left
  const payg = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
  await pool(payg.id, "2", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-payg");
  await record(h, payg.id, REVIT, "6000", "2026-01-10T10:00:00Z"); // 5: pool 2, PAYG 3
  const free = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
  await record(h, free.id, REVIT, "3000", "2026-01-11T10:00:00Z"); // 2 free units
  await record(h, free.id, REVIT, "3600", "2026-01-11T23:59:59.999Z"); // 1 free, 2 overrun
  h.setNow("2026-01-20T00:00:00Z");
  return { accounts: [legacy, prepay, payg, free].map((account) => account.id), prepay: prepay.id };
}

describe.skipIf(!TEST_DATABASE_URL)(`PostgreSQL insight reads of tiered accounts${TEST_DATABASE_URL ? "" : ` (skipped: ${NO_SERVER})`}`, () => {
  let h: SqliteHarness;
  let postgres: Awaited<ReturnType<typeof migratedDatabase>>;
  let q: Q;
  let ledger: Awaited<ReturnType<typeof tieredLedger>>;
  let instants: Instant[];

  beforeAll(async () => {
    h = await createSqliteHarness({ now: "2025-12-01T00:00:00Z" });
    ledger = await tieredLedger(h);
    instants = [
      ...instantsOf(h),
      ...(h.file.db.$client.prepare("select starts_at from token_flex_pools union select ends_at from token_flex_pools").pluck().all() as number[]),
    ].sort((a, b) => a - b);
    postgres = await migratedDatabase("insight_tiered");
    q = postgres.db;
    await copyTables(h.file.db, postgres.db);
  }, 60_000);
  afterAll(async () => {
    await postgres?.close();
    await h?.close();
  });

  it("copies a ledger whose stored figures agree with its entries", async () => {
    expect(sqliteRecompute(h.file.db)).toEqual([]);
    expect(await pgRecompute(q)).toEqual([]);
  });

  it("rebuild each account's ledger, pools and their draws and settlements included, as of every instant, as SQLite does", async () => {
    for (const accountId of ledger.accounts) {
      for (const t of instants) {
        expect(ledgerInAnyOrder(await pgInsight.ledgerAsOf(q, accountId, t)), `account ${accountId} as of ${t}`).toEqual(ledgerInAnyOrder(sqliteInsight.ledgerAsOf(h.file.db, accountId, t)));
      }
    }
    const prepay = await pgInsight.ledgerAsOf(q, ledger.prepay, h.now());
    expect(prepay.sources.map((source) => [source.kind, formatMicros(source.sizeMicros)])).toEqual([
      ["TOKEN_FLEX", "20"],
      ["TOKEN_FLEX", "30"],
      ["FLEX_PACK", "100"],
    ]);
    // Standing draws: the first pool's 10 of the second charge (the 10 of the reversed one are
    // back) and 1 of the last charge (it ends soonest), the pack's 100, the second pool's 10 settled.
    expect(byText(prepay.draws.map((draw) => `${draw.kind} ${formatMicros(draw.amountMicros)}`))).toEqual(byText(["TOKEN_FLEX 11", "FLEX_PACK 100", "TOKEN_FLEX 10"]));
    expect([formatMicros(prepay.deficitBookedMicros), formatMicros(prepay.deficitSettledMicros)]).toEqual(["10", "10"]);
  });

  it("give the same lots, pools and packs valid at every instant as SQLite", async () => {
    for (const accountId of ledger.accounts) {
      for (const t of instants) {
        const expected = sqliteFunding.fundingSourcesAt(h.file.db, accountId, t);
        expect(byText(await pgFunding.fundingSourcesAt(q, accountId, t)), `account ${accountId} at ${t}`).toEqual(byText(expected));
      }
    }
    expect((await pgFunding.fundingSourcesAt(q, ledger.prepay, at("2026-01-10T00:00:00Z"))).map((source) => source.kind).sort()).toEqual(["TOKEN_FLEX", "TOKEN_FLEX"]);
  });

  it("sum units per day and page the export with units, as SQLite does", async () => {
    const from = at("2025-12-01T00:00:00Z");
    const to = at("2026-02-01T00:00:00Z");
    for (const accountId of ledger.accounts) {
      expect(byText(await pgInsight.dailyUsage(q, accountId, from, to, null))).toEqual(byText(sqliteInsight.dailyUsage(h.file.db, accountId, from, to, null)));
      for (const limit of [1, 100]) {
        expect(await allPages((after) => pgInsight.exportPage(q, accountId, from, to, after, limit))).toEqual(await allPages((after) => sqliteInsight.exportPage(h.file.db, accountId, from, to, after, limit)));
      }
    }
    const [legacy, prepay, payg, free] = ledger.accounts as [number, number, number, number];
    const units = async (accountId: number) => (await pgInsight.dailyUsage(q, accountId, from, to, null)).map((row) => row.units);
    expect(await units(legacy)).toEqual([null]);
    expect(byText(await units(prepay))).toEqual(byText([120n, 1n])); // the reversed charge left out
    expect(await units(payg)).toEqual([5n]);
    expect(await units(free)).toEqual([5n]);
    expect((await pgInsight.exportPage(q, free, from, to, null, 10)).rows.map((row) => row.units)).toEqual([2n, 3n]);
  });
});

describe.skipIf(!TEST_DATABASE_URL)(`PostgreSQL insight sums beyond 2^53 micros${TEST_DATABASE_URL ? "" : ` (skipped: ${NO_SERVER})`}`, () => {
  // Each row fits a safe integer; three of them do not, and their sum is odd, so no double holds it.
  const ROW = 3_100_000_000_000_001;
  const SUM = 3n * BigInt(ROW);
  const DAY = at("2023-06-01T00:00:00Z");
  let h: SqliteHarness;
  let postgres: Awaited<ReturnType<typeof migratedDatabase>>;
  let accountId: number;
  let lotId: number;

  beforeAll(async () => {
    expect(SUM > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    h = await createSqliteHarness({ now: "2022-11-01T00:00:00Z" });
    accountId = (await anAccount(h)).id;
    lotId = (await aCreditLot(h, accountId, { amount: "1000000000", purchasedAt: at("2022-10-01T00:00:00Z") })).id;
    const price = h.file.db.$client.prepare("select id from price_entries where api_code = ? order by effective_from desc").pluck().get(COMPLEX_JOB) as number;
    // Three charges on one day, each paid by three allocations of ROW: the first from the lot, the others owed.
    for (const [index, source] of (["CREDIT_LOT", "DEFICIT", "DEFICIT"] as const).entries()) {
      const occurredAt = DAY + 3_600_000 * (index + 1);
      const [charge] = h.file.db
        .insert(sqliteSchema.usageCharges)
        .values({ eventId: `whale-${index}`, fingerprint: "whale", accountId, apiCode: COMPLEX_JOB, priceEntryId: price, quantityMicros: ROW, outcome: "SUCCEEDED", occurredAt, ratedAt: occurredAt, tokensMicros: ROW })
        .returning()
        .all();
      for (let part = 0; part < 3; part++) {
        h.file.db
          .insert(sqliteSchema.allocations)
          .values({ chargeId: charge!.id, accountId, source, creditLotId: source === "CREDIT_LOT" ? lotId : null, amountMicros: ROW, occurredAt })
          .run();
      }
    }
    postgres = await migratedDatabase("insight_sums");
    await copyTables(h.file.db, postgres.db);
  }, 60_000);
  afterAll(async () => {
    await postgres?.close();
    await h?.close();
  });

  it("come back exact from every read, as from SQLite", async () => {
    const q = postgres.db;
    const after = DAY + DAY_MS;
    expect(await pgInsight.chargedSince(q, accountId, DAY)).toBe(SUM);
    expect(await pgInsight.dailyUsage(q, accountId, DAY, after, null)).toEqual([
      { day: DAY / DAY_MS, apiCode: COMPLEX_JOB, events: 3, quantityMicros: SUM, tokensMicros: SUM, units: null },
    ]);
    expect(await pgInsight.usageGroupsSince(q, COMPLEX_JOB, DAY)).toEqual([
      { accountId, meter: "JOB", quantityMicros: BigInt(ROW), outcome: "SUCCEEDED", events: 3, chargedMicros: SUM },
    ]);
    const ledger = await pgInsight.ledgerAsOf(q, accountId, after);
    expect(ledger.draws).toEqual([{ kind: "CREDIT_LOT", id: lotId, amountMicros: SUM }]);
    expect(ledger.deficitBookedMicros).toBe(2n * SUM);
    const page = await pgInsight.exportPage(q, accountId, DAY, after, null, 10);
    expect(page.rows.map((row) => [row.creditsMicros, row.deficitMicros])).toEqual([
      [SUM, 0n],
      [0n, SUM],
      [0n, SUM],
    ]);

    expect(await pgInsight.chargedSince(q, accountId, DAY)).toBe(sqliteInsight.chargedSince(h.file.db, accountId, DAY));
    expect(await pgInsight.dailyUsage(q, accountId, DAY, after, null)).toEqual(sqliteInsight.dailyUsage(h.file.db, accountId, DAY, after, null));
    expect(await pgInsight.usageGroupsSince(q, COMPLEX_JOB, DAY)).toEqual(sqliteInsight.usageGroupsSince(h.file.db, COMPLEX_JOB, DAY));
    expect(ledgerInAnyOrder(ledger)).toEqual(ledgerInAnyOrder(sqliteInsight.ledgerAsOf(h.file.db, accountId, after)));
    expect(page).toEqual(sqliteInsight.exportPage(h.file.db, accountId, DAY, after, null, 10));
  });

  it("leave the ledger recomputation exact, drifts included", async () => {
    const lotSize = 1_000_000_000_000_000n;
    expect(await pgRecompute(postgres.db)).toEqual([
      { entity: "CreditLot", id: lotId, storedMicros: lotSize, recomputedMicros: lotSize - SUM },
      { entity: "Account", id: accountId, storedMicros: 0n, recomputedMicros: 2n * SUM },
    ]);
  });

  it("refuse a single stored amount beyond safe integers rather than round it, as SQLite does", async () => {
    const tooBig = "9007199254740993";
    h.file.db.$client.prepare(`update credit_lots set amount_micros = ${tooBig} where id = ?`).run(lotId);
    await postgres.db.execute(`update credit_lots set amount_micros = ${tooBig} where id = ${lotId}`);
    expect(() => sqliteInsight.ledgerAsOf(h.file.db, accountId, DAY)).toThrow(RangeError);
    const refused: unknown = await pgInsight.ledgerAsOf(postgres.db, accountId, DAY).catch((error: unknown) => error);
    // Drizzle wraps what the pool's parser threw in its query error.
    expect(refused instanceof Error && refused.cause).toBeInstanceOf(RangeError);
  });
});

import { SqliteStore } from "../../server/store/sqlite/store.js";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { afterEach, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../../server/core/model.js";
import { seedDemoData } from "../../server/seed/demo.js";
import { DEFAULT_RULES } from "../../server/services/context.js";
import { createServices } from "../../server/services/index.js";
import { DAY_MS } from "../../server/core/time.js";
import { type Db, migrateDatabase, migrationsFolder, openDatabase } from "../../server/store/sqlite/database.js";

describe("migrations and default data", () => {
  let dir: string;
  let db: Db;
  afterEach(() => {
    db.$client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function freshFile() {
    dir = mkdtempSync(join(tmpdir(), "flexgate-migrate-"));
    db = openDatabase({ path: join(dir, "flexgate.sqlite"), synchronous: "NORMAL" });
    return db;
  }

  it("applies the whole chain to an empty file, leaving every table, no foreign-key violation and an ok integrity check", () => {
    migrateDatabase(freshFile());
    const tables = db.$client
      .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '__drizzle%' order by name")
      .pluck()
      .all();
    expect(tables).toEqual([
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
      "price_cancellations",
      "price_entries",
      "resellers",
      "reversals",
      "token_flex_pools",
      "unit_remainders",
      "usage_charges",
    ]);
    expect(db.$client.pragma("foreign_key_check")).toEqual([]);
    expect(db.$client.pragma("integrity_check", { simple: true })).toBe("ok");
    expect(db.$client.pragma("journal_mode", { simple: true })).toBe("wal");
  });

  /** A new file with the chain as it was before the migration `tag` applied. */
  function fileMigratedBefore(tag: string) {
    const before = join(mkdtempSync(join(tmpdir(), "flexgate-migrations-")), "migrations");
    try {
      cpSync(migrationsFolder(), before, { recursive: true });
      const journal = JSON.parse(readFileSync(join(before, "meta", "_journal.json"), "utf8")) as { entries: { tag: string }[] };
      journal.entries = journal.entries.filter((entry) => entry.tag < tag);
      writeFileSync(join(before, "meta", "_journal.json"), JSON.stringify(journal));
      migrate(freshFile(), { migrationsFolder: before });
      return db;
    } finally {
      rmSync(dirname(before), { recursive: true, force: true });
    }
  }

  it("on upgrade counts the Token Flex pools whose term had started as come in, and leaves those still to start for their start", () => {
    fileMigratedBefore("0007");
    const now = Date.now();
    db.$client.prepare("insert into accounts (id, name, balance_policy, created_at, updated_at) values (1, 'Enterprise', 'NEGATIVE_WITH_GRACE', 0, 0)").run();
    const pool = db.$client.prepare(
      "insert into token_flex_pools (account_id, tokens_micros, remaining_micros, starts_at, ends_at, external_ref, fingerprint, created_at) values (1, 1, 1, ?, ?, ?, 'f', ?)",
    );
    pool.run(now - 2 * DAY_MS, now + 300 * DAY_MS, "started-after-import", now - 3 * DAY_MS);
    pool.run(now - 5 * DAY_MS, now + 300 * DAY_MS, "started-at-import", now - 4 * DAY_MS);
    pool.run(now + 2 * DAY_MS, now + 300 * DAY_MS, "to-come", now - DAY_MS);
    migrateDatabase(db);
    expect(db.$client.prepare("select external_ref as ref, start_settled_at as at from token_flex_pools order by id").all()).toEqual([
      { ref: "started-after-import", at: now - 2 * DAY_MS },
      { ref: "started-at-import", at: now - 4 * DAY_MS },
      { ref: "to-come", at: null },
    ]);
  });

  it("on upgrade keeps each FREE month's reach of its cap, under the level of the cap in force then", () => {
    fileMigratedBefore("0008");
    const t = (month: number, day: number) => Date.UTC(2026, month - 1, day);
    db.$client.prepare("insert into accounts (id, name, balance_policy, created_at, updated_at) values (1, 'Free', 'HARD_STOP', 0, 0)").run();
    const cap = db.$client.prepare("insert into free_caps (api_code, units_per_month, effective_from, published_by, published_at) values (?, ?, ?, 'operator', 0)");
    cap.run("revit", 3, t(1, 1));
    cap.run("revit", 5, t(1, 15));
    const month = db.$client.prepare(
      "insert into free_months (account_id, api_code, month, used_units, overrun_units, latest_at, reached_at) values (1, ?, ?, ?, 0, ?, ?)",
    );
    month.run("revit", "2026-01", 3, t(1, 10), t(1, 10));
    month.run("revit", "2026-02", 5, t(2, 20), t(2, 20));
    month.run("revit", "2026-03", 2, t(3, 12), t(3, 12));
    month.run("revit", "2026-04", 1, t(4, 9), null);
    month.run("photo", "2026-01", 0, t(1, 7), t(1, 7));
    migrateDatabase(db);
    expect(db.$client.prepare("select api_code as api, month, reaches from free_months order by api_code, month").all()).toEqual([
      { api: "photo", month: "2026-01", reaches: `[[0,${t(1, 7)}]]` },
      { api: "revit", month: "2026-01", reaches: `[[3,${t(1, 10)}]]` },
      { api: "revit", month: "2026-02", reaches: `[[5,${t(2, 20)}]]` },
      // Units given back by a reversal since: the cap is no longer reached.
      { api: "revit", month: "2026-03", reaches: "[]" },
      { api: "revit", month: "2026-04", reaches: "[]" },
    ]);
  });

  it("is idempotent: migrating twice changes nothing", () => {
    migrateDatabase(freshFile());
    const before = db.$client.prepare("select count(*) from price_entries").pluck().get();
    migrateDatabase(db);
    expect(db.$client.prepare("select count(*) from price_entries").pluck().get()).toBe(before);
  });

  it("checks foreign keys after applying migrations, and not on a start with none to apply", () => {
    const checks = (statements: string[]) => statements.filter((sql) => /foreign_key_check/i.test(sql)).length;
    const path = join((dir = mkdtempSync(join(tmpdir(), "flexgate-migrate-"))), "flexgate.sqlite");
    const first: string[] = [];
    SqliteStore.open({ path, onStatement: (sql) => first.push(sql) }).db.$client.close();
    const again: string[] = [];
    db = SqliteStore.open({ path, onStatement: (sql) => again.push(sql) }).db;
    expect([checks(first), checks(again)]).toEqual([1, 0]);
  });

  it("ships the published APS price history in every new database", () => {
    migrateDatabase(freshFile());
    const rows = db.$client
      .prepare("select api_code, meter, unit_quantity, tokens_per_unit_micros, date(effective_from / 1000, 'unixepoch') as since from price_entries order by api_code, effective_from")
      .raw()
      .all();
    expect(rows).toEqual([
      ["design-automation/3dsmax", "SECOND", 3600, 6_000_000, "2019-10-28"],
      ["design-automation/3dsmax", "SECOND", 3600, 2_000_000, "2022-03-29"],
      ["design-automation/autocad", "SECOND", 3600, 4_000_000, "2016-11-01"],
      ["design-automation/autocad", "SECOND", 3600, 2_000_000, "2022-03-29"],
      ["design-automation/fusion", "SECOND", 3600, 3_000_000, "2025-06-01"],
      ["design-automation/inventor", "SECOND", 3600, 6_000_000, "2019-10-28"],
      ["design-automation/inventor", "SECOND", 3600, 2_000_000, "2022-03-29"],
      ["design-automation/revit", "SECOND", 3600, 6_000_000, "2019-10-28"],
      ["design-automation/revit", "SECOND", 3600, 2_000_000, "2022-03-29"],
      ["flow-graph-engine/processing", "SECOND", 3600, 1_000_000, "2024-11-01"],
      ["model-derivative/basic-interactions", "CALL", 300000, 1_000_000, "2025-12-08"],
      ["model-derivative/complex-job", "JOB", 1, 1_500_000, "2016-11-01"],
      ["model-derivative/complex-job", "JOB", 1, 500_000, "2022-03-29"],
      ["model-derivative/simple-job", "JOB", 1, 200_000, "2016-11-01"],
      ["model-derivative/simple-job", "JOB", 1, 100_000, "2022-03-29"],
      ["reality-capture/photoscene", "GIGAPIXEL", 1, 3_500_000, "2017-11-01"],
      ["reality-capture/photoscene", "GIGAPIXEL", 1, 1_000_000, "2022-03-29"],
      ["reality-capture/photoscene", "PHOTO", 50, 1_000_000, "2022-09-07"],
    ]);
  });

  it("loads demo data into an empty database once, consistent with the ledger, and never into one with accounts", async () => {
    migrateDatabase(freshFile());
    const services = createServices({ store: new SqliteStore(db), clock: () => Date.UTC(2026, 10, 25), rules: DEFAULT_RULES });
    expect(await seedDemoData(services)).toBe(true);
    const accounts = await services.accounts.list({}, 100, undefined);
    expect(await accounts.totalCount).toBeGreaterThanOrEqual(5);
    expect(accounts.items.every((account) => account.demo && account.name.startsWith("Demo:"))).toBe(true);
    expect(db.$client.prepare("select count(*) from usage_charges").pluck().get()).toBeGreaterThan(100);
    expect(await services.accounts.statuses(accounts.items)).toContain("GRACE");
    expect(await services.ledger.verify()).toEqual([]);
    expect(await seedDemoData(services)).toBe(false);
  });

  it("loads three tiered demo accounts (FREE, PAID with PAYG, PAID prepay only) with a month of usage, and demo caps marked as such", async () => {
    migrateDatabase(freshFile());
    const now = Date.UTC(2026, 10, 25);
    const services = createServices({ store: new SqliteStore(db), clock: () => now, rules: DEFAULT_RULES });
    expect(await seedDemoData(services)).toBe(true);
    const accounts = (await services.accounts.list({}, 100, undefined)).items;
    // The five LEGACY demo accounts and the three tiered ones.
    expect(accounts).toHaveLength(8);
    const plans = await services.tiered.plans(accounts.map((account) => account.id));
    const tiered = accounts.filter((account) => plans.get(account.id)!.tier !== "LEGACY");
    expect(tiered.map((account) => [account.name, plans.get(account.id)!.tier, plans.get(account.id)!.payg])).toEqual([
      ["Demo: Sendai Studio (Free tier)", "FREE", false],
      ["Demo: Yokohama Plant Engineering (PAYG)", "PAID", true],
      ["Demo: Kobe Prepaid Works (prepay only)", "PAID", false],
    ]);
    for (const account of tiered) {
      const charges = await services.ledger.charges(account.id, { from: now - 31 * 86_400_000 }, 100, undefined);
      expect(await charges.totalCount, account.name).toBeGreaterThan(20);
    }
    const [free, payg] = tiered;
    expect((await services.tiered.freeUsage(free!.id)).some((row) => row.usedUnits > 0n)).toBe(true);
    const statement = await services.tiered.paygStatement(payg!.id, "2026-11");
    expect(statement.tokensMicros).toBeGreaterThan(0n);
    const caps = await services.tiered.freeCaps();
    expect(caps.length).toBeGreaterThan(0);
    expect(caps.every((cap) => cap.note?.startsWith("demo value, not APS's"))).toBe(true);
    expect(await services.ledger.verify()).toEqual([]);
  });

  it("leaves a database with a real account alone", async () => {
    migrateDatabase(freshFile());
    const services = createServices({ store: new SqliteStore(db), clock: () => Date.UTC(2026, 10, 25), rules: DEFAULT_RULES });
    await services.accounts.create({ name: "Real customer" }, SYSTEM_ACTOR);
    expect(await seedDemoData(services)).toBe(false);
    expect(await (await services.accounts.list({}, 100, undefined)).totalCount).toBe(1);
  });
});

/**
 * Allocations are indexed by account only for the parts an account owes (DEFICIT): rating writes
 * no index entry per account for the lots, pools and packs that pay, and past balances find those
 * parts through the account's charges instead, by index, as settlements find the deficit parts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { aFlexPack, anAccount, at, aUsageEvent, harnessOn, type SqliteHarness } from "../fixtures/harness.js";
import { sqlitePlan } from "../fixtures/test-sql.js";
import { openTestStore } from "../fixtures/test-store.js";

let h: SqliteHarness;
const statements: string[] = [];
afterEach(() => h.close());

async function openHarness(): Promise<SqliteHarness> {
  statements.length = 0;
  return harnessOn(await openTestStore({ engine: "sqlite", onStatement: (sql) => statements.push(sql) }), { now: "2024-06-01T00:00:00Z" }) as SqliteHarness;
}

/** Entries in the deficit index, counted in its own pages (SQLite's dbstat table). */
function deficitIndexEntries(): number {
  const row = h.file.db.$client.prepare(`select coalesce(sum(ncell), 0) as entries from dbstat where name = 'allocations_deficit_idx' and pagetype = 'leaf'`).get() as { entries: number };
  return row.entries;
}

/** SQLite's plans of the statements run by `work` that read allocations. */
async function allocationPlans(work: () => Promise<unknown>): Promise<string[]> {
  statements.length = 0;
  await work();
  return statements
    .filter((sql) => /from "?allocations"?|join "?allocations"?/i.test(sql) && !/^insert/i.test(sql.trim()))
    .map((sql) => sqlitePlan(h.file.db, sql));
}

describe("the deficit index", () => {
  it("gets no entry for a part a pack pays, and one for a part the account owes", async () => {
    h = await openHarness();
    const account = await anAccount(h, { balancePolicy: "NEGATIVE_WITH_GRACE" });
    await aFlexPack(h, account.id, { tokens: "100" });
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "1" }));
    expect(deficitIndexEntries()).toBe(0);
    const owed = await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "1000" }));
    const parts = (await h.services.ledger.allocations([owed.charge.id])).get(owed.charge.id) ?? [];
    expect(parts.map((part) => part.source)).toContain("DEFICIT");
    expect(deficitIndexEntries()).toBe(1);
  });

  it("serves a settlement and a past balance by index, never by reading every part", async () => {
    h = await openHarness();
    const account = await anAccount(h, { balancePolicy: "NEGATIVE_WITH_GRACE" });
    await aFlexPack(h, account.id, { tokens: "100" });
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "1000" }));
    const settling = await allocationPlans(() => aFlexPack(h, account.id, { tokens: "100" }));
    const pastBalance = await allocationPlans(() => h.services.insight.balanceAsOf(account.id, at("2024-06-01T00:00:00Z")));
    expect(settling.some((plan) => plan.includes("allocations_deficit_idx"))).toBe(true);
    expect(pastBalance.some((plan) => plan.includes("usage_charges_account_occurred_idx"))).toBe(true);
    for (const plan of [...settling, ...pastBalance]) expect(plan).not.toMatch(/SCAN (allocations|a)\b/);
  });
});

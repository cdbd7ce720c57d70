/**
 * The tiered regime on PostgreSQL: the worked example of domain §8 figure for figure, a tiered
 * group, reversals and pool imports, through the same rating algorithm (store/rate-group.ts)
 * with the PostgreSQL engine's reads, multi-row writes and upserts. Test values chosen
 * for the test, not APS's: revit at 1 token per 1200 s capped at 3 units a month; a complex job
 * at 0.5 tokens; a Token Flex pool of 20, a Flex pack of 100.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import { DEFAULT_RULES } from "../../server/services/context.js";
import { createServices } from "../../server/services/index.js";
import { PgStore } from "../../server/store/pg/store.js";
import { at, OPERATOR, tokens } from "../fixtures/harness.js";
import { refusalOf } from "../fixtures/ledger-assertions.js";
import { freshDatabase, NO_SERVER, TEST_DATABASE_URL, type TestDatabase } from "../fixtures/postgres.js";
import { anEnrolledAccount, anEventAt, COMPLEX, partsOf, publishTestTerms, remaindersOf, REVIT, type World } from "../fixtures/tiered.js";

describe.skipIf(!TEST_DATABASE_URL)(`the tiered regime on PostgreSQL${TEST_DATABASE_URL ? "" : ` (skipped: ${NO_SERVER})`}`, () => {
  let database: TestDatabase;
  let store: PgStore;
  let world: World;

  beforeAll(async () => {
    database = await freshDatabase("tiered");
    store = await PgStore.open({ url: database.url, poolSize: 2 });
    let now = at("2025-12-01T00:00:00Z");
    const services = createServices({ store, clock: () => now, rules: DEFAULT_RULES });
    world = { services, store, setNow: (value) => (now = typeof value === "number" ? value : at(value)) };
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it("rates every step as the domain says and the month's statement reads 11 tokens", async () => {
    await publishTestTerms(world);
    const account = await anEnrolledAccount(world, { tier: "FREE", from: "2026-01-01T09:00:00Z" });
    world.setNow("2026-01-09T00:00:00Z");
    const { rating, tiered, funding } = world.services;
    const record = async (apiCode: string, quantity: string, occurredAt: string) => (await rating.recordUsage(anEventAt(account.id, apiCode, quantity, occurredAt))).charge;

    let charge = await record(REVIT, "1500", "2026-01-05T10:00:00Z");
    expect([charge.units, await partsOf(world, charge), await remaindersOf(world, account.id)]).toEqual([1n, ["FREE_ALLOWANCE 1u"], [`${REVIT} 2026-01 300`]]);
    charge = await record(REVIT, "1500", "2026-01-06T10:00:00Z");
    expect([charge.units, await remaindersOf(world, account.id)]).toEqual([1n, [`${REVIT} 2026-01 600`]]);
    charge = await record(REVIT, "3000", "2026-01-07T10:00:00Z");
    expect([charge.units, await partsOf(world, charge)]).toEqual([3n, ["FREE_ALLOWANCE 1u", "OVERRUN 2u"]]);
    expect((await tiered.freeUsage(account.id, "2026-01")).find((row) => row.apiCode === REVIT)?.suspendedUntil).toBe(at("2026-02-01T00:00:00Z"));

    const chargesBefore = await store.reads.countCharges({ accountId: account.id });
    expect((await refusalOf(() => record(REVIT, "100", "2026-01-08T10:00:00Z"))).code).toBe("API_SUSPENDED");
    expect(await store.reads.countCharges({ accountId: account.id })).toBe(chargesBefore);
    expect((await record(COMPLEX, "1", "2026-01-08T11:00:00Z")).units).toBe(1n);

    world.setNow("2026-01-15T09:00:00Z");
    await tiered.enrollPlan({ accountId: account.id, tier: "PAID", payg: true, effectiveFrom: at("2026-01-15T00:00:00Z") }, OPERATOR);
    await funding.importTokenFlexPool(
      { accountId: account.id, tokensMicros: tokens("20"), startsAt: at("2026-01-01T00:00:00Z"), endsAt: at("2027-01-01T00:00:00Z"), externalRef: "EBA-pg" },
      OPERATOR,
    );
    await funding.recordFlexPurchase(
      { accountId: account.id, tokensMicros: tokens("100"), purchasedAt: at("2026-01-15T00:00:00Z"), channel: "ESTORE", orderRef: "pg-pack" },
      OPERATOR,
    );
    world.setNow("2026-01-20T00:00:00Z");
    charge = await record(REVIT, "36000", "2026-01-16T10:00:00Z");
    expect([charge.units, await partsOf(world, charge)]).toEqual([30n, ["TOKEN_FLEX 20", "FLEX_PACK 10"]]);
    charge = await record(COMPLEX, "200", "2026-01-17T10:00:00Z");
    expect([charge.units, await partsOf(world, charge)]).toEqual([200n, ["FLEX_PACK 90", "PAYG 10"]]);
    charge = await record(REVIT, "600", "2026-01-18T10:00:00Z");
    expect([charge.units, await remaindersOf(world, account.id)]).toEqual([0n, [`${REVIT} - 600`]]);
    charge = await record(REVIT, "600", "2026-01-19T10:00:00Z");
    expect([charge.units, await partsOf(world, charge)]).toEqual([1n, ["PAYG 1"]]);

    const statement = await tiered.paygStatement(account.id, "2026-01");
    expect([formatMicros(statement.tokensMicros), statement.status]).toEqual(["11", "OPEN"]);
    expect(statement.lines.map((line) => [line.apiCode, line.units, formatMicros(line.tokensMicros)])).toEqual([
      [REVIT, 1n, "1"],
      [COMPLEX, 20n, "10"],
    ]);
    expect(await store.reads.recomputeLedger()).toEqual([]);
  });

  it("rates a batch of tiered events in one group, each seeing the ones before, as one at a time would", async () => {
    world.setNow("2026-01-20T00:00:00Z");
    const account = await anEnrolledAccount(world, { tier: "PAID", payg: true, from: "2026-01-20T00:00:00Z" });
    world.setNow("2026-01-21T00:00:00Z");
    const results = await world.services.rating.recordUsageBatch(
      ["700", "700", "700", "1000"].map((quantity, index) => anEventAt(account.id, REVIT, quantity, `2026-01-20T1${index}:00:00Z`)),
    );
    expect(results.map((result) => (result.error ? result.error.code : result.charge.units))).toEqual([0n, 1n, 0n, 1n]);
    expect(await remaindersOf(world, account.id)).toEqual([`${REVIT} - 700`]);
    expect(formatMicros((await world.services.tiered.paygStatement(account.id, "2026-01")).tokensMicros)).toBe("2");
  });

  it("reverses FREE and PAID charges, replays a pool import and refuses a conflicting one", async () => {
    world.setNow("2026-01-20T00:00:00Z");
    const { rating, tiered, funding } = world.services;
    const free = await anEnrolledAccount(world, { tier: "FREE", from: "2026-01-20T00:00:00Z" });
    const paid = await anEnrolledAccount(world, { tier: "PAID", payg: true, from: "2026-01-20T00:00:00Z" });
    const pool = { accountId: paid.id, tokensMicros: tokens("2"), startsAt: at("2026-01-01T00:00:00Z"), endsAt: at("2027-01-01T00:00:00Z"), externalRef: "EBA-pg-reversal" };
    const imported = await funding.importTokenFlexPool(pool, OPERATOR);
    expect(await funding.importTokenFlexPool(pool, OPERATOR)).toEqual(imported);
    expect((await refusalOf(() => funding.importTokenFlexPool({ ...pool, tokensMicros: tokens("3") }, OPERATOR))).code).toBe("IDEMPOTENCY_CONFLICT");

    world.setNow("2026-01-21T00:00:00Z");
    const freeCharge = (await rating.recordUsage(anEventAt(free.id, REVIT, "3600", "2026-01-20T10:00:00Z"))).charge;
    const paidCharge = (await rating.recordUsage(anEventAt(paid.id, REVIT, "6000", "2026-01-20T10:00:00Z"))).charge;
    expect(await partsOf(world, paidCharge)).toEqual(["TOKEN_FLEX 2", "PAYG 3"]);
    await rating.reverseCharge(freeCharge.id, "test correction", OPERATOR);
    await rating.reverseCharge(paidCharge.id, "test correction", OPERATOR);
    expect((await tiered.freeUsage(free.id)).find((row) => row.apiCode === REVIT)).toMatchObject({ usedUnits: 0n, suspendedUntil: null });
    expect((await store.reads.findTokenFlexPool(imported.id))!.remainingMicros).toBe(tokens("2"));
    expect((await tiered.paygStatement(paid.id, "2026-01")).tokensMicros).toBe(0n);
    expect(await store.reads.recomputeLedger()).toEqual([]);
  });

  it("sees a cap published after rating has cached the terms: the price book counter moves with it", async () => {
    world.setNow("2026-01-25T00:00:00Z");
    const account = await anEnrolledAccount(world, { tier: "FREE", from: "2026-01-25T00:00:00Z" });
    world.setNow("2026-01-26T00:00:00Z");
    const { rating, tiered } = world.services;
    await rating.recordUsage(anEventAt(account.id, REVIT, "1200", "2026-01-25T10:00:00Z"));
    await tiered.publishFreeCap({ apiCode: COMPLEX, unitsPerMonth: 2, note: "test value" }, OPERATOR);
    world.setNow("2026-01-27T00:00:00Z");
    const charge = (await rating.recordUsage(anEventAt(account.id, COMPLEX, "1", "2026-01-26T10:00:00Z"))).charge;
    expect(await partsOf(world, charge)).toEqual(["FREE_ALLOWANCE 1u"]);
  });
  it("reads free usage, remainders and PAYG statements of several accounts at once, as one at a time", async () => {
    const { tiered, accounts } = world.services;
    const ids = (await accounts.list({}, 100, undefined)).items.map((account) => account.id);
    expect(ids.length).toBeGreaterThan(1);
    const [usage, remainders, statements] = await Promise.all([tiered.freeUsageOf(ids, "2026-01"), tiered.unitRemaindersOf(ids), tiered.paygStatementsOf(ids, "2026-01")]);
    for (const id of ids) {
      expect(usage.get(id)).toEqual(await tiered.freeUsage(id, "2026-01"));
      expect(remainders.get(id)).toEqual(await tiered.unitRemainders(id));
      expect(statements.get(id)).toEqual(await tiered.paygStatement(id, "2026-01"));
    }
    expect([...statements.values()].some((statement) => statement.tokensMicros > 0n)).toBe(true);
  });
});

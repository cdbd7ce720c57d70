/**
 * Domain §8 at service level, reversing tiered charges: tokens back to their exact sources
 * (pool, pack, PAYG line, deficit, and the pool that settled a deficit), free units back to
 * their month (lifting its suspension), remainders left as they are. Test values chosen for the
 * tests (fixtures/tiered.ts): revit at 1 token per 1200 s capped at 3 units a month.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import { aFlexPack, at, createHarness, OPERATOR, tokens } from "../fixtures/harness.js";
import { expectRefusedUnchanged } from "../fixtures/ledger-assertions.js";
import { anEnrolledAccount, anEventAt, partsOf, publishTestTerms, remaindersOf, REVIT } from "../fixtures/tiered.js";

type Harness = Awaited<ReturnType<typeof createHarness>>;

describe("reversing tiered charges", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
    await publishTestTerms(h);
  });
  afterEach(() => h.close());

  const record = async (accountId: number, quantity: string, occurredAt: string) =>
    (await h.services.rating.recordUsage(anEventAt(accountId, REVIT, quantity, occurredAt))).charge;
  const reverse = (chargeId: number) => h.services.rating.reverseCharge(chargeId, "operator correction", OPERATOR);
  const aPool = (accountId: number, size: string, externalRef: string) =>
    h.services.funding.importTokenFlexPool(
      { accountId, tokensMicros: tokens(size), startsAt: at("2026-01-01T00:00:00Z"), endsAt: at("2027-01-01T00:00:00Z"), externalRef },
      OPERATOR,
    );

  it("gives a FREE charge's units back to its month, lifting the suspension, and leaves the remainder", async () => {
    const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
    h.setNow("2026-01-10T00:00:00Z");
    await record(account.id, "1500", "2026-01-05T10:00:00Z");
    const second = await record(account.id, "2700", "2026-01-06T10:00:00Z");
    expect(await partsOf(h, second)).toEqual(["FREE_ALLOWANCE 2u"]);
    await expectRefusedUnchanged(h.sql, () => record(account.id, "100", "2026-01-07T10:00:00Z"), "API_SUSPENDED", undefined);

    await reverse(second.id);
    expect((await h.services.tiered.freeUsage(account.id)).map((row) => [row.usedUnits, row.overrunUnits, row.suspendedUntil])).toEqual([[1n, 0n, null]]);
    expect(await remaindersOf(h, account.id)).toEqual([`${REVIT} 2026-01 600`]);
    expect((await record(account.id, "100", "2026-01-07T10:00:00Z")).units).toBe(0n);
    await expectRefusedUnchanged(h.sql, () => reverse(second.id), "BAD_USER_INPUT", "chargeId");
  });

  it("gives overrun units back too", async () => {
    const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
    h.setNow("2026-01-10T00:00:00Z");
    const charge = await record(account.id, "6000", "2026-01-05T10:00:00Z");
    await reverse(charge.id);
    expect((await h.services.tiered.freeUsage(account.id)).map((row) => [row.usedUnits, row.overrunUnits])).toEqual([[0n, 0n]]);
  });

  it("gives a PAID charge's tokens back to its pool and pack and takes its PAYG part off the statement", async () => {
    const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
    const pool = await aPool(account.id, "20", "EBA-reversal");
    const pack = await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2026-01-01T00:00:00Z") });
    h.setNow("2026-01-10T00:00:00Z");
    const charge = await record(account.id, `${1200 * 130}`, "2026-01-05T10:00:00Z");
    expect(await partsOf(h, charge)).toEqual(["TOKEN_FLEX 20", "FLEX_PACK 100", "PAYG 10"]);

    await reverse(charge.id);
    expect((await h.store.reads.findTokenFlexPool(pool.id))!.remainingMicros).toBe(tokens("20"));
    expect((await h.store.reads.findFlexPack(pack.id))!.remainingMicros).toBe(tokens("100"));
    const statement = await h.services.tiered.paygStatement(account.id, "2026-01");
    expect([statement.tokensMicros, statement.lines]).toEqual([0n, [{ apiCode: REVIT, units: 0n, tokensMicros: 0n }]]);
    expect(await h.store.reads.recomputeLedger()).toEqual([]);
  });

  it("takes back a prepay deficit, and gives back to the pool what it settled of it", async () => {
    const account = await anEnrolledAccount(h, { tier: "PAID", from: "2026-01-01T00:00:00Z" });
    h.setNow("2026-01-10T00:00:00Z");
    const owed = await record(account.id, "6000", "2026-01-05T10:00:00Z");
    expect(await partsOf(h, owed)).toEqual(["DEFICIT 5"]);
    const pool = await aPool(account.id, "8", "EBA-settles");
    expect(formatMicros(pool.remainingMicros)).toBe("3");

    await reverse(owed.id);
    expect(formatMicros((await h.store.reads.findTokenFlexPool(pool.id))!.remainingMicros)).toBe("8");
    expect(await h.store.reads.recomputeLedger()).toEqual([]);
    const after = (await h.services.accounts.find(account.id))!;
    expect([after.deficitMicros, await h.services.tiered.status(after)]).toEqual([0n, "ACTIVE"]);
  });

  it("takes back an unpaid prepay deficit and lifts the restriction", async () => {
    const account = await anEnrolledAccount(h, { tier: "PAID", from: "2026-01-01T00:00:00Z" });
    h.setNow("2026-01-10T00:00:00Z");
    const owed = await record(account.id, "2400", "2026-01-05T10:00:00Z");
    expect(await h.services.tiered.status((await h.services.accounts.find(account.id))!)).toBe("RESTRICTED");
    await reverse(owed.id);
    const after = (await h.services.accounts.find(account.id))!;
    expect([after.deficitMicros, await h.services.tiered.status(after)]).toEqual([0n, "ACTIVE"]);
  });
});

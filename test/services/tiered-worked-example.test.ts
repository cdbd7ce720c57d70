/**
 * The worked example at the end of domain §8, figure for figure, through the services and the
 * store. Test values chosen for the test, not APS's: revit at 1 token per 1200 s capped at 3
 * units a month; a complex job at 0.5 tokens; a Token Flex pool of 20, a Flex pack of 100.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import type { Account } from "../../server/core/model.js";
import { aFlexPack, at, createHarness, OPERATOR, tokens } from "../fixtures/harness.js";
import { expectRefusedUnchanged } from "../fixtures/ledger-assertions.js";
import { anEnrolledAccount, anEventAt, COMPLEX, partsOf, publishTestTerms, remaindersOf, REVIT } from "../fixtures/tiered.js";

type Harness = Awaited<ReturnType<typeof createHarness>>;

describe("the worked example of domain §8, through the services", () => {
  let h: Harness;
  let account: Account;
  const record = (apiCode: string, quantity: string, occurredAt: string) => h.services.rating.recordUsage(anEventAt(account.id, apiCode, quantity, occurredAt));

  beforeAll(async () => {
    h = await createHarness();
    await publishTestTerms(h);
    account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T09:00:00Z" });
    h.setNow("2026-01-09T00:00:00Z");
  });
  afterAll(() => h.close());

  it("FREE: 1500 s is 1 unit free, 300 s left over", async () => {
    const { charge } = await record(REVIT, "1500", "2026-01-05T10:00:00Z");
    expect([charge.units, charge.tokensMicros, await partsOf(h, charge)]).toEqual([1n, 0n, ["FREE_ALLOWANCE 1u"]]);
    expect(await remaindersOf(h, account.id)).toEqual([`${REVIT} 2026-01 300`]);
  });

  it("FREE: another 1500 s is 1 unit, 600 s left over", async () => {
    const { charge } = await record(REVIT, "1500", "2026-01-06T10:00:00Z");
    expect([charge.units, await partsOf(h, charge)]).toEqual([1n, ["FREE_ALLOWANCE 1u"]]);
    expect(await remaindersOf(h, account.id)).toEqual([`${REVIT} 2026-01 600`]);
  });

  it("FREE: 3000 s is 3 units, 1 free and 2 overrun, and suspends revit until the 1st", async () => {
    const { charge } = await record(REVIT, "3000", "2026-01-07T10:00:00Z");
    expect([charge.units, charge.tokensMicros, await partsOf(h, charge)]).toEqual([3n, 0n, ["FREE_ALLOWANCE 1u", "OVERRUN 2u"]]);
    expect(await remaindersOf(h, account.id)).toEqual([]);
    const usage = await h.services.tiered.freeUsage(account.id, "2026-01");
    expect(usage.find((row) => row.apiCode === REVIT)).toEqual({ apiCode: REVIT, capUnits: 3n, usedUnits: 3n, overrunUnits: 2n, suspendedUntil: at("2026-02-01T00:00:00Z") });
  });

  it("FREE: 100 s of revit is refused API_SUSPENDED and writes nothing", async () => {
    await expectRefusedUnchanged(h.sql, () => record(REVIT, "100", "2026-01-08T10:00:00Z"), "API_SUSPENDED", undefined);
  });

  it("FREE: a complex job still rates", async () => {
    const { charge } = await record(COMPLEX, "1", "2026-01-08T11:00:00Z");
    expect([charge.units, charge.tokensMicros]).toEqual([1n, 0n]);
  });

  it("PAID with PAYG, pool 20 and pack 100: 36000 s is 30 tokens, pool 20 then pack 10 (revit no longer suspended)", async () => {
    h.setNow("2026-01-15T09:00:00Z");
    await h.services.tiered.enrollPlan({ accountId: account.id, tier: "PAID", payg: true, effectiveFrom: at("2026-01-15T00:00:00Z") }, OPERATOR);
    await h.services.funding.importTokenFlexPool(
      { accountId: account.id, tokensMicros: tokens("20"), startsAt: at("2026-01-01T00:00:00Z"), endsAt: at("2027-01-01T00:00:00Z"), externalRef: "EBA-worked-example" },
      OPERATOR,
    );
    await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2026-01-15T00:00:00Z") });
    h.setNow("2026-01-20T00:00:00Z");
    const { charge } = await record(REVIT, "36000", "2026-01-16T10:00:00Z");
    expect([charge.units, formatMicros(charge.tokensMicros), await partsOf(h, charge)]).toEqual([30n, "30", ["TOKEN_FLEX 20", "FLEX_PACK 10"]]);
  });

  it("PAID: 200 complex jobs at 0.5 are 100 tokens, pack 90 then PAYG 10", async () => {
    const { charge } = await record(COMPLEX, "200", "2026-01-17T10:00:00Z");
    expect([charge.units, formatMicros(charge.tokensMicros), await partsOf(h, charge)]).toEqual([200n, "100", ["FLEX_PACK 90", "PAYG 10"]]);
  });

  it("PAID: 600 s charges nothing and leaves 600 s", async () => {
    const { charge } = await record(REVIT, "600", "2026-01-18T10:00:00Z");
    expect([charge.units, charge.tokensMicros, await partsOf(h, charge)]).toEqual([0n, 0n, []]);
    expect(await remaindersOf(h, account.id)).toEqual([`${REVIT} - 600`]);
  });

  it("PAID: another 600 s completes 1 unit, paid by PAYG: the month's statement reads 11 tokens", async () => {
    const { charge } = await record(REVIT, "600", "2026-01-19T10:00:00Z");
    expect([charge.units, await partsOf(h, charge)]).toEqual([1n, ["PAYG 1"]]);
    expect(await remaindersOf(h, account.id)).toEqual([]);
    const statement = await h.services.tiered.paygStatement(account.id, "2026-01");
    expect([formatMicros(statement.tokensMicros), statement.status]).toEqual(["11", "OPEN"]);
    expect(statement.lines.map((line) => [line.apiCode, line.units, formatMicros(line.tokensMicros)])).toEqual([
      [REVIT, 1n, "1"],
      [COMPLEX, 20n, "10"],
    ]);
  });

  it("leaves the pool and pack empty, no deficit, and the stored ledger equal to its recomputation", async () => {
    const [pool] = await h.services.funding.tokenFlexPools(account.id);
    expect(pool!.remainingMicros).toBe(0n);
    expect((await h.services.accounts.find(account.id))!.deficitMicros).toBe(0n);
    expect(await h.store.reads.recomputeLedger()).toEqual([]);
  });
});

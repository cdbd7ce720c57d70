/**
 * Domain §8 at service level, paying tiered usage: Token Flex pools (imported idempotently,
 * soonest end first) before Flex packs, then PAYG or, prepay only, a deficit that restricts at
 * once until new funds settle it; cloud-credit lots paying nothing at or after the configured
 * credit acceptance end, nor counting then in the balance, the authorization or the forecast;
 * PAYG statements OPEN until 3 days after their month and FINAL after.
 * Test values chosen for the tests (fixtures/tiered.ts): revit at 1 token per 1200 s.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAXIMA } from "../../server/core/maxima.js";
import { formatMicros } from "../../server/core/money.js";
import { aCreditLot, aFlexPack, anAccount, at, createHarness, OPERATOR, tokens } from "../fixtures/harness.js";
import { expectRefusedUnchanged, refusalOf, scalar } from "../fixtures/ledger-assertions.js";
import { anEnrolledAccount, anEventAt, aPool, COMPLEX, partsOf, publishTestTerms, REVIT } from "../fixtures/tiered.js";

type Harness = Awaited<ReturnType<typeof createHarness>>;

describe("paying tiered usage", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
    await publishTestTerms(h);
  });
  afterEach(() => h.close());

  const record = async (accountId: number, apiCode: string, quantity: string, occurredAt: string) =>
    (await h.services.rating.recordUsage(anEventAt(accountId, apiCode, quantity, occurredAt))).charge;

  describe("Token Flex pools", () => {
    it("imports a pool once per externalRef: the same payload replays it, another is IDEMPOTENCY_CONFLICT", async () => {
      const account = await anAccount(h);
      const pool = await aPool(h, account.id, "20", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-7");
      expect(await aPool(h, account.id, "20", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-7")).toEqual(pool);
      expect(await scalar(h.sql, "select count(*) from token_flex_pools")).toBe(1);
      expect(await scalar(h.sql, "select count(*) from audit_log where action = 'tokenFlexPool.import'")).toBe(1);
      await expectRefusedUnchanged(h.sql, () => aPool(h, account.id, "21", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-7"), "IDEMPOTENCY_CONFLICT", "input.externalRef");
    });

    it("refuses an empty pool, one that ends before it starts and an unknown account, writing nothing", async () => {
      const account = await anAccount(h);
      await expectRefusedUnchanged(h.sql, () => aPool(h, account.id, "0", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-0"), "BAD_USER_INPUT", "input.tokens");
      await expectRefusedUnchanged(h.sql, () => aPool(h, account.id, "5", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "EBA-1"), "BAD_USER_INPUT", "input.endsAt");
      await expectRefusedUnchanged(h.sql, () => aPool(h, 999_999, "5", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-2"), "NOT_FOUND", "input.accountId");
    });

    it("holds a pool's remaining tokens to the ledger: a stored figure that drifts is reported", async () => {
      const account = await anAccount(h);
      const pool = await aPool(h, account.id, "20", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-drift");
      expect(await h.store.reads.recomputeLedger()).toEqual([]);
      await h.sql.run("update token_flex_pools set remaining_micros = remaining_micros - 1 where id = ?", pool.id);
      expect(await h.store.reads.recomputeLedger()).toEqual([{ entity: "TokenFlexPool", id: pool.id, storedMicros: tokens("20") - 1n, recomputedMicros: tokens("20") }]);
    });

    it(`refuses a pool beyond the ${MAXIMA.tokenFlexPoolsPerAccount} one account may hold, writing nothing`, async () => {
      const account = await anAccount(h);
      // One-month terms one after another: never more than one valid at once.
      const month = (index: number) => new Date(Date.UTC(2010, index, 1)).toISOString();
      for (let index = 0; index < MAXIMA.tokenFlexPoolsPerAccount; index++) {
        await aPool(h, account.id, "1", month(index), month(index + 1), `EBA-many-${index}`);
      }
      await expectRefusedUnchanged(h.sql, () => aPool(h, account.id, "1", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-one-too-many"), "BAD_USER_INPUT", "input.accountId");
    });

    it(`refuses a pool whose term overlaps ${MAXIMA.tokenFlexPoolsAtOnce} of the account's, writing nothing; one after them is accepted`, async () => {
      const account = await anAccount(h);
      for (let index = 0; index < MAXIMA.tokenFlexPoolsAtOnce; index++) {
        await aPool(h, account.id, "1", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", `EBA-at-once-${index}`);
      }
      await expectRefusedUnchanged(h.sql, () => aPool(h, account.id, "1", "2026-12-31T00:00:00Z", "2027-06-01T00:00:00Z", "EBA-at-once-more"), "BAD_USER_INPUT", "input.accountId");
      expect((await aPool(h, account.id, "1", "2027-01-01T00:00:00Z", "2027-06-01T00:00:00Z", "EBA-after-them")).externalRef).toBe("EBA-after-them");
    });

    it("lists an account's pools soonest end first, expired ones only when asked", async () => {
      const account = await anAccount(h);
      await aPool(h, account.id, "5", "2025-01-01T00:00:00Z", "2025-12-01T00:00:00Z", "EBA-old");
      await aPool(h, account.id, "7", "2025-12-01T00:00:00Z", "2026-12-01T00:00:00Z", "EBA-new");
      expect((await h.services.funding.tokenFlexPools(account.id)).map((pool) => pool.externalRef)).toEqual(["EBA-new"]);
      expect((await h.services.funding.tokenFlexPools(account.id, true)).map((pool) => pool.externalRef)).toEqual(["EBA-old", "EBA-new"]);
    });
  });

  describe("the paid funding chain", () => {
    it("drains pools soonest end first, then packs, then PAYG", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      await aPool(h, account.id, "10", "2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z", "EBA-late");
      await aPool(h, account.id, "10", "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z", "EBA-soon");
      await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2026-01-01T00:00:00Z") });
      h.setNow("2026-01-10T00:00:00Z");
      const [late, soon] = await h.services.funding.tokenFlexPools(account.id).then((pools) => [...pools].sort((a, b) => b.endsAt - a.endsAt));
      const charge = await record(account.id, REVIT, `${1200 * 125}`, "2026-01-05T10:00:00Z");
      expect(await partsOf(h, charge)).toEqual(["TOKEN_FLEX 10", "TOKEN_FLEX 10", "FLEX_PACK 100", "PAYG 5"]);
      const pools = await h.store.reads.allocationsOfCharges([charge.id]);
      expect(pools.slice(0, 2).map((part) => part.tokenFlexPoolId)).toEqual([soon!.id, late!.id]);
      expect((await h.services.accounts.find(account.id))!.deficitMicros).toBe(0n);
    });

    it("prepay only: the rest is a deficit, the account is RESTRICTED at once, and new funds settle it first", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", from: "2026-01-01T00:00:00Z" });
      await aPool(h, account.id, "2", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-small");
      h.setNow("2026-01-10T00:00:00Z");
      const charge = await record(account.id, REVIT, "6000", "2026-01-05T10:00:00Z");
      expect(await partsOf(h, charge)).toEqual(["TOKEN_FLEX 2", "DEFICIT 3"]);
      expect(await h.services.tiered.status((await h.services.accounts.find(account.id))!)).toBe("RESTRICTED");
      await expectRefusedUnchanged(h.sql, () => record(account.id, REVIT, "100", "2026-01-06T10:00:00Z"), "ACCOUNT_RESTRICTED", undefined);
      const pool = await aPool(h, account.id, "10", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-top-up");
      expect(formatMicros(pool.remainingMicros)).toBe("7");
      const settled = (await h.services.accounts.find(account.id))!;
      expect([settled.deficitMicros, await h.services.tiered.status(settled)]).toEqual([0n, "ACTIVE"]);
      expect(await partsOf(h, await record(account.id, REVIT, "1200", "2026-01-06T10:00:00Z"))).toEqual(["TOKEN_FLEX 1"]);
      expect(await h.store.reads.recomputeLedger()).toEqual([]);
    });

    it("prepay only: a pool imported before its term settles the deficit when the term starts, soonest end first, and lifts the restriction", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-10T00:00:00Z");
      await record(account.id, REVIT, "6000", "2026-01-05T10:00:00Z"); // 5 tokens owed
      const later = await aPool(h, account.id, "10", "2026-02-01T00:00:00Z", "2027-06-01T00:00:00Z", "EBA-next-year");
      const sooner = await aPool(h, account.id, "3", "2026-02-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-next-quarter");
      const state = async () => {
        const found = (await h.services.accounts.find(account.id))!;
        const pools = await h.services.funding.tokenFlexPools(account.id);
        return [formatMicros(found.deficitMicros), await h.services.tiered.status(found), ...pools.map((pool) => formatMicros(pool.remainingMicros))];
      };
      expect(await state()).toEqual(["5", "RESTRICTED", "3", "10"]);

      // Before the term, nothing is due.
      h.setNow("2026-01-31T23:59:59.999Z");
      expect(await h.services.funding.settleStartedPools()).toBe(0);
      expect(await state()).toEqual(["5", "RESTRICTED", "3", "10"]);

      h.setNow("2026-02-01T00:00:00Z");
      expect(await h.services.funding.settleStartedPools()).toBe(1);
      expect(await state()).toEqual(["0", "ACTIVE", "0", "8"]);
      expect([sooner.id, later.id].map(String)).toEqual((await h.services.funding.tokenFlexPools(account.id)).map((pool) => String(pool.id)));
      expect(await h.services.funding.settleStartedPools()).toBe(0);
      expect(await partsOf(h, await record(account.id, REVIT, "1200", "2026-02-01T00:00:00Z"))).toEqual(["TOKEN_FLEX 1"]);
      expect(await h.store.reads.recomputeLedger()).toEqual([]);
      expect(await h.services.ledger.verify()).toEqual([]);
    });

    it("prepay only: a pool comes in once, at its start; a deficit booked after it waits for the next new funds", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-10T00:00:00Z");
      await aPool(h, account.id, "20", "2026-02-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-from-february");
      h.setNow("2026-02-01T00:00:00Z");
      expect(await h.services.funding.settleStartedPools()).toBe(1); // nothing owed: it comes in and pays nothing
      // January's usage, reported late: the pool pays nothing outside its term, so it is owed.
      await record(account.id, REVIT, "1200", "2026-01-20T10:00:00Z");
      const owing = (await h.services.accounts.find(account.id))!;
      expect([owing.deficitMicros, await h.services.tiered.status(owing)]).toEqual([tokens("1"), "RESTRICTED"]);
      expect(await h.services.funding.settleStartedPools()).toBe(0);
      expect((await h.services.accounts.find(account.id))!.deficitMicros).toBe(tokens("1"));
      expect(formatMicros((await h.services.funding.tokenFlexPools(account.id))[0]!.remainingMicros)).toBe("20");
    });

    it("settles started pools a page of accounts at a time, each account once", async () => {
      const owing = [];
      for (const name of ["first", "second", "third"]) {
        const account = await anEnrolledAccount(h, { tier: "PAID", from: "2026-01-01T00:00:00Z" });
        h.setNow("2026-01-10T00:00:00Z");
        await record(account.id, REVIT, "1200", "2026-01-05T10:00:00Z");
        await aPool(h, account.id, "5", "2026-02-01T00:00:00Z", "2027-01-01T00:00:00Z", `EBA-${name}`);
        owing.push(account.id);
      }
      h.setNow("2026-02-01T00:00:00Z");
      expect([await h.services.funding.settleStartedPools(h.now(), 2), await h.services.funding.settleStartedPools(h.now(), 2), await h.services.funding.settleStartedPools(h.now(), 2)]).toEqual([2, 1, 0]);
      for (const id of owing) expect((await h.services.accounts.find(id))!.deficitMicros).toBe(0n);
    });

    it("with PAYG never refuses for want of tokens and books no deficit", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-10T00:00:00Z");
      const charge = await record(account.id, COMPLEX, "4", "2026-01-05T10:00:00Z");
      expect([await partsOf(h, charge), (await h.services.accounts.find(account.id))!.deficitMicros]).toEqual([["PAYG 2"], 0n]);
    });
  });

  it("pays nothing from a cloud-credit lot for usage at or after the configured credit acceptance end", async () => {
    const early = await createHarness({ now: "2022-10-01T00:00:00Z", rules: { creditAcceptanceEndAt: at("2022-09-01T00:00:00Z") } });
    try {
      const account = await anAccount(early);
      await aCreditLot(early, account.id, { amount: "100", purchasedAt: at("2022-06-01T00:00:00Z") });
      const event = (occurredAt: string) => anEventAt(account.id, COMPLEX, "1", occurredAt);
      const before = (await early.services.rating.recordUsage(event("2022-08-31T23:59:59Z"))).charge;
      const after = (await early.services.rating.recordUsage(event("2022-09-01T00:00:00Z"))).charge;
      expect([await partsOf(early, before), await partsOf(early, after)]).toEqual([["CREDIT_LOT 0.5"], ["DEFICIT 0.5"]]);
    } finally {
      await early.close();
    }
  });

  describe("PAYG statements", () => {
    it("stay OPEN until 3 days after their month; a part booked later goes on the booking month's statement", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-02-03T23:59:59.999Z");
      await record(account.id, REVIT, "1200", "2026-01-20T10:00:00Z");
      expect((await h.services.tiered.paygStatement(account.id, "2026-01")).status).toBe("OPEN");
      h.setNow("2026-02-04T00:00:00Z");
      await record(account.id, REVIT, "2400", "2026-01-21T10:00:00Z");
      const january = await h.services.tiered.paygStatement(account.id, "2026-01");
      const february = await h.services.tiered.paygStatement(account.id, "2026-02");
      expect([january.status, formatMicros(january.tokensMicros), february.status, formatMicros(february.tokensMicros)]).toEqual(["FINAL", "1", "OPEN", "2"]);
      expect(february.lines).toEqual([{ apiCode: REVIT, units: 2n, tokensMicros: tokens("2") }]);
    });

    it("book a part by the time its event is rated, not sent: one that waited on the account's lock past the close goes on the next month's", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-20T00:00:00Z");
      await record(account.id, REVIT, "1200", "2026-01-19T10:00:00Z");
      // Another unit (a purchase, another replica's group) holds the account while the event is sent.
      let release!: () => void;
      let held!: () => void;
      const holding = new Promise<void>((resolve) => (held = resolve));
      const holder = h.store.write({ accounts: [account.id] }, async () => {
        held();
        await new Promise<void>((resolve) => (release = resolve));
      });
      await holding;
      h.setNow("2026-02-03T23:59:59.000Z");
      const sent = h.services.rating.recordUsage(anEventAt(account.id, REVIT, "1200", "2026-01-31T10:00:00Z"));
      h.setNow("2026-02-04T00:00:05.000Z"); // January's statement is FINAL from here on
      release();
      await holder;
      expect((await sent).charge.ratedAt).toBe(at("2026-02-04T00:00:05.000Z"));
      const january = await h.services.tiered.paygStatement(account.id, "2026-01");
      const february = await h.services.tiered.paygStatement(account.id, "2026-02");
      expect([january.status, formatMicros(january.tokensMicros), february.status, formatMicros(february.tokensMicros)]).toEqual(["FINAL", "1", "OPEN", "1"]);
    });

    it("refuses a month that is not YYYY-MM", async () => {
      const account = await anAccount(h);
      await expectRefusedUnchanged(h.sql, () => h.services.tiered.paygStatement(account.id, "2026-13"), "BAD_USER_INPUT", "month");
    });

    it("are read as a sum per API, a row each, however many PAYG events the month holds", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-31T00:00:00Z");
      for (let day = 10; day < 30; day++) await record(account.id, REVIT, "1200", `2026-01-${day}T10:00:00Z`);
      await record(account.id, COMPLEX, "4", "2026-01-30T10:00:00Z");
      const expected = [
        { apiCode: REVIT, units: 20n, tokensMicros: tokens("20") },
        { apiCode: COMPLEX, units: 4n, tokensMicros: tokens("2") },
      ];
      expect(await h.services.context.store.reads.paygPartsOf(account.id, "2026-01")).toEqual(expected);
      expect((await h.services.context.store.reads.paygPartsOfAccounts([account.id], "2026-01")).get(account.id)).toEqual(expected);
      expect((await h.services.tiered.paygStatement(account.id, "2026-01")).lines).toEqual(expected);
    });
  });
});

describe("cloud-credit lots from the configured credit acceptance end on", () => {
  // Only a non-default end reaches this: with the defaults no lot is still valid on 2026-01-01.
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ now: "2022-10-01T00:00:00Z", rules: { creditAcceptanceEndAt: at("2022-09-01T00:00:00Z") } });
  });
  afterEach(() => h.close());

  const shown = (balance: { cloudCreditsMicros: bigint; availableMicros: bigint }) => [formatMicros(balance.cloudCreditsMicros), formatMicros(balance.availableMicros)];

  it("count for nothing in the balance, now and as of a date at or after the end", async () => {
    const account = await anAccount(h);
    await aCreditLot(h, account.id, { amount: "100", purchasedAt: at("2022-06-01T00:00:00Z") });
    expect(shown(await h.balanceOf(account.id))).toEqual(["0", "0"]);
    expect(shown(await h.services.insight.balanceAsOf(account.id, at("2022-08-31T23:59:59.999Z")))).toEqual(["100", "100"]);
    expect(shown(await h.services.insight.balanceAsOf(account.id, at("2022-09-01T00:00:00Z")))).toEqual(["0", "0"]);
  });

  it("leave a HARD_STOP account holding only a lot unauthorized, with the INSUFFICIENT_BALANCE rating gives", async () => {
    const account = await anAccount(h, { balancePolicy: "HARD_STOP" });
    await aCreditLot(h, account.id, { amount: "100", purchasedAt: at("2022-06-01T00:00:00Z") });
    const answer = await h.services.insight.usageAuthorization(account.id, COMPLEX);
    expect([answer.allowed, answer.code]).toEqual([false, "INSUFFICIENT_BALANCE"]);
    const refusal = await refusalOf(() => h.services.rating.recordUsage(anEventAt(account.id, COMPLEX, "1", "2022-10-01T00:00:00Z")));
    expect(refusal.code).toBe("INSUFFICIENT_BALANCE");
  });

  it("settle, when imported, the deficit of usage from before the end and leave the deficit of usage from the end on owed", async () => {
    const account = await anAccount(h);
    const before = (await h.services.rating.recordUsage(anEventAt(account.id, COMPLEX, "2", "2022-08-20T00:00:00Z"))).charge;
    await h.services.rating.recordUsage(anEventAt(account.id, COMPLEX, "4", "2022-09-20T00:00:00Z"));
    const lot = await aCreditLot(h, account.id, { amount: "100", purchasedAt: at("2022-06-01T00:00:00Z") });
    expect(formatMicros(lot.remainingMicros)).toBe("99");
    expect(formatMicros((await h.services.context.store.reads.findAccount(account.id))!.deficitMicros)).toBe("2");
    const settled = await h.sql.rows("select a.charge_id as charge, s.amount_micros as amount from deficit_settlements s join allocations a on a.id = s.allocation_id");
    expect(settled).toEqual([{ charge: before.id, amount: Number(tokens("1")) }]);
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  const expiryWarnings = async (accountId: number) => {
    const alert = (await h.services.insight.alerts(accountId)).find((each) => each.kind === "EXPIRING_SOON");
    const forecast = await h.services.insight.forecast(accountId);
    return {
      alert: alert ? [formatMicros(alert.tokensMicros!), alert.at] : null,
      forecast: formatMicros(forecast.expiringWithin90DaysMicros),
    };
  };

  it("are not said to expire soon once past the end: they are worth nothing already", async () => {
    const account = await anAccount(h);
    await aCreditLot(h, account.id, { amount: "100", purchasedAt: at("2021-11-01T00:00:00Z") }); // expires 2022-11-01
    expect(await expiryWarnings(account.id)).toEqual({ alert: null, forecast: "0" });
  });

  it("are said to be lost at the end when it comes within 90 days, before they expire", async () => {
    h.setNow("2022-08-01T00:00:00Z");
    const account = await anAccount(h);
    await aCreditLot(h, account.id, { amount: "100", purchasedAt: at("2022-06-01T00:00:00Z") }); // expires 2023-06-01
    expect(await expiryWarnings(account.id)).toEqual({ alert: ["100", at("2022-09-01T00:00:00Z")], forecast: "100" });
  });

  it("pay no burn in the forecast from the end on: the balance runs out at the end and the lot's rest expires unused", async () => {
    h.setNow("2022-08-01T00:00:00Z");
    const account = await anAccount(h);
    await aCreditLot(h, account.id, { amount: "100", purchasedAt: at("2022-06-01T00:00:00Z") });
    await h.services.rating.recordUsage(anEventAt(account.id, COMPLEX, "60", "2022-07-15T00:00:00Z")); // 30 tokens: 1 a day
    // 2022-08-01 to 08-31 burn 31 of the 70 left; from 09-01 the lot pays nothing.
    const forecast = await h.services.insight.forecast(account.id);
    expect([formatMicros(forecast.burnRatePerDayMicros), forecast.depletesAt, formatMicros(forecast.expiringUnusedMicros)]).toEqual(["1", at("2022-09-01T00:00:00Z"), "39"]);
  });
});

/**
 * Domain §8 "Reports follow the plan", at service level on SQLite: quotes show the units, tokens,
 * what pays them and the remainder after, and refuse as rating would; usageAuthorization says
 * why not (API_SUSPENDED, ACCOUNT_RESTRICTED) and always allows PAYG; the account status has no
 * grace under a tiered plan; alerts add FREE_CAP_NEAR and API_SUSPENDED; the forecast counts
 * PAYG as unlimited and pools as funds; balances, now and as of a date, count Token Flex pools;
 * usage summaries and the usage export carry units. Test values chosen for the tests
 * (fixtures/tiered.ts): revit at 1 token per 1200 s capped at 3 units a month (5 where a test
 * says so); the complex job at 0.5 tokens a job; pools and packs of the sizes each test names.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import type { Account } from "../../server/core/model.js";
import type { UsageQuote } from "../../server/services/rating.service.js";
import { aFlexPack, anAccount, at, collect, createHarness, OPERATOR, tokens } from "../fixtures/harness.js";
import { dbSnapshot, expectRefusedUnchanged } from "../fixtures/ledger-assertions.js";
import { anEnrolledAccount, anEventAt, aPool, COMPLEX, partsOf, publishTestTerms, REVIT } from "../fixtures/tiered.js";

type Harness = Awaited<ReturnType<typeof createHarness>>;
const DAY = 86_400_000;

/** A quote's parts in the notation of partsOf: "SOURCE amount", or "SOURCE Nu" for units only. */
const quotedParts = (quote: UsageQuote) =>
  quote.allocations.map((part) => (part.units !== undefined && part.amountMicros === 0n ? `${part.source} ${part.units}u` : `${part.source} ${formatMicros(part.amountMicros)}`));

describe("reports under the tiered plans", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
    await publishTestTerms(h);
  });
  afterEach(() => h.close());

  const record = async (accountId: number, apiCode: string, quantity: string, occurredAt: string) =>
    (await h.services.rating.recordUsage(anEventAt(accountId, apiCode, quantity, occurredAt))).charge;
  const fresh = async (account: Account) => (await h.services.accounts.find(account.id))!;
  /** A PAID prepay-only account owing 1 token since 2026-01-09 (1200 s of revit and no funds). */
  const anOwingPrepayAccount = async () => {
    const account = await anEnrolledAccount(h, { tier: "PAID", from: "2026-01-01T00:00:00Z" });
    h.setNow("2026-01-09T00:00:00Z");
    await record(account.id, REVIT, "1200", "2026-01-05T10:00:00Z");
    return account;
  };
  /** A LEGACY account owing 1 token since 2025-12-10 (two complex jobs, no funds), enrolled from 2025-12-11. */
  const anOldDeficitEnrolledIn = async (plan: { tier: "PAID"; payg: boolean }) => {
    const account = await anAccount(h);
    h.setNow("2025-12-10T12:00:00Z");
    await record(account.id, COMPLEX, "2", "2025-12-10T10:00:00Z");
    h.setNow("2025-12-11T00:00:00Z");
    await h.services.tiered.enrollPlan({ accountId: account.id, ...plan, effectiveFrom: at("2025-12-11T00:00:00Z") }, OPERATOR);
    return account;
  };

  describe("quotes", () => {
    it("quote a FREE event's units, free and overrun parts and the month's remainder after, writing nothing, as recording then rates it", async () => {
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-09T00:00:00Z");
      const first = anEventAt(account.id, REVIT, "1500", "2026-01-05T10:00:00Z");
      const before = await dbSnapshot(h.sql);
      const quote = await h.services.rating.quoteUsage(first);
      expect(await dbSnapshot(h.sql)).toEqual(before);
      expect([quote.plan.tier, quote.units, quote.tokensMicros, quotedParts(quote), quote.remainderAfter]).toEqual([
        "FREE",
        1n,
        0n,
        ["FREE_ALLOWANCE 1u"],
        { apiCode: REVIT, quantityMicros: tokens("300"), month: "2026-01" },
      ]);
      const charge = (await h.services.rating.recordUsage(first)).charge;
      expect([charge.units, await partsOf(h, charge)]).toEqual([1n, ["FREE_ALLOWANCE 1u"]]);

      await record(account.id, REVIT, "1500", "2026-01-05T11:00:00Z"); // 2 units used, 600 s left
      const third = anEventAt(account.id, REVIT, "3000", "2026-01-05T12:00:00Z");
      const overrun = await h.services.rating.quoteUsage(third);
      expect([overrun.units, quotedParts(overrun), overrun.remainderAfter?.quantityMicros]).toEqual([3n, ["FREE_ALLOWANCE 1u", "OVERRUN 2u"], 0n]);
      expect(await partsOf(h, (await h.services.rating.recordUsage(third)).charge)).toEqual(["FREE_ALLOWANCE 1u", "OVERRUN 2u"]);
    });

    it("refuse a FREE event of a suspended API with API_SUSPENDED, writing nothing, as recording does", async () => {
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-09T00:00:00Z");
      await record(account.id, REVIT, "3600", "2026-01-05T10:00:00Z"); // the cap of 3 units
      const late = anEventAt(account.id, REVIT, "100", "2026-01-06T10:00:00Z");
      await expectRefusedUnchanged(h.sql, () => h.services.rating.quoteUsage(late), "API_SUSPENDED", undefined);
      await expectRefusedUnchanged(h.sql, () => h.services.rating.recordUsage(late), "API_SUSPENDED", undefined);
      // The next month's allowance is fresh.
      h.setNow("2026-02-02T00:00:00Z");
      expect((await h.services.rating.quoteUsage(anEventAt(account.id, REVIT, "1200", "2026-02-01T10:00:00Z"))).units).toBe(1n);
    });

    it("quote a PAID event drained from pool then pack, with the balance after counting the pool, as recording then rates it", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      await aPool(h, account.id, "20", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-quote");
      await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2026-01-01T00:00:00Z") });
      h.setNow("2026-01-10T00:00:00Z");
      const event = anEventAt(account.id, REVIT, "36000", "2026-01-05T10:00:00Z");
      const quote = await h.services.rating.quoteUsage(event);
      expect([quote.units, formatMicros(quote.tokensMicros), quotedParts(quote), formatMicros(quote.balanceAfter.flexTokensMicros)]).toEqual([
        30n,
        "30",
        ["TOKEN_FLEX 20", "FLEX_PACK 10"],
        "90",
      ]);
      expect(quote.remainderAfter).toEqual({ apiCode: REVIT, quantityMicros: 0n, month: null });
      const charge = (await h.services.rating.recordUsage(event)).charge;
      expect([charge.units, charge.tokensMicros, await partsOf(h, charge)]).toEqual([quote.units, quote.tokensMicros, quotedParts(quote)]);
      expect(await h.balanceOf(account.id)).toEqual(quote.balanceAfter);
    });

    it("quote a paid event that completes no unit as nothing to pay and its remainder carried on", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-10T00:00:00Z");
      await record(account.id, REVIT, "600", "2026-01-05T10:00:00Z");
      const nothing = await h.services.rating.quoteUsage(anEventAt(account.id, REVIT, "500", "2026-01-05T11:00:00Z"));
      expect([nothing.units, nothing.tokensMicros, nothing.allocations, nothing.remainderAfter]).toEqual([0n, 0n, [], { apiCode: REVIT, quantityMicros: tokens("1100"), month: null }]);
      const onPayg = await h.services.rating.quoteUsage(anEventAt(account.id, REVIT, "600", "2026-01-05T11:00:00Z"));
      expect([onPayg.units, quotedParts(onPayg), onPayg.remainderAfter?.quantityMicros]).toEqual([1n, ["PAYG 1"], 0n]);
    });

    it("refuse a prepay-only account that owes with ACCOUNT_RESTRICTED, writing nothing", async () => {
      const account = await anOwingPrepayAccount();
      await expectRefusedUnchanged(h.sql, () => h.services.rating.quoteUsage(anEventAt(account.id, REVIT, "100", "2026-01-06T10:00:00Z")), "ACCOUNT_RESTRICTED", undefined);
    });

    describe("of an event recorded already: the charge recording it again replays, whatever the account's state now", () => {
      /** What a quote says of the event against what it was charged, and the balance as it stands. */
      const quotedAgainst = async (event: ReturnType<typeof anEventAt>, charge: Awaited<ReturnType<typeof record>>) => {
        const before = await dbSnapshot(h.sql);
        const quote = await h.services.rating.quoteUsage(event);
        expect(await dbSnapshot(h.sql)).toEqual(before);
        expect([quote.alreadyRecorded?.id, quote.units, quote.tokensMicros, quotedParts(quote)]).toEqual([charge.id, charge.units, charge.tokensMicros, await partsOf(h, charge)]);
        expect(quote.balanceAfter).toEqual(await h.balanceOf(charge.accountId));
        return quote;
      };

      it("a FREE event that used the month's cap, the API suspended since", async () => {
        const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
        h.setNow("2026-01-09T00:00:00Z");
        const event = anEventAt(account.id, REVIT, "3700", "2026-01-05T10:00:00Z");
        const charge = (await h.services.rating.recordUsage(event)).charge;
        const quote = await quotedAgainst(event, charge);
        expect(quote.remainderAfter).toEqual({ apiCode: REVIT, quantityMicros: tokens("100"), month: "2026-01" });
        expect((await h.services.rating.recordUsage(event)).replayed).toBe(true);
      });

      it("a prepay-only event that left the account owing", async () => {
        const account = await anEnrolledAccount(h, { tier: "PAID", from: "2026-01-01T00:00:00Z" });
        h.setNow("2026-01-09T00:00:00Z");
        const event = anEventAt(account.id, REVIT, "1200", "2026-01-05T10:00:00Z");
        const charge = (await h.services.rating.recordUsage(event)).charge;
        await quotedAgainst(event, charge);
      });

      it("a LEGACY event: what paid it, not a second drain of the pack", async () => {
        const account = await anAccount(h);
        await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2025-12-01T00:00:00Z") });
        h.setNow("2025-12-21T00:00:00Z");
        const event = anEventAt(account.id, REVIT, "600", "2025-12-20T10:00:00Z");
        const charge = (await h.services.rating.recordUsage(event)).charge;
        expect(formatMicros((await quotedAgainst(event, charge)).balanceAfter.flexTokensMicros)).toBe("99.5");
      });
    });

    it("quote a LEGACY event as before: exact tokens, no units, no remainder", async () => {
      const account = await anAccount(h);
      await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2025-12-01T00:00:00Z") });
      h.setNow("2025-12-21T00:00:00Z");
      const quote = await h.services.rating.quoteUsage(anEventAt(account.id, REVIT, "600", "2025-12-20T10:00:00Z"));
      expect([quote.plan.tier, quote.units, quote.remainderAfter, formatMicros(quote.tokensMicros), quotedParts(quote)]).toEqual(["LEGACY", null, null, "0.5", ["FLEX_PACK 0.5"]]);
    });

    it("quote a LEGACY event paid from a Token Flex pool as rating pays it", async () => {
      const account = await anAccount(h);
      await aPool(h, account.id, "5", "2025-12-01T00:00:00Z", "2026-12-01T00:00:00Z", "EBA-legacy");
      h.setNow("2025-12-21T00:00:00Z");
      const event = anEventAt(account.id, COMPLEX, "2", "2025-12-20T10:00:00Z");
      const quote = await h.services.rating.quoteUsage(event);
      expect(quotedParts(quote)).toEqual(["TOKEN_FLEX 1"]);
      expect(await partsOf(h, (await h.services.rating.recordUsage(event)).charge)).toEqual(quotedParts(quote));
    });
  });

  describe("usageAuthorization", () => {
    it("allows a FREE call under the cap, refuses API_SUSPENDED once the cap is used, naming the API and the date it lifts, and allows other APIs", async () => {
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-09T00:00:00Z");
      expect(await h.services.insight.usageAuthorization(account.id, REVIT)).toMatchObject({ allowed: true, code: null, reason: null, status: "ACTIVE" });
      await record(account.id, REVIT, "3600", "2026-01-05T10:00:00Z");
      const refused = await h.services.insight.usageAuthorization(account.id, REVIT);
      expect([refused.allowed, refused.code, refused.status, refused.plan.tier]).toEqual([false, "API_SUSPENDED", "ACTIVE", "FREE"]);
      expect(refused.reason).toMatch(new RegExp(`^${REVIT} is suspended for this account until 2026-02-01T00:00:00(\\.000)?Z`));
      expect((await h.services.insight.usageAuthorization(account.id, COMPLEX)).allowed).toBe(true);
      h.setNow("2026-02-01T00:00:00Z");
      expect((await h.services.insight.usageAuthorization(account.id, REVIT)).allowed).toBe(true);
    });

    it("lifts the suspension for a FREE account that enrolls in PAID", async () => {
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-09T00:00:00Z");
      await record(account.id, REVIT, "3600", "2026-01-05T10:00:00Z");
      await h.services.tiered.enrollPlan({ accountId: account.id, tier: "PAID", payg: true }, OPERATOR);
      expect(await h.services.insight.usageAuthorization(account.id, REVIT)).toMatchObject({ allowed: true, code: null });
    });

    it("refuses a prepay-only account that owes with ACCOUNT_RESTRICTED at once, and allows it again once new funds settle the deficit", async () => {
      const account = await anOwingPrepayAccount();
      const refused = await h.services.insight.usageAuthorization(account.id, REVIT);
      expect([refused.allowed, refused.code, refused.status]).toEqual([false, "ACCOUNT_RESTRICTED", "RESTRICTED"]);
      expect(refused.reason).toContain("owes 1 tokens");
      // A free call is still allowed: nothing to pay.
      await h.services.prices.publish({ apiCode: "test/free-api", meter: "CALL", unitQuantity: 1, tokensPerUnitMicros: 0n, note: "test value" }, OPERATOR);
      expect((await h.services.insight.usageAuthorization(account.id, "test/free-api")).allowed).toBe(true);
      await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2026-01-08T00:00:00Z") });
      expect(await h.services.insight.usageAuthorization(account.id, REVIT)).toMatchObject({ allowed: true, code: null, status: "ACTIVE" });
    });

    it("always allows PAYG: with no funds at all, and with a deficit left from LEGACY", async () => {
      const empty = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      expect(await h.services.insight.usageAuthorization(empty.id, REVIT)).toMatchObject({ allowed: true, code: null, status: "ACTIVE" });
      const owing = await anOldDeficitEnrolledIn({ tier: "PAID", payg: true });
      expect((await fresh(owing)).deficitMicros).toBe(tokens("1"));
      expect(await h.services.insight.usageAuthorization(owing.id, REVIT)).toMatchObject({ allowed: true, code: null, status: "ACTIVE" });
    });

    it("answers a LEGACY account as before, with the code rating would give", async () => {
      const account = await anAccount(h);
      h.setNow("2025-12-10T12:00:00Z");
      await record(account.id, COMPLEX, "2", "2025-12-10T10:00:00Z");
      expect(await h.services.insight.usageAuthorization(account.id, COMPLEX)).toMatchObject({ allowed: true, status: "GRACE", code: null, plan: { tier: "LEGACY" } });
      h.setNow("2025-12-25T12:00:00Z");
      expect(await h.services.insight.usageAuthorization(account.id, COMPLEX)).toMatchObject({ allowed: false, status: "RESTRICTED", code: "ACCOUNT_RESTRICTED" });
      const hardStop = await anAccount(h, { balancePolicy: "HARD_STOP" });
      expect(await h.services.insight.usageAuthorization(hardStop.id, COMPLEX)).toMatchObject({ allowed: false, code: "INSUFFICIENT_BALANCE" });
      expect(await h.services.insight.usageAuthorization(hardStop.id, "no/such-api")).toMatchObject({ allowed: false, code: "PRICE_NOT_FOUND" });
    });

    it("refuses a malformed API code and an unknown account as errors", async () => {
      const account = await anAccount(h);
      await expectRefusedUnchanged(h.sql, () => h.services.insight.usageAuthorization(account.id, " "), "BAD_USER_INPUT", "apiCode");
      await expectRefusedUnchanged(h.sql, () => h.services.insight.usageAuthorization(999_999, REVIT), "NOT_FOUND", "accountId");
    });
  });

  describe("account status and balance", () => {
    it("restricts an owing prepay-only account at once, where LEGACY gives 14 days of grace, and never restricts PAYG", async () => {
      const legacy = await anAccount(h);
      h.setNow("2025-12-10T12:00:00Z");
      await record(legacy.id, COMPLEX, "2", "2025-12-10T10:00:00Z");
      const prepay = await anOldDeficitEnrolledIn({ tier: "PAID", payg: false });
      const payg = await anOldDeficitEnrolledIn({ tier: "PAID", payg: true });
      const accounts = await h.services.accounts.findMany([legacy.id, prepay.id, payg.id]);
      expect(accounts.map((account) => formatMicros(account.deficitMicros))).toEqual(["1", "1", "1"]);
      expect(await h.services.accounts.statuses(accounts)).toEqual(["GRACE", "RESTRICTED", "ACTIVE"]);
      expect(await Promise.all(accounts.map((account) => h.services.accounts.status(account)))).toEqual(["GRACE", "RESTRICTED", "ACTIVE"]);
      expect(await Promise.all(accounts.map((account) => h.services.tiered.status(account)))).toEqual(["GRACE", "RESTRICTED", "ACTIVE"]);
      // No grace end under a tiered plan: there is none to show.
      const balances = await h.services.accounts.balances(accounts);
      expect(balances.map((balance) => balance.graceEndsAt)).toEqual([at("2025-12-24T12:00:00Z"), null, null]);
      expect((await h.services.insight.balanceAsOf(prepay.id, h.now())).graceEndsAt).toBeNull();
    });

    it("counts Token Flex pools among the flex tokens, only while valid", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", from: "2026-01-01T00:00:00Z" });
      await aPool(h, account.id, "20", "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z", "EBA-balance");
      await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2026-01-01T00:00:00Z") });
      h.setNow("2026-01-10T00:00:00Z");
      expect(formatMicros((await h.balanceOf(account.id)).flexTokensMicros)).toBe("120");
      expect(formatMicros((await h.balanceOf(account.id)).availableMicros)).toBe("120");
      h.setNow("2026-03-01T00:00:00Z");
      expect(formatMicros((await h.balanceOf(account.id)).flexTokensMicros)).toBe("100");
    });

    it("rebuilds the balance as of any date with pools, their draws, their reversals and the deficits they settle", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", from: "2026-01-01T00:00:00Z" });
      await aPool(h, account.id, "20", "2026-01-02T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-asof");
      h.setNow("2026-01-10T00:00:00Z");
      const charge = await record(account.id, REVIT, "30000", "2026-01-05T10:00:00Z"); // 25 tokens: pool 20, deficit 5
      expect(await partsOf(h, charge)).toEqual(["TOKEN_FLEX 20", "DEFICIT 5"]);
      h.setNow("2026-01-12T00:00:00Z");
      await aPool(h, account.id, "10", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "EBA-settles"); // pays the 5 owed
      h.setNow("2026-01-15T00:00:00Z");
      await h.services.rating.reverseCharge(charge.id, "test: reversed", OPERATOR);
      h.setNow("2026-01-20T00:00:00Z");
      const asOf = async (iso: string) => {
        const balance = await h.services.insight.balanceAsOf(account.id, at(iso));
        return [formatMicros(balance.flexTokensMicros), formatMicros(balance.deficitMicros)];
      };
      expect(await asOf("2026-01-01T12:00:00Z")).toEqual(["10", "0"]); // the second pool only: the first starts on the 2nd
      expect(await asOf("2026-01-03T00:00:00Z")).toEqual(["30", "0"]);
      expect(await asOf("2026-01-11T00:00:00Z")).toEqual(["10", "5"]); // usage of the 5th drew 20, owes 5
      expect(await asOf("2026-01-13T00:00:00Z")).toEqual(["5", "0"]); // the second pool settled the 5
      expect(await asOf("2026-01-16T00:00:00Z")).toEqual(["30", "0"]); // reversed: both pools whole again
      expect(await h.services.insight.balanceAsOf(account.id, h.now())).toEqual(await h.balanceOf(account.id));
    });
  });

  describe("alerts", () => {
    it("warn FREE_CAP_NEAR at 80% of a cap and API_SUSPENDED once it is used, naming the API and the first day of next month", async () => {
      await h.services.tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth: 5, note: "test value: a cap of 5" }, OPERATOR);
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-09T00:00:00Z");
      const kinds = async () => (await h.services.insight.alerts(account.id)).map((alert) => alert.kind);
      await record(account.id, REVIT, "3600", "2026-01-05T10:00:00Z"); // 3 of 5: 60%
      expect(await kinds()).toEqual([]);
      await record(account.id, REVIT, "1200", "2026-01-05T11:00:00Z"); // 4 of 5: 80%
      const [near] = await h.services.insight.alerts(account.id);
      expect([near!.kind, near!.at, near!.tokensMicros]).toEqual(["FREE_CAP_NEAR", at("2026-02-01T00:00:00Z"), null]);
      expect(near!.message).toContain(`${REVIT} has used 4 of its 5 free units this month`);
      expect(near!.message).toMatch(/2026-02-01T00:00:00(\.000)?Z/);
      await record(account.id, REVIT, "1200", "2026-01-05T12:00:00Z"); // 5 of 5: suspended
      const [suspended, ...others] = await h.services.insight.alerts(account.id);
      expect([suspended!.kind, suspended!.at, others]).toEqual(["API_SUSPENDED", at("2026-02-01T00:00:00Z"), []]);
      expect(suspended!.message).toMatch(new RegExp(`^${REVIT} is suspended until 2026-02-01T00:00:00(\\.000)?Z`));
      h.setNow("2026-02-01T00:00:00Z");
      expect(await kinds()).toEqual([]);
    });

    it("say nothing of free caps to a PAID account that used as much", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-09T00:00:00Z");
      await record(account.id, REVIT, "6000", "2026-01-05T10:00:00Z");
      expect((await h.services.insight.alerts(account.id)).map((alert) => alert.kind)).not.toContain("FREE_CAP_NEAR");
      expect((await h.services.insight.alerts(account.id)).map((alert) => alert.kind)).not.toContain("API_SUSPENDED");
    });

    it("say an owing prepay-only account is restricted now, without a grace end", async () => {
      const account = await anOwingPrepayAccount();
      const alerts = await h.services.insight.alerts(account.id);
      expect(alerts.map((alert) => [alert.kind, alert.at])).toEqual([
        ["RESTRICTED", null],
        ["DEFICIT", null],
        ["LOW_BALANCE", null],
      ]);
      expect(alerts[0]!.message).toContain("enroll in PAYG");
    });

    it("keep a LEGACY account's alerts as they were: the restriction dated at its grace end", async () => {
      const account = await anAccount(h);
      h.setNow("2025-12-10T12:00:00Z");
      await record(account.id, COMPLEX, "2", "2025-12-10T10:00:00Z");
      h.setNow("2025-12-25T12:00:00Z");
      const alerts = await h.services.insight.alerts(account.id);
      expect(alerts.map((alert) => [alert.kind, alert.at])).toEqual([
        ["RESTRICTED", at("2025-12-24T12:00:00Z")],
        ["DEFICIT", at("2025-12-24T12:00:00Z")],
        ["LOW_BALANCE", null],
      ]);
    });
  });

  describe("the forecast", () => {
    /** 30 tokens of revit used on 2026-01-10 against a pool of 60; the forecast read on 2026-01-31. */
    const burning = async (plan: { tier: "PAID"; payg: boolean }) => {
      const account = await anEnrolledAccount(h, { ...plan, from: "2026-01-01T00:00:00Z" });
      await aPool(h, account.id, "60", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", `EBA-forecast-${account.id}`);
      h.setNow("2026-01-10T12:00:00Z");
      await record(account.id, REVIT, "36000", "2026-01-10T10:00:00Z");
      h.setNow("2026-01-31T00:00:00Z");
      return h.services.insight.forecast(account.id);
    };

    it("runs a prepay-only account's pool out at the burn rate", async () => {
      const forecast = await burning({ tier: "PAID", payg: false });
      expect([formatMicros(forecast.burnRatePerDayMicros), forecast.depletesAt, forecast.unlimited]).toEqual(["1", at("2026-01-31T00:00:00Z") + 30 * DAY, false]);
    });

    it("counts PAYG as unlimited: no run-out date, and says so", async () => {
      const forecast = await burning({ tier: "PAID", payg: true });
      expect([formatMicros(forecast.burnRatePerDayMicros), forecast.depletesAt, forecast.unlimited]).toEqual(["1", null, true]);
    });

    it("keeps a LEGACY forecast limited", async () => {
      const account = await anAccount(h);
      expect((await h.services.insight.forecast(account.id)).unlimited).toBe(false);
    });
  });

  describe("usage summaries and the usage export", () => {
    it("carry the whole charged units of tiered charges and none for LEGACY ones", async () => {
      const account = await anAccount(h);
      h.setNow("2025-12-21T00:00:00Z");
      await record(account.id, REVIT, "600", "2025-12-20T10:00:00Z"); // LEGACY: 0.5 tokens, no units
      h.setNow("2026-01-01T00:00:00Z");
      await h.services.tiered.enrollPlan({ accountId: account.id, tier: "PAID", payg: true }, OPERATOR);
      h.setNow("2026-01-10T00:00:00Z");
      await record(account.id, REVIT, "1500", "2026-01-05T10:00:00Z"); // 1 unit, 300 s left
      await record(account.id, REVIT, "2100", "2026-01-06T10:00:00Z"); // 2 units
      const monthly = await h.services.insight.usageSummary(account.id, at("2025-12-01T00:00:00Z"), at("2026-02-01T00:00:00Z"), "MONTH");
      expect(monthly.map((row) => [row.apiCode, row.events, row.units, formatMicros(row.tokensMicros)])).toEqual([
        [REVIT, 1, null, "0.5"],
        [REVIT, 2, 3n, "3"],
      ]);
      const rows = await collect(await h.services.insight.exportUsage(account.id, at("2025-12-01T00:00:00Z"), at("2026-02-01T00:00:00Z")));
      expect(rows.map((row) => row.units)).toEqual([null, 1n, 2n]);
    });
  });
});

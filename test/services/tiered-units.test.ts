/**
 * Domain §8 at service level, charged units and the free allowance: whole units only, the paid
 * rollover across months, one FREE remainder per month, a new meter dropping the remainder,
 * unbilled outcomes adding nothing, free caps (none in force is 0), the suspension to the next
 * month (also when a cap is lowered below the units used) and its lifting by PAID. Test values
 * chosen for the tests (fixtures/tiered.ts): revit at 1 token per 1200 s capped at 3 units a
 * month; the complex job at 0.5 tokens and no cap.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import { aFlexPack, at, createHarness, OPERATOR, tokens } from "../fixtures/harness.js";
import { expectRefusedUnchanged } from "../fixtures/ledger-assertions.js";
import { anEnrolledAccount, anEventAt, COMPLEX, partsOf, publishTestTerms, remaindersOf, REVIT } from "../fixtures/tiered.js";

type Harness = Awaited<ReturnType<typeof createHarness>>;

describe("charged units and the free allowance", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
    await publishTestTerms(h);
  });
  afterEach(() => h.close());

  const record = async (accountId: number, apiCode: string, quantity: string, occurredAt: string, outcome: "SUCCEEDED" | "FAILED" = "SUCCEEDED") =>
    (await h.services.rating.recordUsage(anEventAt(accountId, apiCode, quantity, occurredAt, { outcome }))).charge;

  describe("charged units", () => {
    it("charges whole units only: 1199 s is nothing, 1 s more is exactly 1 token", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-10T00:00:00Z");
      const first = await record(account.id, REVIT, "1199", "2026-01-05T10:00:00Z");
      const second = await record(account.id, REVIT, "1", "2026-01-05T11:00:00Z");
      expect([first.units, first.tokensMicros, second.units, formatMicros(second.tokensMicros)]).toEqual([0n, 0n, 1n, "1"]);
    });

    it("carries a paid remainder across months", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-02-02T00:00:00Z");
      const january = await record(account.id, REVIT, "700", "2026-01-31T23:00:00Z");
      const february = await record(account.id, REVIT, "700", "2026-02-01T01:00:00Z");
      expect([january.units, february.units]).toEqual([0n, 1n]);
      expect(await remaindersOf(h, account.id)).toEqual([`${REVIT} - 200`]);
    });

    it("keeps one FREE remainder per month, each starting at 0", async () => {
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-02-02T00:00:00Z");
      const january = await record(account.id, REVIT, "700", "2026-01-31T23:00:00Z");
      const february = await record(account.id, REVIT, "700", "2026-02-01T01:00:00Z");
      expect([january.units, february.units]).toEqual([0n, 0n]);
      expect(await remaindersOf(h, account.id)).toEqual([`${REVIT} 2026-02 700`]);
    });

    it("drops the remainder when a version with another meter takes effect, and keeps it for late events of the old meter", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-10T00:00:00Z");
      await record(account.id, REVIT, "600", "2026-01-05T10:00:00Z");
      await h.services.prices.publish(
        { apiCode: REVIT, meter: "CALL", unitQuantity: 1200, tokensPerUnitMicros: tokens("1"), note: "test value: another meter" },
        OPERATOR,
      );
      h.setNow("2026-01-12T00:00:00Z");
      const newMeter = await record(account.id, REVIT, "600", "2026-01-11T10:00:00Z");
      const lateOldMeter = await record(account.id, REVIT, "600", "2026-01-06T10:00:00Z");
      expect([newMeter.units, lateOldMeter.units]).toEqual([0n, 1n]);
      expect(await remaindersOf(h, account.id)).toEqual([`${REVIT} - 600`]);
    });

    it("adds nothing for an outcome the version does not bill", async () => {
      const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-10T00:00:00Z");
      const failed = await record(account.id, REVIT, "1500", "2026-01-05T10:00:00Z", "FAILED");
      expect([failed.units, failed.tokensMicros, await partsOf(h, failed), await remaindersOf(h, account.id)]).toEqual([0n, 0n, [], []]);
    });
  });

  describe("the free allowance", () => {
    it("counts an API without a cap in force as capped at 0: its first event is all overrun and suspends it, other APIs go on", async () => {
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-10T00:00:00Z");
      const first = await record(account.id, COMPLEX, "2", "2026-01-05T10:00:00Z");
      expect([first.units, await partsOf(h, first)]).toEqual([2n, ["OVERRUN 2u"]]);
      await expectRefusedUnchanged(h.sql, () => record(account.id, COMPLEX, "1", "2026-01-06T10:00:00Z"), "API_SUSPENDED", undefined);
      expect(await partsOf(h, await record(account.id, REVIT, "1200", "2026-01-06T10:00:00Z"))).toEqual(["FREE_ALLOWANCE 1u"]);
    });

    it("applies a cap from its effectiveFrom, and shows the caps in force", async () => {
      h.setNow("2026-01-01T00:00:00Z");
      await h.services.tiered.publishFreeCap({ apiCode: COMPLEX, unitsPerMonth: 2, effectiveFrom: at("2026-02-01T00:00:00Z"), note: "test value" }, OPERATOR);
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-02-10T00:00:00Z");
      const january = await record(account.id, COMPLEX, "1", "2026-01-05T10:00:00Z");
      const february = await record(account.id, COMPLEX, "1", "2026-02-05T10:00:00Z");
      expect([await partsOf(h, january), await partsOf(h, february)]).toEqual([["OVERRUN 1u"], ["FREE_ALLOWANCE 1u"]]);
      expect((await h.services.tiered.freeCaps(at("2026-01-15T00:00:00Z"))).map((cap) => [cap.apiCode, cap.unitsPerMonth])).toEqual([[REVIT, 3]]);
      expect((await h.services.tiered.freeCaps()).map((cap) => [cap.apiCode, cap.unitsPerMonth])).toEqual([
        [REVIT, 3],
        [COMPLEX, 2],
      ]);
    });

    it("sees a cap published after rating has cached the terms", async () => {
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-10T00:00:00Z");
      await record(account.id, REVIT, "1200", "2026-01-05T10:00:00Z");
      await h.services.tiered.publishFreeCap({ apiCode: COMPLEX, unitsPerMonth: 2, note: "test value" }, OPERATOR);
      h.setNow("2026-01-11T00:00:00Z");
      expect(await partsOf(h, await record(account.id, COMPLEX, "1", "2026-01-10T10:00:00Z"))).toEqual(["FREE_ALLOWANCE 1u"]);
    });

    it("refuses a cap that is not a whole number from 0, starts in the past or names an API without a price, writing nothing", async () => {
      const publish = (unitsPerMonth: number, effectiveFrom?: string) =>
        h.services.tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth, effectiveFrom: effectiveFrom ? at(effectiveFrom) : null, note: "test value" }, OPERATOR);
      await expectRefusedUnchanged(h.sql, () => publish(-1), "BAD_USER_INPUT", "input.unitsPerMonth");
      await expectRefusedUnchanged(h.sql, () => publish(1.5), "BAD_USER_INPUT", "input.unitsPerMonth");
      await expectRefusedUnchanged(h.sql, () => publish(5, "2025-12-19T00:00:00Z"), "PRICE_CHANGE_IN_PAST", "input.effectiveFrom");
      await expectRefusedUnchanged(
        h.sql,
        () => h.services.tiered.publishFreeCap({ apiCode: "Not A Code", unitsPerMonth: 1, note: "test value" }, OPERATOR),
        "BAD_USER_INPUT",
        "input.apiCode",
      );
      await expectRefusedUnchanged(
        h.sql,
        () => h.services.tiered.publishFreeCap({ apiCode: "no-such/api", unitsPerMonth: 1, note: "test value" }, OPERATOR),
        "PRICE_NOT_FOUND",
        "input.apiCode",
      );
      const cap = await publish(0);
      expect(cap.unitsPerMonth).toBe(0);
      const [entry] = await h.store.reads.listAudit({ entityType: "FreeCap", limit: 1 });
      expect([entry!.action, entry!.entityId, entry!.actor]).toEqual(["freeCap.publish", String(cap.id), OPERATOR.name]);
    });

    it("suspends the API until the first instant of the next month once the cap is used", async () => {
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-02-02T00:00:00Z");
      expect(await partsOf(h, await record(account.id, REVIT, "3600", "2026-01-05T10:00:00Z"))).toEqual(["FREE_ALLOWANCE 3u"]);
      await expectRefusedUnchanged(h.sql, () => record(account.id, REVIT, "100", "2026-01-31T23:59:59.999Z"), "API_SUSPENDED", undefined);
      expect(await partsOf(h, await record(account.id, REVIT, "1200", "2026-02-01T00:00:00Z"))).toEqual(["FREE_ALLOWANCE 1u"]);
    });

    it("lifts the suspension from the PAID enrollment on, and not before it", async () => {
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-08T00:00:00Z");
      await record(account.id, REVIT, "3600", "2026-01-05T10:00:00Z");
      h.setNow("2026-01-10T00:00:00Z");
      await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2026-01-09T00:00:00Z") });
      await h.services.tiered.enrollPlan({ accountId: account.id, tier: "PAID", effectiveFrom: at("2026-01-10T00:00:00Z") }, OPERATOR);
      h.setNow("2026-01-12T00:00:00Z");
      const paid = await record(account.id, REVIT, "1200", "2026-01-11T10:00:00Z");
      expect([paid.units, (await partsOf(h, paid))[0]!.split(" ")[0]]).toEqual([1n, "FLEX_PACK"]);
      await expectRefusedUnchanged(h.sql, () => record(account.id, REVIT, "100", "2026-01-09T10:00:00Z"), "API_SUSPENDED", undefined);
    });

    describe("a cap lowered below the units already used", () => {
      /** A FREE account that used 2 of revit's 3 units on 2026-01-05, whose cap is lowered to 1 on 2026-01-10. */
      const anAccountWithCapLowered = async () => {
        const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
        h.setNow("2026-01-06T00:00:00Z");
        await record(account.id, REVIT, "2400", "2026-01-05T10:00:00Z");
        h.setNow("2026-01-10T00:00:00Z");
        await h.services.tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth: 1, note: "test value: lowered" }, OPERATOR);
        h.setNow("2026-01-11T00:00:00Z");
        return account;
      };

      it("refuses the next event API_SUSPENDED, and other APIs go on", async () => {
        const account = await anAccountWithCapLowered();
        await expectRefusedUnchanged(h.sql, () => record(account.id, REVIT, "1200", "2026-01-10T12:00:00Z"), "API_SUSPENDED", undefined);
        expect(await partsOf(h, await record(account.id, COMPLEX, "1", "2026-01-10T12:00:00Z"))).toEqual(["OVERRUN 1u"]);
      });

      it("shows the API suspended to the next month's start in freeUsage, usageAuthorization and the alerts", async () => {
        const account = await anAccountWithCapLowered();
        expect(await h.services.tiered.freeUsage(account.id)).toEqual([
          { apiCode: REVIT, capUnits: 1n, usedUnits: 1n, overrunUnits: 1n, suspendedUntil: at("2026-02-01T00:00:00Z") },
        ]);
        expect(await h.services.insight.usageAuthorization(account.id, REVIT)).toMatchObject({ allowed: false, code: "API_SUSPENDED" });
        expect((await h.services.insight.alerts(account.id)).map((alert) => [alert.kind, alert.at])).toEqual([["API_SUSPENDED", at("2026-02-01T00:00:00Z")]]);
      });

      it("does not refuse an event dated before the lowered cap took effect: it is rated under the cap then in force", async () => {
        const account = await anAccountWithCapLowered();
        await expectRefusedUnchanged(h.sql, () => record(account.id, REVIT, "1200", "2026-01-10T12:00:00Z"), "API_SUSPENDED", undefined);
        expect(await partsOf(h, await record(account.id, REVIT, "1200", "2026-01-08T10:00:00Z"))).toEqual(["FREE_ALLOWANCE 1u"]);
      });

      it("lifts the suspension when the cap is raised again", async () => {
        const account = await anAccountWithCapLowered();
        expect((await h.services.insight.usageAuthorization(account.id, REVIT)).code).toBe("API_SUSPENDED");
        h.setNow("2026-01-12T00:00:00Z");
        await h.services.tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth: 3, note: "test value: raised again" }, OPERATOR);
        expect((await h.services.tiered.freeUsage(account.id))[0]!.suspendedUntil).toBeNull();
        expect(await partsOf(h, await record(account.id, REVIT, "1200", "2026-01-12T00:00:00Z"))).toEqual(["FREE_ALLOWANCE 1u"]);
      });
    });

    describe("a cap raised mid-month", () => {
      it("keeps refusing a late event dated while the first cap was reached, after the raised cap is reached too", async () => {
        const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
        h.setNow("2026-01-11T00:00:00Z");
        await record(account.id, REVIT, "3600", "2026-01-10T10:00:00Z");
        h.setNow("2026-01-15T00:00:00Z");
        await h.services.tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth: 5, note: "test value: raised" }, OPERATOR);
        h.setNow("2026-01-17T00:00:00Z");
        expect(await partsOf(h, await record(account.id, REVIT, "2400", "2026-01-16T10:00:00Z"))).toEqual(["FREE_ALLOWANCE 2u"]);
        await expectRefusedUnchanged(h.sql, () => record(account.id, REVIT, "1200", "2026-01-12T10:00:00Z"), "API_SUSPENDED", undefined);
        expect(await partsOf(h, await record(account.id, REVIT, "1200", "2026-01-09T10:00:00Z"))).toEqual(["OVERRUN 1u"]);
      });

      it("does not suspend under the raised cap before the month's usage reached it", async () => {
        const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
        h.setNow("2026-01-01T00:00:00Z");
        await h.services.tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth: 10, effectiveFrom: at("2026-01-15T00:00:00Z"), note: "test value: raised" }, OPERATOR);
        await h.services.tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth: 20, effectiveFrom: at("2026-01-25T00:00:00Z"), note: "test value: raised again" }, OPERATOR);
        h.setNow("2026-01-06T00:00:00Z");
        await record(account.id, REVIT, "3600", "2026-01-05T10:00:00Z");
        h.setNow("2026-01-27T00:00:00Z");
        expect(await partsOf(h, await record(account.id, REVIT, "8400", "2026-01-26T10:00:00Z"))).toEqual(["FREE_ALLOWANCE 7u"]);
        // On the 16th the month had used 3 of the 10 units: not suspended, but the units are gone.
        expect(await partsOf(h, await record(account.id, REVIT, "1200", "2026-01-16T10:00:00Z"))).toEqual(["OVERRUN 1u"]);
        await expectRefusedUnchanged(h.sql, () => record(account.id, REVIT, "1200", "2026-01-14T10:00:00Z"), "API_SUSPENDED", undefined);
      });

      it("keeps the suspension under a cap lowered below the usage after the cap is raised again and used", async () => {
        const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
        h.setNow("2026-01-06T00:00:00Z");
        await record(account.id, REVIT, "2400", "2026-01-05T10:00:00Z");
        h.setNow("2026-01-10T00:00:00Z");
        await h.services.tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth: 1, note: "test value: lowered" }, OPERATOR);
        h.setNow("2026-01-12T00:00:00Z");
        await h.services.tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth: 3, note: "test value: raised again" }, OPERATOR);
        expect(await partsOf(h, await record(account.id, REVIT, "1200", "2026-01-12T00:00:00Z"))).toEqual(["FREE_ALLOWANCE 1u"]);
        await expectRefusedUnchanged(h.sql, () => record(account.id, REVIT, "1200", "2026-01-10T12:00:00Z"), "API_SUSPENDED", undefined);
      });
    });

    it("does not suspend under a cap of 0 a month whose every unit was given back", async () => {
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      await h.services.tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth: 0, effectiveFrom: at("2026-01-20T00:00:00Z"), note: "test value: off the Free tier" }, OPERATOR);
      h.setNow("2026-01-06T00:00:00Z");
      const charge = await record(account.id, REVIT, "1200", "2026-01-05T10:00:00Z");
      await h.services.rating.reverseCharge(charge.id, "test reversal", OPERATOR);
      h.setNow("2026-01-22T00:00:00Z");
      expect((await h.services.tiered.freeUsage(account.id))[0]!.suspendedUntil).toBeNull();
      expect(await partsOf(h, await record(account.id, REVIT, "1200", "2026-01-21T10:00:00Z"))).toEqual(["OVERRUN 1u"]);
      await expectRefusedUnchanged(h.sql, () => record(account.id, REVIT, "1200", "2026-01-21T11:00:00Z"), "API_SUSPENDED", undefined);
    });

    it("shows the month's usage with used units never above the cap", async () => {
      const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" });
      h.setNow("2026-01-10T00:00:00Z");
      await record(account.id, REVIT, "6000", "2026-01-05T10:00:00Z");
      expect(await h.services.tiered.freeUsage(account.id)).toEqual([
        { apiCode: REVIT, capUnits: 3n, usedUnits: 3n, overrunUnits: 2n, suspendedUntil: at("2026-02-01T00:00:00Z") },
      ]);
      expect(await h.services.tiered.freeUsage(account.id, "2025-12")).toEqual([{ apiCode: REVIT, capUnits: 3n, usedUnits: 0n, overrunUnits: 0n, suspendedUntil: null }]);
    });
  });
});

/**
 * Domain §8 at service level, the plans: LEGACY until the first enrollment, enrollment checks,
 * every event judged by the plan in force at occurredAt, PAYG only where it is offered. Each
 * rule with what is accepted and what is refused; a refusal writes nothing. Test values chosen
 * for the tests (see fixtures/tiered.ts), not APS's.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAXIMA } from "../../server/core/maxima.js";
import { formatMicros } from "../../server/core/money.js";
import { anAccount, at, createHarness, OPERATOR } from "../fixtures/harness.js";
import { expectRefusedUnchanged } from "../fixtures/ledger-assertions.js";
import { anEnrolledAccount, anEventAt, publishTestTerms, REVIT } from "../fixtures/tiered.js";

type Harness = Awaited<ReturnType<typeof createHarness>>;

describe("plans of the tiered regime", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
    await publishTestTerms(h);
  });
  afterEach(() => h.close());

  const enroll = (accountId: number, tier: "LEGACY" | "FREE" | "PAID", from: string, payg = false) =>
    h.services.tiered.enrollPlan({ accountId, tier, payg, effectiveFrom: at(from) }, OPERATOR);

  it("leaves an account LEGACY until its first enrollment, rated exactly per event as before", async () => {
    const account = await anAccount(h);
    h.setNow("2026-01-10T00:00:00Z");
    const { charge } = await h.services.rating.recordUsage(anEventAt(account.id, REVIT, "1500", "2026-01-05T10:00:00Z"));
    expect([charge.units, formatMicros(charge.tokensMicros)]).toEqual([null, "1.25"]);
    expect(await h.services.tiered.plan(account.id)).toEqual({ tier: "LEGACY", payg: false, effectiveFrom: null });
    expect(await h.services.tiered.planHistory(account.id)).toEqual([{ tier: "LEGACY", payg: false, effectiveFrom: null }]);
  });

  it(`refuses an account's ${MAXIMA.enrollmentsPerAccount + 1}st enrollment on input.accountId, writing nothing, so planHistory stays bounded`, async () => {
    const account = await anAccount(h);
    h.setNow("2026-06-01T00:00:00Z");
    // FREE and PAID in turn, an hour apart.
    const hour = (index: number) => new Date(at("2026-01-01T00:00:00Z") + index * 3_600_000).toISOString();
    for (let index = 0; index < MAXIMA.enrollmentsPerAccount; index++) await enroll(account.id, index % 2 === 0 ? "FREE" : "PAID", hour(index));
    await expectRefusedUnchanged(h.sql, () => enroll(account.id, "FREE", hour(MAXIMA.enrollmentsPerAccount)), "BAD_USER_INPUT", "input.accountId");
    expect(await h.services.tiered.planHistory(account.id)).toHaveLength(MAXIMA.enrollmentsPerAccount + 1);
  });

  it("enrolls from effectiveFrom, keeps the history oldest first and records who did it", async () => {
    const account = await anAccount(h);
    h.setNow("2026-01-10T00:00:00Z");
    await enroll(account.id, "FREE", "2026-01-01T00:00:00Z");
    await enroll(account.id, "PAID", "2026-01-09T00:00:00Z", true);
    expect(await h.services.tiered.plan(account.id, at("2025-12-31T23:59:59Z"))).toMatchObject({ tier: "LEGACY" });
    expect(await h.services.tiered.plan(account.id, at("2026-01-05T00:00:00Z"))).toEqual({ tier: "FREE", payg: false, effectiveFrom: at("2026-01-01T00:00:00Z") });
    expect((await h.services.tiered.planHistory(account.id)).map((plan) => `${plan.tier}${plan.payg ? "+PAYG" : ""}`)).toEqual(["LEGACY", "FREE", "PAID+PAYG"]);
    const audit = await h.store.reads.listAudit({ entityType: "Account", limit: 10 });
    expect(audit.filter((entry) => entry.action === "plan.enroll" && entry.entityId === String(account.id)).map((entry) => entry.actor)).toEqual([OPERATOR.name, OPERATOR.name]);
  });

  it("refuses an effectiveFrom before 2025-12-08, a move back to LEGACY and the plan already in force, writing nothing", async () => {
    const account = await anAccount(h);
    await expectRefusedUnchanged(h.sql, () => enroll(account.id, "FREE", "2025-12-07T23:59:59Z"), "BAD_USER_INPUT", "input.effectiveFrom");
    await expectRefusedUnchanged(h.sql, () => enroll(account.id, "LEGACY", "2025-12-19T00:00:00Z"), "BAD_USER_INPUT", "input.tier");
    await enroll(account.id, "FREE", "2025-12-08T00:00:00Z");
    await expectRefusedUnchanged(h.sql, () => enroll(account.id, "FREE", "2025-12-19T00:00:00Z"), "BAD_USER_INPUT", "input.tier");
    await expectRefusedUnchanged(
      h.sql,
      () => h.services.tiered.enrollPlan({ accountId: 999_999, tier: "FREE" }, OPERATOR),
      "NOT_FOUND",
      "input.accountId",
    );
  });

  it("refuses an enrollment that a booked charge occurred at or after, and accepts one after the last charge", async () => {
    const account = await anAccount(h);
    h.setNow("2026-01-10T00:00:00Z");
    await h.services.rating.recordUsage(anEventAt(account.id, REVIT, "1200", "2026-01-05T10:00:00Z"));
    await expectRefusedUnchanged(h.sql, () => enroll(account.id, "FREE", "2026-01-05T10:00:00Z"), "BAD_USER_INPUT", "input.effectiveFrom");
    await expectRefusedUnchanged(h.sql, () => enroll(account.id, "FREE", "2026-01-01T00:00:00Z"), "BAD_USER_INPUT", "input.effectiveFrom");
    await enroll(account.id, "FREE", "2026-01-05T10:00:00.001Z");
    expect((await h.services.tiered.plan(account.id)).tier).toBe("FREE");
  });

  it("judges every event by the plan in force at its occurredAt: a late event from before the enrollment is LEGACY", async () => {
    const account = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-10T00:00:00Z" });
    h.setNow("2026-01-12T00:00:00Z");
    const late = (await h.services.rating.recordUsage(anEventAt(account.id, REVIT, "1500", "2026-01-09T10:00:00Z"))).charge;
    const current = (await h.services.rating.recordUsage(anEventAt(account.id, REVIT, "1500", "2026-01-11T10:00:00Z"))).charge;
    expect([late.units, formatMicros(late.tokensMicros)]).toEqual([null, "1.25"]);
    expect([current.units, current.tokensMicros]).toEqual([1n, 0n]);
  });

  it("offers PAYG only on PAID and only in an eligible country", async () => {
    const japan = await anAccount(h, { country: "JP" });
    const brazil = await anAccount(h, { country: "BR" });
    const nowhere = await anAccount(h, { country: null });
    await expectRefusedUnchanged(h.sql, () => enroll(japan.id, "FREE", "2025-12-19T00:00:00Z", true), "BAD_USER_INPUT", "input.payg");
    await expectRefusedUnchanged(h.sql, () => enroll(brazil.id, "PAID", "2025-12-19T00:00:00Z", true), "PAYG_NOT_AVAILABLE", "input.payg");
    await expectRefusedUnchanged(h.sql, () => enroll(nowhere.id, "PAID", "2025-12-19T00:00:00Z", true), "PAYG_NOT_AVAILABLE", "input.payg");
    await enroll(japan.id, "PAID", "2025-12-19T00:00:00Z", true);
    await enroll(brazil.id, "PAID", "2025-12-19T00:00:00Z");
    expect([(await h.services.tiered.plan(japan.id)).payg, (await h.services.tiered.plan(brazil.id)).tier]).toEqual([true, "PAID"]);
  });

  it("takes the PAYG countries from the configured rules", async () => {
    const configured = await createHarness({ rules: { paygCountries: ["BR"] } });
    try {
      await publishTestTerms(configured);
      const brazil = await anAccount(configured, { country: "BR" });
      const japan = await anAccount(configured, { country: "JP" });
      const enrollIn = (accountId: number) => configured.services.tiered.enrollPlan({ accountId, tier: "PAID", payg: true }, OPERATOR);
      await enrollIn(brazil.id);
      await expectRefusedUnchanged(configured.sql, () => enrollIn(japan.id), "PAYG_NOT_AVAILABLE", "input.payg");
    } finally {
      await configured.close();
    }
  });
});

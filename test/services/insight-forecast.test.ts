import { afterEach, describe, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import { LEGACY_PLAN } from "../../server/core/plan.js";
import { DAY_MS, formatInstant } from "../../server/core/time.js";
import { aFlexPack, anAccount, aReseller, at, aUsageEvent, createHarness, type Harness, OPERATOR } from "../fixtures/harness.js";
import { refusalOf } from "../fixtures/ledger-assertions.js";

let h: Harness;
afterEach(() => h.close());

const shownForecast = async (accountId: number) => {
  const forecast = await h.services.insight.forecast(accountId);
  return {
    burnRatePerDay: formatMicros(forecast.burnRatePerDayMicros),
    depletesAt: forecast.depletesAt === null ? null : formatInstant(forecast.depletesAt),
    expiringWithin90Days: formatMicros(forecast.expiringWithin90DaysMicros),
    expiringUnused: formatMicros(forecast.expiringUnusedMicros),
  };
};

describe("balance forecast", () => {
  /**
   * A 100-token reseller pack bought 2023-07-01, so it expires 2024-07-01, 30 days after "now"
   * (2024-06-01). One token a day was used over the last 30 days, plus one older token.
   */
  async function packExpiringIn30DaysAtOneTokenADay() {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2023-07-01T00:00:00Z"), channel: "RESELLER", resellerId: (await aReseller(h)).id });
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "2", occurredAt: at("2024-04-20T12:00:00Z") }));
    for (let day = 2; day <= 31; day++) {
      const occurredAt = Date.UTC(2024, 4, day, 12);
      await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "2", occurredAt }));
    }
    return account;
  }

  it("leaves 39 of the 69 tokens to expire from a pack expiring in 30 days at 1 token a day", async () => {
    const account = await packExpiringIn30DaysAtOneTokenADay();
    expect(await shownForecast(account.id)).toEqual({
      burnRatePerDay: "1",
      depletesAt: "2024-07-01T00:00:00.000Z",
      expiringWithin90Days: "69",
      expiringUnused: "39",
    });
  });

  it("runs out 100 days after the first pack expires when a second pack follows it", async () => {
    const account = await packExpiringIn30DaysAtOneTokenADay();
    await aFlexPack(h, account.id, { tokens: "100" });
    expect(await shownForecast(account.id)).toEqual({
      burnRatePerDay: "1",
      depletesAt: "2024-10-09T00:00:00.000Z",
      expiringWithin90Days: "69",
      expiringUnused: "39",
    });
  });

  it("leaves reversed charges out of the burn rate", async () => {
    const account = await packExpiringIn30DaysAtOneTokenADay();
    const latest = (await h.services.ledger.charges(account.id, {}, 1, undefined)).items[0]!;
    await h.services.rating.reverseCharge(latest.id, "duplicate", OPERATOR);
    // 29 tokens in 30 days: 0.966667 a day; the reversal gave its token back to the pack.
    expect((await shownForecast(account.id)).burnRatePerDay).toBe("0.966667");
    expect((await shownForecast(account.id)).expiringWithin90Days).toBe("70");
  });

  it("forecasts no depletion for an account that used nothing, and every held token expiring", async () => {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    expect(await shownForecast(account.id)).toEqual({ burnRatePerDay: "0", depletesAt: null, expiringWithin90Days: "0", expiringUnused: "100" });
  });

  it("refuses an unknown account", async () => {
    h = await createHarness();
    expect(await refusalOf(() => h.services.insight.forecast(999))).toMatchObject({ code: "NOT_FOUND", field: "accountId" });
  });
});

describe("balance alerts", () => {
  const kinds = async (accountId: number) =>
    (await h.services.insight.alerts(accountId)).map((alert) => [
      alert.kind,
      alert.tokensMicros === null ? null : formatMicros(alert.tokensMicros),
      alert.at === null ? null : formatInstant(alert.at),
    ]);

  it("appear when their condition starts and clear when it ends", async () => {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" }); // bought 2024-05-31, expires 2025-05-31
    expect(await kinds(account.id)).toEqual([]);

    // 162 jobs = 81 tokens: 19 left, under 20% of the 100 bought.
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "162" }));
    expect(await kinds(account.id)).toEqual([["LOW_BALANCE", "19", null]]);

    // 119 left of 200 bought is above 40.
    await aFlexPack(h, account.id, { tokens: "100" });
    expect(await kinds(account.id)).toEqual([]);

    // Within 90 days of the packs' expiry.
    h.setNow("2025-03-15T00:00:00Z");
    expect(await kinds(account.id)).toEqual([["EXPIRING_SOON", "119", "2025-05-31T00:00:00.000Z"]]);

    // 400 jobs = 200 tokens: the 119 are spent (nothing left to expire) and 81 are owed.
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "400", occurredAt: h.now() }));
    expect(await kinds(account.id)).toEqual([
      ["DEFICIT", "81", "2025-03-29T00:00:00.000Z"],
      ["LOW_BALANCE", "-81", null],
    ]);

    h.setNow("2025-03-30T00:00:00Z");
    expect(await kinds(account.id)).toEqual([
      ["RESTRICTED", "81", "2025-03-29T00:00:00.000Z"],
      ["DEFICIT", "81", "2025-03-29T00:00:00.000Z"],
      ["LOW_BALANCE", "-81", null],
    ]);

    // A new pack pays the deficit: restriction and deficit clear; 19 of 300 bought is still low.
    await aFlexPack(h, account.id, { tokens: "100" });
    expect(await kinds(account.id)).toEqual([["LOW_BALANCE", "19", null]]);
  });

  it("refuses an unknown account", async () => {
    h = await createHarness();
    expect(await refusalOf(() => h.services.insight.alerts(999))).toMatchObject({ code: "NOT_FOUND", field: "accountId" });
  });
});

describe("usage authorization", () => {
  async function accounts() {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    await h.services.prices.publish(
      { apiCode: "data-management/storage", meter: "MEGABYTE", unitQuantity: 1, tokensPerUnitMicros: 0n, note: "free API" },
      OPERATOR,
    );
    await h.services.prices.retire("model-derivative/simple-job", null, "retired for the test", OPERATOR);
    const funded = await anAccount(h, { balancePolicy: "HARD_STOP" });
    await aFlexPack(h, funded.id);
    const emptyHardStop = await anAccount(h, { balancePolicy: "HARD_STOP" });
    const emptyGrace = await anAccount(h);
    const restricted = await anAccount(h);
    await h.services.rating.recordUsage(aUsageEvent(restricted.id, { occurredAt: h.now() }));
    h.advance(15 * DAY_MS);
    return { funded, emptyHardStop, emptyGrace, restricted };
  }

  it.each([
    ["funded", "model-derivative/complex-job", true, "ACTIVE"],
    ["emptyGrace", "model-derivative/complex-job", true, "ACTIVE"],
    ["emptyHardStop", "model-derivative/complex-job", false, "ACTIVE"],
    ["emptyHardStop", "data-management/storage", true, "ACTIVE"],
    ["restricted", "model-derivative/complex-job", false, "RESTRICTED"],
    ["restricted", "data-management/storage", true, "RESTRICTED"],
    ["funded", "model-derivative/simple-job", false, "ACTIVE"],
    ["funded", "no-such/api", false, "ACTIVE"],
  ] as const)("the %s account calling %s is allowed: %s", async (which, apiCode, allowed, status) => {
    const account = (await accounts())[which];
    const answer = await h.services.insight.usageAuthorization(account.id, apiCode);
    expect(answer).toMatchObject({ allowed, status });
    expect(answer.reason === null).toBe(allowed);
  });

  it("refuses the same calls rating refuses", async () => {
    const { emptyHardStop, restricted } = await accounts();
    expect(await refusalOf(() => h.services.rating.recordUsage(aUsageEvent(emptyHardStop.id, { occurredAt: h.now() })))).toMatchObject({
      code: "INSUFFICIENT_BALANCE",
    });
    expect(await refusalOf(() => h.services.rating.recordUsage(aUsageEvent(restricted.id, { occurredAt: h.now() })))).toMatchObject({
      code: "ACCOUNT_RESTRICTED",
    });
    expect((await h.services.insight.usageAuthorization(restricted.id, "model-derivative/complex-job")).reason).toContain("owes 0.5 tokens");
  });

  it.each([
    ["an unknown account", 999, "model-derivative/complex-job", "NOT_FOUND", "accountId"],
    ["a malformed API code", 0, "Model Derivative", "BAD_USER_INPUT", "apiCode"],
  ] as const)("refuses %s", async (_what, id, apiCode, code, field) => {
    const { funded } = await accounts();
    expect(await refusalOf(() => h.services.insight.usageAuthorization(id || funded.id, apiCode))).toMatchObject({ code, field });
  });

  it("says a restricted account may use premium APIs again once the deficit is paid", async () => {
    const { restricted } = await accounts();
    await aFlexPack(h, restricted.id, { tokens: "100" });
    expect(await h.services.insight.usageAuthorization(restricted.id, "model-derivative/complex-job")).toEqual({
      allowed: true,
      status: "ACTIVE",
      reason: null,
      code: null,
      plan: LEGACY_PLAN,
    });
  });
});

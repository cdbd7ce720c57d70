import { describe, expect, it } from "vitest";
import type { DeficitState } from "../../server/core/account.js";
import { balanceAlerts, freeTierAlerts } from "../../server/core/alerts.js";
import type { Balance } from "../../server/core/balance.js";
import { authorizeTieredUsage, type TieredAuthorizationFacts } from "../../server/core/authorization.js";
import type { ErrorCode } from "../../server/core/errors.js";
import { forecastUnderPlan, type ForecastInput } from "../../server/core/forecast.js";
import { EMPTY_FREE_MONTH, type FreeUsageRow, takeFreeUnits } from "../../server/core/free-allowance.js";
import { MAXIMA } from "../../server/core/maxima.js";
import { balanceUnderPlan, LEGACY_PLAN, type Plan } from "../../server/core/plan.js";
import { checkTokenFlexPoolOrThrow, isPoolExpired, poolAsSource, type TokenFlexPool } from "../../server/core/token-flex.js";
import { refusalOf } from "../fixtures/ledger-assertions.js";
import { aPack, aPriceVersion, tokens, utc } from "./builders.js";
import { REVIT } from "./tiered-builders.js";

const now = utc("2026-01-20T10:00:00Z");
const FREE: Plan = { tier: "FREE", payg: false, effectiveFrom: utc("2025-12-08") };
const PREPAY: Plan = { tier: "PAID", payg: false, effectiveFrom: utc("2025-12-08") };
const PAYG: Plan = { tier: "PAID", payg: true, effectiveFrom: utc("2025-12-08") };
const clear: DeficitState = { deficitMicros: 0n, graceStartedAt: null };
const owing: DeficitState = { deficitMicros: tokens("1"), graceStartedAt: now };
const capReached = takeFreeUnits(EMPTY_FREE_MONTH, 3n, 3n, utc("2026-01-10")).state;
const usedUnderFive = takeFreeUnits(EMPTY_FREE_MONTH, 3n, 5n, utc("2026-01-10")).state;
const revitPrice = aPriceVersion({ apiCode: REVIT, meter: "SECOND", unitQuantity: 1200, effectiveFrom: "2025-12-08" });

describe("authorizing a call under a tiered plan", () => {
  const facts = (overrides: Partial<TieredAuthorizationFacts>): TieredAuthorizationFacts => ({
    apiCode: REVIT,
    price: revitPrice,
    plan: FREE,
    deficit: clear,
    freeMonth: EMPTY_FREE_MONTH,
    capUnits: 3n,
    now,
    ...overrides,
  });
  it.each<[string, Partial<TieredAuthorizationFacts>, boolean, ErrorCode | null, string]>([
    ["allows a FREE call under the cap", {}, true, null, "ACTIVE"],
    ["refuses a FREE call of a suspended API", { freeMonth: capReached }, false, "API_SUSPENDED", "ACTIVE"],
    ["refuses a FREE call of an API whose cap was lowered below the used units", { freeMonth: usedUnderFive, capUnits: 2n }, false, "API_SUSPENDED", "ACTIVE"],
    ["allows a suspended API once the account is PAID", { freeMonth: capReached, plan: PAYG }, true, null, "ACTIVE"],
    ["refuses a prepay-only account that owes", { plan: PREPAY, deficit: owing }, false, "ACCOUNT_RESTRICTED", "RESTRICTED"],
    ["allows a prepay-only account that owes nothing, even with no tokens left", { plan: PREPAY }, true, null, "ACTIVE"],
    ["allows a PAYG account that owes", { plan: PAYG, deficit: owing }, true, null, "ACTIVE"],
    ["allows a free API whatever the state", { price: aPriceVersion({ apiCode: REVIT, rate: "0" }), freeMonth: capReached }, true, null, "ACTIVE"],
    ["refuses an API without a price", { price: null }, false, "PRICE_NOT_FOUND", "ACTIVE"],
  ])("%s", (_why, overrides, allowed, code, status) => {
    const answer = authorizeTieredUsage(facts(overrides));
    expect([answer.allowed, answer.code, answer.status, answer.reason === null]).toEqual([allowed, code, status, allowed]);
  });
});

describe("Free tier alerts", () => {
  const row = (usedUnits: bigint, capUnits: bigint, suspendedUntil: number | null = null): FreeUsageRow => ({ apiCode: REVIT, capUnits, usedUnits, overrunUnits: 0n, suspendedUntil });
  it.each<[string, FreeUsageRow, string[]]>([
    ["says nothing under 80% of a cap", row(7n, 9n), []],
    ["warns at exactly 80% of a cap", row(8n, 10n), ["FREE_CAP_NEAR"]],
    ["warns above 80% of a cap", row(3n, 3n), ["FREE_CAP_NEAR"]],
    ["says a suspended API is suspended, not near its cap", row(3n, 3n, utc("2026-02-01")), ["API_SUSPENDED"]],
    ["says nothing for an API without a cap", row(0n, 0n), []],
  ])("%s", (_why, usage, kinds) => {
    expect(freeTierAlerts([usage], now).map((alert) => alert.kind)).toEqual(kinds);
  });

  it("puts suspensions first and dates both at the first instant of the next month", () => {
    const alerts = freeTierAlerts([row(8n, 10n), { ...row(3n, 3n, utc("2026-02-01")), apiCode: "model-derivative/complex-job" }], now);
    expect(alerts.map((alert) => [alert.kind, alert.at])).toEqual([
      ["API_SUSPENDED", utc("2026-02-01")],
      ["FREE_CAP_NEAR", utc("2026-02-01")],
    ]);
  });

  it("names the API and the date in both messages", () => {
    const [suspended, near] = freeTierAlerts([row(8n, 10n), { ...row(3n, 3n, utc("2026-02-01")), apiCode: "model-derivative/complex-job" }], now);
    expect(suspended!.message).toMatch(/^model-derivative\/complex-job is suspended until 2026-02-01T00:00:00(\.000)?Z/);
    expect(near!.message).toContain(`${REVIT} has used 8 of its 10 free units this month`);
    expect(near!.message).toMatch(/suspended until 2026-02-01T00:00:00(\.000)?Z/);
  });
});

describe("balance alerts under a plan", () => {
  const balance = (deficit: string, graceEndsAt: number | null): Balance => ({
    cloudCreditsMicros: 0n,
    flexTokensMicros: 0n,
    deficitMicros: tokens(deficit),
    availableMicros: -tokens(deficit),
    graceEndsAt,
  });
  const none = { tokensMicros: 0n, soonest: null };

  it("slots the Free tier's alerts by severity: restriction and deficit, suspension, low balance, cap near, expiry", () => {
    const alerts = balanceAlerts({
      balance: { ...balance("0", null), flexTokensMicros: tokens("1"), availableMicros: tokens("1") },
      status: "ACTIVE",
      boughtInLastYearMicros: tokens("100"),
      expiring: { tokensMicros: tokens("1"), soonest: utc("2026-03-01") },
      plan: FREE,
      freeUsage: { rows: [{ apiCode: REVIT, capUnits: 3n, usedUnits: 3n, overrunUnits: 1n, suspendedUntil: utc("2026-02-01") }, { apiCode: "x/y", capUnits: 5n, usedUnits: 4n, overrunUnits: 0n, suspendedUntil: null }], now },
    });
    expect(alerts.map((alert) => alert.kind)).toEqual(["API_SUSPENDED", "LOW_BALANCE", "FREE_CAP_NEAR", "EXPIRING_SOON"]);
  });

  it("says a prepay-only account is restricted without naming a grace end, which the tiered plans do not have", () => {
    const alerts = balanceAlerts({ balance: balance("4", null), status: "RESTRICTED", boughtInLastYearMicros: 0n, expiring: none, plan: PREPAY });
    expect(alerts.map((alert) => [alert.kind, alert.at])).toEqual([
      ["RESTRICTED", null],
      ["DEFICIT", null],
      ["LOW_BALANCE", null],
    ]);
    expect(alerts[0]!.message).toContain("owes 4 tokens");
    expect(alerts[0]!.message).not.toContain("grace period ended");
    expect(alerts[1]!.message).not.toContain("grace");
  });

  it("raises no LOW_BALANCE under PAYG, where nothing is ever refused, and still does on prepay only", () => {
    const low = { balance: balance("2", null), status: "ACTIVE" as const, boughtInLastYearMicros: tokens("100"), expiring: none };
    expect(balanceAlerts({ ...low, plan: PAYG }).map((alert) => alert.kind)).toEqual(["DEFICIT"]);
    expect(balanceAlerts({ ...low, plan: PREPAY }).map((alert) => alert.kind)).toEqual(["DEFICIT", "LOW_BALANCE"]);
    expect(balanceAlerts({ ...low, balance: { ...balance("0", null), flexTokensMicros: tokens("5"), availableMicros: tokens("5") }, plan: PAYG })).toEqual([]);
  });

  it("reaches at most MAXIMA.alertsPerAccount: each account-wide kind once, and one alert per priced API", () => {
    // The worst case: every account-wide kind holds, and each of the most APIs the price book may
    // hold is suspended or near its cap (never both for one API).
    const rows: FreeUsageRow[] = Array.from({ length: MAXIMA.pricedApis }, (_, i) =>
      i % 2 === 0
        ? { apiCode: `api/${i}`, capUnits: 3n, usedUnits: 3n, overrunUnits: 1n, suspendedUntil: utc("2026-02-01") }
        : { apiCode: `api/${i}`, capUnits: 5n, usedUnits: 4n, overrunUnits: 0n, suspendedUntil: null },
    );
    const alerts = balanceAlerts({
      balance: balance("4", null),
      status: "RESTRICTED",
      boughtInLastYearMicros: tokens("100"),
      expiring: { tokensMicros: tokens("1"), soonest: utc("2026-03-01") },
      plan: FREE,
      freeUsage: { rows, now },
    });
    expect(alerts).toHaveLength(MAXIMA.alertsPerAccount);
    expect(new Set(alerts.map((alert) => alert.kind))).toEqual(new Set(["RESTRICTED", "DEFICIT", "API_SUSPENDED", "LOW_BALANCE", "FREE_CAP_NEAR", "EXPIRING_SOON"]));
  });

  it("keeps the LEGACY restriction dated at its grace end", () => {
    const alerts = balanceAlerts({ balance: balance("4", utc("2026-01-15")), status: "RESTRICTED", boughtInLastYearMicros: 0n, expiring: none });
    expect([alerts[0]!.kind, alerts[0]!.at]).toEqual(["RESTRICTED", utc("2026-01-15")]);
  });
});

describe("the balance under a plan", () => {
  const owing: Balance = { cloudCreditsMicros: 0n, flexTokensMicros: 0n, deficitMicros: tokens("2"), availableMicros: -tokens("2"), graceEndsAt: utc("2026-02-01") };
  it("shows no grace end under a tiered plan and keeps it under LEGACY", () => {
    expect([FREE, PREPAY, PAYG, LEGACY_PLAN].map((plan) => balanceUnderPlan(plan, owing).graceEndsAt)).toEqual([null, null, null, utc("2026-02-01")]);
    expect(balanceUnderPlan(PAYG, owing).deficitMicros).toBe(tokens("2"));
  });
});

describe("the forecast under a plan", () => {
  const input: ForecastInput = {
    sources: [aPack({ id: 1, tokens: "300", purchasedAt: "2025-12-20" }), poolAsSource({ id: 2, tokensMicros: tokens("60"), remainingMicros: tokens("60"), startsAt: utc("2026-01-01"), endsAt: utc("2026-02-01"), externalRef: "EBA-2" })],
    deficitMicros: 0n,
    chargedInWindowMicros: tokens("300"),
    now,
  };
  it("counts PAYG as unlimited: the balance never runs out, and says so", () => {
    const forecast = forecastUnderPlan(PAYG, input);
    expect([forecast.depletesAt, forecast.unlimited]).toEqual([null, true]);
  });

  it("runs out on prepay only, having drained the pool before the pack", () => {
    const forecast = forecastUnderPlan(PREPAY, input);
    expect(forecast.depletesAt).toBe(now + 36 * 86_400_000);
    expect(forecast.expiringUnusedMicros).toBe(0n);
    expect(forecast.unlimited).toBe(false);
  });
});

describe("Token Flex pools", () => {
  const pool: TokenFlexPool = { id: 1, tokensMicros: tokens("20"), remainingMicros: tokens("20"), startsAt: utc("2026-01-01"), endsAt: utc("2027-01-01"), externalRef: "EBA-1" };
  it("expire at their end", () => {
    expect([isPoolExpired(pool, utc("2026-12-31T23:59:59.999Z")), isPoolExpired(pool, utc("2027-01-01"))]).toEqual([false, true]);
  });

  it.each<[string, Partial<TokenFlexPool>, string]>([
    ["of no tokens", { tokensMicros: 0n }, "input.tokens"],
    ["ending when it starts", { endsAt: pool.startsAt }, "input.endsAt"],
    ["ending before it starts", { endsAt: pool.startsAt - 1 }, "input.endsAt"],
  ])("refuses a pool %s", (_why, overrides, field) => {
    const error = refusalOf(() => checkTokenFlexPoolOrThrow({ ...pool, ...overrides }));
    expect([error.code, error.field]).toEqual(["BAD_USER_INPUT", field]);
  });

  it("accepts a pool of any positive amount", () => {
    expect(() => checkTokenFlexPoolOrThrow({ ...pool, tokensMicros: 1n })).not.toThrow();
  });
});

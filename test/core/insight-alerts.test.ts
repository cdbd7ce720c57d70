import { describe, expect, it } from "vitest";
import { balanceAlerts, boughtInLastYear } from "../../server/core/alerts.js";
import { authorizeUsage, isFree } from "../../server/core/authorization.js";
import type { Balance } from "../../server/core/balance.js";
import type { FundingSource } from "../../server/core/drain.js";
import { FlexgateError } from "../../server/core/errors.js";
import { formatMicros, parseMicros } from "../../server/core/money.js";
import type { PriceVersion } from "../../server/core/price.js";
import { type AccountUsageGroup, changePercent, impactDays, mostAffected, priceImpact } from "../../server/core/price-impact.js";
import { addOneYear, DAY_MS } from "../../server/core/time.js";

const NOW = Date.UTC(2024, 5, 1);
/** Signed decimal → micros. */
const t = (text: string) => (text.startsWith("-") ? -parseMicros(text.slice(1), "test") : parseMicros(text, "test"));

function balance(available: string, deficit = "0", graceEndsAt: number | null = null): Balance {
  const owed = t(deficit);
  return {
    cloudCreditsMicros: 0n,
    flexTokensMicros: t(available) + owed,
    deficitMicros: owed,
    availableMicros: t(available),
    graceEndsAt,
  };
}

describe("tokens bought in the last 12 months", () => {
  const pack = (purchasedAt: number, size: string): FundingSource => ({
    kind: "FLEX_PACK",
    id: purchasedAt,
    sizeMicros: t(size),
    remainingMicros: 0n,
    purchasedAt,
    expiresAt: addOneYear(purchasedAt),
  });

  it("counts the full size of the lots and packs bought within a year, whatever is left of them", () => {
    const sources = [pack(NOW - DAY_MS, "100"), pack(Date.UTC(2023, 5, 2), "300"), pack(Date.UTC(2023, 5, 1), "500")];
    expect(formatMicros(boughtInLastYear(sources, NOW))).toBe("400");
  });
});

describe("balance alerts", () => {
  const graceEnd = NOW - 2 * DAY_MS;
  const none = { tokensMicros: 0n, soonest: null };

  it.each([
    { name: "nothing to say for a healthy account", balance: balance("50"), status: "ACTIVE", bought: "200", expiring: none, kinds: [] },
    { name: "low at 39.999999 of 200 bought", balance: balance("39.999999"), status: "ACTIVE", bought: "200", expiring: none, kinds: ["LOW_BALANCE"] },
    { name: "not low at exactly 20%", balance: balance("40"), status: "ACTIVE", bought: "200", expiring: none, kinds: [] },
    { name: "not low with nothing bought and nothing owed", balance: balance("0"), status: "ACTIVE", bought: "0", expiring: none, kinds: [] },
    {
      name: "a deficit in grace is a deficit and a low balance",
      balance: balance("-5", "5", NOW + DAY_MS),
      status: "GRACE",
      bought: "0",
      expiring: none,
      kinds: ["DEFICIT", "LOW_BALANCE"],
    },
    {
      name: "a restricted account shows the restriction first",
      balance: balance("-5", "5", graceEnd),
      status: "RESTRICTED",
      bought: "100",
      expiring: none,
      kinds: ["RESTRICTED", "DEFICIT", "LOW_BALANCE"],
    },
    {
      name: "tokens expiring within 90 days",
      balance: balance("150"),
      status: "ACTIVE",
      bought: "200",
      expiring: { tokensMicros: t("70"), soonest: NOW + 30 * DAY_MS },
      kinds: ["EXPIRING_SOON"],
    },
  ] as const)("$name", ({ balance, status, bought, expiring, kinds }) => {
    const alerts = balanceAlerts({ balance, status, boughtInLastYearMicros: t(bought), expiring });
    expect(alerts.map((alert) => alert.kind)).toEqual(kinds);
  });

  it("gives each alert its amount and date", () => {
    const alerts = balanceAlerts({
      balance: balance("-5", "5", graceEnd),
      status: "RESTRICTED",
      boughtInLastYearMicros: t("100"),
      expiring: { tokensMicros: t("70"), soonest: NOW + 30 * DAY_MS },
    });
    expect(alerts.map(({ kind, tokensMicros, at }) => ({ kind, tokens: tokensMicros === null ? null : formatMicros(tokensMicros), at }))).toEqual([
      { kind: "RESTRICTED", tokens: "5", at: graceEnd },
      { kind: "DEFICIT", tokens: "5", at: graceEnd },
      { kind: "LOW_BALANCE", tokens: "-5", at: null },
      { kind: "EXPIRING_SOON", tokens: "70", at: NOW + 30 * DAY_MS },
    ]);
    expect(alerts[3]!.message).toBe("70 tokens expire within 90 days, the first at 2024-07-01T00:00:00.000Z");
  });
});

const price = (overrides: Partial<PriceVersion> = {}): PriceVersion => ({
  id: 1,
  apiCode: "model-derivative/complex-job",
  name: "Model Derivative complex job",
  meter: "JOB",
  unitQuantity: 1,
  tokensPerUnitMicros: t("0.5"),
  chargeableOutcomes: ["SUCCEEDED"],
  effectiveFrom: 0,
  retired: false,
  cancelledAt: null,
  note: "",
  publishedBy: "test",
  publishedAt: 0,
  ...overrides,
});

describe("usage authorization", () => {
  const free = price({ tokensPerUnitMicros: 0n });
  const restrictedBalance = balance("-5", "5", NOW - DAY_MS);

  it.each([
    { name: "an active account with funds may call a premium API", price: price(), status: "ACTIVE", policy: "NEGATIVE_WITH_GRACE", balance: balance("10"), allowed: true },
    { name: "a NEGATIVE_WITH_GRACE account without funds may go into deficit", price: price(), status: "ACTIVE", policy: "NEGATIVE_WITH_GRACE", balance: balance("0"), allowed: true },
    { name: "an account in grace may still call", price: price(), status: "GRACE", policy: "NEGATIVE_WITH_GRACE", balance: balance("-5", "5", NOW + DAY_MS), allowed: true },
    { name: "a restricted account may not call a premium API", price: price(), status: "RESTRICTED", policy: "NEGATIVE_WITH_GRACE", balance: restrictedBalance, allowed: false },
    { name: "a restricted account may call a free API", price: free, status: "RESTRICTED", policy: "NEGATIVE_WITH_GRACE", balance: restrictedBalance, allowed: true },
    { name: "an API that bills no outcome is free", price: price({ chargeableOutcomes: [] }), status: "RESTRICTED", policy: "NEGATIVE_WITH_GRACE", balance: restrictedBalance, allowed: true },
    { name: "a HARD_STOP account with funds may call", price: price(), status: "ACTIVE", policy: "HARD_STOP", balance: balance("0.000001"), allowed: true },
    { name: "a HARD_STOP account without funds may not", price: price(), status: "ACTIVE", policy: "HARD_STOP", balance: balance("0"), allowed: false },
    { name: "a HARD_STOP account that still owes may not, even with funds", price: price(), status: "GRACE", policy: "HARD_STOP", balance: balance("95", "5", NOW + DAY_MS), allowed: false },
    { name: "a HARD_STOP account without funds may call a free API", price: free, status: "ACTIVE", policy: "HARD_STOP", balance: balance("0"), allowed: true },
    { name: "an unknown or retired API is not allowed", price: null, status: "ACTIVE", policy: "NEGATIVE_WITH_GRACE", balance: balance("10"), allowed: false },
  ] as const)("$name", ({ price, status, policy, balance, allowed }) => {
    const answer = authorizeUsage({ apiCode: "model-derivative/complex-job", price, status, policy, balance });
    expect(answer.allowed).toBe(allowed);
    expect(answer.status).toBe(status);
    expect(answer.reason === null).toBe(allowed);
  });

  it("calls a price that bills only some outcomes premium", () => {
    expect(isFree(price({ chargeableOutcomes: ["CANCELLED"] }))).toBe(false);
  });
});

describe("price-change impact", () => {
  const revit = price({ apiCode: "design-automation/revit", meter: "SECOND", unitQuantity: 3600, tokensPerUnitMicros: t("3") });
  const group = (quantity: string, outcome: AccountUsageGroup["outcome"], events: number, charged: string, accountId = 1): AccountUsageGroup => ({
    accountId,
    meter: "SECOND",
    quantityMicros: t(quantity),
    outcome,
    events,
    chargedMicros: t(charged),
  });

  it("re-rates each event with its own rounding and compares with what was charged", () => {
    // 217 s: 0.120556 charged at 2/3600 and 0.180833 at 3/3600; 3600 s: 2 and 3.
    const impact = priceImpact([group("217", "SUCCEEDED", 3, "0.361668"), group("3600", "SUCCEEDED", 1, "2"), group("50", "FAILED", 2, "0")], revit, 30);
    expect({
      days: impact.days,
      events: impact.events,
      current: formatMicros(impact.currentTokensMicros),
      proposed: formatMicros(impact.proposedTokensMicros),
      delta: formatMicros(impact.deltaTokensMicros),
    }).toEqual({ days: 30, events: 6, current: "2.361668", proposed: "3.542499", delta: "1.180831" });
  });

  it("is zero for no usage", () => {
    expect(priceImpact([], revit, 7)).toEqual({
      days: 7,
      events: 0,
      zeroChargeEvents: 0,
      accountCount: 0,
      currentTokensMicros: 0n,
      proposedTokensMicros: 0n,
      deltaTokensMicros: 0n,
      byAccount: [],
    });
  });

  it("totals each account apart and counts the events that would cost nothing apart", () => {
    const impact = priceImpact(
      [group("217", "SUCCEEDED", 3, "0.361668", 7), group("50", "FAILED", 2, "0", 7), group("3600", "SUCCEEDED", 1, "2", 9)],
      revit,
      30,
    );
    expect(impact.zeroChargeEvents).toBe(2);
    expect(impact.accountCount).toBe(2);
    expect(impact.byAccount.map((a) => ({ ...a, currentTokensMicros: formatMicros(a.currentTokensMicros), proposedTokensMicros: formatMicros(a.proposedTokensMicros) }))).toEqual([
      { accountId: 7, events: 5, zeroChargeEvents: 2, currentTokensMicros: "0.361668", proposedTokensMicros: "0.542499" },
      { accountId: 9, events: 1, zeroChargeEvents: 0, currentTokensMicros: "2", proposedTokensMicros: "3" },
    ]);
    // Account 9 pays 1 token more, account 7 0.180831 more: 9 is listed first.
    expect(mostAffected(impact.byAccount).map((a) => a.accountId)).toEqual([9, 7]);
    expect(mostAffected(impact.byAccount, 1).map((a) => a.accountId)).toEqual([9]);
  });

  it.each([
    ["2", "3", "50.0"],
    ["3", "2", "-33.3"],
    ["0.361668", "0.542499", "50.0"],
    ["8", "8.004", "0.1"],
    ["8", "7.996", "-0.1"],
    ["8", "8", "0.0"],
    ["0", "5", null],
  ])("gives %s → %s tokens as a change of %s percent", (current, proposed, expected) => {
    expect(changePercent(t(current), t(proposed))).toBe(expected);
  });

  it("refuses to re-rate usage recorded in another meter", () => {
    expect(() => priceImpact([{ ...group("2", "SUCCEEDED", 1, "2"), meter: "GIGAPIXEL" }], price({ meter: "PHOTO" }), 30)).toThrow(
      expect.objectContaining({ code: "BAD_USER_INPUT", field: "input.meter" }),
    );
  });

  it.each([
    [undefined, 30],
    [null, 30],
    [1, 1],
    [366, 366],
  ])("takes %s days as %s", (days, expected) => {
    expect(impactDays(days)).toBe(expected);
  });

  it.each([0, -1, 367, 1.5, Number.NaN])("refuses %s days", (days) => {
    expect(() => impactDays(days)).toThrow(FlexgateError);
    expect(() => impactDays(days)).toThrow(expect.objectContaining({ code: "BAD_USER_INPUT", field: "days" }));
  });
});

import { describe, expect, it } from "vitest";
import type { DeficitState } from "../../server/core/account.js";
import type { ErrorCode } from "../../server/core/errors.js";
import {
  decideEnrollmentOrThrow,
  DEFAULT_PAYG_COUNTRIES,
  type Enrollment,
  type EnrollmentFacts,
  type EnrollmentRequest,
  LEGACY_PLAN,
  type Plan,
  planAt,
  planHistory,
  statusUnderPlan,
} from "../../server/core/plan.js";
import { DAY_MS } from "../../server/core/time.js";
import { refusalOf } from "../fixtures/ledger-assertions.js";
import { tokens, utc } from "./builders.js";

const free: Enrollment = { tier: "FREE", payg: false, effectiveFrom: utc("2025-12-10") };
const paid: Enrollment = { tier: "PAID", payg: true, effectiveFrom: utc("2026-02-01") };

describe("the plan in force", () => {
  it.each<[string, string, string]>([
    ["LEGACY before the first enrollment", "2025-12-09T23:59:59.999Z", "LEGACY"],
    ["the enrollment from its first instant", "2025-12-10T00:00:00Z", "FREE"],
    ["the earlier enrollment until the next one starts", "2026-01-31T23:59:59.999Z", "FREE"],
    ["the latest enrollment once it starts", "2026-02-01T00:00:00Z", "PAID"],
  ])("is %s", (_why, at, tier) => {
    // Given out of order on purpose: the history is ordered by effectiveFrom, not by arrival.
    expect(planAt([paid, free], utc(at)).tier).toBe(tier);
  });

  it("lists LEGACY first, then each enrollment oldest first", () => {
    expect(planHistory([paid, free])).toEqual([LEGACY_PLAN, free, paid]);
  });
});

describe("enrolling an account", () => {
  const now = utc("2026-03-01T12:00:00Z");
  const facts = (overrides: Partial<EnrollmentFacts> = {}): EnrollmentFacts => ({
    country: "JP",
    enrollments: [],
    latestChargeOccurredAt: null,
    paygCountries: DEFAULT_PAYG_COUNTRIES,
    now,
    ...overrides,
  });

  it.each<[string, EnrollmentRequest, Partial<EnrollmentFacts>, Enrollment]>([
    ["in FREE from now when no date is given", { tier: "FREE" }, {}, { tier: "FREE", payg: false, effectiveFrom: now }],
    ["in PAID prepay only, from the regime's first day", { tier: "PAID", effectiveFrom: utc("2025-12-08") }, {}, { tier: "PAID", payg: false, effectiveFrom: utc("2025-12-08") }],
    ["in PAID with PAYG in an eligible country (the UK)", { tier: "PAID", payg: true }, { country: "GB" }, { tier: "PAID", payg: true, effectiveFrom: now }],
    ["in PAID with PAYG in the EEA outside the EU (Norway)", { tier: "PAID", payg: true }, { country: "NO" }, { tier: "PAID", payg: true, effectiveFrom: now }],
    ["right after the last booked usage", { tier: "FREE", effectiveFrom: utc("2026-02-01T00:00:00.001Z") }, { latestChargeOccurredAt: utc("2026-02-01") }, { tier: "FREE", payg: false, effectiveFrom: utc("2026-02-01T00:00:00.001Z") }],
    ["from FREE into PAID after the FREE start", { tier: "PAID" }, { enrollments: [free] }, { tier: "PAID", payg: false, effectiveFrom: now }],
    ["with PAYG where an operator configured the country", { tier: "PAID", payg: true }, { country: "BR", paygCountries: ["BR"] }, { tier: "PAID", payg: true, effectiveFrom: now }],
    ["up to 5 minutes ahead", { tier: "FREE", effectiveFrom: now + 5 * 60_000 }, {}, { tier: "FREE", payg: false, effectiveFrom: now + 5 * 60_000 }],
  ])("accepts %s", (_why, request, overrides, expected) => {
    expect(decideEnrollmentOrThrow(request, facts(overrides))).toEqual(expected);
  });

  it.each<[string, EnrollmentRequest, Partial<EnrollmentFacts>, ErrorCode, string]>([
    ["back into LEGACY", { tier: "LEGACY" }, {}, "BAD_USER_INPUT", "input.tier"],
    ["FREE with PAYG", { tier: "FREE", payg: true }, {}, "BAD_USER_INPUT", "input.payg"],
    ["a start before 2025-12-08", { tier: "FREE", effectiveFrom: utc("2025-12-08") - 1 }, {}, "BAD_USER_INPUT", "input.effectiveFrom"],
    ["a start more than 5 minutes ahead", { tier: "FREE", effectiveFrom: now + 5 * 60_000 + 1 }, {}, "BAD_USER_INPUT", "input.effectiveFrom"],
    ["a start at a booked charge's occurredAt", { tier: "FREE", effectiveFrom: utc("2026-02-01") }, { latestChargeOccurredAt: utc("2026-02-01") }, "BAD_USER_INPUT", "input.effectiveFrom"],
    ["a start before a booked charge", { tier: "FREE", effectiveFrom: utc("2026-01-01") }, { latestChargeOccurredAt: utc("2026-02-01") }, "BAD_USER_INPUT", "input.effectiveFrom"],
    ["a start not after the current plan's", { tier: "PAID", effectiveFrom: free.effectiveFrom }, { enrollments: [free] }, "BAD_USER_INPUT", "input.effectiveFrom"],
    ["the plan already in force", { tier: "FREE" }, { enrollments: [free] }, "BAD_USER_INPUT", "input.tier"],
    ["PAYG outside the eligible countries (Brazil)", { tier: "PAID", payg: true }, { country: "BR" }, "PAYG_NOT_AVAILABLE", "input.payg"],
    ["PAYG for an account without a country", { tier: "PAID", payg: true }, { country: null }, "PAYG_NOT_AVAILABLE", "input.payg"],
  ])("refuses %s", (_why, request, overrides, code, field) => {
    const error = refusalOf(() => decideEnrollmentOrThrow(request, facts(overrides)));
    expect([error.code, error.field]).toEqual([code, field]);
  });
});

describe("the account status under a plan", () => {
  const now = utc("2026-03-01");
  const owing: DeficitState = { deficitMicros: tokens("5"), graceStartedAt: now - DAY_MS };
  it.each<[string, Plan, DeficitState, string]>([
    ["LEGACY keeps the 14-day grace", LEGACY_PLAN, owing, "GRACE"],
    ["PAID prepay only is restricted at once", { tier: "PAID", payg: false, effectiveFrom: now }, owing, "RESTRICTED"],
    ["FREE with an old deficit is restricted at once", { tier: "FREE", payg: false, effectiveFrom: now }, owing, "RESTRICTED"],
    ["PAID with PAYG is never restricted", { tier: "PAID", payg: true, effectiveFrom: now }, owing, "ACTIVE"],
    ["PAID prepay only without a deficit is active", { tier: "PAID", payg: false, effectiveFrom: now }, { deficitMicros: 0n, graceStartedAt: null }, "ACTIVE"],
  ])("%s", (_why, plan, deficit, expected) => {
    expect(statusUnderPlan(plan, deficit, now)).toBe(expected);
  });
});

/**
 * Plans of the tiered regime (domain §8): each account's effective-dated plan history and the
 * checks of an enrollment.
 *
 * How a service uses it: load the account's enrollments (oldest first) once per unit of work;
 * judge each event by `planAt(enrollments, event.occurredAt)`; to enroll, load the account's
 * country, its enrollments and the latest `occurredAt` of its booked charges, call
 * `decideEnrollmentOrThrow` and store the enrollment it returns (nothing when it throws).
 */
import { accountStatus, type AccountStatus, type DeficitState } from "./account.js";
import type { Balance } from "./balance.js";
import { badInput, FlexgateError } from "./errors.js";
import { formatMicros } from "./money.js";
import { assertNotFuture, formatInstant, type Instant } from "./time.js";

export type PlanTier = "LEGACY" | "FREE" | "PAID";

export interface Plan {
  readonly tier: PlanTier;
  /** Pay as You Go on top of prepay; only ever true on PAID. */
  readonly payg: boolean;
  /** null for LEGACY, which has no start: it is what an account is before any enrollment. */
  readonly effectiveFrom: Instant | null;
}

/** One stored enrollment: a FREE or PAID plan from `effectiveFrom` until the next one. */
export interface Enrollment {
  readonly tier: "FREE" | "PAID";
  readonly payg: boolean;
  readonly effectiveFrom: Instant;
}

export const LEGACY_PLAN: Plan = Object.freeze({ tier: "LEGACY", payg: false, effectiveFrom: null });

/** APS bills premium APIs under the tiered model since 2025-12-08 (domain §8). */
export const TIERED_REGIME_START = Date.UTC(2025, 11, 8);

/**
 * Where APS offers Pay as You Go (domain §8): the US, Canada, Australia, New Zealand, Japan, the
 * EEA (the 27 EU members, Iceland, Liechtenstein, Norway), the UK and Switzerland, as ISO 3166-1
 * alpha-2 codes like account countries. Operators can configure another list.
 */
export const DEFAULT_PAYG_COUNTRIES: readonly string[] = Object.freeze([
  "US", "CA", "AU", "NZ", "JP", "GB", "CH",
  "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
  "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
  "IS", "LI", "NO",
]);

const byEffectiveFrom = (a: Enrollment, b: Enrollment) => a.effectiveFrom - b.effectiveFrom;

/** The plan in force at `t`: the latest enrollment that started at or before t, else LEGACY. */
export function planAt(enrollments: readonly Enrollment[], t: Instant): Plan {
  let current: Plan = LEGACY_PLAN;
  for (const enrollment of [...enrollments].sort(byEffectiveFrom)) {
    if (enrollment.effectiveFrom > t) break;
    current = enrollment;
  }
  return current;
}

/** Every plan the account has had, oldest first: LEGACY, then each enrollment. */
export function planHistory(enrollments: readonly Enrollment[]): Plan[] {
  return [LEGACY_PLAN, ...[...enrollments].sort(byEffectiveFrom)];
}

export interface EnrollmentRequest {
  readonly tier: PlanTier;
  /** Omitted means no PAYG. */
  readonly payg?: boolean | null;
  /** Omitted means now. */
  readonly effectiveFrom?: Instant | null;
}

export interface EnrollmentFacts {
  readonly country: string | null;
  readonly enrollments: readonly Enrollment[];
  /** The latest occurredAt among the account's booked charges (reversed ones too); null when none. */
  readonly latestChargeOccurredAt: Instant | null;
  readonly paygCountries: readonly string[];
  readonly now: Instant;
}

/**
 * Checks an enrollment and returns what to store. Refusals, each naming the input field:
 * - BAD_USER_INPUT `input.tier`: LEGACY (an account never goes back to the old rules), or the
 *   plan already in force;
 * - BAD_USER_INPUT `input.payg`: PAYG on FREE (the Free tier has no paid billing at all);
 * - BAD_USER_INPUT `input.effectiveFrom`: before 2025-12-08, more than 5 minutes ahead, not
 *   after the last enrollment, or at/before a booked charge's occurredAt;
 * - PAYG_NOT_AVAILABLE `input.payg`: PAYG for an account whose country is not eligible.
 */
export function decideEnrollmentOrThrow(request: EnrollmentRequest, facts: EnrollmentFacts): Enrollment {
  const { tier } = request;
  const payg = request.payg ?? false;
  const effectiveFrom = request.effectiveFrom ?? facts.now;
  if (tier === "LEGACY") throw badInput("input.tier", "an account cannot be enrolled back into LEGACY: its tiered history would lose its rules");
  if (tier === "FREE" && payg) throw badInput("input.payg", "PAYG is a paid tier option: the Free tier has no billing");
  if (effectiveFrom < TIERED_REGIME_START) {
    throw badInput("input.effectiveFrom", `input.effectiveFrom must be on or after ${formatInstant(TIERED_REGIME_START)}, when APS started the tiered model`);
  }
  // An enrollment records when a team moved; a future one could not be cancelled, and events
  // are accepted only up to 5 minutes ahead, so that is the horizon here too.
  assertNotFuture(effectiveFrom, facts.now, "input.effectiveFrom");
  const latest = [...facts.enrollments].sort(byEffectiveFrom).at(-1);
  // Appending only at the end keeps the history a simple sequence: an enrollment slipped
  // before a later one would be in force for a while and then silently give way again.
  if (latest && effectiveFrom <= latest.effectiveFrom) {
    throw badInput("input.effectiveFrom", `input.effectiveFrom must be after the current plan's start (${formatInstant(latest.effectiveFrom)})`);
  }
  // Decision (domain §8): nothing already rated changes, so no booked charge may fall under the
  // new plan. Reversed charges count: a reversal keeps the charge and its rating as history.
  if (facts.latestChargeOccurredAt !== null && facts.latestChargeOccurredAt >= effectiveFrom) {
    throw badInput(
      "input.effectiveFrom",
      `input.effectiveFrom must be after the account's last booked usage (${formatInstant(facts.latestChargeOccurredAt)}): rated usage never changes plan`,
    );
  }
  const current = planAt(facts.enrollments, effectiveFrom);
  if (current.tier === tier && current.payg === payg) throw badInput("input.tier", `the account is already on ${describePlan(current)}`);
  if (payg && (facts.country === null || !facts.paygCountries.includes(facts.country))) {
    throw new FlexgateError(
      "PAYG_NOT_AVAILABLE",
      `Pay as You Go is not offered in ${facts.country ?? "an account without a country"}; enroll in PAID without PAYG (prepay only)`,
      "input.payg",
    );
  }
  return { tier, payg, effectiveFrom };
}

export function describePlan(plan: Plan): string {
  return plan.tier === "PAID" ? (plan.payg ? "PAID with PAYG" : "PAID prepay only") : plan.tier;
}

/**
 * The status an account shows under the plan in force now. LEGACY keeps the 14-day grace.
 * The tiered regime has no grace (domain §8: "the account is RESTRICTED at once"), so any
 * deficit restricts, whichever plan it was booked under. Decision: with PAYG nothing is ever
 * refused, so an old deficit there stays owed (new funds settle it first) but restricts nothing.
 */
export function statusUnderPlan(plan: Plan, deficit: DeficitState, now: Instant): AccountStatus {
  if (plan.tier === "LEGACY") return accountStatus(deficit, now);
  return deficit.deficitMicros > 0n && !plan.payg ? "RESTRICTED" : "ACTIVE";
}

export function prepayRestrictedMessage(deficit: DeficitState): string {
  return (
    `the account owes ${formatMicros(deficit.deficitMicros)} tokens and is on a prepay-only plan; ` +
    "buy Flex tokens or enroll in PAYG to use premium APIs again"
  );
}

/**
 * The balance as the plan in force shows it: the tiered plans have no grace period, so no grace
 * end is shown under them; everything else is the same figures.
 */
export function balanceUnderPlan(plan: Plan, balance: Balance): Balance {
  return plan.tier === "LEGACY" || balance.graceEndsAt === null ? balance : { ...balance, graceEndsAt: null };
}

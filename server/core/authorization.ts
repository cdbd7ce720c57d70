/**
 * Whether a premium call may start now: the same rules rating applies when the usage is
 * recorded (core/rating.ts), answered before the work is done.
 */
import type { AccountStatus, BalancePolicy, DeficitState } from "./account.js";
import type { Balance } from "./balance.js";
import { formatMicros } from "./money.js";
import type { PriceVersion } from "./price.js";
import { type FreeMonth, isSuspendedAt, suspensionMessage } from "./free-allowance.js";
import { type Plan, prepayRestrictedMessage, statusUnderPlan } from "./plan.js";
import { formatInstant, type Instant } from "./time.js";

export interface UsageAuthorization {
  readonly allowed: boolean;
  readonly status: AccountStatus;
  /** Why the call is refused; null when it is allowed. */
  readonly reason: string | null;
}

export interface AuthorizationFacts {
  readonly apiCode: string;
  /** The price of the API in force now; null for an unknown or retired API. */
  readonly price: PriceVersion | null;
  readonly status: AccountStatus;
  readonly policy: BalancePolicy;
  /**
   * Now, by balanceAt with the configured credit acceptance end: from then on no lot counts, so
   * HARD_STOP refuses an account that holds only lots, as rating would.
   */
  readonly balance: Balance;
}

/**
 * A price is free when no outcome can cost anything. An API that bills only some outcomes is
 * not free: the outcome is unknown before the call runs.
 */
export function isFree(price: PriceVersion): boolean {
  return price.tokensPerUnitMicros === 0n || price.chargeableOutcomes.length === 0;
}

export function authorizeUsage(facts: AuthorizationFacts): UsageAuthorization {
  const { apiCode, price, status, policy, balance } = facts;
  const refuse = (reason: string): UsageAuthorization => ({ allowed: false, status, reason });
  // Usage of an API without a price is refused when recorded (PRICE_NOT_FOUND), so it is not
  // authorized either.
  if (price === null) return refuse(`no price for ${apiCode} is in force: the API is unknown or retired`);
  if (isFree(price)) return { allowed: true, status, reason: null };
  if (status === "RESTRICTED") {
    return refuse(
      `the account owes ${formatMicros(balance.deficitMicros)} tokens and its grace period ended at ` +
        `${formatInstant(balance.graceEndsAt!)}; only free usage is accepted until the deficit is paid`,
    );
  }
  if (policy === "HARD_STOP") {
    // Rating refuses a HARD_STOP account that owes anything even when its lots could pay
    // (decideChargeOrThrow), so a deficit left from an earlier policy refuses here too.
    if (balance.deficitMicros > 0n) {
      return refuse(`the account owes ${formatMicros(balance.deficitMicros)} tokens and its policy is HARD_STOP (prepay only)`);
    }
    if (balance.availableMicros <= 0n) return refuse("the account has no tokens available and its policy is HARD_STOP (prepay only)");
  }
  return { allowed: true, status, reason: null };
}

/** A tiered answer also says which refusal rating would give, so a caller can act on it. */
export interface TieredAuthorization extends UsageAuthorization {
  readonly code: "PRICE_NOT_FOUND" | "API_SUSPENDED" | "ACCOUNT_RESTRICTED" | null;
}

export interface TieredAuthorizationFacts {
  readonly apiCode: string;
  readonly price: PriceVersion | null;
  /** The plan in force now: FREE or PAID. */
  readonly plan: Plan;
  readonly deficit: DeficitState;
  /** FREE: this month's state of the API, and its cap in force now. */
  readonly freeMonth: FreeMonth;
  readonly capUnits: bigint;
  readonly now: Instant;
}

/**
 * Whether a premium call may start now under a FREE or PAID plan: the refusals tiered rating
 * would give (decideTieredEventOrThrow), answered before the work is done. A prepay-only
 * account with no tokens left and no deficit yet is allowed: rating would accept the event and
 * book the deficit that then restricts it (domain §8: restricted once the tokens run out).
 */
export function authorizeTieredUsage(facts: TieredAuthorizationFacts): TieredAuthorization {
  const { apiCode, price, plan, now } = facts;
  const status = statusUnderPlan(plan, facts.deficit, now);
  if (price === null) return { allowed: false, status, reason: `no price for ${apiCode} is in force: the API is unknown or retired`, code: "PRICE_NOT_FOUND" };
  if (isFree(price)) return { allowed: true, status, reason: null, code: null };
  if (plan.tier === "FREE" && isSuspendedAt(facts.freeMonth, facts.capUnits, now)) {
    return { allowed: false, status, reason: suspensionMessage(apiCode, facts.capUnits, now), code: "API_SUSPENDED" };
  }
  if (plan.tier === "PAID" && status === "RESTRICTED") {
    return { allowed: false, status, reason: prepayRestrictedMessage(facts.deficit), code: "ACCOUNT_RESTRICTED" };
  }
  return { allowed: true, status, reason: null, code: null };
}

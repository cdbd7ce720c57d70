import { type BalancePolicy, type DeficitState, accountStatus, addDeficit, graceEndsAt, MAX_DEFICIT_MICROS } from "./account.js";
import { type Allocation, type FundingSource, drain } from "./drain.js";
import { FlexgateError } from "./errors.js";
import { formatMicros } from "./money.js";
import { formatInstant, type Instant } from "./time.js";

export interface ChargeContext {
  readonly costMicros: bigint;
  readonly occurredAt: Instant;
  readonly policy: BalancePolicy;
  readonly deficit: DeficitState;
  /** Every lot and pack of the account; the drain picks those valid at occurredAt. */
  readonly sources: readonly FundingSource[];
  /** Booking time: the grace clock and the restriction are judged at it. */
  readonly now: Instant;
  /** The input field a refusal for the event's size names ("input.quantity"). */
  readonly field?: string;
  /** Lots pay no usage at or after it (domain §8); DEFAULT_CREDIT_ACCEPTANCE_END_AT when omitted. */
  readonly creditAcceptanceEndAt?: Instant;
}

export interface ChargeDecision {
  /** Lots and packs first, then at most one DEFICIT allocation; they sum to the cost. */
  readonly allocations: readonly Allocation[];
  readonly deficit: DeficitState;
}

/**
 * Decides how a rated usage event is paid, credit-first.
 * @throws FlexgateError ACCOUNT_RESTRICTED when the cost is not zero and the grace period of an
 *   unpaid deficit is over; INSUFFICIENT_BALANCE when a HARD_STOP account cannot pay in full,
 *   or when the deficit would grow beyond MAX_DEFICIT_MICROS.
 */
export function decideChargeOrThrow(context: ChargeContext): ChargeDecision {
  const { costMicros, deficit, now } = context;
  if (costMicros === 0n) return { allocations: [], deficit };

  if (accountStatus(deficit, now) === "RESTRICTED") {
    throw new FlexgateError(
      "ACCOUNT_RESTRICTED",
      `the account owes ${formatMicros(deficit.deficitMicros)} tokens and its grace period ended at ` +
        `${formatInstant(graceEndsAt(deficit)!)}; only free usage is accepted until the deficit is paid`,
    );
  }

  const result = drain(context.sources, costMicros, context.occurredAt, context.creditAcceptanceEndAt);
  if (result.kind === "covered" && !(context.policy === "HARD_STOP" && deficit.deficitMicros > 0n)) {
    return { allocations: result.allocations, deficit };
  }
  if (context.policy === "HARD_STOP") {
    // Prepay only: an account that owes, or cannot cover the cost, spends nothing.
    throw new FlexgateError(
      "INSUFFICIENT_BALANCE",
      `the account's balance cannot cover ${formatMicros(costMicros)} tokens and its policy is HARD_STOP`,
    );
  }
  const shortfall = result.kind === "shortfall" ? result.shortfallMicros : 0n;
  if (deficit.deficitMicros + shortfall > MAX_DEFICIT_MICROS) {
    throw new FlexgateError(
      "INSUFFICIENT_BALANCE",
      `the account owes ${formatMicros(deficit.deficitMicros)} tokens and cannot cover ${formatMicros(costMicros)} more: ` +
        `a deficit may not exceed ${formatMicros(MAX_DEFICIT_MICROS)} tokens`,
      context.field,
    );
  }
  return {
    allocations: [...result.allocations, { source: "DEFICIT", sourceId: null, amountMicros: shortfall }],
    deficit: addDeficit(deficit, shortfall, now),
  };
}

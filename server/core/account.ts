import { MAX_TOKENS_MICROS } from "./money.js";
import { type Instant, DAY_MS } from "./time.js";

export type BalancePolicy = "NEGATIVE_WITH_GRACE" | "HARD_STOP";
export type AccountStatus = "ACTIVE" | "GRACE" | "RESTRICTED";

/** APS rule 2022-11 → 2025-12: a deficit may run for 14 days before the account is restricted. */
export const GRACE_PERIOD_MS = 14 * DAY_MS;

/**
 * The most an account may owe: the same one billion tokens as the largest single amount. A
 * deficit that grew without bound would leave the safe-integer range that stored amounts keep
 * (about 9e9 tokens), so an event that would push it further is refused instead.
 */
export const MAX_DEFICIT_MICROS = MAX_TOKENS_MICROS;

/** The part of an account that rating reads and writes. */
export interface DeficitState {
  readonly deficitMicros: bigint;
  /** When the deficit last became positive (booking time, not usage time); null while none. */
  readonly graceStartedAt: Instant | null;
}

export function graceEndsAt(state: DeficitState): Instant | null {
  return state.deficitMicros > 0n && state.graceStartedAt !== null ? state.graceStartedAt + GRACE_PERIOD_MS : null;
}

export function accountStatus(state: DeficitState, now: Instant): AccountStatus {
  const end = graceEndsAt(state);
  if (end === null) return "ACTIVE";
  return now < end ? "GRACE" : "RESTRICTED";
}

/** Books more deficit; the grace clock starts only when the deficit goes from zero to positive. */
export function addDeficit(state: DeficitState, amountMicros: bigint, now: Instant): DeficitState {
  if (amountMicros === 0n) return state;
  return {
    deficitMicros: state.deficitMicros + amountMicros,
    graceStartedAt: state.deficitMicros > 0n ? state.graceStartedAt : now,
  };
}

/** Removes deficit (settled or reversed); back at zero the grace clock and restriction end. */
export function reduceDeficit(state: DeficitState, amountMicros: bigint): DeficitState {
  if (amountMicros > state.deficitMicros) throw new RangeError("cannot reduce a deficit below zero");
  const deficitMicros = state.deficitMicros - amountMicros;
  return { deficitMicros, graceStartedAt: deficitMicros > 0n ? state.graceStartedAt : null };
}

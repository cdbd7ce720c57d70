/**
 * What a proposed price would have charged for recent usage (price-change impact preview).
 */
import { badInput } from "./errors.js";
import { MAXIMA } from "./maxima.js";
import { chargeMicros, type Meter, type Outcome, type PriceVersion } from "./price.js";

export const DEFAULT_IMPACT_DAYS = 30;
export const MAX_IMPACT_DAYS = MAXIMA.impactDays;

/** Standing charges of one API with the same meter, quantity and outcome, as the store groups them. */
export interface RatedUsageGroup {
  /** The meter of the version that rated them. */
  readonly meter: Meter;
  readonly quantityMicros: bigint;
  readonly outcome: Outcome;
  readonly events: number;
  /** What they were charged, summed. */
  readonly chargedMicros: bigint;
}

export interface PriceImpact {
  readonly days: number;
  readonly events: number;
  /** What the usage was actually charged (whatever versions were in force then). */
  readonly currentTokensMicros: bigint;
  /** What the same usage would have cost at the proposed price, rounded per event as rating does. */
  readonly proposedTokensMicros: bigint;
  readonly deltaTokensMicros: bigint;
}

/** @throws FlexgateError BAD_USER_INPUT field `field` unless a whole number from 1 to 366 */
export function impactDays(days: number | null | undefined, field = "days"): number {
  if (days == null) return DEFAULT_IMPACT_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_IMPACT_DAYS) {
    throw badInput(field, `${field} must be a whole number from 1 to ${MAX_IMPACT_DAYS}`);
  }
  return days;
}

/**
 * Re-rates grouped usage at `proposed`. Rating rounds once per event, so a group of n equal
 * events costs n × the rounded price of one, exactly as n separate ratings would.
 * Quantities are counted in the meter they were recorded in; usage metered differently from
 * the proposal (gigapixels against photos, say) cannot be converted, so it is refused rather
 * than compared in unlike units.
 * @throws FlexgateError BAD_USER_INPUT on `meterField` when recorded usage has another meter
 */
export function priceImpact(groups: Iterable<RatedUsageGroup>, proposed: PriceVersion, days: number, meterField = "input.meter"): PriceImpact {
  let events = 0;
  let currentTokensMicros = 0n;
  let proposedTokensMicros = 0n;
  for (const group of groups) {
    if (group.meter !== proposed.meter) {
      throw badInput(
        meterField,
        `recent ${proposed.apiCode} usage was metered in ${group.meter}, so it cannot be re-rated per ${proposed.meter}`,
      );
    }
    events += group.events;
    currentTokensMicros += group.chargedMicros;
    proposedTokensMicros += BigInt(group.events) * chargeMicros(proposed, group.quantityMicros, group.outcome);
  }
  return { days, events, currentTokensMicros, proposedTokensMicros, deltaTokensMicros: proposedTokensMicros - currentTokensMicros };
}

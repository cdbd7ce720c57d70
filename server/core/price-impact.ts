/**
 * What a proposed price would have charged for recent usage (price-change impact preview).
 */
import { badInput } from "./errors.js";
import { MAXIMA } from "./maxima.js";
import { mulDivHalfUp } from "./money.js";
import type { Instant } from "./model.js";
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

/** A RatedUsageGroup of one account. */
export interface AccountUsageGroup extends RatedUsageGroup {
  readonly accountId: number;
}

/** What one account would pay under the proposal, and whether its balance then runs out sooner. */
export interface AccountImpact {
  readonly accountId: number;
  readonly events: number;
  /** Events that would cost nothing at the proposed price (outcome not charged, or a zero rate). */
  readonly zeroChargeEvents: number;
  readonly currentTokensMicros: bigint;
  readonly proposedTokensMicros: bigint;
  readonly deltaTokensMicros: bigint;
  /** deltaTokens ÷ currentTokens × 100, one decimal half away from zero ("12.5", "-40.0"); null when nothing was charged. */
  readonly changePercent: string | null;
  /** When the available balance reaches zero at the observed burn rate; null when it does not. */
  readonly depletesAt: Instant | null;
  /** The same with this API re-rated from the effective date on. */
  readonly proposedDepletesAt: Instant | null;
}


export interface PriceImpact {
  readonly days: number;
  readonly events: number;
  /** Events that would cost nothing at the proposed price. */
  readonly zeroChargeEvents: number;
  /** Accounts with re-rated usage (the list holds at most MAXIMA.impactAccounts of them). */
  readonly accountCount: number;
  readonly accounts: readonly AccountImpact[];
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

/** The totals of a re-rating, with each account's share before its balance projection. */
export type ReRated = Omit<PriceImpact, "accounts"> & { readonly byAccount: AccountTotals[] };

/**
 * Re-rates grouped usage at `proposed`. Rating rounds once per event, so a group of n equal
 * events costs n × the rounded price of one, exactly as n separate ratings would.
 * Quantities are counted in the meter they were recorded in; usage metered differently from
 * the proposal (gigapixels against photos, say) cannot be converted, so it is refused rather
 * than compared in unlike units.
 * @throws FlexgateError BAD_USER_INPUT on `meterField` when recorded usage has another meter
 */
export function priceImpact(groups: Iterable<AccountUsageGroup>, proposed: PriceVersion, days: number, meterField = "input.meter"): ReRated {
  let events = 0;
  let zeroChargeEvents = 0;
  let currentTokensMicros = 0n;
  let proposedTokensMicros = 0n;
  const byAccount = new Map<number, AccountTotals>();
  for (const group of groups) {
    if (group.meter !== proposed.meter) {
      throw badInput(
        meterField,
        `recent ${proposed.apiCode} usage was metered in ${group.meter}, so it cannot be re-rated per ${proposed.meter}`,
      );
    }
    const each = chargeMicros(proposed, group.quantityMicros, group.outcome);
    const zero = each === 0n ? group.events : 0;
    const cost = BigInt(group.events) * each;
    events += group.events;
    zeroChargeEvents += zero;
    currentTokensMicros += group.chargedMicros;
    proposedTokensMicros += cost;
    const totals = byAccount.get(group.accountId) ?? { accountId: group.accountId, events: 0, zeroChargeEvents: 0, currentTokensMicros: 0n, proposedTokensMicros: 0n };
    byAccount.set(group.accountId, {
      accountId: group.accountId,
      events: totals.events + group.events,
      zeroChargeEvents: totals.zeroChargeEvents + zero,
      currentTokensMicros: totals.currentTokensMicros + group.chargedMicros,
      proposedTokensMicros: totals.proposedTokensMicros + cost,
    });
  }
  return {
    days,
    events,
    zeroChargeEvents,
    accountCount: byAccount.size,
    currentTokensMicros,
    proposedTokensMicros,
    deltaTokensMicros: proposedTokensMicros - currentTokensMicros,
    byAccount: [...byAccount.values()],
  };
}

/** One account's re-rated usage, before its balance projection. */
export interface AccountTotals {
  readonly accountId: number;
  readonly events: number;
  readonly zeroChargeEvents: number;
  readonly currentTokensMicros: bigint;
  readonly proposedTokensMicros: bigint;
}

/** The accounts the preview lists: largest increase first, largest cut last, ties by id. */
export function mostAffected(accounts: readonly AccountTotals[], limit: number = MAXIMA.impactAccounts): AccountTotals[] {
  const delta = (a: AccountTotals) => a.proposedTokensMicros - a.currentTokensMicros;
  return [...accounts].sort((a, b) => (delta(a) === delta(b) ? a.accountId - b.accountId : delta(b) > delta(a) ? 1 : -1)).slice(0, limit);
}

/** The change in percent with one decimal, half away from zero; null when nothing was charged. */
export function changePercent(currentMicros: bigint, proposedMicros: bigint): string | null {
  if (currentMicros === 0n) return null;
  const tenths = mulDivHalfUp(proposedMicros - currentMicros, 1000n, currentMicros);
  const abs = tenths < 0n ? -tenths : tenths;
  return `${tenths < 0n ? "-" : ""}${abs / 10n}.${abs % 10n}`;
}

/**
 * An account's burn per day once the change is in force: the observed rate plus this API's change
 * spread over the days looked back, never below zero.
 */
export function proposedBurnPerDay(observedPerDayMicros: bigint, account: AccountTotals, days: number): bigint {
  const rate = observedPerDayMicros + mulDivHalfUp(account.proposedTokensMicros - account.currentTokensMicros, 1n, BigInt(days));
  return rate < 0n ? 0n : rate;
}

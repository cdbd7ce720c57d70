/**
 * The balance forecast (shared domain rules §7): burn rate, when the balance runs out, and what
 * will expire unused given the drain order.
 */
import { availableAt, drain, type FundingSource, paysUsageAt, paysUsageUntil } from "./drain.js";
import { mulDivHalfUp } from "./money.js";
import type { Plan } from "./plan.js";
import { DAY_MS, type Instant } from "./time.js";

/** The burn rate looks back this many days (domain §7). */
export const BURN_WINDOW_DAYS = 30;
/** APS alerts on tokens expiring within this horizon (domain §7). */
export const EXPIRY_HORIZON_MS = 90 * DAY_MS;

export interface BalanceForecast {
  readonly burnRatePerDayMicros: bigint;
  /** When the available balance reaches zero at the burn rate: now if it has; null if nothing burns it there. */
  readonly depletesAt: Instant | null;
  /**
   * Remaining tokens of the lots, pools and packs that pay usage now and stop within 90 days: at
   * their expiry, or a lot at the credit acceptance end.
   */
  readonly expiringWithin90DaysMicros: bigint;
  /** Tokens that will still be in their lot or pack when it expires, at the burn rate. */
  readonly expiringUnusedMicros: bigint;
  /**
   * True under PAYG: usage beyond the tokens held is billed in arrears, so the balance never
   * runs out and depletesAt is null whatever the burn rate (domain §8).
   */
  readonly unlimited: boolean;
}

/** Tokens charged over the burn window ÷ its days, half-up to one micro-token like every rate. */
export function burnRatePerDay(chargedInWindowMicros: bigint): bigint {
  return mulDivHalfUp(chargedInWindowMicros, 1n, BigInt(BURN_WINDOW_DAYS));
}

export interface Expiring {
  readonly tokensMicros: bigint;
  /** The soonest expiry among the lots and packs counted; null when none is. */
  readonly soonest: Instant | null;
}

/**
 * Remaining tokens of the lots, pools and packs that pay usage at `now` and stop paying it at or
 * before now + horizon (paysUsageUntil). A lot past the credit acceptance end is worth nothing
 * already, as in the balance, so it is not about to be lost; one still before it is lost at that
 * end.
 */
export function expiringWithin(
  sources: readonly FundingSource[],
  now: Instant,
  creditAcceptanceEndAt?: Instant,
  horizonMs: number = EXPIRY_HORIZON_MS,
): Expiring {
  let tokensMicros = 0n;
  let soonest: Instant | null = null;
  for (const source of sources) {
    if (source.remainingMicros <= 0n || !paysUsageAt(source, now, creditAcceptanceEndAt)) continue;
    const until = paysUsageUntil(source, creditAcceptanceEndAt);
    if (until > now + horizonMs) continue;
    tokensMicros += source.remainingMicros;
    if (soonest === null || until < soonest) soonest = until;
  }
  return { tokensMicros, soonest };
}

export interface ForecastInput {
  /** The account's lots and packs with what they hold now; expired and empty ones are ignored. */
  readonly sources: readonly FundingSource[];
  readonly deficitMicros: bigint;
  /** Tokens charged by standing charges whose usage occurred in the last BURN_WINDOW_DAYS days. */
  readonly chargedInWindowMicros: bigint;
  readonly now: Instant;
  /** A burn rate that replaces the observed one from a given day (a price change's impact). */
  readonly rateFrom?: { readonly at: Instant; readonly ratePerDayMicros: bigint };
  /** Lots pay no usage at or after it (domain §8), as in rating; DEFAULT_CREDIT_ACCEPTANCE_END_AT when omitted. */
  readonly creditAcceptanceEndAt?: Instant;
}

/**
 * Simulates the coming days at the burn rate with the real drain order.
 *
 * Model, chosen to stay explainable to a customer:
 * - Each day starting at `now` (not at UTC midnight) consumes one day's burn at its start,
 *   drained with `drain` from the lots and packs that may pay usage then, so credit-first,
 *   soonest-expiry and the credit acceptance end decide which tokens are left to expire, exactly
 *   as real usage would: a lot left at the acceptance end waits to expire unused.
 * - A lot or pack that reaches its expiresAt loses what is left: that is the unused amount.
 * - The balance runs out when available (lots + packs − deficit) reaches zero: inside a day's
 *   burn the moment is interpolated linearly, and a source that stops paying and takes it to
 *   zero (at its expiry, or a lot at the credit acceptance end) dates it then. The deficit is never paid by existing funds (only new purchases settle it),
 *   so it stays as it is throughout.
 * - No new purchases are assumed.
 * At a zero rate nothing runs out that has not already, and every token held will expire unused.
 */
export function forecastBalance(input: ForecastInput): BalanceForecast {
  const { now, deficitMicros } = input;
  const observed = burnRatePerDay(input.chargedInWindowMicros);
  const changed = input.rateFrom;
  // The day that contains the change burns at the new rate: a projection by whole days.
  const rateOn = (t: Instant) => (changed && t + DAY_MS > changed.at ? changed.ratePerDayMicros : observed);
  const expiringWithin90DaysMicros = expiringWithin(input.sources, now, input.creditAcceptanceEndAt).tokensMicros;
  let sources: FundingSource[] = input.sources.filter((source) => source.remainingMicros > 0n && source.expiresAt > now);

  const { creditAcceptanceEndAt } = input;
  const available = (t: Instant) => availableAt(sources, t, creditAcceptanceEndAt) - deficitMicros;
  let depletesAt: Instant | null = available(now) <= 0n ? now : null;

  if (observed === 0n && (!changed || changed.ratePerDayMicros === 0n)) {
    let unused = 0n;
    for (const source of sources) unused += source.remainingMicros;
    return { burnRatePerDayMicros: 0n, depletesAt, expiringWithin90DaysMicros, expiringUnusedMicros: unused, unlimited: false };
  }

  let expiringUnusedMicros = 0n;

  // Every lot and pack expires within a year of purchase, so this ends within about 367 days.
  for (let t = now; sources.length > 0; t += DAY_MS) {
    // A lot or pack that stopped paying since the day before (at its expiry, or a lot at the
    // credit acceptance end) may have taken the balance to zero: then it ran out that instant.
    const stops = sources.map((source) => paysUsageUntil(source, creditAcceptanceEndAt)).filter((until) => until > now && until > t - DAY_MS && until <= t);
    for (const until of stops.sort((a, b) => a - b)) if (depletesAt === null && available(until) <= 0n) depletesAt = until;
    for (const source of sources.filter((source) => source.expiresAt <= t)) {
      expiringUnusedMicros += source.remainingMicros;
      sources = sources.filter((other) => other !== source);
    }

    const rate = rateOn(t);
    const before = available(t);
    if (depletesAt === null && (before <= 0n || before <= rate)) {
      depletesAt = before <= 0n ? t : t + Number(mulDivHalfUp(before, BigInt(DAY_MS), rate));
    }
    if (rate === 0n) continue;
    const { allocations } = drain(sources, rate, t, creditAcceptanceEndAt);
    sources = sources
      .map((source) => {
        const taken = allocations.find((part) => part.source === source.kind && part.sourceId === source.id);
        return taken ? { ...source, remainingMicros: source.remainingMicros - taken.amountMicros } : source;
      })
      .filter((source) => source.remainingMicros > 0n);
  }

  return { burnRatePerDayMicros: observed, depletesAt, expiringWithin90DaysMicros, expiringUnusedMicros, unlimited: false };
}

/**
 * The forecast under the plan in force now. With PAYG the balance never runs out (domain §8:
 * PAYG counts as unlimited, usage beyond the tokens held is billed in arrears), so there is no
 * depletion date and the forecast says it is unlimited; what expires unused is still computed
 * with the real drain order. FREE and prepay-only plans run out like LEGACY. Token Flex pools
 * are funds like packs: the caller passes them among the sources (poolAsSource).
 */
export function forecastUnderPlan(plan: Plan, input: ForecastInput): BalanceForecast {
  const forecast = forecastBalance(input);
  return plan.payg ? { ...forecast, depletesAt: null, unlimited: true } : forecast;
}

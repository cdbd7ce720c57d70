/**
 * Charged units and their rollover (domain §8): a tiered event is charged in whole units of
 * `unitQuantity` meter units, never rounded; the partial unit not yet charged is kept as a
 * remainder and added to the next event.
 *
 * How a service uses it: for each event, find the remainder under `remainderKey(...)` (zero when
 * none is stored), call `chargeUnits`, and store the new remainder under the same key. A paid
 * account has one remainder per API and meter period; a FREE account one per API, meter period
 * and month of occurredAt.
 */
import type { Month } from "./month.js";
import { MICROS_PER_TOKEN } from "./money.js";
import type { PriceVersion } from "./price.js";
import type { Instant } from "./time.js";

export interface RemainderKey {
  readonly apiCode: string;
  /** The start of the run of versions with the current meter (meterSince). */
  readonly meterSince: Instant;
  /** The month of occurredAt on the Free tier; null on a paid tier, whose remainder carries on. */
  readonly month: Month | null;
}

export function remainderKey(key: RemainderKey): string {
  return `${key.apiCode}|${key.meterSince}|${key.month ?? ""}`;
}

/**
 * When the meter of `price` started counting for its API: the start of the unbroken run of
 * live versions with the same meter that ends with `price`. `versions` are all versions of the
 * API.
 *
 * Decision (domain §8): a remainder is dropped when a version with another meter takes effect,
 * since 600 seconds left over mean nothing once the API counts photos. Keying the remainder by
 * this start, instead of deleting it, keeps a late event of the old meter period on the old
 * remainder, so events arriving out of order still charge floor(Σq ÷ U) per period. A rate or
 * unitQuantity change keeps the meter, so the remainder (in meter units) carries on. A
 * retirement ends the run: a later version starts afresh.
 */
export function meterSince(versions: readonly PriceVersion[], price: PriceVersion): Instant {
  const live = versions
    .filter((version) => version.cancelledAt === null && version.effectiveFrom <= price.effectiveFrom)
    .sort((a, b) => a.effectiveFrom - b.effectiveFrom || a.id - b.id);
  let since = price.effectiveFrom;
  for (let index = live.indexOf(price) - 1; index >= 0; index--) {
    const previous = live[index]!;
    if (previous.retired || previous.meter !== price.meter) break;
    since = previous.effectiveFrom;
  }
  return since;
}

export interface ChargedUnits {
  readonly units: bigint;
  /** The partial unit left over, in micro meter units (always below one unit). */
  readonly remainderMicros: bigint;
}

/**
 * units = floor((r + q) ÷ U): an event of quantity q with remainder r charges only whole units
 * and leaves the rest. Integer division of exact micro-quantities is exact; nothing is rounded.
 */
export function chargeUnits(remainderMicros: bigint, quantityMicros: bigint, unitQuantity: number): ChargedUnits {
  if (remainderMicros < 0n || quantityMicros < 0n) throw new RangeError("quantities must not be negative");
  const unitMicros = BigInt(unitQuantity) * MICROS_PER_TOKEN;
  const total = remainderMicros + quantityMicros;
  return { units: total / unitMicros, remainderMicros: total % unitMicros };
}

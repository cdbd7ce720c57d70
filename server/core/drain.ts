import { type Instant, isValidAt } from "./time.js";

/** What holds tokens: a cloud-credit lot, a Token Flex pool (enterprise agreement) or a Flex pack. */
export type SourceKind = "CREDIT_LOT" | "TOKEN_FLEX" | "FLEX_PACK";
/**
 * What pays a part of a charge. FREE_ALLOWANCE and OVERRUN carry units of a FREE account's
 * monthly allowance (zero tokens); PAYG and DEFICIT are what is still owed after the sources.
 */
export type AllocationSource = SourceKind | "FREE_ALLOWANCE" | "OVERRUN" | "PAYG" | "DEFICIT";

/**
 * From this instant on, cloud-credit lots pay no usage: APS stopped accepting cloud credits at
 * the end of 2025 (domain §8). Usage that occurred at or after it is never paid from a lot, in
 * any regime; usage before it drains exactly as it always did. Operators can configure another.
 */
export const DEFAULT_CREDIT_ACCEPTANCE_END_AT = Date.UTC(2026, 0, 1);

/** A cloud-credit lot, Token Flex pool or Flex pack as the drain sees it. */
export interface FundingSource {
  readonly kind: SourceKind;
  readonly id: number;
  /** The lot amount, pool tokens or pack size: the smaller pack drains first among equals. */
  readonly sizeMicros: bigint;
  readonly remainingMicros: bigint;
  /** A pool's startsAt. */
  readonly purchasedAt: Instant;
  /** A pool's endsAt. */
  readonly expiresAt: Instant;
}

export interface Allocation {
  readonly source: AllocationSource;
  /** The lot, pool or pack id; null for FREE_ALLOWANCE, OVERRUN, PAYG and DEFICIT allocations. */
  readonly sourceId: number | null;
  readonly amountMicros: bigint;
  /**
   * Whole charged units, on FREE_ALLOWANCE, OVERRUN and PAYG parts only: a unit's tokens can
   * split across a pool and a pack, so units of a source's part would not be whole.
   */
  readonly units?: bigint;
}

/**
 * The whole chain, in the order a charge's parts are taken (domain §4 and §8): a FREE
 * account's allowance and overrun come first (they cost no tokens); then the sources; then what
 * is still owed, on the PAYG statement or as a deficit. Every receipt lists its parts in this
 * order.
 */
export const DRAIN_RANK: Readonly<Record<AllocationSource, number>> = {
  FREE_ALLOWANCE: 0,
  OVERRUN: 1,
  CREDIT_LOT: 2,
  TOKEN_FLEX: 3,
  FLEX_PACK: 4,
  PAYG: 5,
  DEFICIT: 6,
};

export function isSourceKind(source: AllocationSource): source is SourceKind {
  return source === "CREDIT_LOT" || source === "TOKEN_FLEX" || source === "FLEX_PACK";
}

/**
 * The drain order, defined here and nowhere else.
 * 1. Cloud credits before Flex tokens: the 2022-11-07 announcement says held credits are
 *    consumed first. Lots stay first in the tiered regime too: they can pay only usage before
 *    the credit acceptance end, so spending them first loses nothing that could pay later.
 * 2. Token Flex pools before Flex packs: APS charges a team "Free tier → Token Flex (EBA) →
 *    Flex → PAYG" (domain §8). A LEGACY account has no pools, so its order is unchanged.
 * 3. Soonest expiry (a pool's end) first, so nothing expires that could have been used.
 * 4. Among Flex packs, the smallest pack first (Autodesk Flex FAQ: tokens bought at a higher
 *    unit price go first); lots and pools have no such rule.
 * 5. Oldest purchase (a pool's start), then lowest id, so the order is total and every replay
 *    drains alike.
 */
export function compareDrainOrder(a: FundingSource, b: FundingSource): number {
  return (
    DRAIN_RANK[a.kind] - DRAIN_RANK[b.kind] ||
    a.expiresAt - b.expiresAt ||
    (a.kind === "FLEX_PACK" ? compareBigint(a.sizeMicros, b.sizeMicros) : 0) ||
    a.purchasedAt - b.purchasedAt ||
    a.id - b.id
  );
}

function compareBigint(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export type DrainResult =
  | { readonly kind: "covered"; readonly allocations: readonly Allocation[] }
  | {
      readonly kind: "shortfall";
      /** What the sources could pay; still to be booked as a deficit or refused. */
      readonly allocations: readonly Allocation[];
      readonly shortfallMicros: bigint;
    };

/**
 * Whether a source may pay usage that occurred at `at`: valid then, and not a cloud-credit lot
 * once cloud credits are no longer accepted.
 */
export function paysUsageAt(source: FundingSource, at: Instant, creditAcceptanceEndAt: Instant = DEFAULT_CREDIT_ACCEPTANCE_END_AT): boolean {
  return isValidAt(source, at) && !(source.kind === "CREDIT_LOT" && at >= creditAcceptanceEndAt);
}

/**
 * The instant a source stops paying usage: its expiry, or for a cloud-credit lot the credit
 * acceptance end when that comes first. A lot is worth nothing to usage from then on, so that is
 * when its tokens are lost to the customer.
 */
export function paysUsageUntil(source: FundingSource, creditAcceptanceEndAt: Instant = DEFAULT_CREDIT_ACCEPTANCE_END_AT): Instant {
  return source.kind === "CREDIT_LOT" && creditAcceptanceEndAt < source.expiresAt ? creditAcceptanceEndAt : source.expiresAt;
}

/**
 * Takes `amountMicros` from the sources that may pay usage at `at`, in drain order. Pure: the
 * caller applies the allocations. A zero amount takes nothing.
 */
export function drain(
  sources: readonly FundingSource[],
  amountMicros: bigint,
  at: Instant,
  creditAcceptanceEndAt: Instant = DEFAULT_CREDIT_ACCEPTANCE_END_AT,
): DrainResult {
  if (amountMicros < 0n) throw new RangeError("drain amount must not be negative");
  const usable = sources
    .filter((source) => source.remainingMicros > 0n && paysUsageAt(source, at, creditAcceptanceEndAt))
    .sort(compareDrainOrder);
  const allocations: Allocation[] = [];
  let owed = amountMicros;
  for (const source of usable) {
    if (owed === 0n) break;
    const take = source.remainingMicros < owed ? source.remainingMicros : owed;
    allocations.push({ source: source.kind, sourceId: source.id, amountMicros: take });
    owed -= take;
  }
  return owed === 0n
    ? { kind: "covered", allocations }
    : { kind: "shortfall", allocations, shortfallMicros: owed };
}

/** Tokens available for usage at `at`: the remaining amounts of the sources that may pay it. */
export function availableAt(
  sources: readonly FundingSource[],
  at: Instant,
  creditAcceptanceEndAt: Instant = DEFAULT_CREDIT_ACCEPTANCE_END_AT,
): bigint {
  let total = 0n;
  for (const source of sources) if (paysUsageAt(source, at, creditAcceptanceEndAt)) total += source.remainingMicros;
  return total;
}

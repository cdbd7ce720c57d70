import { type Instant, isValidAt } from "./time.js";

export type SourceKind = "CREDIT_LOT" | "FLEX_PACK";
export type AllocationSource = SourceKind | "DEFICIT";

/** A cloud-credit lot or a Flex pack as the drain sees it. */
export interface FundingSource {
  readonly kind: SourceKind;
  readonly id: number;
  /** The lot amount or pack size: the smaller pack drains first among equals. */
  readonly sizeMicros: bigint;
  readonly remainingMicros: bigint;
  readonly purchasedAt: Instant;
  readonly expiresAt: Instant;
}

export interface Allocation {
  readonly source: AllocationSource;
  /** The lot or pack id; null for a DEFICIT allocation. */
  readonly sourceId: number | null;
  readonly amountMicros: bigint;
}

const KIND_RANK: Record<SourceKind, number> = { CREDIT_LOT: 0, FLEX_PACK: 1 };

/**
 * The drain order, defined here and nowhere else.
 * 1. Cloud credits before Flex tokens: the 2022-11-07 announcement says held credits are
 *    consumed first.
 * 2. Soonest expiry first, so nothing expires that could have been used.
 * 3. Among Flex packs, the smallest pack first (Autodesk Flex FAQ: tokens bought at a higher
 *    unit price go first); lots have no such rule.
 * 4. Oldest purchase, then lowest id, so the order is total and every replay drains alike.
 */
export function compareDrainOrder(a: FundingSource, b: FundingSource): number {
  return (
    KIND_RANK[a.kind] - KIND_RANK[b.kind] ||
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
 * Takes `amountMicros` from the sources valid at `at`, in drain order. Pure: the caller
 * applies the allocations. A zero amount takes nothing.
 */
export function drain(sources: readonly FundingSource[], amountMicros: bigint, at: Instant): DrainResult {
  if (amountMicros < 0n) throw new RangeError("drain amount must not be negative");
  const usable = sources
    .filter((source) => source.remainingMicros > 0n && isValidAt(source, at))
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

/** Tokens available for usage at `at`: the remaining amounts of the sources valid then. */
export function availableAt(sources: readonly FundingSource[], at: Instant): bigint {
  let total = 0n;
  for (const source of sources) if (isValidAt(source, at)) total += source.remainingMicros;
  return total;
}

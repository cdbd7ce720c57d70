import { type DeficitState, graceEndsAt } from "./account.js";
import { type Allocation, DEFAULT_CREDIT_ACCEPTANCE_END_AT, type FundingSource, paysUsageAt } from "./drain.js";
import type { Instant } from "./time.js";

export interface Balance {
  readonly cloudCreditsMicros: bigint;
  readonly flexTokensMicros: bigint;
  readonly deficitMicros: bigint;
  /** cloudCredits + flexTokens − deficit; negative while the account owes more than it holds. */
  readonly availableMicros: bigint;
  readonly graceEndsAt: Instant | null;
}

/**
 * The balance made of the sources that may pay usage at `at` (paysUsageAt): valid then, and no
 * cloud-credit lot from the credit acceptance end on (domain §8). So available is what usage at
 * `at` can draw, and it stays cloudCredits + flexTokens − deficit (api.md): like an expired
 * lot's, the tokens left in a lot no longer count, though they still pay usage from before the
 * end reported late.
 */
export function balanceAt(
  sources: readonly FundingSource[],
  deficit: DeficitState,
  at: Instant,
  creditAcceptanceEndAt: Instant = DEFAULT_CREDIT_ACCEPTANCE_END_AT,
): Balance {
  let cloudCreditsMicros = 0n;
  let flexTokensMicros = 0n;
  for (const source of sources) {
    if (!paysUsageAt(source, at, creditAcceptanceEndAt)) continue;
    if (source.kind === "CREDIT_LOT") cloudCreditsMicros += source.remainingMicros;
    else flexTokensMicros += source.remainingMicros;
  }
  return {
    cloudCreditsMicros,
    flexTokensMicros,
    deficitMicros: deficit.deficitMicros,
    availableMicros: cloudCreditsMicros + flexTokensMicros - deficit.deficitMicros,
    graceEndsAt: graceEndsAt(deficit),
  };
}

/** The sources after the allocations of a charge are taken from them. */
export function applyAllocations(sources: readonly FundingSource[], allocations: readonly Allocation[]): FundingSource[] {
  return sources.map((source) => {
    let taken = 0n;
    for (const allocation of allocations) {
      if (allocation.source === source.kind && allocation.sourceId === source.id) taken += allocation.amountMicros;
    }
    return taken === 0n ? source : { ...source, remainingMicros: source.remainingMicros - taken };
  });
}

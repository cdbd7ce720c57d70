import { type DeficitState, graceEndsAt } from "./account.js";
import type { Allocation, FundingSource } from "./drain.js";
import { type Instant, isValidAt } from "./time.js";

export interface Balance {
  readonly cloudCreditsMicros: bigint;
  readonly flexTokensMicros: bigint;
  readonly deficitMicros: bigint;
  /** cloudCredits + flexTokens − deficit; negative while the account owes more than it holds. */
  readonly availableMicros: bigint;
  readonly graceEndsAt: Instant | null;
}

/** The balance made of the sources valid at `at`. */
export function balanceAt(sources: readonly FundingSource[], deficit: DeficitState, at: Instant): Balance {
  let cloudCreditsMicros = 0n;
  let flexTokensMicros = 0n;
  for (const source of sources) {
    if (!isValidAt(source, at)) continue;
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

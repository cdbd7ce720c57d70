import { type AllocationSource, isSourceKind, type SourceKind } from "./drain.js";

/** A deficit allocation not yet paid in full, oldest first. */
export interface OutstandingDeficit {
  readonly allocationId: number;
  readonly outstandingMicros: bigint;
}

export interface Settlement {
  readonly allocationId: number;
  readonly amountMicros: bigint;
}

/**
 * New funds pay the deficit first, oldest deficit allocation first. Recording which allocation
 * each settlement paid lets a later reversal of that charge give the tokens back to the exact
 * lot or pack that paid them.
 */
export function settleDeficit(outstanding: readonly OutstandingDeficit[], fundsMicros: bigint): Settlement[] {
  const settlements: Settlement[] = [];
  let funds = fundsMicros;
  for (const debt of outstanding) {
    if (funds === 0n) break;
    const pay = debt.outstandingMicros < funds ? debt.outstandingMicros : funds;
    if (pay > 0n) settlements.push({ allocationId: debt.allocationId, amountMicros: pay });
    funds -= pay;
  }
  return settlements;
}

export interface LedgerAllocation {
  readonly id: number;
  readonly source: AllocationSource;
  readonly sourceId: number | null;
  readonly amountMicros: bigint;
  /** Whole units of a FREE_ALLOWANCE, OVERRUN or PAYG part (Allocation.units). */
  readonly units?: bigint;
}

export interface LedgerSettlement {
  readonly allocationId: number;
  /** The lot or pack whose funds paid the deficit. */
  readonly source: SourceKind;
  readonly sourceId: number;
  readonly amountMicros: bigint;
}

export interface Refund {
  readonly source: SourceKind;
  readonly sourceId: number;
  readonly amountMicros: bigint;
}

export interface ReversalDecision {
  /** Tokens going back to the lots and packs they came from (expired ones included: they are lost again). */
  readonly refunds: readonly Refund[];
  /** The part of the charge's deficit still unpaid, which simply stops being owed. */
  readonly deficitReductionMicros: bigint;
}

/**
 * Undoes one charge exactly: each lot or pack allocation goes back to its source; a deficit
 * allocation stops being owed, and whatever of it later funds already paid goes back to them.
 */
export function decideReversal(
  allocations: readonly LedgerAllocation[],
  settlements: readonly LedgerSettlement[],
): ReversalDecision {
  const refunds: Refund[] = [];
  let deficitReductionMicros = 0n;
  for (const allocation of allocations) {
    if (isSourceKind(allocation.source)) {
      refunds.push({ source: allocation.source, sourceId: allocation.sourceId!, amountMicros: allocation.amountMicros });
      continue;
    }
    // Free units and PAYG parts hold no tokens of a source: decideTieredReversal gives them back.
    if (allocation.source !== "DEFICIT") continue;
    let settled = 0n;
    for (const settlement of settlements) {
      if (settlement.allocationId !== allocation.id) continue;
      refunds.push({ source: settlement.source, sourceId: settlement.sourceId, amountMicros: settlement.amountMicros });
      settled += settlement.amountMicros;
    }
    deficitReductionMicros += allocation.amountMicros - settled;
  }
  return { refunds, deficitReductionMicros };
}

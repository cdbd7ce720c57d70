import { type AllocationSource, isSourceKind, type SourceKind } from "./drain.js";
import type { Instant } from "./time.js";

/** A deficit allocation not yet paid in full, oldest first. */
export interface OutstandingDeficit {
  readonly allocationId: number;
  readonly outstandingMicros: bigint;
}

/** An outstanding deficit allocation with when its usage occurred: a cloud-credit lot settles none from the credit acceptance end on. */
export interface DatedDeficit extends OutstandingDeficit {
  readonly occurredAt: Instant;
}

/** A standing deficit allocation as the store reads it: what it owed and what has been settled of it. */
export interface DeficitPart {
  readonly allocationId: number;
  readonly amountMicros: bigint;
  readonly settledMicros: bigint;
  readonly occurredAt: Instant;
}

/** Deficit parts read per page, newest first. */
export const DEFICIT_PAGE = 64;

/**
 * The outstanding deficit parts of an account that owes `owedMicros`, oldest first, read newest
 * first a page at a time (`page(beforeId)`: standing parts with a smaller id, newest first, at
 * most DEFICIT_PAGE) until what they still owe adds up to the debt. The debt is the sum of what
 * the standing parts still owe (the ledger check holds it so), so once they add up to it, every
 * part not yet read is paid in full. Funds settle oldest first, so the parts still owed are
 * usually the newest: an account that has run up and paid off deficits for years reads only
 * what it owes now, not its whole history. (A cloud-credit lot skips parts of usage from the
 * credit acceptance end on, so an older part may still be owed behind newer ones paid in full:
 * the pages go on until the sum is found.)
 */
export async function outstandingFromNewest(owedMicros: bigint, page: (beforeId: number) => DeficitPart[] | Promise<DeficitPart[]>): Promise<DatedDeficit[]> {
  const found: DatedDeficit[] = [];
  let left = owedMicros;
  for (let before = Number.MAX_SAFE_INTEGER; left > 0n; ) {
    const parts = await page(before);
    for (const part of parts) {
      const outstandingMicros = part.amountMicros - part.settledMicros;
      if (outstandingMicros <= 0n) continue;
      found.push({ allocationId: part.allocationId, outstandingMicros, occurredAt: part.occurredAt });
      left -= outstandingMicros;
    }
    if (parts.length < DEFICIT_PAGE) break;
    before = parts.at(-1)!.allocationId;
  }
  return found.reverse();
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

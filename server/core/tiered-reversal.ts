/**
 * Reversing a tiered charge (domain §8): tokens go back to their exact sources (pool, pack,
 * PAYG line, deficit) and free units to their month's allowance; remainders stay.
 *
 * How a service uses it: load the charge's allocations (with units), the deficit settlements
 * of its DEFICIT part, the statement month its PAYG part went on and, for a FREE charge, the
 * FreeMonth of its API and month; call `decideTieredReversal`; write the refunds like a LEGACY
 * reversal, the FreeMonth state under its key, and the PAYG part (negative) on its statement.
 */
import { freeMonthKey, type FreeMonth, returnFreeUnits } from "./free-allowance.js";
import { decideReversal, type LedgerAllocation, type LedgerSettlement, type ReversalDecision } from "./ledger.js";
import { type Month, monthOf } from "./month.js";
import { type PaygPart, statementMonthFor } from "./payg.js";
import type { Instant } from "./time.js";

export interface TieredChargeToReverse {
  readonly apiCode: string;
  readonly occurredAt: Instant;
  readonly allocations: readonly LedgerAllocation[];
  /** The statement the charge's PAYG part went on; null when PAYG paid nothing. */
  readonly paygStatementMonth: Month | null;
}

export interface TieredReversal extends ReversalDecision {
  /** The FREE month with the charge's units given back; null when it had none. */
  readonly freeMonth: { readonly key: string; readonly state: FreeMonth } | null;
  /** The PAYG part undone (negative units and tokens) and the statement it goes on. */
  readonly payg: { readonly statementMonth: Month; readonly part: PaygPart } | null;
}

/**
 * Decision: the remainder a charge left is not taken back. Later events have already built on
 * it, and undoing one partial unit would change what they charged; APS's rollover is a running
 * total, and a reversal is an operator's correction of a charge, not of the meter.
 */
export function decideTieredReversal(
  charge: TieredChargeToReverse,
  settlements: readonly LedgerSettlement[],
  freeMonth: FreeMonth,
  now: Instant,
): TieredReversal {
  let freeUnits = 0n;
  let overrunUnits = 0n;
  let paygUnits = 0n;
  let paygMicros = 0n;
  for (const allocation of charge.allocations) {
    if (allocation.source === "FREE_ALLOWANCE") freeUnits += allocation.units ?? 0n;
    if (allocation.source === "OVERRUN") overrunUnits += allocation.units ?? 0n;
    if (allocation.source === "PAYG") {
      paygUnits += allocation.units ?? 0n;
      paygMicros += allocation.amountMicros;
    }
  }
  const month = monthOf(charge.occurredAt);
  const hasFreeUnits = freeUnits > 0n || overrunUnits > 0n;
  const paygMonth = charge.paygStatementMonth;
  return {
    ...decideReversal(charge.allocations, settlements),
    freeMonth: hasFreeUnits ? { key: freeMonthKey(charge.apiCode, month), state: returnFreeUnits(freeMonth, freeUnits, overrunUnits) } : null,
    // Back on the line it came from while that statement is open; a final statement never
    // changes, so later the credit goes on the statement of the month the reversal is booked.
    payg:
      paygMonth === null || paygMicros === 0n
        ? null
        : { statementMonth: statementMonthFor(paygMonth, now), part: { apiCode: charge.apiCode, units: -paygUnits, tokensMicros: -paygMicros } },
  };
}

/**
 * Rating a usage event under a FREE or PAID plan (domain §8), values in and values out.
 *
 * How a service uses it, for a group of events in one unit of work:
 * 1. load, per account, a TieredBook: the remainders and FreeMonth states the events touch, its
 *    lots, packs and Token Flex pools (poolAsSource) and its deficit; and the price versions,
 *    free caps and enrollments;
 * 2. for each event, in arrival order: plan = planAt(enrollments, occurredAt) (LEGACY events go
 *    to decideChargeOrThrow as before); price = priceInForce(...) (PRICE_NOT_FOUND stays the
 *    service's); decision = decideTieredEventOrThrow(book, event, terms); a refusal writes
 *    nothing and leaves the book as it was; else book = applyTieredDecision(book, decision), so
 *    each event sees the ones before it;
 * 3. write each decision: the charge (units, tokens), its allocations, the new remainder and
 *    FreeMonth under their keys, the sources' remaining amounts, the deficit, the PAYG part on
 *    its statement month.
 * A quote is the same call without step 3: the decision carries the units and the remainder after.
 */
import { addDeficit, type DeficitState } from "./account.js";
import { isFree } from "./authorization.js";
import { applyAllocations } from "./balance.js";
import { chargeUnits, meterSince, remainderKey } from "./charged-units.js";
import { type Allocation, drain, type FundingSource } from "./drain.js";
import { FlexgateError } from "./errors.js";
import { assertNotSuspended, capAt, capLevelsOf, EMPTY_FREE_MONTH, type FreeCap, type FreeMonth, freeMonthKey, takeFreeUnits } from "./free-allowance.js";
import { type Month, monthOf } from "./month.js";
import { type PaygPart, statementMonthFor } from "./payg.js";
import { type Plan, prepayRestrictedMessage, statusUnderPlan } from "./plan.js";
import type { Outcome, PriceVersion } from "./price.js";
import type { Instant } from "./time.js";

/** What one account's tiered events read and change, as loaded by the service. */
export interface TieredBook {
  /** Remainders in micro meter units by remainderKey; a missing key is zero. */
  readonly remainders: ReadonlyMap<string, bigint>;
  /** By freeMonthKey; a missing key is EMPTY_FREE_MONTH. */
  readonly freeMonths: ReadonlyMap<string, FreeMonth>;
  /** Lots, packs and Token Flex pools with what they hold now. */
  readonly sources: readonly FundingSource[];
  readonly deficit: DeficitState;
}

export interface TieredEvent {
  readonly apiCode: string;
  readonly quantityMicros: bigint;
  readonly outcome: Outcome;
  readonly occurredAt: Instant;
}

export interface TieredTerms {
  /** The plan in force at occurredAt: FREE or PAID. */
  readonly plan: Plan;
  /** The version in force at occurredAt. */
  readonly price: PriceVersion;
  /** Every version of the event's API: the meter's start keys the remainder. */
  readonly versions: readonly PriceVersion[];
  readonly caps: readonly FreeCap[];
  /** Booking time: PAYG statements and the deficit are booking-time facts. */
  readonly now: Instant;
  readonly creditAcceptanceEndAt: Instant;
}

export interface TieredDecision {
  /** Whole charged units; 0 when the event completes none or its outcome is not billed. */
  readonly units: bigint;
  readonly tokensMicros: bigint;
  /** The remainder after the event and its key; unchanged when the outcome is not billed. */
  readonly remainder: { readonly key: string; readonly quantityMicros: bigint };
  /** In DRAIN_RANK order; the token parts sum to tokensMicros. */
  readonly allocations: readonly Allocation[];
  /** The FREE month state after the event; null on PAID. */
  readonly freeMonth: { readonly key: string; readonly month: Month; readonly state: FreeMonth } | null;
  /** The PAYG part and the statement it goes on; null when PAYG paid nothing. */
  readonly payg: { readonly statementMonth: Month; readonly part: PaygPart } | null;
  readonly deficit: DeficitState;
}

/**
 * Decides one FREE or PAID event.
 * @throws FlexgateError API_SUSPENDED (FREE: the API's month is suspended at occurredAt);
 *   ACCOUNT_RESTRICTED (PAID prepay only, owing a deficit, for a billed outcome). Neither names
 *   a field: they are the account's state, not a fault of the input.
 */
export function decideTieredEventOrThrow(book: TieredBook, event: TieredEvent, terms: TieredTerms): TieredDecision {
  const { plan, price } = terms;
  if (plan.tier === "LEGACY") throw new RangeError("LEGACY events are rated by decideChargeOrThrow");
  const free = plan.tier === "FREE";
  const month = monthOf(event.occurredAt);
  // Decision: FREE and PAID keep separate remainders (a FREE one per month, domain §8). A FREE
  // month's partial unit is not carried into PAID, as nothing carries out of a free month; a
  // paid remainder waits through a FREE spell and resumes when the account is PAID again.
  const key = remainderKey({ apiCode: event.apiCode, meterSince: meterSince(terms.versions, price), month: free ? month : null });
  const remainderMicros = book.remainders.get(key) ?? 0n;
  const billed = price.chargeableOutcomes.includes(event.outcome);
  const unchanged: TieredDecision = {
    units: 0n,
    tokensMicros: 0n,
    remainder: { key, quantityMicros: remainderMicros },
    allocations: [],
    freeMonth: null,
    payg: null,
    deficit: book.deficit,
  };
  // A free API (no rate, or no billed outcome) is outside caps and tokens alike.
  if (isFree(price)) return unchanged;
  return free ? decideFree(book, event, terms, { key, remainderMicros, billed, month, unchanged }) : decidePaid(book, event, terms, { key, remainderMicros, billed, unchanged });
}

interface Start {
  readonly key: string;
  readonly remainderMicros: bigint;
  readonly billed: boolean;
  readonly unchanged: TieredDecision;
}

function decideFree(book: TieredBook, event: TieredEvent, terms: TieredTerms, start: Start & { month: Month }): TieredDecision {
  const monthKey = freeMonthKey(event.apiCode, start.month);
  const state = book.freeMonths.get(monthKey) ?? EMPTY_FREE_MONTH;
  const capUnits = capAt(terms.caps, event.apiCode, event.occurredAt);
  // Every call of a suspended API fails, billed outcome or not.
  assertNotSuspended(state, capUnits, event.apiCode, event.occurredAt);
  if (!start.billed) return start.unchanged;
  const { units, remainderMicros } = chargeUnits(start.remainderMicros, event.quantityMicros, terms.price.unitQuantity);
  const take = takeFreeUnits(state, units, capUnits, event.occurredAt, capLevelsOf(terms.caps, event.apiCode, start.month));
  const allocations: Allocation[] = [];
  if (take.freeUnits > 0n) allocations.push({ source: "FREE_ALLOWANCE", sourceId: null, amountMicros: 0n, units: take.freeUnits });
  if (take.overrunUnits > 0n) allocations.push({ source: "OVERRUN", sourceId: null, amountMicros: 0n, units: take.overrunUnits });
  return {
    ...start.unchanged,
    units,
    remainder: { key: start.key, quantityMicros: remainderMicros },
    allocations,
    freeMonth: { key: monthKey, month: start.month, state: take.state },
  };
}

function decidePaid(book: TieredBook, event: TieredEvent, terms: TieredTerms, start: Start): TieredDecision {
  if (!start.billed) return start.unchanged;
  const { plan, price, now } = terms;
  // Decision: a restricted prepay account is refused every billed event, even one that
  // completes no unit: its access is suspended (domain §8), and a partial unit let through now
  // would be charged later.
  if (statusUnderPlan(plan, book.deficit, now) === "RESTRICTED") {
    throw new FlexgateError("ACCOUNT_RESTRICTED", prepayRestrictedMessage(book.deficit));
  }
  const { units, remainderMicros } = chargeUnits(start.remainderMicros, event.quantityMicros, price.unitQuantity);
  const tokensMicros = units * price.tokensPerUnitMicros;
  const result = drain(book.sources, tokensMicros, event.occurredAt, terms.creditAcceptanceEndAt);
  const owed = result.kind === "shortfall" ? result.shortfallMicros : 0n;
  const allocations: Allocation[] = [...result.allocations];
  let payg: TieredDecision["payg"] = null;
  let deficit = book.deficit;
  if (owed > 0n && plan.payg) {
    // Units on a PAYG line: those whose tokens PAYG paid, a unit paid partly by a pack counting
    // on the line too, since the statement must explain every token it bills.
    const paygUnits = ceilDiv(owed, price.tokensPerUnitMicros);
    allocations.push({ source: "PAYG", sourceId: null, amountMicros: owed, units: paygUnits });
    payg = {
      statementMonth: statementMonthFor(monthOf(event.occurredAt), now),
      part: { apiCode: event.apiCode, units: paygUnits, tokensMicros: owed },
    };
  } else if (owed > 0n) {
    allocations.push({ source: "DEFICIT", sourceId: null, amountMicros: owed });
    deficit = addDeficit(deficit, owed, now);
  }
  return {
    ...start.unchanged,
    units,
    tokensMicros,
    remainder: { key: start.key, quantityMicros: remainderMicros },
    allocations,
    payg,
    deficit,
  };
}

/** Counts units, not amounts: a part of a unit is a unit on the line (money.ts rounds amounts). */
function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/** The book after a decision, for the next event of the same group. */
export function applyTieredDecision(book: TieredBook, decision: TieredDecision): TieredBook {
  const remainders = new Map(book.remainders).set(decision.remainder.key, decision.remainder.quantityMicros);
  const freeMonths = decision.freeMonth ? new Map(book.freeMonths).set(decision.freeMonth.key, decision.freeMonth.state) : book.freeMonths;
  return { remainders, freeMonths, sources: applyAllocations(book.sources, decision.allocations), deficit: decision.deficit };
}

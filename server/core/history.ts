/**
 * Balances at a past time and usage reports (shared domain rules §7), as pure functions of
 * ledger facts the store has already selected.
 */
import { addDeficit, type DeficitState, reduceDeficit } from "./account.js";
import { type Balance, balanceAt } from "./balance.js";
import { DEFAULT_CREDIT_ACCEPTANCE_END_AT, type FundingSource, type SourceKind } from "./drain.js";
import { badInput } from "./errors.js";
import type { Outcome } from "./price.js";
import { DAY_MS, type Instant } from "./time.js";

/** Tokens a lot or pack had given up by the time asked: allocations and deficit settlements. */
export interface SourceDraw {
  readonly kind: SourceKind;
  readonly id: number;
  readonly amountMicros: bigint;
}

/** One booking-time change of an account's deficit: + booked, − settled or reversed. */
export interface DeficitMove {
  readonly at: Instant;
  readonly deltaMicros: bigint;
}

/**
 * What the ledger says about one account as of `t`. The store selects, with the same rule for
 * every row, the entries that count at t:
 * - an allocation counts when its usage occurred before t and its charge was not reversed
 *   before t (a reversal made later does not rewrite what the balance was);
 * - a deficit settlement counts when it was made before t, the usage it paid for occurred
 *   before t, and that charge was not reversed before t. Counting it on both sides (the lot or
 *   pack that paid, and the deficit it paid) keeps a settlement a pure transfer.
 */
export interface LedgerAsOf {
  /** Every lot, Token Flex pool and pack of the account; `sizeMicros` is what they started with. */
  readonly sources: readonly FundingSource[];
  /** Standing allocations and settlements drawn from each lot, pool or pack, any number of rows per source. */
  readonly draws: readonly SourceDraw[];
  /** Standing DEFICIT allocations of usage before t. */
  readonly deficitBookedMicros: bigint;
  /** Standing settlements made before t of those deficit allocations. */
  readonly deficitSettledMicros: bigint;
  /** Booking-time moves of the deficit made before t, in any order: they rebuild the grace clock. */
  readonly deficitMoves: readonly DeficitMove[];
}

const sourceKey = (kind: SourceKind, id: number) => `${kind}:${id}`;

/**
 * The balance as of `t`: the lots and packs valid at t, less what usage before t took from
 * them, with the deficit that usage left unpaid.
 *
 * The deficit follows usage time like the lots and packs do (a late report of usage before t
 * shows in the balance at t). The grace clock, though, is a booking-time fact (§4: it starts
 * when the charge is booked), so `graceEndsAt` is the clock as it stood at t, rebuilt from
 * the deficit moves booked before t; it is null when no unpaid deficit had been booked by t.
 * From the credit acceptance end on, lots count for nothing (balanceAt).
 */
export function balanceAsOf(ledger: LedgerAsOf, t: Instant, creditAcceptanceEndAt: Instant = DEFAULT_CREDIT_ACCEPTANCE_END_AT): Balance {
  const drawn = new Map<string, bigint>();
  for (const draw of ledger.draws) {
    const key = sourceKey(draw.kind, draw.id);
    drawn.set(key, (drawn.get(key) ?? 0n) + draw.amountMicros);
  }
  const sources = ledger.sources.map((source) => ({
    ...source,
    remainingMicros: source.sizeMicros - (drawn.get(sourceKey(source.kind, source.id)) ?? 0n),
  }));
  const deficitMicros = ledger.deficitBookedMicros - ledger.deficitSettledMicros;
  const clock = graceClockAsOf(ledger.deficitMoves, t);
  return balanceAt(sources, { deficitMicros, graceStartedAt: clock.graceStartedAt }, t, creditAcceptanceEndAt);
}

/**
 * Replays the booking-time deficit moves made before `t` through the same rules the ledger used
 * (addDeficit, reduceDeficit). Moves at the same instant apply bookings before reductions, so
 * a charge and the purchase that paid it in the same millisecond never reduce below zero.
 */
export function graceClockAsOf(moves: readonly DeficitMove[], t: Instant): DeficitState {
  const ordered = moves
    .filter((move) => move.at < t && move.deltaMicros !== 0n)
    .sort((a, b) => a.at - b.at || (a.deltaMicros > b.deltaMicros ? -1 : a.deltaMicros < b.deltaMicros ? 1 : 0));
  let state: DeficitState = { deficitMicros: 0n, graceStartedAt: null };
  for (const move of ordered) {
    state =
      move.deltaMicros > 0n
        ? addDeficit(state, move.deltaMicros, move.at)
        : reduceDeficit(state, -move.deltaMicros > state.deficitMicros ? state.deficitMicros : -move.deltaMicros);
  }
  return state;
}

export type UsageGrouping = "DAY" | "MONTH";
export const USAGE_GROUPINGS: readonly UsageGrouping[] = ["DAY", "MONTH"];

/** Usage of one API in one UTC day, as the store sums it. */
export interface DailyUsage {
  /** Whole UTC days since the epoch: floor(occurredAt / DAY_MS). */
  readonly day: number;
  readonly apiCode: string;
  readonly events: number;
  readonly quantityMicros: bigint;
  readonly tokensMicros: bigint;
  /** Whole charged units of the day's FREE and PAID charges; null when all were LEGACY. */
  readonly units: bigint | null;
}

export interface UsageSummaryRow {
  /** The UTC midnight that starts the day or month. */
  readonly periodStart: Instant;
  readonly apiCode: string;
  /** Standing charges, zero-token ones included (an uncharged outcome still counts as usage). */
  readonly events: number;
  readonly quantityMicros: bigint;
  readonly tokensMicros: bigint;
  /**
   * Whole charged units of the period's FREE and PAID charges (domain §8); null when every charge
   * of the row was rated under LEGACY, which counts no units.
   */
  readonly units: bigint | null;
}

/** Adds units that may be absent (LEGACY): absent only when both are. */
export function addUnits(a: bigint | null, b: bigint | null): bigint | null {
  return a === null ? b : b === null ? a : a + b;
}

/** The UTC midnight starting the day or calendar month that contains `t`. */
export function periodStart(t: Instant, grouping: UsageGrouping): Instant {
  if (grouping === "DAY") return Math.floor(t / DAY_MS) * DAY_MS;
  const date = new Date(t);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

/**
 * Rolls daily sums up into the requested periods, sorted by period start, then API code.
 * Only periods with usage appear: a report lists what happened, not empty days.
 */
export function summarizeUsage(days: Iterable<DailyUsage>, grouping: UsageGrouping): UsageSummaryRow[] {
  const rows = new Map<string, { periodStart: Instant; apiCode: string; events: number; quantityMicros: bigint; tokensMicros: bigint; units: bigint | null }>();
  for (const day of days) {
    const start = periodStart(day.day * DAY_MS, grouping);
    const key = `${start}\u0000${day.apiCode}`;
    const row = rows.get(key);
    if (row) {
      row.events += day.events;
      row.quantityMicros += day.quantityMicros;
      row.tokensMicros += day.tokensMicros;
      row.units = addUnits(row.units, day.units);
    } else {
      rows.set(key, {
        periodStart: start,
        apiCode: day.apiCode,
        events: day.events,
        quantityMicros: day.quantityMicros,
        tokensMicros: day.tokensMicros,
        units: day.units,
      });
    }
  }
  return [...rows.values()].sort(
    (a, b) => a.periodStart - b.periodStart || (a.apiCode < b.apiCode ? -1 : a.apiCode > b.apiCode ? 1 : 0),
  );
}

/** One standing charge in the usage export (CSV), with what paid it. */
export interface UsageExportRow {
  readonly occurredAt: Instant;
  readonly eventId: string;
  readonly apiCode: string;
  readonly clientId: string | null;
  readonly quantityMicros: bigint;
  readonly outcome: Outcome;
  readonly tokensMicros: bigint;
  /** Paid from cloud-credit lots when the charge was booked. */
  readonly creditsMicros: bigint;
  /** Paid from Flex packs when the charge was booked. */
  readonly flexMicros: bigint;
  /** Booked as deficit; stays here even after later funds settle it, as the receipt does. */
  readonly deficitMicros: bigint;
  /** Whole charged units of a FREE or PAID charge (domain §8); null for a LEGACY one. */
  readonly units: bigint | null;
  /** Paid from Token Flex pools. With the four above, the sources add up to tokensMicros. */
  readonly tokenFlexMicros: bigint;
  /** Put on the PAYG statement. */
  readonly paygMicros: bigint;
  /** Units of a FREE charge beyond the month's free cap (recorded, never billed); 0 otherwise. */
  readonly overrunUnits: bigint;
}

/**
 * Checks a report window [from, to).
 * @throws FlexgateError BAD_USER_INPUT naming `from` or `to`
 */
export function assertWindow(from: Instant, to: Instant, fields: { from: string; to: string } = { from: "from", to: "to" }): void {
  if (!Number.isSafeInteger(from) || from < 0) throw badInput(fields.from, `${fields.from} is not a valid instant`);
  if (!Number.isSafeInteger(to) || to < 0) throw badInput(fields.to, `${fields.to} is not a valid instant`);
  if (from >= to) throw badInput(fields.to, `${fields.to} must be after ${fields.from}`);
}

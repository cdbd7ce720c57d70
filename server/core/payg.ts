/**
 * Pay as You Go statements (domain §8): per account and UTC calendar month, lines per API
 * (units, tokens); OPEN until 3 days after the month ends, then FINAL and never changed.
 *
 * How a service uses it: tiered rating returns each PAYG part with the statement month it goes
 * on (`statementMonthFor`); the store keeps the parts, and `paygStatement` sums the parts of one
 * statement month into what `paygStatement(month)` and the CSV export show.
 */
import { type Month, monthOf, monthStart, nextMonthStart } from "./month.js";
import { DAY_MS, type Instant } from "./time.js";

export type StatementStatus = "OPEN" | "FINAL";

/** A statement stays open this long after its month ends, for late usage reports. */
export const STATEMENT_OPEN_AFTER_MONTH_MS = 3 * DAY_MS;

/** When the statement of `month` becomes FINAL. */
export function statementFinalAt(month: Month): Instant {
  return nextMonthStart(monthStart(month)) + STATEMENT_OPEN_AFTER_MONTH_MS;
}

export function statementStatus(month: Month, now: Instant): StatementStatus {
  return now < statementFinalAt(month) ? "OPEN" : "FINAL";
}

/**
 * The statement a PAYG part booked at `bookedAt` goes on: the month of its usage while that
 * statement is open, else the booking month's (decision, domain §8: a final statement never
 * changes, so late usage is billed on the next open one). The booking month's statement is
 * always open at booking time.
 */
export function statementMonthFor(usageMonth: Month, bookedAt: Instant): Month {
  return statementStatus(usageMonth, bookedAt) === "OPEN" ? usageMonth : monthOf(bookedAt);
}

/** One PAYG part of a charge, or its reversal (negative units and tokens). */
export interface PaygPart {
  readonly apiCode: string;
  readonly units: bigint;
  readonly tokensMicros: bigint;
}

export interface PaygLine {
  readonly apiCode: string;
  readonly units: bigint;
  readonly tokensMicros: bigint;
}

export interface PaygStatement {
  readonly month: Month;
  readonly status: StatementStatus;
  readonly tokensMicros: bigint;
  /** By API code; an API whose parts cancel out still shows, with zeros, so a reversal is visible. */
  readonly lines: readonly PaygLine[];
}

/**
 * Sums what went on the statement of `month` into its lines, one per API: its parts, or the
 * per-API sums of them the stores read (summing those again changes nothing).
 */
export function paygStatement(month: Month, parts: readonly (PaygPart | PaygLine)[], now: Instant): PaygStatement {
  const lines = new Map<string, { units: bigint; tokensMicros: bigint }>();
  let tokensMicros = 0n;
  for (const part of parts) {
    const line = lines.get(part.apiCode) ?? { units: 0n, tokensMicros: 0n };
    lines.set(part.apiCode, { units: line.units + part.units, tokensMicros: line.tokensMicros + part.tokensMicros });
    tokensMicros += part.tokensMicros;
  }
  return {
    month,
    status: statementStatus(month, now),
    tokensMicros,
    lines: [...lines.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([apiCode, line]) => ({ apiCode, ...line })),
  };
}

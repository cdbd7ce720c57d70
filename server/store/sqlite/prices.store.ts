import { and, asc, desc, eq, gte, sql } from "drizzle-orm";
import { priceCancellations, priceEntries, usageCharges } from "../../../schema/tables.js";
import type { PriceVersion } from "../../core/price.js";
import type { Instant } from "../../core/time.js";
import { prepared, rawStatement, type Tx, unplannedLimit } from "./database.js";
import type { NewPriceVersion } from "../port.js";
import { toDbMicros, toPriceVersion } from "../rows.js";

function selectVersions(tx: Tx) {
  return tx
    .select({ row: priceEntries, cancelledAt: priceCancellations.cancelledAt })
    .from(priceEntries)
    .leftJoin(priceCancellations, eq(priceCancellations.priceEntryId, priceEntries.id));
}

/** Every version of every API, oldest first. The whole table is small (tens of rows). */
export function allPriceVersions(tx: Tx): PriceVersion[] {
  return selectVersions(tx)
    .orderBy(asc(priceEntries.apiCode), asc(priceEntries.effectiveFrom), asc(priceEntries.id))
    .all()
    .map(({ row, cancelledAt }) => toPriceVersion(row, cancelledAt));
}

export function priceVersionsOf(tx: Tx, apiCode: string): PriceVersion[] {
  return selectVersions(tx)
    .where(eq(priceEntries.apiCode, apiCode))
    .orderBy(asc(priceEntries.effectiveFrom), asc(priceEntries.id))
    .all()
    .map(({ row, cancelledAt }) => toPriceVersion(row, cancelledAt));
}

export function findPriceVersion(tx: Tx, id: number): PriceVersion | null {
  const found = selectVersions(tx).where(eq(priceEntries.id, id)).get();
  return found ? toPriceVersion(found.row, found.cancelledAt) : null;
}

export function insertPriceVersion(tx: Tx, version: NewPriceVersion): PriceVersion {
  const row = tx
    .insert(priceEntries)
    .values({
      ...version,
      tokensPerUnitMicros: toDbMicros(version.tokensPerUnitMicros),
      chargeableOutcomes: version.chargeableOutcomes.join(","),
    })
    .returning()
    .get();
  return toPriceVersion(row, null);
}

export function insertPriceCancellation(tx: Tx, id: number, reason: string, actor: string, now: Instant): void {
  tx.insert(priceCancellations).values({ priceEntryId: id, reason, cancelledBy: actor, cancelledAt: now }).run();
}

export function countPriceVersions(tx: Tx): number {
  return tx.select({ n: sql<number>`count(*)` }).from(priceEntries).get()!.n;
}

/**
 * Changes whenever a version is published or cancelled, or a free cap published, by this process
 * or another one sharing the file: versions, cancellations and caps are append-only. A new
 * version or cap always raises its table's highest id; a cancellation's rowid is the version's
 * id, which need not be the highest, so cancellations are counted instead.
 */
export function priceTableStamp(tx: Tx): string {
  return (prepared(tx, stampQuery).get() as { stamp: string }).stamp;
}

const stampQuery = rawStatement(
  `select (select coalesce(max("id"), 0) from "price_entries") || ':' || (select count(*) from "price_cancellations")
     || ':' || (select coalesce(max("id"), 0) from "free_caps") as stamp`,
);

/** Who cancelled a version and why; null when it is not cancelled. */
export function findPriceCancellation(tx: Tx, priceEntryId: number): { cancelledBy: string; reason: string; cancelledAt: Instant } | null {
  const row = tx
    .select({ cancelledBy: priceCancellations.cancelledBy, reason: priceCancellations.reason, cancelledAt: priceCancellations.cancelledAt })
    .from(priceCancellations)
    .where(eq(priceCancellations.priceEntryId, priceEntryId))
    .get();
  return row ?? null;
}

/**
 * The latest occurredAt of the charges of `apiCode` dated at or after `from`, reversed ones too.
 * It walks usage_charges_occurred_idx down from the latest charge to `from`: a publication's
 * start is now or later, so that range holds only usage dated ahead (MAX_FUTURE_SKEW_MS).
 */
export function latestApiChargeOccurredAt(tx: Tx, apiCode: string, from: Instant): Instant | null {
  const row = tx
    .select({ occurredAt: usageCharges.occurredAt })
    .from(usageCharges)
    .where(and(gte(usageCharges.occurredAt, from), eq(usageCharges.apiCode, apiCode)))
    .orderBy(desc(usageCharges.occurredAt))
    .limit(unplannedLimit(1))
    .get();
  return row?.occurredAt ?? null;
}

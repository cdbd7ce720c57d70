import { and, asc, desc, eq, gte, sql } from "drizzle-orm";
import { priceBookVersion, priceCancellations, priceEntries, usageCharges } from "../../../schema/tables.pg.js";
import type { PriceVersion } from "../../core/price.js";
import type { Instant } from "../../core/time.js";
import type { NewPriceVersion } from "../port.js";
import { toDbMicros, toPriceVersion } from "../rows.js";
import type { Q } from "./database.js";

function selectVersions(q: Q) {
  return q
    .select({ row: priceEntries, cancelledAt: priceCancellations.cancelledAt })
    .from(priceEntries)
    .leftJoin(priceCancellations, eq(priceCancellations.priceEntryId, priceEntries.id));
}

/** Every version of every API, oldest first. The whole table is small (tens of rows). */
export async function allPriceVersions(q: Q): Promise<PriceVersion[]> {
  // Codes in byte order, as SQLite sorts them: a locale's collation would skip the slashes.
  const rows = await selectVersions(q).orderBy(sql`${priceEntries.apiCode} collate "C"`, asc(priceEntries.effectiveFrom), asc(priceEntries.id));
  return rows.map(({ row, cancelledAt }) => toPriceVersion(row, cancelledAt));
}

export async function priceVersionsOf(q: Q, apiCode: string): Promise<PriceVersion[]> {
  const rows = await selectVersions(q)
    .where(eq(priceEntries.apiCode, apiCode))
    .orderBy(asc(priceEntries.effectiveFrom), asc(priceEntries.id));
  return rows.map(({ row, cancelledAt }) => toPriceVersion(row, cancelledAt));
}

export async function findPriceVersion(q: Q, id: number): Promise<PriceVersion | null> {
  const [found] = await selectVersions(q).where(eq(priceEntries.id, id));
  return found ? toPriceVersion(found.row, found.cancelledAt) : null;
}

export async function insertPriceVersion(q: Q, version: NewPriceVersion): Promise<PriceVersion> {
  const [row] = await q
    .insert(priceEntries)
    .values({
      ...version,
      tokensPerUnitMicros: toDbMicros(version.tokensPerUnitMicros),
      chargeableOutcomes: version.chargeableOutcomes.join(","),
    })
    .returning();
  await bumpPriceBook(q);
  return toPriceVersion(row!, null);
}

export async function insertPriceCancellation(q: Q, id: number, reason: string, actor: string, now: Instant): Promise<void> {
  await q.insert(priceCancellations).values({ priceEntryId: id, reason, cancelledBy: actor, cancelledAt: now });
  await bumpPriceBook(q);
}

/**
 * The price book's change stamp. Several writers commit in any order, so a version with a lower
 * id may commit after one with a higher id: the highest id, SQLite's stamp, could stay the same
 * across a publish. A counter bumped in the publishing transaction moves exactly when the
 * versions do, and its row lock orders publishes one after another.
 */
export async function bumpPriceBook(q: Q): Promise<void> {
  await q.update(priceBookVersion).set({ version: sql`${priceBookVersion.version} + 1` }).where(eq(priceBookVersion.id, 1));
}

export async function priceTableStamp(q: Q): Promise<string> {
  const [row] = await q.select({ version: priceBookVersion.version }).from(priceBookVersion).where(eq(priceBookVersion.id, 1));
  return String(row!.version);
}

/** Who cancelled a version and why; null when it is not cancelled. */
export async function findPriceCancellation(q: Q, priceEntryId: number): Promise<{ cancelledBy: string; reason: string; cancelledAt: Instant } | null> {
  const [row] = await q
    .select({ cancelledBy: priceCancellations.cancelledBy, reason: priceCancellations.reason, cancelledAt: priceCancellations.cancelledAt })
    .from(priceCancellations)
    .where(eq(priceCancellations.priceEntryId, priceEntryId));
  return row ?? null;
}

/**
 * The latest occurredAt of the charges of `apiCode` dated at or after `from`, reversed ones too.
 * It walks usage_charges_occurred_idx backward from the latest charge to `from`: a publication's
 * start is now or later, so that range holds only usage dated ahead (MAX_FUTURE_SKEW_MS).
 */
export async function latestApiChargeOccurredAt(q: Q, apiCode: string, from: Instant): Promise<Instant | null> {
  const [row] = await q
    .select({ occurredAt: usageCharges.occurredAt })
    .from(usageCharges)
    .where(and(gte(usageCharges.occurredAt, from), eq(usageCharges.apiCode, apiCode)))
    .orderBy(desc(usageCharges.occurredAt))
    .limit(1);
  return row?.occurredAt ?? null;
}

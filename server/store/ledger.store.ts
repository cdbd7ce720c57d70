import { and, asc, desc, eq, gte, inArray, lt, lte, sql } from "drizzle-orm";
import { allocations, deficitSettlements, reversals, usageCharges } from "../../schema/tables.js";
import type { Allocation, SourceKind } from "../core/drain.js";
import type { LedgerSettlement } from "../core/ledger.js";
import type { ChargeAllocation, Outcome, UsageCharge } from "../core/model.js";
import type { Instant } from "../core/time.js";
import { prepared, type Tx } from "./database.js";
import { fromDbMicros, toAllocation, toDbMicros, toUsageCharge } from "./rows.js";

export interface NewCharge {
  readonly eventId: string;
  readonly fingerprint: string;
  readonly accountId: number;
  readonly apiCode: string;
  readonly priceEntryId: number;
  readonly quantityMicros: bigint;
  readonly outcome: Outcome;
  readonly occurredAt: Instant;
  readonly clientId: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly tokensMicros: bigint;
}

// Columns are written out with their tables: drizzle renders the columns of a selected sql
// fragment unqualified, and inside this subquery a bare "id" would be the reversal's own id.
const reversedAt = sql<number | null>`(select r.reversed_at from reversals r where r.charge_id = "usage_charges"."id")`;

const chargeByEventId = (tx: Tx) =>
  tx.select({ row: usageCharges, reversedAt }).from(usageCharges).where(eq(usageCharges.eventId, sql.placeholder("eventId"))).prepare();

export function findChargeByEventId(tx: Tx, eventId: string): { charge: UsageCharge; fingerprint: string } | null {
  const row = prepared(tx, chargeByEventId).get({ eventId });
  return row ? { charge: toUsageCharge(row.row, row.reversedAt), fingerprint: row.row.fingerprint } : null;
}

const chargeById = (tx: Tx) =>
  tx.select({ row: usageCharges, reversedAt }).from(usageCharges).where(eq(usageCharges.id, sql.placeholder("id"))).prepare();

export function findCharge(tx: Tx, id: number): UsageCharge | null {
  const row = prepared(tx, chargeById).get({ id });
  return row ? toUsageCharge(row.row, row.reversedAt) : null;
}

const chargeInsert = (tx: Tx) =>
  tx
    .insert(usageCharges)
    .values({
      eventId: sql.placeholder("eventId"),
      fingerprint: sql.placeholder("fingerprint"),
      accountId: sql.placeholder("accountId"),
      apiCode: sql.placeholder("apiCode"),
      priceEntryId: sql.placeholder("priceEntryId"),
      quantityMicros: sql.placeholder("quantityMicros"),
      outcome: sql.placeholder("outcome"),
      occurredAt: sql.placeholder("occurredAt"),
      ratedAt: sql.placeholder("ratedAt"),
      clientId: sql.placeholder("clientId"),
      labels: sql.placeholder("labels"),
      tokensMicros: sql.placeholder("tokensMicros"),
    })
    .returning()
    .prepare();

const allocationInsert = (tx: Tx) =>
  tx
    .insert(allocations)
    .values({
      chargeId: sql.placeholder("chargeId"),
      accountId: sql.placeholder("accountId"),
      source: sql.placeholder("source"),
      creditLotId: sql.placeholder("creditLotId"),
      flexPackId: sql.placeholder("flexPackId"),
      amountMicros: sql.placeholder("amountMicros"),
      occurredAt: sql.placeholder("occurredAt"),
    })
    .prepare();

export function insertCharge(tx: Tx, charge: NewCharge, parts: readonly Allocation[], now: Instant): UsageCharge {
  const row = prepared(tx, chargeInsert).get({
    ...charge,
    labels: JSON.stringify(charge.labels),
    quantityMicros: toDbMicros(charge.quantityMicros),
    tokensMicros: toDbMicros(charge.tokensMicros),
    ratedAt: now,
  })!;
  // One row per part: a charge splits across one to a few sources.
  const insertAllocation = parts.length > 0 ? prepared(tx, allocationInsert) : null;
  for (const part of parts) {
    insertAllocation!.run({
      chargeId: row.id,
      accountId: charge.accountId,
      source: part.source,
      creditLotId: part.source === "CREDIT_LOT" ? part.sourceId : null,
      flexPackId: part.source === "FLEX_PACK" ? part.sourceId : null,
      amountMicros: toDbMicros(part.amountMicros),
      occurredAt: charge.occurredAt,
    });
  }
  return toUsageCharge(row, null);
}

export function allocationsOfCharges(tx: Tx, chargeIds: readonly number[]): ChargeAllocation[] {
  if (chargeIds.length === 0) return [];
  return tx
    .select()
    .from(allocations)
    .where(inArray(allocations.chargeId, [...chargeIds]))
    .orderBy(asc(allocations.id))
    .all()
    .map(toAllocation);
}

export function settlementsOfAllocations(tx: Tx, allocationIds: readonly number[]): LedgerSettlement[] {
  if (allocationIds.length === 0) return [];
  return tx
    .select()
    .from(deficitSettlements)
    .where(inArray(deficitSettlements.allocationId, [...allocationIds]))
    .all()
    .map((row) => ({
      allocationId: row.allocationId,
      source: row.source as SourceKind,
      sourceId: (row.source === "CREDIT_LOT" ? row.creditLotId : row.flexPackId)!,
      amountMicros: fromDbMicros(row.amountMicros),
    }));
}

export function insertReversal(tx: Tx, chargeId: number, reason: string, actor: string, now: Instant): void {
  tx.insert(reversals).values({ chargeId, reason, reversedBy: actor, reversedAt: now }).run();
}

export interface ChargeQuery {
  readonly accountId: number;
  readonly from?: Instant;
  readonly to?: Instant;
  readonly apiCode?: string;
  readonly clientId?: string;
  /** Newest first; the cursor is the last id seen. */
  readonly beforeId?: number;
  readonly limit: number;
}

function chargeConditions(query: Omit<ChargeQuery, "beforeId" | "limit">) {
  return and(
    eq(usageCharges.accountId, query.accountId),
    query.from != null ? gte(usageCharges.occurredAt, query.from) : undefined,
    query.to != null ? lt(usageCharges.occurredAt, query.to) : undefined,
    query.apiCode ? eq(usageCharges.apiCode, query.apiCode) : undefined,
    query.clientId ? eq(usageCharges.clientId, query.clientId) : undefined,
  );
}

export function listCharges(tx: Tx, query: ChargeQuery): UsageCharge[] {
  return tx
    .select({ row: usageCharges, reversedAt })
    .from(usageCharges)
    .where(and(chargeConditions(query), query.beforeId ? lt(usageCharges.id, query.beforeId) : undefined))
    .orderBy(desc(usageCharges.id))
    .limit(query.limit)
    .all()
    .map((row) => toUsageCharge(row.row, row.reversedAt));
}

export function countCharges(tx: Tx, query: Omit<ChargeQuery, "beforeId" | "limit">): number {
  return tx.select({ n: sql<number>`count(*)` }).from(usageCharges).where(chargeConditions(query)).get()!.n;
}

/** Charges of one account that occurred in [from, to), oldest first: for reports and re-rating. */
export function chargesBetween(tx: Tx, accountId: number | null, from: Instant, to: Instant): UsageCharge[] {
  return tx
    .select({ row: usageCharges, reversedAt })
    .from(usageCharges)
    .where(
      and(
        accountId === null ? undefined : eq(usageCharges.accountId, accountId),
        gte(usageCharges.occurredAt, from),
        lte(usageCharges.occurredAt, to),
      ),
    )
    .orderBy(asc(usageCharges.occurredAt), asc(usageCharges.id))
    .all()
    .map((row) => toUsageCharge(row.row, row.reversedAt));
}

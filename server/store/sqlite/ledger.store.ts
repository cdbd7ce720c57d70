import { and, asc, desc, eq, gte, inArray, lt, lte, sql } from "drizzle-orm";
import { allocations, deficitSettlements, reversals, usageCharges } from "../../../schema/tables.js";
import type { Allocation, SourceKind } from "../../core/drain.js";
import type { LedgerSettlement } from "../../core/ledger.js";
import type { ChargeAllocation, UsageCharge } from "../../core/model.js";
import type { Instant } from "../../core/time.js";
import { columnsOf, prepared, rawStatement, rowsStatement, type Tx, unplannedLimit } from "./database.js";
import { CHARGE_ORDERS, type ChargeQuery, type NewCharge } from "../port.js";
import { fromDbMicros, storedCharge, toAllocation, toDbMicros, toUsageCharge } from "../rows.js";

// Columns are written out with their tables: drizzle renders the columns of a selected sql
// fragment unqualified, and inside this subquery a bare "id" would be the reversal's own id.
const reversedAt = sql<number | null>`(select r.reversed_at from reversals r where r.charge_id = "usage_charges"."id")`;

const charge = columnsOf(usageCharges);
const chargeSelect = `select ${charge.list}, (select r.reversed_at from reversals r where r.charge_id = "usage_charges"."id") as "reversedAt" from "usage_charges"`;
/** A charge row and, after its columns, when it was reversed. */
const readCharge = (values: unknown) => ({ row: charge.read(values), reversedAt: (values as unknown[])[charge.count] as number | null });

const chargeByEventId = rowsStatement(`${chargeSelect} where "usage_charges"."event_id" = @eventId`);

export function findChargeByEventId(tx: Tx, eventId: string): { charge: UsageCharge; fingerprint: string } | null {
  const values = prepared(tx, chargeByEventId).get({ eventId });
  if (!values) return null;
  const { row, reversedAt } = readCharge(values);
  return { charge: toUsageCharge(row, reversedAt), fingerprint: row.fingerprint };
}

const chargesByEventIds = rowsStatement(`${chargeSelect} where "usage_charges"."event_id" in (select value from json_each(@eventIds))`);

/** The charges already stored under any of these event ids, by event id, with their fingerprints. */
export function findChargesByEventIds(tx: Tx, eventIds: readonly string[]): Map<string, { charge: UsageCharge; fingerprint: string }> {
  const found = new Map<string, { charge: UsageCharge; fingerprint: string }>();
  if (eventIds.length === 0) return found;
  for (const values of prepared(tx, chargesByEventIds).all({ eventIds: JSON.stringify(eventIds) })) {
    const { row, reversedAt } = readCharge(values);
    found.set(row.eventId, { charge: toUsageCharge(row, reversedAt), fingerprint: row.fingerprint });
  }
  return found;
}

const chargeById = rowsStatement(`${chargeSelect} where "usage_charges"."id" = @id`);

export function findCharge(tx: Tx, id: number): UsageCharge | null {
  const values = prepared(tx, chargeById).get({ id });
  if (!values) return null;
  const { row, reversedAt } = readCharge(values);
  return toUsageCharge(row, reversedAt);
}

// Positional parameters: binding by name looks each one up on the object, a tenth of an insert.
const chargeInsert = rawStatement(`insert into "usage_charges"
  ("event_id", "fingerprint", "account_id", "api_code", "price_entry_id", "quantity_micros", "outcome", "occurred_at", "rated_at", "client_id", "labels", "tokens_micros", "units")
  values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);

const allocationInsert = rawStatement(`insert into "allocations"
  ("charge_id", "account_id", "source", "credit_lot_id", "token_flex_pool_id", "flex_pack_id", "amount_micros", "units", "occurred_at")
  values (?, ?, ?, ?, ?, ?, ?, ?, ?)`);

export function insertCharge(tx: Tx, charge: NewCharge, parts: readonly Allocation[], now: Instant): UsageCharge {
  // The row is known but for its id: no RETURNING, which would read it back.
  const id = Number(
    prepared(tx, chargeInsert).run(
      charge.eventId, charge.fingerprint, charge.accountId, charge.apiCode, charge.priceEntryId, toDbMicros(charge.quantityMicros),
      charge.outcome, charge.occurredAt, now, charge.clientId, JSON.stringify(charge.labels), toDbMicros(charge.tokensMicros),
      charge.units === null ? null : toDbMicros(charge.units),
    ).lastInsertRowid,
  );
  // One row per part: a charge splits across one to a few sources.
  const insertAllocation = parts.length > 0 ? prepared(tx, allocationInsert) : null;
  for (const part of parts) {
    insertAllocation!.run(
      id,
      charge.accountId,
      part.source,
      part.source === "CREDIT_LOT" ? part.sourceId : null,
      part.source === "TOKEN_FLEX" ? part.sourceId : null,
      part.source === "FLEX_PACK" ? part.sourceId : null,
      toDbMicros(part.amountMicros),
      part.units === undefined ? null : toDbMicros(part.units),
      charge.occurredAt,
    );
  }
  return storedCharge(charge, id, now);
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
      sourceId: (row.source === "CREDIT_LOT" ? row.creditLotId : row.source === "TOKEN_FLEX" ? row.tokenFlexPoolId : row.flexPackId)!,
      amountMicros: fromDbMicros(row.amountMicros),
    }));
}

export function insertReversal(tx: Tx, chargeId: number, reason: string, actor: string, now: Instant): void {
  tx.insert(reversals).values({ chargeId, reason, reversedBy: actor, reversedAt: now }).run();
}

function chargeConditions(query: Omit<ChargeQuery, "order" | "after" | "limit">) {
  return and(
    eq(usageCharges.accountId, query.accountId),
    query.from != null ? gte(usageCharges.occurredAt, query.from) : undefined,
    query.to != null ? lt(usageCharges.occurredAt, query.to) : undefined,
    query.apiCode ? eq(usageCharges.apiCode, query.apiCode) : undefined,
    query.clientId ? eq(usageCharges.clientId, query.clientId) : undefined,
  );
}

export function listCharges(tx: Tx, query: ChargeQuery): UsageCharge[] {
  const { key, descending } = CHARGE_ORDERS[query.order];
  const columns = key.map((field) => usageCharges[field]);
  // A row-value comparison, which SQLite turns into one index range.
  const afterKey = query.after
    ? sql`(${sql.join(columns, sql`, `)}) ${descending ? sql`<` : sql`>`} (${sql.join(query.after.map((value) => sql`${value}`), sql`, `)})`
    : undefined;
  return tx
    .select({ row: usageCharges, reversedAt })
    .from(usageCharges)
    .where(and(chargeConditions(query), afterKey))
    .orderBy(...columns.map((column) => (descending ? desc(column) : asc(column))))
    .limit(unplannedLimit(query.limit))
    .all()
    .map((row) => toUsageCharge(row.row, row.reversedAt));
}

export function countCharges(tx: Tx, query: Omit<ChargeQuery, "order" | "after" | "limit">): number {
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

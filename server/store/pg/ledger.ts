import { and, asc, desc, eq, gte, inArray, lt, sql } from "drizzle-orm";
import { allocations, deficitSettlements, reversals, usageCharges } from "../../../schema/tables.pg.js";
import type { SourceKind } from "../../core/drain.js";
import type { LedgerSettlement } from "../../core/ledger.js";
import type { ChargeAllocation, UsageCharge } from "../../core/model.js";
import type { Instant } from "../../core/time.js";
import { CHARGE_ORDERS, type ChargeQuery, type NewCharge } from "../port.js";
import type { PlannedCharge } from "../rate-group.js";
import { fromDbMicros, storedCharge, toAllocation, toDbMicros, toUsageCharge } from "../rows.js";
import { type Q, textEquals } from "./database.js";

const reversedAt = sql<number | null>`(select r.reversed_at from reversals r where r.charge_id = "usage_charges"."id")`;

function selectCharges(q: Q) {
  return q.select({ row: usageCharges, reversedAt }).from(usageCharges);
}

type ChargeRow = Awaited<ReturnType<typeof selectCharges>>[number];
const toCharge = ({ row, reversedAt }: ChargeRow) => toUsageCharge(row, reversedAt === null ? null : Number(reversedAt));

export async function findChargeByEventId(q: Q, eventId: string): Promise<{ charge: UsageCharge; fingerprint: string } | null> {
  const [found] = await selectCharges(q).where(eq(usageCharges.eventId, eventId));
  return found ? { charge: toCharge(found), fingerprint: found.row.fingerprint } : null;
}

/** The charges already stored under any of these event ids, by event id, with their fingerprints. */
export async function findChargesByEventIds(q: Q, eventIds: readonly string[]): Promise<Map<string, { charge: UsageCharge; fingerprint: string }>> {
  const found = new Map<string, { charge: UsageCharge; fingerprint: string }>();
  if (eventIds.length === 0) return found;
  // A semi-join with the ids unnested, not `= any(array)`: while a young table's statistics still
  // say it is empty the planner scans it, and a scan testing each row against every id of a
  // 500-event group cost seconds at 30,000 charges; a hash of the ids costs one pass.
  for (const row of await selectCharges(q).where(sql`${usageCharges.eventId} in (select unnest(${sql.param(eventIds)}::text[]))`)) {
    found.set(row.row.eventId, { charge: toCharge(row), fingerprint: row.row.fingerprint });
  }
  return found;
}

export async function findCharge(q: Q, id: number): Promise<UsageCharge | null> {
  const [found] = await selectCharges(q).where(eq(usageCharges.id, id));
  return found ? toCharge(found) : null;
}

/**
 * Writes a rating group's new charges and their allocations with one multi-row statement each
 * (arrays unnested into rows), and returns the charges as stored, in the order given.
 */
export async function insertCharges(q: Q, planned: readonly PlannedCharge[], now: Instant): Promise<UsageCharge[]> {
  if (planned.length === 0) return [];
  const column = <T>(pick: (charge: NewCharge) => T) => sql.param(planned.map(({ charge }) => pick(charge)));
  const { rows } = await q.execute<{ id: number; event_id: string }>(sql`
    insert into usage_charges (event_id, fingerprint, account_id, api_code, price_entry_id, quantity_micros, outcome, occurred_at, rated_at, client_id, labels, tokens_micros, units)
    select e, f, a, c, p, qm, o, oa, ${now}::bigint, cl, l, t, u from unnest(
      ${column((c) => c.eventId)}::text[], ${column((c) => c.fingerprint)}::text[], ${column((c) => c.accountId)}::bigint[],
      ${column((c) => c.apiCode)}::text[], ${column((c) => c.priceEntryId)}::bigint[], ${column((c) => toDbMicros(c.quantityMicros))}::bigint[],
      ${column((c) => c.outcome)}::text[], ${column((c) => c.occurredAt)}::bigint[], ${column((c) => c.clientId)}::text[],
      ${column((c) => JSON.stringify(c.labels))}::text[], ${column((c) => toDbMicros(c.tokensMicros))}::bigint[],
      ${column((c) => (c.units === null ? null : toDbMicros(c.units)))}::bigint[]
    ) as rows(e, f, a, c, p, qm, o, oa, cl, l, t, u)
    returning id, event_id`);
  // A group's new charges have distinct event ids: they tell which id each row was given.
  const ids = new Map(rows.map((row) => [row.event_id, Number(row.id)]));
  const written = planned.map(({ charge }) => storedCharge(charge, ids.get(charge.eventId)!, now));
  const parts = planned.flatMap(({ allocations: split }, index) => split.map((part) => ({ part, charge: written[index]! })));
  if (parts.length > 0) {
    const part = <T>(pick: (entry: (typeof parts)[number]) => T) => sql.param(parts.map(pick));
    await q.execute(sql`
      insert into allocations (charge_id, account_id, source, credit_lot_id, token_flex_pool_id, flex_pack_id, amount_micros, units, occurred_at)
      select * from unnest(
        ${part((p) => p.charge.id)}::bigint[], ${part((p) => p.charge.accountId)}::bigint[], ${part((p) => p.part.source)}::text[],
        ${part((p) => (p.part.source === "CREDIT_LOT" ? p.part.sourceId : null))}::bigint[],
        ${part((p) => (p.part.source === "TOKEN_FLEX" ? p.part.sourceId : null))}::bigint[],
        ${part((p) => (p.part.source === "FLEX_PACK" ? p.part.sourceId : null))}::bigint[],
        ${part((p) => toDbMicros(p.part.amountMicros))}::bigint[],
        ${part((p) => (p.part.units === undefined ? null : toDbMicros(p.part.units)))}::bigint[],
        ${part((p) => p.charge.occurredAt)}::bigint[]
      )`);
  }
  return written;
}

export async function allocationsOfCharges(q: Q, chargeIds: readonly number[]): Promise<ChargeAllocation[]> {
  if (chargeIds.length === 0) return [];
  const rows = await q
    .select()
    .from(allocations)
    .where(inArray(allocations.chargeId, [...chargeIds]))
    .orderBy(asc(allocations.id));
  return rows.map(toAllocation);
}

export async function settlementsOfAllocations(q: Q, allocationIds: readonly number[]): Promise<LedgerSettlement[]> {
  if (allocationIds.length === 0) return [];
  const rows = await q
    .select()
    .from(deficitSettlements)
    .where(inArray(deficitSettlements.allocationId, [...allocationIds]))
    .orderBy(asc(deficitSettlements.id));
  return rows.map((row) => ({
    allocationId: row.allocationId,
    source: row.source as SourceKind,
    sourceId: (row.source === "CREDIT_LOT" ? row.creditLotId : row.source === "TOKEN_FLEX" ? row.tokenFlexPoolId : row.flexPackId)!,
    amountMicros: fromDbMicros(row.amountMicros),
  }));
}

export async function insertReversal(q: Q, chargeId: number, reason: string, actor: string, now: Instant): Promise<void> {
  await q.insert(reversals).values({ chargeId, reason, reversedBy: actor, reversedAt: now });
}

function chargeConditions(query: Omit<ChargeQuery, "order" | "after" | "limit">) {
  return and(
    eq(usageCharges.accountId, query.accountId),
    query.from != null ? gte(usageCharges.occurredAt, query.from) : undefined,
    query.to != null ? lt(usageCharges.occurredAt, query.to) : undefined,
    query.apiCode ? textEquals(usageCharges.apiCode, query.apiCode) : undefined,
    query.clientId ? textEquals(usageCharges.clientId, query.clientId) : undefined,
  );
}

export async function listCharges(q: Q, query: ChargeQuery): Promise<UsageCharge[]> {
  const { key, descending } = CHARGE_ORDERS[query.order];
  const columns = key.map((field) => usageCharges[field]);
  // A row-value comparison, which PostgreSQL turns into one index range.
  const afterKey = query.after
    ? sql`(${sql.join(columns, sql`, `)}) ${descending ? sql`<` : sql`>`} (${sql.join(query.after.map((value) => sql`${value}::bigint`), sql`, `)})`
    : undefined;
  const rows = await selectCharges(q)
    .where(and(chargeConditions(query), afterKey))
    .orderBy(...columns.map((column) => (descending ? desc(column) : asc(column))))
    .limit(query.limit);
  return rows.map(toCharge);
}

export async function countCharges(q: Q, query: Omit<ChargeQuery, "order" | "after" | "limit">): Promise<number> {
  const [row] = await q.select({ n: sql<number>`count(*)` }).from(usageCharges).where(chargeConditions(query));
  return Number(row!.n);
}

/**
 * The tiered regime's rows on PostgreSQL (domain §8): plan enrollments, free caps, Token Flex
 * pools, unit remainders, FREE months and PAYG parts. A rating group's rows are written with one
 * multi-row statement per table (arrays unnested into rows, upserts with `on conflict do update`).
 */
import { and, asc, eq, gt, inArray, isNull, lte, max, min, sql } from "drizzle-orm";
import { freeCaps, paygParts, planEnrollments, tokenFlexPools, usageCharges } from "../../../schema/tables.pg.js";
import type { FreeCap, FreeMonth } from "../../core/free-allowance.js";
import type { TokenFlexPoolRecord, UsageCharge } from "../../core/model.js";
import type { Month } from "../../core/month.js";
import type { PaygLine, PaygPart } from "../../core/payg.js";
import type { Enrollment } from "../../core/plan.js";
import type { Instant } from "../../core/time.js";
import type { NewEnrollment, NewFreeCap, NewTokenFlexPool, StoredRemainder } from "../port.js";
import type { PlannedCharge, PlannedFreeMonth, PlannedRemainder } from "../rate-group.js";
import { fromDbMicros, toDbMicros, toDbReaches, toEnrollment, toFreeCap, toReaches, toStatementLine, toTokenFlexPool } from "../rows.js";
import { POOL_COLUMNS, poolOfRow } from "../array-rows.js";
import { arrayRows, jsonRows, type ManyRows, type Q } from "./database.js";
import { bumpPriceBook } from "./prices.js";

const bigints = (values: readonly number[]) => sql`${`{${values.join(",")}}`}::bigint[]`;

const ENROLLMENTS_OF_ACCOUNTS = `select "account_id", "tier", "payg", "effective_from" from "plan_enrollments"
  where "account_id" = any($1::bigint[]) order by "account_id", "effective_from"`;

/** The enrollments of the accounts that have any, oldest first; rating runs this once per group. */
export async function enrollmentsOf(q: Q, accountIds: readonly number[]): Promise<Map<number, Enrollment[]>> {
  const byAccount = new Map<number, Enrollment[]>();
  if (accountIds.length === 0) return byAccount;
  const rows = await arrayRows(q, "flexgate_enrollments_of_accounts", ENROLLMENTS_OF_ACCOUNTS, [accountIds]);
  for (const [accountId, tier, payg, effectiveFrom] of rows as [number, "FREE" | "PAID", boolean, number][]) {
    const enrollment = toEnrollment({ tier, payg, effectiveFrom });
    const list = byAccount.get(accountId);
    if (list) list.push(enrollment);
    else byAccount.set(accountId, [enrollment]);
  }
  return byAccount;
}

export async function insertEnrollment(q: Q, enrollment: NewEnrollment): Promise<Enrollment> {
  const [row] = await q.insert(planEnrollments).values(enrollment).returning();
  return toEnrollment(row!);
}

/** Every cap, oldest first; the table is small (a few rows per API). */
export async function allFreeCaps(q: Q): Promise<FreeCap[]> {
  const rows = await q.select().from(freeCaps).orderBy(asc(freeCaps.effectiveFrom), asc(freeCaps.id));
  return rows.map(toFreeCap);
}

/** Bumps the price book's counter too: caps are cached with the price table. */
export async function insertFreeCap(q: Q, cap: NewFreeCap): Promise<FreeCap> {
  const [row] = await q.insert(freeCaps).values(cap).returning();
  await bumpPriceBook(q);
  return toFreeCap(row!);
}

export async function findTokenFlexPool(q: Q, id: number): Promise<TokenFlexPoolRecord | null> {
  const [row] = await q.select().from(tokenFlexPools).where(eq(tokenFlexPools.id, id));
  return row ? toTokenFlexPool(row) : null;
}

export async function findTokenFlexPoolByRef(q: Q, externalRef: string): Promise<{ pool: TokenFlexPoolRecord; fingerprint: string } | null> {
  const [row] = await q.select().from(tokenFlexPools).where(eq(tokenFlexPools.externalRef, externalRef));
  return row ? { pool: toTokenFlexPool(row), fingerprint: row.fingerprint } : null;
}

const POOLS_OF_ACCOUNTS: ManyRows = {
  select: `select ${POOL_COLUMNS} from "token_flex_pools" where "account_id" = any($1::bigint[])`,
  columns: POOL_COLUMNS,
  orderBy: `"ends_at", "id"`,
};

/** Pools of the accounts, soonest end first. */
export async function tokenFlexPoolsOf(q: Q, accountIds: readonly number[]): Promise<TokenFlexPoolRecord[]> {
  if (accountIds.length === 0) return [];
  return (await jsonRows(q, "flexgate_pools_of_accounts", POOLS_OF_ACCOUNTS, [accountIds])).map(poolOfRow);
}

/** A pool whose term has started by `now` and that has not yet come in as new funds. */
const startToSettle = (now: Instant) => and(isNull(tokenFlexPools.startSettledAt), lte(tokenFlexPools.startsAt, now));

/** Up to `limit` accounts, by id, holding a pool whose term has started and has not come in yet. */
export async function accountsWithPoolStartsToSettle(q: Q, now: Instant, limit: number): Promise<number[]> {
  const rows = await q.selectDistinct({ accountId: tokenFlexPools.accountId }).from(tokenFlexPools).where(startToSettle(now)).orderBy(asc(tokenFlexPools.accountId)).limit(limit);
  return rows.map((row) => row.accountId);
}

/** The account's pools whose term has started and that have not come in yet, soonest end first. */
export async function poolStartsToSettle(q: Q, accountId: number, now: Instant): Promise<TokenFlexPoolRecord[]> {
  const rows = await q
    .select()
    .from(tokenFlexPools)
    .where(and(eq(tokenFlexPools.accountId, accountId), startToSettle(now)))
    .orderBy(asc(tokenFlexPools.endsAt), asc(tokenFlexPools.startsAt), asc(tokenFlexPools.id));
  return rows.map(toTokenFlexPool);
}

export async function markPoolStartSettled(q: Q, poolId: number, at: Instant): Promise<void> {
  await q.update(tokenFlexPools).set({ startSettledAt: at }).where(eq(tokenFlexPools.id, poolId));
}

/** The soonest start after `now` of a pool that has not come in yet; null when none is to come. */
export async function nextPoolStartAfter(q: Q, now: Instant): Promise<Instant | null> {
  const [row] = await q
    .select({ at: min(tokenFlexPools.startsAt) })
    .from(tokenFlexPools)
    .where(and(isNull(tokenFlexPools.startSettledAt), gt(tokenFlexPools.startsAt, now)));
  return row?.at ?? null;
}

export async function insertTokenFlexPool(q: Q, pool: NewTokenFlexPool, now: Instant): Promise<TokenFlexPoolRecord> {
  const micros = toDbMicros(pool.tokensMicros);
  const [row] = await q
    .insert(tokenFlexPools)
    .values({ ...pool, tokensMicros: micros, remainingMicros: micros, createdAt: now })
    .returning();
  return toTokenFlexPool(row!);
}

/** The stored remainders under these keys (missing ones are zero), by account and key. */
export async function remaindersFor(q: Q, keys: readonly { accountId: number; key: string }[]): Promise<Map<number, Map<string, bigint>>> {
  const found = new Map<number, Map<string, bigint>>();
  if (keys.length === 0) return found;
  const { rows } = await q.execute<{ account_id: number; key: string; quantity_micros: number }>(sql`
    select r.account_id, r.key, r.quantity_micros from unit_remainders r
      join unnest(${sql.param(keys.map((key) => key.accountId))}::bigint[], ${sql.param(keys.map((key) => key.key))}::text[]) k(account_id, key)
        on r.account_id = k.account_id and r.key = k.key`);
  for (const row of rows) {
    const accountId = Number(row.account_id);
    let ofAccount = found.get(accountId);
    if (!ofAccount) found.set(accountId, (ofAccount = new Map()));
    ofAccount.set(row.key, fromDbMicros(Number(row.quantity_micros)));
  }
  return found;
}

type FreeMonthRow = { account_id: number; api_code: string; month: Month; used_units: number; overrun_units: number; latest_at: number | null; reaches: string };

const toFreeMonth = (row: FreeMonthRow): FreeMonth => ({
  usedUnits: fromDbMicros(Number(row.used_units)),
  overrunUnits: fromDbMicros(Number(row.overrun_units)),
  latestAt: row.latest_at === null ? null : Number(row.latest_at),
  reaches: toReaches(row.reaches),
});

/** The stored FREE months under these keys, by account and freeMonthKey. */
export async function freeMonthsFor(q: Q, keys: readonly { accountId: number; apiCode: string; month: Month }[]): Promise<Map<number, Map<string, FreeMonth>>> {
  const found = new Map<number, Map<string, FreeMonth>>();
  if (keys.length === 0) return found;
  const { rows } = await q.execute<FreeMonthRow>(sql`
    select f.account_id, f.api_code, f.month, f.used_units, f.overrun_units, f.latest_at, f.reaches from free_months f
      join unnest(${sql.param(keys.map((key) => key.accountId))}::bigint[], ${sql.param(keys.map((key) => key.apiCode))}::text[],
        ${sql.param(keys.map((key) => key.month))}::text[]) k(account_id, api_code, month)
        on f.account_id = k.account_id and f.api_code = k.api_code and f.month = k.month`);
  for (const row of rows) {
    const accountId = Number(row.account_id);
    let ofAccount = found.get(accountId);
    if (!ofAccount) found.set(accountId, (ofAccount = new Map()));
    ofAccount.set(`${row.api_code}|${row.month}`, toFreeMonth(row));
  }
  return found;
}

/** An account's FREE months of one calendar month, by API code. */
export async function freeMonthsOf(q: Q, accountId: number, month: Month): Promise<Map<string, FreeMonth>> {
  const { rows } = await q.execute<FreeMonthRow>(sql`
    select account_id, api_code, month, used_units, overrun_units, latest_at, reaches from free_months
      where account_id = ${accountId} and month = ${month} order by api_code collate "C"`);
  return new Map(rows.map((row) => [row.api_code, toFreeMonth(row)]));
}

export async function saveRemainders(q: Q, remainders: readonly PlannedRemainder[]): Promise<void> {
  if (remainders.length === 0) return;
  await q.execute(sql`
    insert into unit_remainders (account_id, key, quantity_micros)
    select * from unnest(${sql.param(remainders.map((r) => r.accountId))}::bigint[], ${sql.param(remainders.map((r) => r.key))}::text[],
      ${sql.param(remainders.map((r) => toDbMicros(r.quantityMicros)))}::bigint[])
    on conflict (account_id, key) do update set quantity_micros = excluded.quantity_micros`);
}

export async function saveFreeMonths(q: Q, months: readonly PlannedFreeMonth[]): Promise<void> {
  if (months.length === 0) return;
  const column = <T>(pick: (month: PlannedFreeMonth) => T) => sql.param(months.map(pick));
  await q.execute(sql`
    insert into free_months (account_id, api_code, month, used_units, overrun_units, latest_at, reaches)
    select * from unnest(${column((m) => m.accountId)}::bigint[], ${column((m) => m.apiCode)}::text[], ${column((m) => m.month)}::text[],
      ${column((m) => toDbMicros(m.state.usedUnits))}::bigint[], ${column((m) => toDbMicros(m.state.overrunUnits))}::bigint[],
      ${column((m) => m.state.latestAt)}::bigint[], ${column((m) => toDbReaches(m.state.reaches))}::text[])
    on conflict (account_id, api_code, month) do update set used_units = excluded.used_units, overrun_units = excluded.overrun_units,
      latest_at = excluded.latest_at, reaches = excluded.reaches`);
}

/** The PAYG parts of a rating group's new charges, given the charges as written (same order). */
export async function insertPaygPartsOf(q: Q, planned: readonly PlannedCharge[], written: readonly UsageCharge[], now: Instant): Promise<void> {
  const parts = planned.flatMap(({ payg }, index) => (payg ? [{ payg, charge: written[index]! }] : []));
  if (parts.length === 0) return;
  const column = <T>(pick: (entry: (typeof parts)[number]) => T) => sql.param(parts.map(pick));
  await q.execute(sql`
    insert into payg_parts (account_id, charge_id, statement_month, api_code, units, tokens_micros, booked_at)
    select a, c, m, p, u, t, ${now}::bigint from unnest(${column((e) => e.charge.accountId)}::bigint[], ${column((e) => e.charge.id)}::bigint[],
      ${column((e) => e.payg.statementMonth)}::text[], ${column((e) => e.payg.part.apiCode)}::text[],
      ${column((e) => toDbMicros(e.payg.part.units))}::bigint[], ${column((e) => toDbMicros(e.payg.part.tokensMicros))}::bigint[]) as rows(a, c, m, p, u, t)`);
}

export async function saveFreeMonth(q: Q, accountId: number, apiCode: string, month: Month, state: FreeMonth): Promise<void> {
  await saveFreeMonths(q, [{ accountId, apiCode, month, state }]);
}

/** Every stored remainder of an account. */
export async function remaindersOf(q: Q, accountId: number): Promise<StoredRemainder[]> {
  const { rows } = await q.execute<{ key: string; quantity_micros: number }>(sql`
    select key, quantity_micros from unit_remainders where account_id = ${accountId} order by key collate "C"`);
  return rows.map((row) => ({ key: row.key, quantityMicros: fromDbMicros(Number(row.quantity_micros)) }));
}

export async function insertPaygPart(q: Q, accountId: number, chargeId: number, statementMonth: Month, part: PaygPart, now: Instant): Promise<void> {
  await q.insert(paygParts).values({
    accountId,
    chargeId,
    statementMonth,
    apiCode: part.apiCode,
    units: toDbMicros(part.units),
    tokensMicros: toDbMicros(part.tokensMicros),
    bookedAt: now,
  });
}

/**
 * What an account's statement of `month` sums, per API: a month holds a part per PAYG event, and
 * the statement only their totals. Summed as text, exact however large.
 */
const STATEMENT_SUMS = { apiCode: paygParts.apiCode, units: sql<string>`sum(${paygParts.units})::text`, tokensMicros: sql<string>`sum(${paygParts.tokensMicros})::text` };

/** The PAYG parts on an account's statement of `month`, summed per API, by API code. */
export async function paygPartsOf(q: Q, accountId: number, month: Month): Promise<PaygLine[]> {
  const rows = await q
    .select(STATEMENT_SUMS)
    .from(paygParts)
    .where(and(eq(paygParts.accountId, accountId), eq(paygParts.statementMonth, month)))
    .groupBy(paygParts.apiCode)
    .orderBy(asc(paygParts.apiCode));
  return rows.map(toStatementLine);
}

/** The statement the charge's PAYG part (from rating: the first one) went on; null when none. */
export async function paygStatementMonthOf(q: Q, chargeId: number): Promise<Month | null> {
  const [row] = await q.select({ month: paygParts.statementMonth }).from(paygParts).where(eq(paygParts.chargeId, chargeId)).orderBy(asc(paygParts.id)).limit(1);
  return row?.month ?? null;
}

/** The latest occurredAt of the account's booked charges, reversed ones too; null when none. */
export async function latestChargeOccurredAt(q: Q, accountId: number): Promise<Instant | null> {
  const [row] = await q.select({ latest: max(usageCharges.occurredAt) }).from(usageCharges).where(eq(usageCharges.accountId, accountId));
  return row?.latest == null ? null : Number(row.latest);
}

/** Appends `item` to the list of `key`, making the list on first use. */
function pushTo<K, V>(lists: Map<K, V[]>, key: K, item: V): void {
  const list = lists.get(key);
  if (list) list.push(item);
  else lists.set(key, [item]);
}

/**
 * The remainders of several accounts the next events can build on: paid ones (the key ends in
 * "|", no month) and those of `month`, by account. Remainders of earlier FREE months stay
 * stored but are left out here, so the rows read stay bounded by APIs and meters.
 */
export async function remaindersOfAccounts(q: Q, accountIds: readonly number[], month: Month): Promise<Map<number, StoredRemainder[]>> {
  const found = new Map<number, StoredRemainder[]>();
  if (accountIds.length === 0) return found;
  const { rows } = await q.execute<{ account_id: number; key: string; quantity_micros: number }>(sql`
    select account_id, key, quantity_micros from unit_remainders
      where account_id = any(${bigints(accountIds)}) and (right(key, 1) = '|' or right(key, ${month.length + 1}) = ${`|${month}`})
      order by account_id, key collate "C"`);
  for (const row of rows) pushTo(found, Number(row.account_id), { key: row.key, quantityMicros: fromDbMicros(Number(row.quantity_micros)) });
  return found;
}

/** The FREE months of several accounts in one calendar month, by account, then API code. */
export async function freeMonthsOfAccounts(q: Q, accountIds: readonly number[], month: Month): Promise<Map<number, Map<string, FreeMonth>>> {
  const found = new Map<number, Map<string, FreeMonth>>();
  if (accountIds.length === 0) return found;
  const { rows } = await q.execute<FreeMonthRow>(sql`
    select account_id, api_code, month, used_units, overrun_units, latest_at, reaches from free_months
      where account_id = any(${bigints(accountIds)}) and month = ${month} order by account_id, api_code collate "C"`);
  for (const row of rows) {
    const accountId = Number(row.account_id);
    let ofAccount = found.get(accountId);
    if (!ofAccount) found.set(accountId, (ofAccount = new Map()));
    ofAccount.set(row.api_code, toFreeMonth(row));
  }
  return found;
}

/** The PAYG parts on several accounts' statements of `month`, summed per API, by account, then API code. */
export async function paygPartsOfAccounts(q: Q, accountIds: readonly number[], month: Month): Promise<Map<number, PaygLine[]>> {
  const found = new Map<number, PaygLine[]>();
  if (accountIds.length === 0) return found;
  const rows = await q
    .select({ accountId: paygParts.accountId, ...STATEMENT_SUMS })
    .from(paygParts)
    .where(and(inArray(paygParts.accountId, [...accountIds]), eq(paygParts.statementMonth, month)))
    .groupBy(paygParts.accountId, paygParts.apiCode)
    .orderBy(asc(paygParts.accountId), asc(paygParts.apiCode));
  for (const row of rows) pushTo(found, row.accountId, toStatementLine(row));
  return found;
}

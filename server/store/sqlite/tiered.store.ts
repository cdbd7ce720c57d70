/**
 * The tiered regime's rows on SQLite (domain §8): plan enrollments, free caps, Token Flex pools,
 * unit remainders, FREE months and PAYG parts. Rating reads and writes them inside its
 * synchronous group transaction, with statements prepared once per connection.
 */
import { and, asc, eq, gt, inArray, isNull, lte, max, min, sql } from "drizzle-orm";
import { freeCaps, paygParts, planEnrollments, tokenFlexPools, usageCharges } from "../../../schema/tables.js";
import type { FreeCap, FreeMonth } from "../../core/free-allowance.js";
import type { TokenFlexPoolRecord, UsageCharge } from "../../core/model.js";
import type { Month } from "../../core/month.js";
import type { PaygLine, PaygPart } from "../../core/payg.js";
import type { Enrollment } from "../../core/plan.js";
import type { Instant } from "../../core/time.js";
import type { NewEnrollment, NewFreeCap, NewTokenFlexPool, StoredRemainder } from "../port.js";
import type { PlannedCharge, PlannedFreeMonth, PlannedRemainder } from "../rate-group.js";
import { fromDbMicros, toDbMicros, toDbReaches, toEnrollment, toFreeCap, toReaches, toStatementLine, toTokenFlexPool } from "../rows.js";
import { jsonRowsStatement, prepared, rawStatement, rowsStatement, type Tx, unplannedLimit } from "./database.js";
import { POOL_COLUMNS, poolOfRow, soonestFirst } from "../array-rows.js";

const enrollmentsOfAccounts = rowsStatement(
  `select "account_id", "tier", "payg", "effective_from" from "plan_enrollments"
     where "account_id" in (select value from json_each(@accountIds)) order by "account_id", "effective_from"`,
);

/** The enrollments of the accounts that have any, oldest first; rating runs this once per group. */
export function enrollmentsOf(tx: Tx, accountIds: readonly number[]): Map<number, Enrollment[]> {
  const byAccount = new Map<number, Enrollment[]>();
  if (accountIds.length === 0) return byAccount;
  const rows = prepared(tx, enrollmentsOfAccounts).all({ accountIds: JSON.stringify(accountIds) }) as [number, "FREE" | "PAID", number, number][];
  for (const [accountId, tier, payg, effectiveFrom] of rows) {
    const enrollment = toEnrollment({ tier, payg: payg === 1, effectiveFrom });
    const list = byAccount.get(accountId);
    if (list) list.push(enrollment);
    else byAccount.set(accountId, [enrollment]);
  }
  return byAccount;
}

export function insertEnrollment(tx: Tx, enrollment: NewEnrollment): Enrollment {
  const row = tx.insert(planEnrollments).values(enrollment).returning().get();
  return toEnrollment(row);
}

/** Every cap, oldest first; the table is small (a few rows per API). */
export function allFreeCaps(tx: Tx): FreeCap[] {
  return tx.select().from(freeCaps).orderBy(asc(freeCaps.effectiveFrom), asc(freeCaps.id)).all().map(toFreeCap);
}

export function insertFreeCap(tx: Tx, cap: NewFreeCap): FreeCap {
  return toFreeCap(tx.insert(freeCaps).values(cap).returning().get());
}

export function findTokenFlexPool(tx: Tx, id: number): TokenFlexPoolRecord | null {
  const row = tx.select().from(tokenFlexPools).where(eq(tokenFlexPools.id, id)).get();
  return row ? toTokenFlexPool(row) : null;
}

export function findTokenFlexPoolByRef(tx: Tx, externalRef: string): { pool: TokenFlexPoolRecord; fingerprint: string } | null {
  const row = tx.select().from(tokenFlexPools).where(eq(tokenFlexPools.externalRef, externalRef)).get();
  return row ? { pool: toTokenFlexPool(row), fingerprint: row.fingerprint } : null;
}

const poolsOfAccounts = jsonRowsStatement(POOL_COLUMNS, `from "token_flex_pools" where "account_id" in (select value from json_each(@accountIds))`);

/** Pools of the accounts, soonest end first. */
export function tokenFlexPoolsOf(tx: Tx, accountIds: readonly number[]): TokenFlexPoolRecord[] {
  if (accountIds.length === 0) return [];
  return soonestFirst(prepared(tx, poolsOfAccounts).all({ accountIds: JSON.stringify(accountIds) }).map(poolOfRow), (pool) => pool.endsAt);
}

/** A pool whose term has started by `now` and that has not yet come in as new funds. */
const startToSettle = (now: Instant) => and(isNull(tokenFlexPools.startSettledAt), lte(tokenFlexPools.startsAt, now));

/** Up to `limit` accounts, by id, holding a pool whose term has started and has not come in yet. */
export function accountsWithPoolStartsToSettle(tx: Tx, now: Instant, limit: number): number[] {
  return tx
    .selectDistinct({ accountId: tokenFlexPools.accountId })
    .from(tokenFlexPools)
    .where(startToSettle(now))
    .orderBy(asc(tokenFlexPools.accountId))
    .limit(unplannedLimit(limit))
    .all()
    .map((row) => row.accountId);
}

/** The account's pools whose term has started and that have not come in yet, soonest end first. */
export function poolStartsToSettle(tx: Tx, accountId: number, now: Instant): TokenFlexPoolRecord[] {
  return tx
    .select()
    .from(tokenFlexPools)
    .where(and(eq(tokenFlexPools.accountId, accountId), startToSettle(now)))
    .orderBy(asc(tokenFlexPools.endsAt), asc(tokenFlexPools.startsAt), asc(tokenFlexPools.id))
    .all()
    .map(toTokenFlexPool);
}

export function markPoolStartSettled(tx: Tx, poolId: number, at: Instant): void {
  tx.update(tokenFlexPools).set({ startSettledAt: at }).where(eq(tokenFlexPools.id, poolId)).run();
}

/** The soonest start after `now` of a pool that has not come in yet; null when none is to come. */
export function nextPoolStartAfter(tx: Tx, now: Instant): Instant | null {
  return tx.select({ at: min(tokenFlexPools.startsAt) }).from(tokenFlexPools).where(and(isNull(tokenFlexPools.startSettledAt), gt(tokenFlexPools.startsAt, now))).get()?.at ?? null;
}

export function insertTokenFlexPool(tx: Tx, pool: NewTokenFlexPool, now: Instant): TokenFlexPoolRecord {
  const micros = toDbMicros(pool.tokensMicros);
  const row = tx
    .insert(tokenFlexPools)
    .values({ ...pool, tokensMicros: micros, remainingMicros: micros, createdAt: now })
    .returning()
    .get();
  return toTokenFlexPool(row);
}

const remaindersByKeys = rowsStatement(
  `select r."account_id", r."key", r."quantity_micros" from "unit_remainders" r
     join json_each(@keys) k on r."account_id" = json_extract(k.value, '$[0]') and r."key" = json_extract(k.value, '$[1]')`,
);

/** The stored remainders under these keys (missing ones are zero), by account and key. */
export function remaindersFor(tx: Tx, keys: readonly { accountId: number; key: string }[]): Map<number, Map<string, bigint>> {
  const found = new Map<number, Map<string, bigint>>();
  if (keys.length === 0) return found;
  const rows = prepared(tx, remaindersByKeys).all({ keys: JSON.stringify(keys.map((key) => [key.accountId, key.key])) }) as [number, string, number][];
  for (const [accountId, key, quantity] of rows) {
    let ofAccount = found.get(accountId);
    if (!ofAccount) found.set(accountId, (ofAccount = new Map()));
    ofAccount.set(key, fromDbMicros(quantity));
  }
  return found;
}

const freeMonthsByKeys = rowsStatement(
  `select f."account_id", f."api_code", f."month", f."used_units", f."overrun_units", f."latest_at", f."reaches" from "free_months" f
     join json_each(@keys) k on f."account_id" = json_extract(k.value, '$[0]') and f."api_code" = json_extract(k.value, '$[1]')
       and f."month" = json_extract(k.value, '$[2]')`,
);

type FreeMonthRow = [number, string, Month, number, number, number | null, string];

const toFreeMonth = ([, , , used, overrun, latestAt, reaches]: FreeMonthRow): FreeMonth => ({
  usedUnits: fromDbMicros(used),
  overrunUnits: fromDbMicros(overrun),
  latestAt,
  reaches: toReaches(reaches),
});

/** The stored FREE months under these keys, by account and freeMonthKey. */
export function freeMonthsFor(tx: Tx, keys: readonly { accountId: number; apiCode: string; month: Month }[]): Map<number, Map<string, FreeMonth>> {
  const found = new Map<number, Map<string, FreeMonth>>();
  if (keys.length === 0) return found;
  const rows = prepared(tx, freeMonthsByKeys).all({ keys: JSON.stringify(keys.map((key) => [key.accountId, key.apiCode, key.month])) }) as FreeMonthRow[];
  for (const row of rows) {
    let ofAccount = found.get(row[0]);
    if (!ofAccount) found.set(row[0], (ofAccount = new Map()));
    ofAccount.set(`${row[1]}|${row[2]}`, toFreeMonth(row));
  }
  return found;
}

const freeMonthsOfMonth = rowsStatement(
  `select "account_id", "api_code", "month", "used_units", "overrun_units", "latest_at", "reaches" from "free_months"
     where "account_id" = @accountId and "month" = @month order by "api_code"`,
);

/** An account's FREE months of one calendar month, by API code. */
export function freeMonthsOf(tx: Tx, accountId: number, month: Month): Map<string, FreeMonth> {
  const rows = prepared(tx, freeMonthsOfMonth).all({ accountId, month }) as FreeMonthRow[];
  return new Map(rows.map((row) => [row[1], toFreeMonth(row)]));
}

const remainderUpsert = rawStatement(
  `insert into "unit_remainders" ("account_id", "key", "quantity_micros") values (@accountId, @key, @quantity)
     on conflict ("account_id", "key") do update set "quantity_micros" = excluded."quantity_micros"`,
);

export function saveRemainders(tx: Tx, remainders: readonly PlannedRemainder[]): void {
  if (remainders.length === 0) return;
  const upsert = prepared(tx, remainderUpsert);
  for (const remainder of remainders) upsert.run({ accountId: remainder.accountId, key: remainder.key, quantity: toDbMicros(remainder.quantityMicros) });
}

const freeMonthUpsert = rawStatement(
  `insert into "free_months" ("account_id", "api_code", "month", "used_units", "overrun_units", "latest_at", "reaches")
     values (@accountId, @apiCode, @month, @used, @overrun, @latestAt, @reaches)
     on conflict ("account_id", "api_code", "month") do update set "used_units" = excluded."used_units",
       "overrun_units" = excluded."overrun_units", "latest_at" = excluded."latest_at", "reaches" = excluded."reaches"`,
);

export function saveFreeMonths(tx: Tx, months: readonly PlannedFreeMonth[]): void {
  if (months.length === 0) return;
  const upsert = prepared(tx, freeMonthUpsert);
  for (const { accountId, apiCode, month, state } of months) {
    upsert.run({
      accountId,
      apiCode,
      month,
      used: toDbMicros(state.usedUnits),
      overrun: toDbMicros(state.overrunUnits),
      latestAt: state.latestAt,
      reaches: toDbReaches(state.reaches),
    });
  }
}

/** Every stored remainder of an account, zero ones included. */
export function remaindersOf(tx: Tx, accountId: number): StoredRemainder[] {
  return (prepared(tx, remaindersOfAccount).all({ accountId }) as [string, number][]).map(([key, quantity]) => ({ key, quantityMicros: fromDbMicros(quantity) }));
}

const remaindersOfAccount = rowsStatement(`select "key", "quantity_micros" from "unit_remainders" where "account_id" = @accountId order by "key"`);

const paygPartInsert = rawStatement(
  `insert into "payg_parts" ("account_id", "charge_id", "statement_month", "api_code", "units", "tokens_micros", "booked_at")
     values (@accountId, @chargeId, @statementMonth, @apiCode, @units, @tokens, @bookedAt)`,
);

export function insertPaygPart(tx: Tx, accountId: number, chargeId: number, statementMonth: Month, part: PaygPart, now: Instant): void {
  prepared(tx, paygPartInsert).run({
    accountId,
    chargeId,
    statementMonth,
    apiCode: part.apiCode,
    units: toDbMicros(part.units),
    tokens: toDbMicros(part.tokensMicros),
    bookedAt: now,
  });
}

/**
 * What an account's statement of `month` sums, per API: a month holds a part per PAYG event, and
 * the statement only their totals. Summed as text, exact however large.
 */
const STATEMENT_SUMS = { apiCode: paygParts.apiCode, units: sql<string>`cast(sum(${paygParts.units}) as text)`, tokensMicros: sql<string>`cast(sum(${paygParts.tokensMicros}) as text)` };

/** The PAYG parts on an account's statement of `month`, summed per API, by API code. */
export function paygPartsOf(tx: Tx, accountId: number, month: Month): PaygLine[] {
  return tx
    .select(STATEMENT_SUMS)
    .from(paygParts)
    .where(and(eq(paygParts.accountId, accountId), eq(paygParts.statementMonth, month)))
    .groupBy(paygParts.apiCode)
    .orderBy(asc(paygParts.apiCode))
    .all()
    .map(toStatementLine);
}

/** The statement the charge's PAYG part (from rating: the first, positive one) went on; null when none. */
export function paygStatementMonthOf(tx: Tx, chargeId: number): Month | null {
  const row = tx
    .select({ month: paygParts.statementMonth })
    .from(paygParts)
    .where(eq(paygParts.chargeId, chargeId))
    .orderBy(asc(paygParts.id))
    .limit(unplannedLimit(1))
    .get();
  return row?.month ?? null;
}

/** The latest occurredAt of the account's booked charges, reversed ones too; null when none. */
export function latestChargeOccurredAt(tx: Tx, accountId: number): Instant | null {
  const row = tx.select({ latest: max(usageCharges.occurredAt) }).from(usageCharges).where(eq(usageCharges.accountId, accountId)).get();
  return row?.latest ?? null;
}

/** The PAYG parts of a rating group's new charges, given the charges as written (same order). */
export function insertPaygPartsOf(tx: Tx, planned: readonly PlannedCharge[], written: readonly UsageCharge[], now: Instant): void {
  planned.forEach(({ payg }, index) => {
    if (!payg) return;
    const charge = written[index]!;
    insertPaygPart(tx, charge.accountId, charge.id, payg.statementMonth, payg.part, now);
  });
}

/** Appends `item` to the list of `key`, making the list on first use. */
function pushTo<K, V>(lists: Map<K, V[]>, key: K, item: V): void {
  const list = lists.get(key);
  if (list) list.push(item);
  else lists.set(key, [item]);
}

const remaindersOfAccountsInMonth = rowsStatement(
  `select "account_id", "key", "quantity_micros" from "unit_remainders"
     where "account_id" in (select value from json_each(@accountIds))
       and (substr("key", -1) = '|' or substr("key", -length(@suffix)) = @suffix)
     order by "account_id", "key"`,
);

/**
 * The remainders of several accounts the next events can build on: paid ones (the key ends in
 * "|", no month) and those of `month`, by account. Remainders of earlier FREE months stay
 * stored but are left out here, so the rows read stay bounded by APIs and meters.
 */
export function remaindersOfAccounts(tx: Tx, accountIds: readonly number[], month: Month): Map<number, StoredRemainder[]> {
  const found = new Map<number, StoredRemainder[]>();
  if (accountIds.length === 0) return found;
  const rows = prepared(tx, remaindersOfAccountsInMonth).all({ accountIds: JSON.stringify(accountIds), suffix: `|${month}` }) as [number, string, number][];
  for (const [accountId, key, quantity] of rows) pushTo(found, accountId, { key, quantityMicros: fromDbMicros(quantity) });
  return found;
}

const freeMonthsOfAccountsInMonth = rowsStatement(
  `select "account_id", "api_code", "month", "used_units", "overrun_units", "latest_at", "reaches" from "free_months"
     where "account_id" in (select value from json_each(@accountIds)) and "month" = @month order by "account_id", "api_code"`,
);

/** The FREE months of several accounts in one calendar month, by account, then API code. */
export function freeMonthsOfAccounts(tx: Tx, accountIds: readonly number[], month: Month): Map<number, Map<string, FreeMonth>> {
  const found = new Map<number, Map<string, FreeMonth>>();
  if (accountIds.length === 0) return found;
  const rows = prepared(tx, freeMonthsOfAccountsInMonth).all({ accountIds: JSON.stringify(accountIds), month }) as FreeMonthRow[];
  for (const row of rows) {
    let ofAccount = found.get(row[0]);
    if (!ofAccount) found.set(row[0], (ofAccount = new Map()));
    ofAccount.set(row[1], toFreeMonth(row));
  }
  return found;
}

/** The PAYG parts on several accounts' statements of `month`, summed per API, by account, then API code. */
export function paygPartsOfAccounts(tx: Tx, accountIds: readonly number[], month: Month): Map<number, PaygLine[]> {
  const found = new Map<number, PaygLine[]>();
  if (accountIds.length === 0) return found;
  const rows = tx
    .select({ accountId: paygParts.accountId, ...STATEMENT_SUMS })
    .from(paygParts)
    .where(and(inArray(paygParts.accountId, [...accountIds]), eq(paygParts.statementMonth, month)))
    .groupBy(paygParts.accountId, paygParts.apiCode)
    .orderBy(asc(paygParts.accountId), asc(paygParts.apiCode))
    .all();
  for (const row of rows) pushTo(found, row.accountId, toStatementLine(row));
  return found;
}

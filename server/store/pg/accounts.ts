import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import { accounts, resellers } from "../../../schema/tables.pg.js";
import type { DeficitState } from "../../core/account.js";
import type { Account, Reseller } from "../../core/model.js";
import type { AccountFields, AccountQuery, ResellerFields, ResellerQuery } from "../port.js";
import { escapeLike, toAccount, toDbMicros, toReseller, toResellerRow } from "../rows.js";
import { ACCOUNT_COLUMNS, accountOfRow, RESELLER_COLUMNS, resellerOfRow } from "../array-rows.js";
import { arrayRows, jsonRows, type Q, storableText } from "./database.js";

export async function findAccount(q: Q, id: number): Promise<Account | null> {
  const [row] = await q.select().from(accounts).where(eq(accounts.id, id));
  return row ? toAccount(row) : null;
}

export async function findAccounts(q: Q, ids: readonly number[]): Promise<Account[]> {
  if (ids.length === 0) return [];
  return (await q.select().from(accounts).where(inArray(accounts.id, [...ids]))).map(toAccount);
}

/**
 * Locks the accounts' rows until the transaction ends, in ascending id order: two units locking
 * overlapping sets always take the common rows in the same order, so they wait, never deadlock.
 * NO KEY UPDATE, not UPDATE: charges and lots referencing an account may still be inserted by
 * others (their foreign-key checks take KEY SHARE), and only derived state is serialised.
 */
export async function lockAccounts(q: Q, ids: readonly number[]): Promise<Account[]> {
  if (ids.length === 0) return [];
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  return (await q.select().from(accounts).where(inArray(accounts.id, sorted)).orderBy(asc(accounts.id)).for("no key update")).map(toAccount);
}

/**
 * The filters of an account query as conditions on numbered parameters from `$${first}` on, their
 * values, and a key naming the shape: the values are always parameters, so a few named
 * statements cover every query. ILIKE matches SQLite's LIKE, which ignores ASCII case; a name
 * no row can hold matches none.
 */
function accountFilter(query: Omit<AccountQuery, "afterId" | "limit">, first: number) {
  const conditions: string[] = [];
  const values: unknown[] = [];
  let key = "";
  if (query.resellerId != null) {
    values.push(query.resellerId);
    conditions.push(`"reseller_id" = $${first + values.length - 1}`);
    key += "r";
  }
  if (query.nameContains && storableText(query.nameContains)) {
    values.push(`%${escapeLike(query.nameContains)}%`);
    conditions.push(`"name" ilike $${first + values.length - 1}`);
    key += "n";
  } else if (query.nameContains) {
    conditions.push("false");
    key += "x";
  }
  return { conditions, values, key };
}

export async function listAccounts(q: Q, query: AccountQuery): Promise<Account[]> {
  const { conditions, values, key } = accountFilter(query, 3);
  const select = `select ${ACCOUNT_COLUMNS} from "accounts" where ${[`"id" > $1`, ...conditions].join(" and ")} order by "id" limit $2`;
  const page = { select, columns: ACCOUNT_COLUMNS, orderBy: `"id"` };
  return (await jsonRows(q, `flexgate_accounts_${key}`, page, [query.afterId ?? 0, query.limit, ...values])).map(accountOfRow);
}

export async function countAccounts(q: Q, query: Omit<AccountQuery, "afterId" | "limit">): Promise<number> {
  const { conditions, values, key } = accountFilter(query, 1);
  const text = `select count(*) from "accounts"${conditions.length > 0 ? ` where ${conditions.join(" and ")}` : ""}`;
  return Number((await arrayRows(q, `flexgate_account_count_${key}`, text, values))[0]![0]);
}

export async function insertAccount(q: Q, fields: AccountFields, now: number): Promise<Account> {
  const [row] = await q
    .insert(accounts)
    .values({ ...fields, demo: fields.demo ?? false, createdAt: now, updatedAt: now })
    .returning();
  return toAccount(row!);
}

export async function updateAccountFields(q: Q, id: number, fields: Partial<AccountFields>, now: number): Promise<Account> {
  const [row] = await q
    .update(accounts)
    .set({ ...fields, updatedAt: now })
    .where(eq(accounts.id, id))
    .returning();
  return toAccount(row!);
}

export async function saveDeficit(q: Q, id: number, state: DeficitState): Promise<void> {
  await q
    .update(accounts)
    .set({ deficitMicros: toDbMicros(state.deficitMicros), graceStartedAt: state.graceStartedAt })
    .where(eq(accounts.id, id));
}

/** Facet match on a JSON array column, case-insensitively. */
const hasFacet = (column: typeof resellers.locations, value: string) =>
  storableText(value) ? sql`exists (select 1 from json_array_elements_text(${column}::json) facet where lower(facet) = lower(${value}))` : sql`false`;

function resellerConditions(query: Omit<ResellerQuery, "afterId" | "limit">) {
  return and(
    query.location ? hasFacet(resellers.locations, query.location) : undefined,
    query.language ? hasFacet(resellers.languages, query.language) : undefined,
    query.service ? hasFacet(resellers.services, query.service) : undefined,
    query.tier ? eq(resellers.tier, query.tier) : undefined,
    query.flexAgreement != null ? eq(resellers.flexAgreement, query.flexAgreement) : undefined,
    query.active != null ? eq(resellers.active, query.active) : undefined,
    query.ids ? inArray(resellers.id, [...query.ids]) : undefined,
  );
}

export async function findReseller(q: Q, id: number): Promise<Reseller | null> {
  const [row] = await q.select().from(resellers).where(eq(resellers.id, id));
  return row ? toReseller(row) : null;
}

const RESELLERS_BY_IDS = `select ${RESELLER_COLUMNS} from "resellers" where "id" = any($1::bigint[])`;

export async function findResellers(q: Q, ids: readonly number[]): Promise<Reseller[]> {
  if (ids.length === 0) return [];
  return (await arrayRows(q, "flexgate_resellers_by_ids", RESELLERS_BY_IDS, [ids])).map(resellerOfRow);
}

export async function listResellers(q: Q, query: ResellerQuery): Promise<Reseller[]> {
  const rows = await q
    .select()
    .from(resellers)
    .where(and(resellerConditions(query), query.afterId ? gt(resellers.id, query.afterId) : undefined))
    .orderBy(asc(resellers.id))
    .limit(query.limit);
  return rows.map(toReseller);
}

export async function countResellers(q: Q, query: Omit<ResellerQuery, "afterId" | "limit">): Promise<number> {
  const [row] = await q.select({ n: sql<number>`count(*)` }).from(resellers).where(resellerConditions(query));
  return Number(row!.n);
}

export async function insertReseller(q: Q, fields: ResellerFields, now: number): Promise<Reseller> {
  const [row] = await q
    .insert(resellers)
    .values({ ...(toResellerRow(fields) as Required<ReturnType<typeof toResellerRow>>), createdAt: now, updatedAt: now })
    .returning();
  return toReseller(row!);
}

export async function updateResellerFields(q: Q, id: number, fields: Partial<ResellerFields>, now: number): Promise<Reseller> {
  const [row] = await q
    .update(resellers)
    .set({ ...toResellerRow(fields), updatedAt: now })
    .where(eq(resellers.id, id))
    .returning();
  return toReseller(row!);
}

/** The first `limit` accounts (by id) of each of several resellers, in one statement. */
export async function firstAccountsOfResellers(q: Q, resellerIds: readonly number[], limit: number): Promise<Account[]> {
  if (resellerIds.length === 0) return [];
  const ranked = q
    .select({ id: accounts.id, rank: sql<number>`row_number() over (partition by ${accounts.resellerId} order by ${accounts.id})`.as("rank") })
    .from(accounts)
    .where(inArray(accounts.resellerId, [...resellerIds]))
    .as("ranked");
  const rows = await q
    .select({ account: accounts })
    .from(accounts)
    .innerJoin(ranked, eq(ranked.id, accounts.id))
    .where(sql`${ranked.rank} <= ${limit}`)
    .orderBy(asc(accounts.id));
  return rows.map((row) => toAccount(row.account));
}

export async function countAccountsOfResellers(q: Q, resellerIds: readonly number[]): Promise<Map<number, number>> {
  if (resellerIds.length === 0) return new Map();
  const rows = await q
    .select({ resellerId: accounts.resellerId, n: sql<number>`count(*)` })
    .from(accounts)
    .where(inArray(accounts.resellerId, [...resellerIds]))
    .groupBy(accounts.resellerId);
  return new Map(rows.map((row) => [row.resellerId!, Number(row.n)]));
}

import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import { accounts, resellers } from "../../../schema/tables.js";
import type { DeficitState } from "../../core/account.js";
import type { Account, Reseller } from "../../core/model.js";
import { jsonRowsStatement, prepared, rawStatement, rowsStatement, type Tx, unplanned, unplannedLimit } from "./database.js";
import { ACCOUNT_COLUMNS, accountOfRow, type ArrayRow, RESELLER_COLUMNS, resellerOfRow } from "../array-rows.js";
import type { AccountFields, AccountQuery, ResellerFields, ResellerQuery } from "../port.js";
import { escapeLike, toAccount, toDbMicros, toReseller, toResellerRow } from "../rows.js";

const accountById = rowsStatement(`select ${ACCOUNT_COLUMNS} from "accounts" where "accounts"."id" = @id`);

export function findAccount(tx: Tx, id: number): Account | null {
  const row = prepared(tx, accountById).get({ id }) as ArrayRow | undefined;
  return row ? accountOfRow(row) : null;
}

const accountsByIds = rowsStatement(`select ${ACCOUNT_COLUMNS} from "accounts" where "accounts"."id" in (select value from json_each(@ids))`);

export function findAccounts(tx: Tx, ids: readonly number[]): Account[] {
  if (ids.length === 0) return [];
  return (prepared(tx, accountsByIds).all({ ids: JSON.stringify(ids) }) as ArrayRow[]).map(accountOfRow);
}

/**
 * The account list and its count, prepared once for each combination of filters: the filters a
 * request uses are always bound as parameters, so four shapes cover every query.
 */
function accountStatements(filterByReseller: boolean, filterByName: boolean) {
  const where = [
    filterByReseller ? `"accounts"."reseller_id" = @resellerId` : null,
    filterByName ? `"accounts"."name" like ${unplanned("namePattern")} escape '\\'` : null,
  ].filter((condition) => condition !== null);
  const list = jsonRowsStatement(
    ACCOUNT_COLUMNS,
    `from (select ${ACCOUNT_COLUMNS} from "accounts" where ${[...where, `"accounts"."id" > @afterId`].join(" and ")} order by "accounts"."id" limit ${unplanned("limit")})`,
    `"id"`,
  );
  const count = rawStatement(`select count(*) as n from "accounts"${where.length > 0 ? ` where ${where.join(" and ")}` : ""}`);
  return (tx: Tx) => ({ list: list(tx), count: count(tx) });
}

const ACCOUNT_STATEMENTS = [false, true].map((byReseller) => [false, true].map((byName) => accountStatements(byReseller, byName)));

/** Only the parameters a statement names may be bound: better-sqlite3 refuses the others. */
function accountQuery(tx: Tx, query: Omit<AccountQuery, "afterId" | "limit">) {
  const statements = prepared(tx, ACCOUNT_STATEMENTS[query.resellerId != null ? 1 : 0]![query.nameContains ? 1 : 0]!);
  const params: Record<string, unknown> = {};
  if (query.resellerId != null) params.resellerId = query.resellerId;
  if (query.nameContains) params.namePattern = `%${escapeLike(query.nameContains)}%`;
  return { statements, params };
}

export function listAccounts(tx: Tx, query: AccountQuery): Account[] {
  const { statements, params } = accountQuery(tx, query);
  // Ids start at 1, so "after 0" is the first page.
  return statements.list.all({ ...params, afterId: query.afterId ?? 0, limit: query.limit }).map(accountOfRow);
}

export function countAccounts(tx: Tx, query: Omit<AccountQuery, "afterId" | "limit">): number {
  const { statements, params } = accountQuery(tx, query);
  return (statements.count.get(params) as { n: number }).n;
}

export function insertAccount(tx: Tx, fields: AccountFields, now: number): Account {
  const row = tx
    .insert(accounts)
    .values({ ...fields, demo: fields.demo ?? false, createdAt: now, updatedAt: now })
    .returning()
    .get();
  return toAccount(row);
}

export function updateAccountFields(tx: Tx, id: number, fields: Partial<AccountFields>, now: number): Account {
  const row = tx
    .update(accounts)
    .set({ ...fields, updatedAt: now })
    .where(eq(accounts.id, id))
    .returning()
    .get();
  return toAccount(row!);
}

const deficitUpdate = rawStatement(`update "accounts" set "deficit_micros" = @deficitMicros, "grace_started_at" = @graceStartedAt where "accounts"."id" = @id`);

export function saveDeficit(tx: Tx, id: number, state: DeficitState): void {
  prepared(tx, deficitUpdate).run({ id, deficitMicros: toDbMicros(state.deficitMicros), graceStartedAt: state.graceStartedAt });
}

/** Facet match on a JSON array column, case-insensitively. */
const hasFacet = (column: typeof resellers.locations, value: string) =>
  sql`exists (select 1 from json_each(${column}) where lower(json_each.value) = lower(${value}))`;

function resellerConditions(query: Omit<ResellerQuery, "afterId" | "limit">) {
  return [
    query.location ? hasFacet(resellers.locations, query.location) : undefined,
    query.language ? hasFacet(resellers.languages, query.language) : undefined,
    query.service ? hasFacet(resellers.services, query.service) : undefined,
    query.tier ? eq(resellers.tier, query.tier) : undefined,
    query.flexAgreement != null ? eq(resellers.flexAgreement, query.flexAgreement) : undefined,
    query.active != null ? eq(resellers.active, query.active) : undefined,
    query.ids ? inArray(resellers.id, [...query.ids]) : undefined,
  ];
}

export function findReseller(tx: Tx, id: number): Reseller | null {
  const row = tx.select().from(resellers).where(eq(resellers.id, id)).get();
  return row ? toReseller(row) : null;
}

const resellersByIds = rowsStatement(`select ${RESELLER_COLUMNS} from "resellers" where "resellers"."id" in (select value from json_each(@ids))`);

export function findResellers(tx: Tx, ids: readonly number[]): Reseller[] {
  if (ids.length === 0) return [];
  return (prepared(tx, resellersByIds).all({ ids: JSON.stringify(ids) }) as ArrayRow[]).map(resellerOfRow);
}

export function listResellers(tx: Tx, query: ResellerQuery): Reseller[] {
  return tx
    .select()
    .from(resellers)
    .where(and(...resellerConditions(query), query.afterId ? gt(resellers.id, query.afterId) : undefined))
    .orderBy(asc(resellers.id))
    .limit(unplannedLimit(query.limit))
    .all()
    .map(toReseller);
}

export function countResellers(tx: Tx, query: Omit<ResellerQuery, "afterId" | "limit">): number {
  return tx
    .select({ n: sql<number>`count(*)` })
    .from(resellers)
    .where(and(...resellerConditions(query)))
    .get()!.n;
}

export function insertReseller(tx: Tx, fields: ResellerFields, now: number): Reseller {
  const row = tx
    .insert(resellers)
    .values({ ...(toResellerRow(fields) as Required<ReturnType<typeof toResellerRow>>), createdAt: now, updatedAt: now })
    .returning()
    .get();
  return toReseller(row);
}

export function updateResellerFields(tx: Tx, id: number, fields: Partial<ResellerFields>, now: number): Reseller {
  const row = tx
    .update(resellers)
    .set({ ...toResellerRow(fields), updatedAt: now })
    .where(eq(resellers.id, id))
    .returning()
    .get();
  return toReseller(row!);
}

/**
 * The first `limit` accounts (by id) of each of several resellers, in one statement, so a page
 * of resellers with their accounts costs the same whatever its size.
 */
export function firstAccountsOfResellers(tx: Tx, resellerIds: readonly number[], limit: number): Account[] {
  if (resellerIds.length === 0) return [];
  const ranked = tx
    .select({ id: accounts.id, rank: sql<number>`row_number() over (partition by ${accounts.resellerId} order by ${accounts.id})`.as("rank") })
    .from(accounts)
    .where(inArray(accounts.resellerId, [...resellerIds]))
    .as("ranked");
  return tx
    .select({ account: accounts })
    .from(accounts)
    .innerJoin(ranked, eq(ranked.id, accounts.id))
    .where(sql`${ranked.rank} <= ${limit}`)
    .orderBy(asc(accounts.id))
    .all()
    .map((row) => toAccount(row.account));
}

export function countAccountsOfResellers(tx: Tx, resellerIds: readonly number[]): Map<number, number> {
  if (resellerIds.length === 0) return new Map();
  const rows = tx
    .select({ resellerId: accounts.resellerId, n: sql<number>`count(*)` })
    .from(accounts)
    .where(inArray(accounts.resellerId, [...resellerIds]))
    .groupBy(accounts.resellerId)
    .all();
  return new Map(rows.map((row) => [row.resellerId!, row.n]));
}

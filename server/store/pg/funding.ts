import { and, desc, eq, isNull, lt, sql } from "drizzle-orm";
import { allocations, creditLots, deficitSettlements, flexPacks, reversals, tokenFlexPools } from "../../../schema/tables.pg.js";
import type { FundingSource, SourceKind } from "../../core/drain.js";
import { type DatedDeficit, DEFICIT_PAGE, outstandingFromNewest, type Settlement } from "../../core/ledger.js";
import type { CreditLot, FlexPack, LotHolding, PackHolding } from "../../core/model.js";
import type { Instant } from "../../core/time.js";
import type { NewCreditLot, NewFlexPack } from "../port.js";
import type { GroupSource } from "../rate-group.js";
import { fromDbMicros, toCreditLot, toDbMicros, toFlexPack, toSettlementRows } from "../rows.js";
import { type ArrayRow, LOT_COLUMNS, LOT_HOLDING_COLUMNS, lotHoldingOfRow, lotOfRow, PACK_COLUMNS, PACK_HOLDING_COLUMNS, packHoldingOfRow, packOfRow } from "../array-rows.js";
import { jsonRows, type ManyRows, type Q } from "./database.js";

export async function findCreditLotByRef(q: Q, externalRef: string): Promise<{ lot: CreditLot; fingerprint: string } | null> {
  const [row] = await q.select().from(creditLots).where(eq(creditLots.externalRef, externalRef));
  return row ? { lot: toCreditLot(row), fingerprint: row.fingerprint } : null;
}

export async function findFlexPackByRef(q: Q, resellerId: number | null, orderRef: string): Promise<{ pack: FlexPack; fingerprint: string } | null> {
  const seller = resellerId === null ? isNull(flexPacks.resellerId) : eq(flexPacks.resellerId, resellerId);
  const [row] = await q.select().from(flexPacks).where(and(seller, eq(flexPacks.orderRef, orderRef)));
  return row ? { pack: toFlexPack(row), fingerprint: row.fingerprint } : null;
}

export async function findCreditLot(q: Q, id: number): Promise<CreditLot | null> {
  const [row] = await q.select().from(creditLots).where(eq(creditLots.id, id));
  return row ? toCreditLot(row) : null;
}

export async function findFlexPack(q: Q, id: number): Promise<FlexPack | null> {
  const [row] = await q.select().from(flexPacks).where(eq(flexPacks.id, id));
  return row ? toFlexPack(row) : null;
}

export async function insertCreditLot(q: Q, lot: NewCreditLot, now: Instant): Promise<CreditLot> {
  const micros = toDbMicros(lot.amountMicros);
  const [row] = await q
    .insert(creditLots)
    .values({ ...lot, amountMicros: micros, remainingMicros: micros, createdAt: now })
    .returning();
  return toCreditLot(row!);
}

export async function insertFlexPack(q: Q, pack: NewFlexPack, now: Instant): Promise<FlexPack> {
  const micros = toDbMicros(pack.tokensMicros);
  const [row] = await q
    .insert(flexPacks)
    .values({ ...pack, tokensMicros: micros, remainingMicros: micros, createdAt: now })
    .returning();
  return toFlexPack(row!);
}

const ofAccounts = (table: string, columns: string): ManyRows => ({
  select: `select ${columns} from "${table}" where "account_id" = any($1::bigint[])`,
  columns,
  orderBy: `"expires_at", "id"`,
});
const LOTS_OF_ACCOUNTS = ofAccounts("credit_lots", LOT_COLUMNS);
const LOT_HOLDINGS_OF_ACCOUNTS = ofAccounts("credit_lots", LOT_HOLDING_COLUMNS);
const PACKS_OF_ACCOUNTS = ofAccounts("flex_packs", PACK_COLUMNS);
const PACK_HOLDINGS_OF_ACCOUNTS = ofAccounts("flex_packs", PACK_HOLDING_COLUMNS);

/** The rows a select of ofAccounts, prepared under `name`, finds for the accounts (soonest expiry first). */
async function soonestOfAccounts<T>(q: Q, name: string, read: ManyRows, accountIds: readonly number[], ofRow: (row: ArrayRow) => T): Promise<T[]> {
  if (accountIds.length === 0) return [];
  return (await jsonRows(q, name, read, [accountIds])).map(ofRow);
}

export const creditLotsOf = (q: Q, accountIds: readonly number[]): Promise<CreditLot[]> =>
  soonestOfAccounts(q, "flexgate_lots_of_accounts", LOTS_OF_ACCOUNTS, accountIds, lotOfRow);
export const lotHoldingsOf = (q: Q, accountIds: readonly number[]): Promise<LotHolding[]> =>
  soonestOfAccounts(q, "flexgate_lot_holdings_of_accounts", LOT_HOLDINGS_OF_ACCOUNTS, accountIds, lotHoldingOfRow);
export const flexPacksOf = (q: Q, accountIds: readonly number[]): Promise<FlexPack[]> =>
  soonestOfAccounts(q, "flexgate_packs_of_accounts", PACKS_OF_ACCOUNTS, accountIds, packOfRow);
export const packHoldingsOf = (q: Q, accountIds: readonly number[]): Promise<PackHolding[]> =>
  soonestOfAccounts(q, "flexgate_pack_holdings_of_accounts", PACK_HOLDINGS_OF_ACCOUNTS, accountIds, packHoldingOfRow);

type SourceRow = { kind: SourceKind; id: number; account_id: number; size: number; remaining: number; purchased_at: number; expires_at: number };

const toSource = (row: SourceRow): GroupSource => ({
  kind: row.kind,
  id: row.id,
  accountId: row.account_id,
  sizeMicros: fromDbMicros(row.size),
  remainingMicros: fromDbMicros(row.remaining),
  purchasedAt: row.purchased_at,
  expiresAt: row.expires_at,
});

/** The lots, Token Flex pools and packs of an account that still hold tokens and are valid at `at`. */
export async function fundingSourcesAt(q: Q, accountId: number, at: Instant): Promise<FundingSource[]> {
  const { rows } = await q.execute<SourceRow>(sql`
    select 'CREDIT_LOT' as kind, id, account_id, amount_micros as size, remaining_micros as remaining, purchased_at, expires_at from credit_lots
      where account_id = ${accountId} and remaining_micros > 0 and purchased_at <= ${at} and expires_at > ${at}
    union all
    select 'TOKEN_FLEX', id, account_id, tokens_micros, remaining_micros, starts_at, ends_at from token_flex_pools
      where account_id = ${accountId} and remaining_micros > 0 and starts_at <= ${at} and ends_at > ${at}
    union all
    select 'FLEX_PACK', id, account_id, tokens_micros, remaining_micros, purchased_at, expires_at from flex_packs
      where account_id = ${accountId} and remaining_micros > 0 and purchased_at <= ${at} and expires_at > ${at}`);
  return rows.map(toSource).map(({ accountId: _, ...source }) => source);
}

/**
 * Every lot, Token Flex pool and pack of the accounts that still holds tokens, whenever valid: a
 * rating group's sources. A pool reads as poolAsSource maps it (its start and end as purchase and
 * expiry); an account without pools drains exactly as before.
 */
export async function sourcesOfAccounts(q: Q, accountIds: readonly number[]): Promise<GroupSource[]> {
  if (accountIds.length === 0) return [];
  const ids = sql`${`{${accountIds.join(",")}}`}::bigint[]`;
  const { rows } = await q.execute<SourceRow>(sql`
    select 'CREDIT_LOT' as kind, id, account_id, amount_micros as size, remaining_micros as remaining, purchased_at, expires_at from credit_lots
      where account_id = any(${ids}) and remaining_micros > 0
    union all
    select 'FLEX_PACK', id, account_id, tokens_micros, remaining_micros, purchased_at, expires_at from flex_packs
      where account_id = any(${ids}) and remaining_micros > 0
    union all
    select 'TOKEN_FLEX', id, account_id, tokens_micros, remaining_micros, starts_at, ends_at from token_flex_pools
      where account_id = any(${ids}) and remaining_micros > 0`);
  return rows.map(toSource);
}

const REMAINING = { CREDIT_LOT: creditLots, TOKEN_FLEX: tokenFlexPools, FLEX_PACK: flexPacks } as const;

/** Adds (or with a negative delta, takes) tokens to a lot, pool or pack's cached remaining amount. */
export async function adjustRemaining(q: Q, kind: SourceKind, id: number, deltaMicros: bigint): Promise<void> {
  const table = REMAINING[kind];
  const delta = toDbMicros(deltaMicros);
  const updated = await q
    .update(table)
    .set({ remainingMicros: sql`${table.remainingMicros} + ${delta}` })
    .where(and(eq(table.id, id), sql`${table.remainingMicros} + ${delta} >= 0`))
    .returning({ id: table.id });
  // The drain never takes more than is there; this guards the invariant at the last step.
  if (updated.length !== 1) throw new Error(`${kind} ${id} would go below zero`);
}

/** Deficit allocations of standing charges not yet fully paid, oldest first (see core/ledger.ts). */
export function outstandingDeficits(q: Q, accountId: number, owedMicros: bigint): Promise<DatedDeficit[]> {
  return outstandingFromNewest(owedMicros, async (before) => {
    const rows = await q
      .select({
        allocationId: allocations.id,
        amount: allocations.amountMicros,
        occurredAt: allocations.occurredAt,
        // Summed after the page is chosen: one subquery per part of the page, not per part ever booked.
        settled: sql<number>`coalesce((select sum(d.amount_micros) from deficit_settlements d where d.allocation_id = "allocations"."id"), 0)`,
      })
      .from(allocations)
      .where(
        and(
          eq(allocations.accountId, accountId),
          // A literal, so the planner can use the index of deficit parts (a partial index).
          sql`${allocations.source} = 'DEFICIT'`,
          lt(allocations.id, before),
          sql`not exists (select 1 from ${reversals} where ${reversals.chargeId} = ${allocations.chargeId})`,
        ),
      )
      .orderBy(desc(allocations.id))
      .limit(DEFICIT_PAGE);
    return rows.map((row) => ({ allocationId: row.allocationId, amountMicros: fromDbMicros(row.amount), settledMicros: fromDbMicros(Number(row.settled)), occurredAt: row.occurredAt }));
  });
}

export async function insertSettlements(
  q: Q,
  accountId: number,
  funding: { kind: SourceKind; id: number },
  settlements: readonly Settlement[],
  now: Instant,
): Promise<void> {
  if (settlements.length === 0) return;
  await q.insert(deficitSettlements).values(toSettlementRows(accountId, funding, settlements, now));
}

/** How many lots or packs an account holds: all of them, and those whose validity overlaps [from, to). */
export async function sourceCounts(q: Q, kind: SourceKind, accountId: number, from: Instant, to: Instant): Promise<{ total: number; overlapping: number }> {
  const table = kind === "CREDIT_LOT" ? creditLots : flexPacks;
  const [row] = await q
    .select({
      total: sql<number>`count(*)`,
      overlapping: sql<number>`count(*) filter (where ${table.purchasedAt} < ${to} and ${table.expiresAt} > ${from})`,
    })
    .from(table)
    .where(eq(table.accountId, accountId));
  return { total: Number(row?.total ?? 0), overlapping: Number(row?.overlapping ?? 0) };
}

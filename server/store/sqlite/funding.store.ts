import { and, eq, isNull, sql } from "drizzle-orm";
import { creditLots, deficitSettlements, flexPacks } from "../../../schema/tables.js";
import type { FundingSource, SourceKind } from "../../core/drain.js";
import { type DatedDeficit, DEFICIT_PAGE, outstandingFromNewest, type Settlement } from "../../core/ledger.js";
import type { CreditLot, FlexPack, LotHolding, PackHolding } from "../../core/model.js";
import type { Instant } from "../../core/time.js";
import { jsonRowsStatement, prepared, rawStatement, rowsStatement, type Tx } from "./database.js";
import {
  type ArrayRow,
  LOT_COLUMNS,
  LOT_HOLDING_COLUMNS,
  lotHoldingOfRow,
  lotOfRow,
  PACK_COLUMNS,
  PACK_HOLDING_COLUMNS,
  packHoldingOfRow,
  packOfRow,
  soonestFirst,
} from "../array-rows.js";
import type { NewCreditLot, NewFlexPack } from "../port.js";
import type { GroupSource } from "../rate-group.js";
import { lotAsSource, packAsSource } from "../sources.js";
import { fromDbMicros, toCreditLot, toDbMicros, toFlexPack, toSettlementRows } from "../rows.js";

export function findCreditLotByRef(tx: Tx, externalRef: string): { lot: CreditLot; fingerprint: string } | null {
  const row = tx.select().from(creditLots).where(eq(creditLots.externalRef, externalRef)).get();
  return row ? { lot: toCreditLot(row), fingerprint: row.fingerprint } : null;
}

/** The pack a seller (a reseller, or the eStore for null) recorded under its order reference. */
export function findFlexPackByRef(tx: Tx, resellerId: number | null, orderRef: string): { pack: FlexPack; fingerprint: string } | null {
  const seller = resellerId === null ? isNull(flexPacks.resellerId) : eq(flexPacks.resellerId, resellerId);
  const row = tx.select().from(flexPacks).where(and(seller, eq(flexPacks.orderRef, orderRef))).get();
  return row ? { pack: toFlexPack(row), fingerprint: row.fingerprint } : null;
}

export function findCreditLot(tx: Tx, id: number): CreditLot | null {
  const row = tx.select().from(creditLots).where(eq(creditLots.id, id)).get();
  return row ? toCreditLot(row) : null;
}

export function findFlexPack(tx: Tx, id: number): FlexPack | null {
  const row = tx.select().from(flexPacks).where(eq(flexPacks.id, id)).get();
  return row ? toFlexPack(row) : null;
}

export function insertCreditLot(tx: Tx, lot: NewCreditLot, now: Instant): CreditLot {
  const micros = toDbMicros(lot.amountMicros);
  const row = tx
    .insert(creditLots)
    .values({ ...lot, amountMicros: micros, remainingMicros: micros, createdAt: now })
    .returning()
    .get();
  return toCreditLot(row);
}

export function insertFlexPack(tx: Tx, pack: NewFlexPack, now: Instant): FlexPack {
  const micros = toDbMicros(pack.tokensMicros);
  const row = tx
    .insert(flexPacks)
    .values({ ...pack, tokensMicros: micros, remainingMicros: micros, createdAt: now })
    .returning()
    .get();
  return toFlexPack(row);
}

const ofAccounts = (table: string, columns: string) => jsonRowsStatement(columns, `from "${table}" where "account_id" in (select value from json_each(@accountIds))`);
const lotsOfAccounts = ofAccounts("credit_lots", LOT_COLUMNS);
const lotHoldingsOfAccounts = ofAccounts("credit_lots", LOT_HOLDING_COLUMNS);
const packsOfAccounts = ofAccounts("flex_packs", PACK_COLUMNS);
const packHoldingsOfAccounts = ofAccounts("flex_packs", PACK_HOLDING_COLUMNS);

/** The rows a statement of ofAccounts finds for the accounts, soonest expiry first. */
function soonestOfAccounts<T extends { readonly id: number; readonly expiresAt: Instant }>(tx: Tx, statement: ReturnType<typeof ofAccounts>, accountIds: readonly number[], ofRow: (row: ArrayRow) => T): T[] {
  if (accountIds.length === 0) return [];
  return soonestFirst(prepared(tx, statement).all({ accountIds: JSON.stringify(accountIds) }).map(ofRow), (source) => source.expiresAt);
}

export const creditLotsOf = (tx: Tx, accountIds: readonly number[]): CreditLot[] => soonestOfAccounts(tx, lotsOfAccounts, accountIds, lotOfRow);
export const lotHoldingsOf = (tx: Tx, accountIds: readonly number[]): LotHolding[] => soonestOfAccounts(tx, lotHoldingsOfAccounts, accountIds, lotHoldingOfRow);
export const flexPacksOf = (tx: Tx, accountIds: readonly number[]): FlexPack[] => soonestOfAccounts(tx, packsOfAccounts, accountIds, packOfRow);
export const packHoldingsOf = (tx: Tx, accountIds: readonly number[]): PackHolding[] => soonestOfAccounts(tx, packHoldingsOfAccounts, accountIds, packHoldingOfRow);

// Only what the drain reads, lots, pools and packs in one statement (a pool as poolAsSource maps it).
const usableSources = rowsStatement(
  `select 'CREDIT_LOT', "id", "amount_micros", "remaining_micros", "purchased_at", "expires_at" from "credit_lots"
     where "account_id" = @accountId and "remaining_micros" > 0 and "purchased_at" <= @at and "expires_at" > @at
   union all
   select 'TOKEN_FLEX', "id", "tokens_micros", "remaining_micros", "starts_at", "ends_at" from "token_flex_pools"
     where "account_id" = @accountId and "remaining_micros" > 0 and "starts_at" <= @at and "ends_at" > @at
   union all
   select 'FLEX_PACK', "id", "tokens_micros", "remaining_micros", "purchased_at", "expires_at" from "flex_packs"
     where "account_id" = @accountId and "remaining_micros" > 0 and "purchased_at" <= @at and "expires_at" > @at`,
);

/** The lots, Token Flex pools and packs of an account that still hold tokens and are valid at `at`. */
export function fundingSourcesAt(tx: Tx, accountId: number, at: Instant): FundingSource[] {
  return (prepared(tx, usableSources).all({ accountId, at }) as [SourceKind, number, number, number, number, number][]).map(
    ([kind, id, size, remaining, purchasedAt, expiresAt]) => ({
      kind,
      id,
      sizeMicros: fromDbMicros(size),
      remainingMicros: fromDbMicros(remaining),
      purchasedAt,
      expiresAt,
    }),
  );
}

const remainingUpdate = (table: string) =>
  rawStatement(`update "${table}" set "remaining_micros" = "remaining_micros" + @delta where "id" = @id and "remaining_micros" + @delta >= 0`);

const REMAINING_UPDATES = {
  CREDIT_LOT: remainingUpdate("credit_lots"),
  TOKEN_FLEX: remainingUpdate("token_flex_pools"),
  FLEX_PACK: remainingUpdate("flex_packs"),
} as const;

/** Adds (or with a negative delta, takes) tokens to a lot, pool or pack's cached remaining amount. */
export function adjustRemaining(tx: Tx, kind: SourceKind, id: number, deltaMicros: bigint): void {
  const result = prepared(tx, REMAINING_UPDATES[kind]).run({ id, delta: toDbMicros(deltaMicros) });
  // The drain never takes more than is there; this guards the invariant at the last step.
  if (result.changes !== 1) throw new Error(`${kind} ${id} would go below zero`);
}

/** Deficit allocations of standing charges not yet fully paid, oldest first (see core/ledger.ts). */
export function outstandingDeficits(tx: Tx, accountId: number, owedMicros: bigint): Promise<DatedDeficit[]> {
  return outstandingFromNewest(owedMicros, (before) =>
    (prepared(tx, DEFICIT_PARTS).all({ accountId, before }) as DeficitRow[]).map((row) => ({
      allocationId: row.allocationId,
      amountMicros: fromDbMicros(row.amount),
      settledMicros: fromDbMicros(row.settled),
      occurredAt: row.occurredAt,
    })),
  );
}

type DeficitRow = { allocationId: number; amount: number; settled: number; occurredAt: Instant };

/** A page of an account's standing deficit parts before an id, newest first, by the deficit index. */
const DEFICIT_PARTS = rawStatement(`
  select a.id as allocationId, a.amount_micros as amount, a.occurred_at as occurredAt,
    coalesce((select sum(d.amount_micros) from deficit_settlements d where d.allocation_id = a.id), 0) as settled
  from allocations a
  where a.account_id = @accountId and a.source = 'DEFICIT' and a.id < @before
    and not exists (select 1 from reversals r where r.charge_id = a.charge_id)
  order by a.id desc limit ${DEFICIT_PAGE}`);

export function insertSettlements(
  tx: Tx,
  accountId: number,
  funding: { kind: SourceKind; id: number },
  settlements: readonly Settlement[],
  now: Instant,
): void {
  if (settlements.length === 0) return;
  tx.insert(deficitSettlements).values(toSettlementRows(accountId, funding, settlements, now)).run();
}

/**
 * How many lots or packs an account holds: all of them, and those whose validity overlaps
 * [from, to). One indexed pass over the account's own rows (at most MAXIMA's lifetime cap).
 */
export function sourceCounts(tx: Tx, kind: SourceKind, accountId: number, from: Instant, to: Instant): { total: number; overlapping: number } {
  const table = kind === "CREDIT_LOT" ? creditLots : flexPacks;
  const row = tx
    .select({
      total: sql<number>`count(*)`,
      overlapping: sql<number>`coalesce(sum(${table.purchasedAt} < ${to} and ${table.expiresAt} > ${from}), 0)`,
    })
    .from(table)
    .where(eq(table.accountId, accountId))
    .get();
  return { total: Number(row?.total ?? 0), overlapping: Number(row?.overlapping ?? 0) };
}

const groupSources = rowsStatement(
  `select 'CREDIT_LOT', "id", "account_id", "amount_micros", "remaining_micros", "purchased_at", "expires_at" from "credit_lots"
     where "account_id" in (select value from json_each(@accountIds)) and "remaining_micros" > 0
   union all
   select 'FLEX_PACK', "id", "account_id", "tokens_micros", "remaining_micros", "purchased_at", "expires_at" from "flex_packs"
     where "account_id" in (select value from json_each(@accountIds)) and "remaining_micros" > 0
   union all
   select 'TOKEN_FLEX', "id", "account_id", "tokens_micros", "remaining_micros", "starts_at", "ends_at" from "token_flex_pools"
     where "account_id" in (select value from json_each(@accountIds)) and "remaining_micros" > 0`,
);

/**
 * Every lot, Token Flex pool and pack of the accounts that still holds tokens, whenever valid: a
 * rating group's sources. A pool reads as poolAsSource maps it (its start and end as purchase and
 * expiry); an account without pools drains exactly as before.
 */
export function sourcesOfAccounts(tx: Tx, accountIds: readonly number[]): GroupSource[] {
  return (prepared(tx, groupSources).all({ accountIds: JSON.stringify(accountIds) }) as [SourceKind, number, number, number, number, number, number][]).map(
    ([kind, id, accountId, size, remaining, purchasedAt, expiresAt]) => ({
      kind,
      id,
      accountId,
      sizeMicros: fromDbMicros(size),
      remainingMicros: fromDbMicros(remaining),
      purchasedAt,
      expiresAt,
    }),
  );
}

export { lotAsSource, packAsSource };

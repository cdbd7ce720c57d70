import { sql } from "drizzle-orm";
import type { LedgerDrift } from "../port.js";
import type { Tx } from "./database.js";

/** A charge counts until it is reversed; reversal rows are never deleted. */
const STANDING = "not exists (select 1 from reversals r where r.charge_id = a.charge_id)";

/**
 * Recomputes, from the ledger alone, what every lot, Token Flex pool and pack should still hold and what every
 * account should owe, and returns each place where the stored figure differs.
 * Remaining = amount − standing allocations from it − deficit it settled for standing charges.
 *
 * Each figure is one grouped pass over the ledger joined to its owners, not a correlated
 * subquery per owner: settlements have no index by paying lot or pack, and a subquery per lot
 * would scan every allocation once per lot (hours at a million charges; this takes seconds).
 */
export function recomputeLedger(tx: Tx): LedgerDrift[] {
  const sourceDrift = (table: string, sizeColumn: string, idColumn: string) => sql.raw(`
    with used as (
      select a.${idColumn} as id, sum(a.amount_micros) as micros from allocations a
      where a.${idColumn} is not null and ${STANDING} group by a.${idColumn}
    ), settled as (
      select d.${idColumn} as id, sum(d.amount_micros) as micros
      from deficit_settlements d join allocations a on a.id = d.allocation_id
      where d.${idColumn} is not null and ${STANDING} group by d.${idColumn}
    )
    select s.id as id, s.remaining_micros as stored,
      s.${sizeColumn} - coalesce(used.micros, 0) - coalesce(settled.micros, 0) as recomputed
    from ${table} s left join used on used.id = s.id left join settled on settled.id = s.id`);
  const accountDrift = sql.raw(`
    with owed as (
      select a.account_id as id, sum(a.amount_micros) as micros from allocations a
      where a.source = 'DEFICIT' and ${STANDING} group by a.account_id
    ), paid as (
      select d.account_id as id, sum(d.amount_micros) as micros
      from deficit_settlements d join allocations a on a.id = d.allocation_id
      where ${STANDING} group by d.account_id
    )
    select c.id as id, c.deficit_micros as stored,
      coalesce(owed.micros, 0) - coalesce(paid.micros, 0) as recomputed
    from accounts c left join owed on owed.id = c.id left join paid on paid.id = c.id`);
  type Row = { id: number; stored: number; recomputed: number };
  const drifts: LedgerDrift[] = [];
  const collect = (entity: LedgerDrift["entity"], rows: Row[]) => {
    for (const row of rows) {
      if (row.stored !== row.recomputed) {
        drifts.push({ entity, id: row.id, storedMicros: BigInt(row.stored), recomputedMicros: BigInt(row.recomputed) });
      }
    }
  };
  collect("CreditLot", tx.all<Row>(sourceDrift("credit_lots", "amount_micros", "credit_lot_id")));
  collect("TokenFlexPool", tx.all<Row>(sourceDrift("token_flex_pools", "tokens_micros", "token_flex_pool_id")));
  collect("FlexPack", tx.all<Row>(sourceDrift("flex_packs", "tokens_micros", "flex_pack_id")));
  collect("Account", tx.all<Row>(accountDrift));
  return drifts;
}

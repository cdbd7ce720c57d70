import { type SQL, sql } from "drizzle-orm";
import type { LedgerDrift } from "../port.js";
import type { Q } from "./database.js";

/** A charge counts until it is reversed; reversal rows are never deleted. */
const STANDING = sql`not exists (select 1 from reversals r where r.charge_id = a.charge_id)`;

/**
 * Recomputes, from the ledger alone, what every lot, Token Flex pool and pack should still hold and what every
 * account should owe, and returns each place where the stored figure differs, as the SQLite
 * store does. Remaining = amount − standing allocations from it − deficit it settled for
 * standing charges.
 *
 * Each figure is one grouped pass over the ledger joined to its owners, not a correlated
 * subquery per owner: settlements have no index by paying lot or pack. Both figures leave SQL as
 * text, so a corrupt one beyond 2^53 is reported exactly instead of refused by the pool's parser.
 */
export async function recomputeLedger(q: Q): Promise<LedgerDrift[]> {
  const sourceDrift = (table: string, sizeColumn: string, idColumn: string) => {
    const [owner, size, id] = [sql.identifier(table), sql.identifier(sizeColumn), sql.identifier(idColumn)];
    return sql`
      with used as (
        select a.${id} as id, sum(a.amount_micros) as micros from allocations a
        where a.${id} is not null and ${STANDING} group by a.${id}
      ), settled as (
        select d.${id} as id, sum(d.amount_micros) as micros
        from deficit_settlements d join allocations a on a.id = d.allocation_id
        where d.${id} is not null and ${STANDING} group by d.${id}
      )
      select s.id as id, s.remaining_micros::text as stored,
        (s.${size} - coalesce(used.micros, 0) - coalesce(settled.micros, 0))::text as recomputed
      from ${owner} s left join used on used.id = s.id left join settled on settled.id = s.id
      order by s.id`;
  };
  const accountDrift = sql`
    with owed as (
      select a.account_id as id, sum(a.amount_micros) as micros from allocations a
      where a.source = 'DEFICIT' and ${STANDING} group by a.account_id
    ), paid as (
      select d.account_id as id, sum(d.amount_micros) as micros
      from deficit_settlements d join allocations a on a.id = d.allocation_id
      where ${STANDING} group by d.account_id
    )
    select c.id as id, c.deficit_micros::text as stored,
      (coalesce(owed.micros, 0) - coalesce(paid.micros, 0))::text as recomputed
    from accounts c left join owed on owed.id = c.id left join paid on paid.id = c.id
    order by c.id`;
  type Row = { id: number; stored: string; recomputed: string };
  const drifts: LedgerDrift[] = [];
  const collect = async (entity: LedgerDrift["entity"], query: SQL) => {
    for (const row of (await q.execute<Row>(query)).rows) {
      const stored = BigInt(row.stored);
      const recomputed = BigInt(row.recomputed);
      if (stored !== recomputed) drifts.push({ entity, id: row.id, storedMicros: stored, recomputedMicros: recomputed });
    }
  };
  await collect("CreditLot", sourceDrift("credit_lots", "amount_micros", "credit_lot_id"));
  await collect("TokenFlexPool", sourceDrift("token_flex_pools", "tokens_micros", "token_flex_pool_id"));
  await collect("FlexPack", sourceDrift("flex_packs", "tokens_micros", "flex_pack_id"));
  await collect("Account", accountDrift);
  return drifts;
}

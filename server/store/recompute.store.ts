import { sql } from "drizzle-orm";
import type { Tx } from "./database.js";

export interface LedgerDrift {
  readonly entity: "CreditLot" | "FlexPack" | "Account";
  readonly id: number;
  readonly storedMicros: bigint;
  readonly recomputedMicros: bigint;
}

/** A charge counts until it is reversed; reversal rows are never deleted. */
const STANDING = "not exists (select 1 from reversals r where r.charge_id = a.charge_id)";

/**
 * Recomputes, from the ledger alone, what every lot and pack should still hold and what every
 * account should owe, and returns each place where the stored figure differs.
 * Remaining = amount − standing allocations from it − deficit it settled for standing charges.
 */
export function recomputeLedger(tx: Tx): LedgerDrift[] {
  const sourceDrift = (table: string, sizeColumn: string, idColumn: string) => sql.raw(`
    select s.id as id, s.remaining_micros as stored,
      s.${sizeColumn}
      - coalesce((select sum(a.amount_micros) from allocations a where a.${idColumn} = s.id and ${STANDING}), 0)
      - coalesce((select sum(d.amount_micros) from deficit_settlements d join allocations a on a.id = d.allocation_id
                  where d.${idColumn} = s.id and ${STANDING}), 0) as recomputed
    from ${table} s`);
  const accountDrift = sql.raw(`
    select c.id as id, c.deficit_micros as stored,
      coalesce((select sum(a.amount_micros) from allocations a
                where a.account_id = c.id and a.source = 'DEFICIT' and ${STANDING}), 0)
      - coalesce((select sum(d.amount_micros) from deficit_settlements d join allocations a on a.id = d.allocation_id
                  where d.account_id = c.id and ${STANDING}), 0) as recomputed
    from accounts c`);
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
  collect("FlexPack", tx.all<Row>(sourceDrift("flex_packs", "tokens_micros", "flex_pack_id")));
  collect("Account", tx.all<Row>(accountDrift));
  return drifts;
}

/**
 * A PostgreSQL Flexgate database as the tests see it from outside the servers: seeded through the
 * services before the replicas take traffic, and checked with SQL and the ledger recomputation
 * after.
 */
import { expect } from "vitest";
import { DEFAULT_RULES } from "../../../server/services/context.js";
import { createServices, type Services } from "../../../server/services/index.js";
import { PgStore } from "../../../server/store/pg/store.js";

export interface PgLedger {
  readonly services: Services;
  /** Rows of one SQL statement; int8 columns come back as numbers (the store's parsers). */
  rows<T extends Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** Opens the database (migrating it, as the first replica would) with a small pool of its own. */
export async function openPgLedger(url: string): Promise<PgLedger> {
  const store = await PgStore.open({ url, poolSize: 3 });
  return {
    services: createServices({ store, clock: Date.now, rules: DEFAULT_RULES }),
    rows: async (text, params = []) => (await store.pool.query(text, [...params])).rows,
    close: () => store.close(),
  };
}

/**
 * Nothing spent twice and the books balance, for the given accounts:
 * - no lot or pack below zero, and none gave more (standing allocations plus the deficits it
 *   settled for standing charges) than its size;
 * - every standing charge is paid in full by its allocations, and a reversed one was reversed once;
 * - a HARD_STOP account never owes;
 * - the ledger recomputed from scratch equals every stored remaining amount and deficit.
 */
export async function expectSoundPgLedger(ledger: PgLedger, accountIds: readonly number[]): Promise<void> {
  const ids = [...accountIds];
  const overdrawn = await ledger.rows(
    `with used as (
       select coalesce(a.credit_lot_id, a.flex_pack_id) as source_id, a.source, sum(a.amount_micros) as micros
       from allocations a where a.source <> 'DEFICIT' and not exists (select 1 from reversals r where r.charge_id = a.charge_id)
       group by 1, 2
       union all
       select coalesce(d.credit_lot_id, d.flex_pack_id), d.source, sum(d.amount_micros)
       from deficit_settlements d join allocations a on a.id = d.allocation_id
       where not exists (select 1 from reversals r where r.charge_id = a.charge_id) group by 1, 2
     ), sources as (
       select 'CREDIT_LOT' as source, id, account_id, amount_micros as size, remaining_micros from credit_lots
       union all select 'FLEX_PACK', id, account_id, tokens_micros, remaining_micros from flex_packs
     )
     select s.source, s.id, s.size, s.remaining_micros as remaining, coalesce(sum(u.micros), 0) as given
     from sources s left join used u on u.source = s.source and u.source_id = s.id
     where s.account_id = any($1::bigint[])
     group by s.source, s.id, s.size, s.remaining_micros
     having s.remaining_micros < 0 or coalesce(sum(u.micros), 0) > s.size`,
    [ids],
  );
  expect(overdrawn, "lots or packs that gave more than they held").toEqual([]);
  const unpaid = await ledger.rows(
    `select c.event_id, c.tokens_micros as tokens, coalesce(sum(a.amount_micros), 0) as paid
     from usage_charges c left join allocations a on a.charge_id = c.id
     where c.account_id = any($1::bigint[]) group by c.id having c.tokens_micros <> coalesce(sum(a.amount_micros), 0)`,
    [ids],
  );
  expect(unpaid, "charges whose allocations do not add up to them").toEqual([]);
  expect(await ledger.rows("select charge_id from reversals group by charge_id having count(*) > 1"), "charges reversed twice").toEqual([]);
  const owing = await ledger.rows(
    "select id, deficit_micros from accounts where balance_policy = 'HARD_STOP' and (deficit_micros <> 0 or exists (select 1 from allocations a where a.account_id = accounts.id and a.source = 'DEFICIT')) and id = any($1::bigint[])",
    [ids],
  );
  expect(owing, "HARD_STOP accounts that owe").toEqual([]);
  expect(await ledger.services.ledger.verify(), "stored figures that differ from the recomputed ledger").toEqual([]);
}

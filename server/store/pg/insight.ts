/**
 * Reads for balance history, usage reports, forecasts and price impact, on PostgreSQL: the same
 * figures as the SQLite insight store. A sum of micro-tokens may pass 2^53 where no single row
 * does, and the pool parses numeric values as safe integers only, so every sum leaves SQL as text
 * and becomes an exact bigint here.
 *
 * Throughout, a charge "stands" at t when it has no reversal made before t; a report without a
 * t counts the charges standing now (no reversal at all).
 */
import { type SQL, sql } from "drizzle-orm";
import type { AllocationSource, SourceKind } from "../../core/drain.js";
import type { DailyUsage, DeficitMove, LedgerAsOf, SourceDraw } from "../../core/history.js";
import type { Outcome } from "../../core/model.js";
import type { Meter } from "../../core/price.js";
import type { AccountUsageGroup } from "../../core/price-impact.js";
import { DAY_MS, type Instant } from "../../core/time.js";
import type { ExportCursor, ExportPage } from "../port.js";
import { type ExportPageRow, toExportPage } from "../rows.js";
import { lotAsSource, packAsSource } from "../sources.js";
import type { Q } from "./database.js";
import { poolAsSource } from "../../core/token-flex.js";
import { lotHoldingsOf, packHoldingsOf } from "./funding.js";
import { tokenFlexPoolsOf } from "./tiered.js";

/** A sum read as text (`sum(x)::text`): exact however large; an empty sum is zero. */
const micros = (text: string | null): bigint => (text === null ? 0n : BigInt(text));

/** Ids, instants and counts arrive as numbers, already checked to be safe integers by the pool. */
type Int = number;

/** The rows of a raw query, typed by the caller after the aliases it selects. */
async function rows<Row extends Record<string, unknown>>(q: Q, query: SQL): Promise<Row[]> {
  return (await q.execute(query)).rows as Row[];
}

/** Every lot, Token Flex pool and pack of the account, each kind in the order the drain spends them. */
async function sourcesOf(q: Q, accountId: number) {
  return [
    ...(await lotHoldingsOf(q, [accountId])).map(lotAsSource),
    ...(await tokenFlexPoolsOf(q, [accountId])).map(poolAsSource),
    ...(await packHoldingsOf(q, [accountId])).map(packAsSource),
  ];
}

const standingAt = (t: Instant) => sql`not exists (select 1 from reversals r where r.charge_id = a.charge_id and r.reversed_at < ${t})`;

type DrawRow = { kind: SourceKind; id: Int; amount: string | null };
const toDraw = (row: DrawRow): SourceDraw => ({ kind: row.kind, id: row.id, amountMicros: micros(row.amount) });

/** Everything the balance of one account as of `t` is made of (see core/history.ts LedgerAsOf). */
export async function ledgerAsOf(q: Q, accountId: number, t: Instant): Promise<LedgerAsOf> {
  const allocated = await rows<DrawRow>(
    q,
    // Through the account's charges before t: allocations are indexed by account for deficit parts only.
    sql`select a.source as kind, coalesce(a.credit_lot_id, a.token_flex_pool_id, a.flex_pack_id) as id, sum(a.amount_micros)::text as amount
      from usage_charges c join allocations a on a.charge_id = c.id
      where c.account_id = ${accountId} and c.occurred_at < ${t} and a.source in ('CREDIT_LOT', 'TOKEN_FLEX', 'FLEX_PACK') and ${standingAt(t)}
      group by a.source, a.credit_lot_id, a.token_flex_pool_id, a.flex_pack_id`,
  );
  const settled = await rows<DrawRow>(
    q,
    sql`select d.source as kind, coalesce(d.credit_lot_id, d.token_flex_pool_id, d.flex_pack_id) as id, sum(d.amount_micros)::text as amount
      from deficit_settlements d join allocations a on a.id = d.allocation_id
      where d.account_id = ${accountId} and d.settled_at < ${t} and a.occurred_at < ${t} and ${standingAt(t)}
      group by d.source, d.credit_lot_id, d.token_flex_pool_id, d.flex_pack_id`,
  );
  const [booked] = await rows<{ amount: string | null }>(
    q,
    sql`select sum(a.amount_micros)::text as amount
      from allocations a
      where a.account_id = ${accountId} and a.source = 'DEFICIT' and a.occurred_at < ${t} and ${standingAt(t)}`,
  );
  // Booking-time moves of the deficit, exactly as rating, funding and reversal made them.
  const moves = await rows<{ at: Int; delta: string }>(
    q,
    sql`select c.rated_at as at, a.amount_micros::text as delta
      from allocations a join usage_charges c on c.id = a.charge_id
      where a.account_id = ${accountId} and a.source = 'DEFICIT' and c.rated_at < ${t}
      union all
      select d.settled_at, (-d.amount_micros)::text
      from deficit_settlements d
      where d.account_id = ${accountId} and d.settled_at < ${t}
      union all
      select r.reversed_at,
        (-(a.amount_micros - coalesce((select sum(s.amount_micros) from deficit_settlements s where s.allocation_id = a.id), 0)))::text
      from allocations a join reversals r on r.charge_id = a.charge_id
      where a.account_id = ${accountId} and a.source = 'DEFICIT' and r.reversed_at < ${t}`,
  );
  const settledDraws = settled.map(toDraw);
  return {
    sources: await sourcesOf(q, accountId),
    draws: [...allocated.map(toDraw), ...settledDraws],
    deficitBookedMicros: micros(booked?.amount ?? null),
    deficitSettledMicros: settledDraws.reduce((sum, draw) => sum + draw.amountMicros, 0n),
    deficitMoves: moves.map((row): DeficitMove => ({ at: row.at, deltaMicros: micros(row.delta) })),
  };
}

const STANDING_NOW = sql`not exists (select 1 from reversals r where r.charge_id = c.id)`;

/** Tokens charged to an account by standing charges whose usage occurred at or after `since`. */
export async function chargedSince(q: Q, accountId: number, since: Instant): Promise<bigint> {
  const [row] = await rows<{ amount: string | null }>(
    q,
    sql`select sum(c.tokens_micros)::text as amount
      from usage_charges c
      where c.account_id = ${accountId} and c.occurred_at >= ${since} and ${STANDING_NOW}`,
  );
  return micros(row?.amount ?? null);
}

/**
 * Standing usage of an account in [from, to), summed per UTC day and API code. Days come from
 * the millisecond instants by integer division, as on SQLite: instants are non-negative, so it
 * floors them to whole UTC days, with no time zone involved.
 */
export async function dailyUsage(q: Q, accountId: number, from: Instant, to: Instant, clientId: string | null): Promise<DailyUsage[]> {
  const found = await rows<{ day: Int; apiCode: string; events: Int; quantity: string; tokens: string; units: string | null }>(
    q,
    sql`select c.occurred_at / ${DAY_MS}::bigint as day, c.api_code as "apiCode", count(*) as events,
        sum(c.quantity_micros)::text as quantity, sum(c.tokens_micros)::text as tokens, sum(c.units)::text as units
      from usage_charges c
      where c.account_id = ${accountId} and c.occurred_at >= ${from} and c.occurred_at < ${to}
        and (${clientId}::text is null or c.client_id = ${clientId}) and ${STANDING_NOW}
      group by day, c.api_code
      order by day, c.api_code`,
  );
  return found.map((row) => ({
    day: row.day,
    apiCode: row.apiCode,
    events: row.events,
    quantityMicros: micros(row.quantity),
    tokensMicros: micros(row.tokens),
    // sum() of only nulls is null: a day of LEGACY charges counts no units.
    units: row.units === null ? null : BigInt(row.units),
  }));
}

/**
 * Standing charges of one API since `since`, grouped per account by what re-rating depends on:
 * a year of usage becomes as many rows as there are distinct quantities per account.
 */
export async function usageGroupsSince(q: Q, apiCode: string, since: Instant): Promise<AccountUsageGroup[]> {
  const found = await rows<{ accountId: Int; meter: Meter; quantity: string; outcome: Outcome; events: Int; charged: string }>(
    q,
    sql`select c.account_id as "accountId", p.meter as meter, c.quantity_micros::text as quantity, c.outcome as outcome,
        count(*) as events, sum(c.tokens_micros)::text as charged
      from usage_charges c join price_entries p on p.id = c.price_entry_id
      where c.api_code = ${apiCode} and c.occurred_at >= ${since} and ${STANDING_NOW}
      group by c.account_id, p.meter, c.quantity_micros, c.outcome
      order by c.account_id, p.meter, c.quantity_micros, c.outcome`,
  );
  return found.map((row) => ({
    accountId: row.accountId,
    meter: row.meter,
    quantityMicros: micros(row.quantity),
    outcome: row.outcome,
    events: row.events,
    chargedMicros: micros(row.charged),
  }));
}

/** The sum of one column over a charge's allocations from one source. */
const ofSource = (column: "amount_micros" | "units", source: AllocationSource) => sql`sum(a.${sql.raw(column)}) filter (where a.source = ${source})`;

/**
 * One keyset page of the standing charges of an account in [from, to), oldest first. Pages,
 * as on SQLite, so a slow download holds no connection between pages and memory stays at one
 * page however long the window.
 */
export async function exportPage(
  q: Q,
  accountId: number,
  from: Instant,
  to: Instant,
  after: ExportCursor | null,
  limit: number,
): Promise<ExportPage> {
  const afterAt = after?.occurredAt ?? -1;
  const afterId = after?.chargeId ?? 0;
  const page = await rows<ExportPageRow>(
    q,
    // The page is chosen first, then each row's allocations summed per source in one lateral
    // read: one probe of allocations by charge per row, where a subquery per source made six.
    sql`select c.id as id, c.occurred_at as "occurredAt", c.event_id as "eventId", c.api_code as "apiCode",
        c.client_id as "clientId", c.quantity_micros::text as quantity, c.outcome as outcome, c.tokens_micros::text as tokens,
        s.credits::text as credits, s."tokenFlex"::text as "tokenFlex", s.flex::text as flex, s.payg::text as payg,
        s.deficit::text as deficit, c.units as units, s."overrunUnits"::text as "overrunUnits"
      from (
        select c.id, c.occurred_at, c.event_id, c.api_code, c.client_id, c.quantity_micros, c.outcome, c.tokens_micros, c.units
        from usage_charges c
        where c.account_id = ${accountId} and c.occurred_at >= ${from} and c.occurred_at < ${to}
          and (c.occurred_at > ${afterAt} or (c.occurred_at = ${afterAt} and c.id > ${afterId}))
          and ${STANDING_NOW}
        order by c.occurred_at, c.id
        limit ${limit}) c
      cross join lateral (
        select ${ofSource("amount_micros", "CREDIT_LOT")} as credits, ${ofSource("amount_micros", "TOKEN_FLEX")} as "tokenFlex",
          ${ofSource("amount_micros", "FLEX_PACK")} as flex, ${ofSource("amount_micros", "PAYG")} as payg,
          ${ofSource("amount_micros", "DEFICIT")} as deficit, ${ofSource("units", "OVERRUN")} as "overrunUnits"
        from allocations a where a.charge_id = c.id) s
      order by c.occurred_at, c.id`,
  );
  return toExportPage(page, limit);
}

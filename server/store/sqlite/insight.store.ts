/**
 * Reads for balance history, usage reports, forecasts and price impact. Sums run in SQL with
 * better-sqlite3's safe integers, so a total beyond 2^53 micros arrives as an exact bigint
 * instead of a rounded double.
 *
 * Throughout, a charge "stands" at t when it has no reversal made before t; a report without a
 * t counts the charges standing now (no reversal at all).
 */
import type Database from "better-sqlite3";
import type { AllocationSource, SourceKind } from "../../core/drain.js";
import type { DailyUsage, DeficitMove, LedgerAsOf, SourceDraw } from "../../core/history.js";
import type { Outcome } from "../../core/model.js";
import type { Meter } from "../../core/price.js";
import type { AccountUsageGroup } from "../../core/price-impact.js";
import { DAY_MS, type Instant } from "../../core/time.js";
import { type Db, prepareKept, unplanned } from "./database.js";
import type { ExportCursor, ExportPage } from "../port.js";
import { type ExportPageRow, safeInteger, toExportPage } from "../rows.js";
import { lotAsSource, packAsSource } from "../sources.js";
import { poolAsSource } from "../../core/token-flex.js";
import { lotHoldingsOf, packHoldingsOf } from "./funding.store.js";
import { tokenFlexPoolsOf } from "./tiered.store.js";

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** Prepared once per connection; every integer column comes back as a bigint. */
function statement(db: Db, source: string): Database.Statement {
  let cache = statements.get(db.$client);
  if (!cache) {
    cache = new Map();
    statements.set(db.$client, cache);
  }
  let prepared = cache.get(source);
  if (!prepared) {
    prepared = prepareKept(db.$client, source).safeIntegers(true);
    cache.set(source, prepared);
  }
  return prepared;
}

const micros = (value: unknown): bigint => (value === null || value === undefined ? 0n : (value as bigint));

const STANDING_AT = (charge: string) =>
  `not exists (select 1 from reversals r where r.charge_id = ${charge} and r.reversed_at < @t)`;
const STANDING_NOW = (charge: string) => `not exists (select 1 from reversals r where r.charge_id = ${charge})`;

// Through the account's charges before t (usage_charges by account and time): allocations are
// indexed by account only for deficit parts, which rating seldom writes.
const DRAWS_AS_OF = `
  select a.source as kind, coalesce(a.credit_lot_id, a.token_flex_pool_id, a.flex_pack_id) as id, sum(a.amount_micros) as amount
  from usage_charges c join allocations a on a.charge_id = c.id
  where c.account_id = @accountId and c.occurred_at < @t and a.source in ('CREDIT_LOT', 'TOKEN_FLEX', 'FLEX_PACK') and ${STANDING_AT("c.id")}
  group by a.source, a.credit_lot_id, a.token_flex_pool_id, a.flex_pack_id`;

const SETTLEMENTS_AS_OF = `
  select d.source as kind, coalesce(d.credit_lot_id, d.token_flex_pool_id, d.flex_pack_id) as id, sum(d.amount_micros) as amount
  from deficit_settlements d join allocations a on a.id = d.allocation_id
  where d.account_id = @accountId and d.settled_at < @t and a.occurred_at < @t and ${STANDING_AT("a.charge_id")}
  group by d.source, d.credit_lot_id, d.token_flex_pool_id, d.flex_pack_id`;

const DEFICIT_BOOKED_AS_OF = `
  select sum(a.amount_micros) as amount
  from allocations a
  where a.account_id = @accountId and a.source = 'DEFICIT' and a.occurred_at < @t and ${STANDING_AT("a.charge_id")}`;

/** Booking-time moves of the deficit, exactly as rating, funding and reversal made them. */
const DEFICIT_MOVES_BEFORE = `
  select c.rated_at as at, a.amount_micros as delta
  from allocations a join usage_charges c on c.id = a.charge_id
  where a.account_id = @accountId and a.source = 'DEFICIT' and c.rated_at < @t
  union all
  select d.settled_at, -d.amount_micros
  from deficit_settlements d
  where d.account_id = @accountId and d.settled_at < @t
  union all
  select r.reversed_at,
    -(a.amount_micros - coalesce((select sum(s.amount_micros) from deficit_settlements s where s.allocation_id = a.id), 0))
  from allocations a join reversals r on r.charge_id = a.charge_id
  where a.account_id = @accountId and a.source = 'DEFICIT' and r.reversed_at < @t`;

/** Everything the balance of one account as of `t` is made of (see core/history.ts LedgerAsOf). */
export function ledgerAsOf(db: Db, accountId: number, t: Instant): LedgerAsOf {
  const params = { accountId, t };
  const toDraw = (row: { kind: SourceKind; id: unknown; amount: unknown }): SourceDraw => ({
    kind: row.kind,
    id: safeInteger(row.id),
    amountMicros: micros(row.amount),
  });
  const allocated = (statement(db, DRAWS_AS_OF).all(params) as { kind: SourceKind; id: unknown; amount: unknown }[]).map(toDraw);
  const settled = (statement(db, SETTLEMENTS_AS_OF).all(params) as { kind: SourceKind; id: unknown; amount: unknown }[]).map(toDraw);
  const booked = statement(db, DEFICIT_BOOKED_AS_OF).get(params) as { amount: unknown };
  const moves = (statement(db, DEFICIT_MOVES_BEFORE).all(params) as { at: unknown; delta: unknown }[]).map(
    (row): DeficitMove => ({ at: safeInteger(row.at), deltaMicros: micros(row.delta) }),
  );
  return {
    sources: [
      ...lotHoldingsOf(db, [accountId]).map(lotAsSource),
      ...tokenFlexPoolsOf(db, [accountId]).map(poolAsSource),
      ...packHoldingsOf(db, [accountId]).map(packAsSource),
    ],
    draws: [...allocated, ...settled],
    deficitBookedMicros: micros(booked.amount),
    deficitSettledMicros: settled.reduce((sum, draw) => sum + draw.amountMicros, 0n),
    deficitMoves: moves,
  };
}

const CHARGED_SINCE = `
  select sum(c.tokens_micros) as amount
  from usage_charges c
  where c.account_id = @accountId and c.occurred_at >= @since and ${STANDING_NOW("c.id")}`;

/** Tokens charged to an account by standing charges whose usage occurred at or after `since`. */
export function chargedSince(db: Db, accountId: number, since: Instant): bigint {
  return micros((statement(db, CHARGED_SINCE).get({ accountId, since }) as { amount: unknown }).amount);
}

/** Instants are non-negative, so integer division floors them to whole UTC days. */
const DAILY_USAGE = `
  select c.occurred_at / ${DAY_MS} as day, c.api_code as apiCode, count(*) as events,
    sum(c.quantity_micros) as quantity, sum(c.tokens_micros) as tokens, sum(c.units) as units
  from usage_charges c
  where c.account_id = @accountId and c.occurred_at >= @from and c.occurred_at < @to
    and (@clientId is null or c.client_id = @clientId) and ${STANDING_NOW("c.id")}
  group by day, c.api_code`;

/** Standing usage of an account in [from, to), summed per UTC day and API code. */
export function dailyUsage(db: Db, accountId: number, from: Instant, to: Instant, clientId: string | null): DailyUsage[] {
  return (
    statement(db, DAILY_USAGE).all({ accountId, from, to, clientId }) as {
      day: unknown;
      apiCode: string;
      events: unknown;
      quantity: unknown;
      tokens: unknown;
      units: unknown;
    }[]
  ).map((row) => ({
    day: safeInteger(row.day),
    apiCode: row.apiCode,
    events: safeInteger(row.events),
    quantityMicros: micros(row.quantity),
    tokensMicros: micros(row.tokens),
    // sum() of only nulls is null: a day of LEGACY charges counts no units.
    units: row.units === null ? null : (row.units as bigint),
  }));
}

const USAGE_GROUPS = `
  select c.account_id as accountId, p.meter as meter, c.quantity_micros as quantity, c.outcome as outcome,
    count(*) as events, sum(c.tokens_micros) as charged
  from usage_charges c join price_entries p on p.id = c.price_entry_id
  where c.api_code = @apiCode and c.occurred_at >= @since and ${STANDING_NOW("c.id")}
  group by c.account_id, p.meter, c.quantity_micros, c.outcome`;

/**
 * Standing charges of one API since `since`, grouped per account by what re-rating depends on:
 * a year of usage becomes as many rows as there are distinct quantities per account.
 */
export function usageGroupsSince(db: Db, apiCode: string, since: Instant): AccountUsageGroup[] {
  return (
    statement(db, USAGE_GROUPS).all({ apiCode, since }) as { accountId: unknown; meter: Meter; quantity: unknown; outcome: Outcome; events: unknown; charged: unknown }[]
  ).map((row) => ({
    accountId: safeInteger(row.accountId),
    meter: row.meter,
    quantityMicros: micros(row.quantity),
    outcome: row.outcome,
    events: safeInteger(row.events),
    chargedMicros: micros(row.charged),
  }));
}

/** The sum of one column over a charge's allocations from one source. */
const ofSource = (column: "amount_micros" | "units", source: AllocationSource) => `sum(case a.source when '${source}' then a.${column} end)`;

// The page is chosen first, then its allocations summed per source in one join: one probe of
// allocations by charge per row, where a subquery per source made six.
const EXPORT_PAGE = `
  with page as (
    select c.id, c.occurred_at, c.event_id, c.api_code, c.client_id, c.quantity_micros, c.outcome, c.tokens_micros, c.units
    from usage_charges c
    where c.account_id = @accountId and c.occurred_at >= @from and c.occurred_at < @to
      and (c.occurred_at > @afterAt or (c.occurred_at = @afterAt and c.id > @afterId))
      and ${STANDING_NOW("c.id")}
    order by c.occurred_at, c.id
    limit ${unplanned("limit")})
  select p.id as id, p.occurred_at as occurredAt, p.event_id as eventId, p.api_code as apiCode,
    p.client_id as clientId, p.quantity_micros as quantity, p.outcome as outcome, p.tokens_micros as tokens, p.units as units,
    ${ofSource("amount_micros", "CREDIT_LOT")} as credits, ${ofSource("amount_micros", "TOKEN_FLEX")} as tokenFlex,
    ${ofSource("amount_micros", "FLEX_PACK")} as flex, ${ofSource("amount_micros", "PAYG")} as payg,
    ${ofSource("amount_micros", "DEFICIT")} as deficit, ${ofSource("units", "OVERRUN")} as overrunUnits
  from page p left join allocations a on a.charge_id = p.id
  group by p.occurred_at, p.id
  order by p.occurred_at, p.id`;

/**
 * One keyset page of the standing charges of an account in [from, to), oldest first.
 *
 * Pages rather than one open `.iterate()` cursor: while a better-sqlite3 iterator is open its
 * connection refuses every write ("This database connection is busy executing a query"), and
 * the process shares one connection, so a slow CSV download would make recordUsage fail for
 * everyone until it finished. A page is read whole and the connection is free again before the
 * first of its rows is sent; memory stays at one page however long the window.
 */
export function exportPage(db: Db, accountId: number, from: Instant, to: Instant, after: ExportCursor | null, limit: number): ExportPage {
  const page = statement(db, EXPORT_PAGE).all({
    accountId,
    from,
    to,
    afterAt: after?.occurredAt ?? -1,
    afterId: after?.chargeId ?? 0,
    limit,
  }) as ExportPageRow[];
  return toExportPage(page, limit);
}

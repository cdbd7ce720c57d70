/**
 * A rating group's statements on PostgreSQL: two round trips to the database, whatever the
 * group's size and however many tables it writes.
 *
 *   1. `begin`, the group's planner setting, the lock of its accounts and a shared lock of its
 *      API codes, then one read of everything the decisions need (the price book's stamp,
 *      replays, sources, enrollments);
 *   2. one data-modifying statement writing every row of the group, then `commit`.
 *
 * Each round trip is one text of several statements (a simple query), and the answer to the
 * second comes back only once the commit is done. The lock stays a statement of its own, never
 * folded into the read: under READ COMMITTED a statement that waited on a row lock goes on
 * reading other tables from the snapshot it took before waiting, so a read in the same statement
 * could miss what the previous holder of the lock committed. Each statement of a simple query
 * takes a snapshot of its own, so the read, the next one, sees everything committed before the
 * lock was granted.
 *
 * The read and the write are hand-written SQL prepared once per connection (PREPARE) and run by
 * EXECUTE with their values written into the text: the database parses and plans each once per
 * connection, and the server builds no query through drizzle for a group. Both cost more of the
 * server's CPU than the GraphQL execution did, as did each extra round trip.
 */
import type pg from "pg";
import type { Account, UsageCharge } from "../../core/model.js";
import type { Enrollment } from "../../core/plan.js";
import type { Instant } from "../../core/time.js";
import type { GroupPlan, GroupSource } from "../rate-group.js";
import { fromDbMicros, storedCharge, toAccount, toDbMicros, toDbReaches, toEnrollment, toUsageCharge } from "../rows.js";
import { literal, type Value } from "./statement-text.js";

/** A value a JSON answer holds where the table holds a bigint: checked as the driver's parser checks one. */
function safeInteger(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new RangeError(`stored integer ${String(value)} is not a safe integer`);
  return value;
}
const safeOrNull = (value: unknown) => (value === null ? null : safeInteger(value));

/** Prepared statements of the rating path, by name. */
interface Prepared {
  readonly name: string;
  readonly text: string;
}

/** The statements each connection has prepared (PREPARE outlives transactions, rolled back or not). */
const preparedOn = new WeakMap<pg.ClientBase, Set<string>>();

/** Prepares `statement` on the connection unless it already is, in a round trip of its own (once per connection). */
async function prepare(client: pg.ClientBase, statement: Prepared): Promise<void> {
  let names = preparedOn.get(client);
  if (!names) preparedOn.set(client, (names = new Set()));
  if (names.has(statement.name)) return;
  await client.query(`prepare ${statement.name} as ${statement.text}`);
  names.add(statement.name);
}

/** `execute name(values...)`: the prepared statement run with its values written into the text. */
const execute = (statement: Prepared, values: readonly (Value | readonly Value[])[]) => `execute ${statement.name}(${values.map(literal).join(", ")})`;

/**
 * The text that opens the group, sets its planner setting and locks its accounts' rows, FOR NO
 * KEY UPDATE in ascending id order (see accounts.lockAccounts), in one round trip. `opening` is
 * `begin` for a group of its own, empty for one inside a running unit. Sent as a simple query
 * (several statements, no parameters), so the ids are written into it: they are integers, checked.
 *
 * Every read and write of a group has its index. Statistics lag a table that grows fast (a new or
 * moved database: autovacuum analyses it a minute later), and meanwhile the planner, believing
 * usage_charges empty, scanned it for each foreign-key check and event-id lookup of a group:
 * seconds per 500 events at 30,000 charges. Within the group, it never scans.
 */
function lockText(opening: "begin" | "", accountIds: readonly number[], apiCodes: readonly string[]): string {
  const ids = [...new Set(accountIds)].sort((a, b) => a - b);
  for (const id of ids) if (!Number.isSafeInteger(id)) throw new RangeError(`account id ${id} is not a safe integer`);
  return `${opening ? `${opening}; ` : ""}set local enable_seqscan = off;
    select id, name, country, reseller_id as "resellerId", balance_policy as "balancePolicy", deficit_micros as "deficitMicros",
      grace_started_at as "graceStartedAt", demo, created_at as "createdAt", updated_at as "updatedAt"
    from accounts where id = any('{${ids.join(",")}}'::bigint[]) order by id for no key update;
    ${sharedPriceLocks(apiCodes)}`;
}

/** The advisory lock key of an API code's terms: write units that publish take it, rating groups share it. */
export const priceLockKey = (apiCode: string) => `price:${apiCode}`;

/**
 * A publication of a version, retirement or free cap takes `price:<code>` exclusively and starts
 * after the usage of the API already rated (services/prices.service.ts, startOfChange). A group
 * takes the same keys shared for its API codes, after its accounts (the order write units lock
 * in, pg/store.ts) and before it reads the price book's stamp: so either the publication sees
 * the group's charges, or the group rates with the publication. Groups share the keys with each
 * other; a publication waits for the groups in flight, and the groups after it for it. One
 * statement, codes sorted, called left to right.
 */
function sharedPriceLocks(apiCodes: readonly string[]): string {
  const locks = [...new Set(apiCodes)].sort().map((code) => `pg_advisory_xact_lock_shared(hashtext(${literal(priceLockKey(code))}))`);
  return `select ${locks.join(", ")}`;
}

/**
 * Everything a group's decisions read after its lock, as one row: the price book's change stamp,
 * the charges already stored under its event ids (a semi-join with the ids unnested: see
 * ledger.findChargesByEventIds), every lot, pack and pool of its accounts that still holds
 * tokens (in that order, as sourcesOfAccounts reads them), and their enrollments, oldest first.
 */
const READ_GROUP: Prepared = {
  name: "flexgate_group_read",
  text: `select
    (select version from price_book_version where id = 1) as stamp,
    (select json_agg(json_build_object(
        'id', c.id, 'eventId', c.event_id, 'fingerprint', c.fingerprint, 'accountId', c.account_id, 'apiCode', c.api_code,
        'priceEntryId', c.price_entry_id, 'quantityMicros', c.quantity_micros, 'outcome', c.outcome, 'occurredAt', c.occurred_at,
        'ratedAt', c.rated_at, 'clientId', c.client_id, 'labels', c.labels, 'tokensMicros', c.tokens_micros, 'units', c.units,
        'reversedAt', (select r.reversed_at from reversals r where r.charge_id = c.id)))
      from usage_charges c where c.event_id in (select unnest($2::text[]))) as replays,
    (select json_agg(s) from (
      select 'CREDIT_LOT' as kind, id, account_id, amount_micros as size, remaining_micros as remaining, purchased_at as starts, expires_at as ends
        from credit_lots where account_id = any($1::bigint[]) and remaining_micros > 0
      union all
      select 'FLEX_PACK', id, account_id, tokens_micros, remaining_micros, purchased_at, expires_at
        from flex_packs where account_id = any($1::bigint[]) and remaining_micros > 0
      union all
      select 'TOKEN_FLEX', id, account_id, tokens_micros, remaining_micros, starts_at, ends_at
        from token_flex_pools where account_id = any($1::bigint[]) and remaining_micros > 0) s) as sources,
    (select json_agg(e) from (
      select account_id, tier, payg, effective_from from plan_enrollments
        where account_id = any($1::bigint[]) order by account_id, effective_from) e) as enrollments`,
};

type ReplayJson = Parameters<typeof toUsageCharge>[0] & { reversedAt: number | null };
type SourceJson = { kind: GroupSource["kind"]; id: number; account_id: number; size: number; remaining: number; starts: number; ends: number };
type EnrollmentJson = { account_id: number; tier: Enrollment["tier"]; payg: boolean; effective_from: number };

export interface GroupRead {
  readonly stamp: string;
  readonly replays: Map<string, { charge: UsageCharge; fingerprint: string }>;
  readonly sources: GroupSource[];
  readonly enrollments: Map<number, Enrollment[]>;
}

/**
 * Opens the group (see lockText) and reads what its decisions need (READ_GROUP), in one round
 * trip: the read is the next statement of the same text, so it takes its snapshot once the lock
 * is granted.
 */
export async function openGroup(
  client: pg.ClientBase,
  opening: "begin" | "",
  accountIds: readonly number[],
  eventIds: readonly string[],
  apiCodes: readonly string[],
): Promise<{ accounts: Account[]; read: GroupRead }> {
  await prepare(client, READ_GROUP);
  const results = (await client.query(`${lockText(opening, accountIds, apiCodes)};\n${execute(READ_GROUP, [accountIds, eventIds])}`)) as unknown as pg.QueryResult[];
  const accounts = results[results.length - 3]!.rows.map(toAccount);
  const row = results[results.length - 1]!.rows[0] as { stamp: number; replays: ReplayJson[] | null; sources: SourceJson[] | null; enrollments: EnrollmentJson[] | null };
  const replays = new Map<string, { charge: UsageCharge; fingerprint: string }>();
  for (const { reversedAt, ...stored } of row.replays ?? []) {
    for (const key of ["id", "accountId", "priceEntryId", "occurredAt", "ratedAt"] as const) safeInteger(stored[key]);
    replays.set(stored.eventId, { charge: toUsageCharge(stored, safeOrNull(reversedAt)), fingerprint: stored.fingerprint });
  }
  const sources = (row.sources ?? []).map(
    (source): GroupSource => ({
      kind: source.kind,
      id: safeInteger(source.id),
      accountId: safeInteger(source.account_id),
      sizeMicros: fromDbMicros(source.size),
      remainingMicros: fromDbMicros(source.remaining),
      purchasedAt: safeInteger(source.starts),
      expiresAt: safeInteger(source.ends),
    }),
  );
  const enrollments = new Map<number, Enrollment[]>();
  for (const stored of row.enrollments ?? []) {
    const accountId = safeInteger(stored.account_id);
    const enrollment = toEnrollment({ tier: stored.tier, payg: stored.payg, effectiveFrom: safeInteger(stored.effective_from) });
    const list = enrollments.get(accountId);
    if (list) list.push(enrollment);
    else enrollments.set(accountId, [enrollment]);
  }
  return { accounts, read: { stamp: String(row.stamp), replays, sources, enrollments } };
}

/**
 * Every row a group writes, in one statement: its charges, their allocations and PAYG parts (each
 * joined to its charge by event id, which the group's new charges hold once each), the lots',
 * pools' and packs' new remaining amounts, the accounts' deficits, the remainders and the FREE
 * months. The drain never takes more than is there; the last step guards it all the same: a
 * lot, pool or pack that would go below zero is not updated, its count falls short, and the
 * statement fails (a text that is no integer, naming the kind), so the commit after it never runs.
 * Rows are inserted in the order given (`with ordinality`), so ids follow the events' order as
 * they did with one statement per table: a charge's allocations read back in drain order.
 *
 * The sub-statements all see the snapshot the statement started with; none reads another's
 * table, and the foreign-key checks of the allocations and PAYG parts run at the statement's end,
 * when the charges are there.
 */
const WRITE_GROUP: Prepared = {
  name: "flexgate_group_write",
  text: `with charges as (
    insert into usage_charges (event_id, fingerprint, account_id, api_code, price_entry_id, quantity_micros, outcome, occurred_at, rated_at, client_id, labels, tokens_micros, units)
    select e, f, a, c, p, qm, o, oa, $1::bigint, cl, l, t, u
      from unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::bigint[], $13::bigint[])
        with ordinality as rows(e, f, a, c, p, qm, o, oa, cl, l, t, u, n)
      order by n
    returning id, event_id, account_id, occurred_at
  ), parts as (
    insert into allocations (charge_id, account_id, source, credit_lot_id, token_flex_pool_id, flex_pack_id, amount_micros, units, occurred_at)
    select c.id, c.account_id, p.source, p.lot, p.pool, p.pack, p.amount, p.units, c.occurred_at
      from unnest($14::text[], $15::text[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[])
        with ordinality as p(event_id, source, lot, pool, pack, amount, units, n)
      join charges c on c.event_id = p.event_id
      order by p.n
  ), lots as (
    update credit_lots s set remaining_micros = s.remaining_micros + d.delta
      from unnest($21::bigint[], $22::bigint[]) d(id, delta)
      where s.id = d.id and s.remaining_micros + d.delta >= 0
    returning s.id
  ), pools as (
    update token_flex_pools s set remaining_micros = s.remaining_micros + d.delta
      from unnest($23::bigint[], $24::bigint[]) d(id, delta)
      where s.id = d.id and s.remaining_micros + d.delta >= 0
    returning s.id
  ), packs as (
    update flex_packs s set remaining_micros = s.remaining_micros + d.delta
      from unnest($25::bigint[], $26::bigint[]) d(id, delta)
      where s.id = d.id and s.remaining_micros + d.delta >= 0
    returning s.id
  ), deficits as (
    update accounts a set deficit_micros = d.micros, grace_started_at = d.grace
      from unnest($27::bigint[], $28::bigint[], $29::bigint[]) d(id, micros, grace)
      where a.id = d.id
  ), remainders as (
    insert into unit_remainders (account_id, key, quantity_micros)
    select * from unnest($30::bigint[], $31::text[], $32::bigint[])
    on conflict (account_id, key) do update set quantity_micros = excluded.quantity_micros
  ), free as (
    insert into free_months (account_id, api_code, month, used_units, overrun_units, latest_at, reaches)
    select * from unnest($33::bigint[], $34::text[], $35::text[], $36::bigint[], $37::bigint[], $38::bigint[], $39::text[])
    on conflict (account_id, api_code, month) do update set used_units = excluded.used_units, overrun_units = excluded.overrun_units,
      latest_at = excluded.latest_at, reaches = excluded.reaches
  ), payg as (
    insert into payg_parts (account_id, charge_id, statement_month, api_code, units, tokens_micros, booked_at)
    select c.account_id, c.id, p.month, p.code, p.units, p.tokens, $1::bigint
      from unnest($40::text[], $41::text[], $42::text[], $43::bigint[], $44::bigint[]) with ordinality as p(event_id, month, code, units, tokens, n)
      join charges c on c.event_id = p.event_id
      order by p.n
  )
  select (select json_agg(json_build_array(id, event_id)) from charges) as charges,
    (select case when count(*) = $45 then 0 else ('a CREDIT_LOT of the group would go below zero: ' || count(*))::int end from lots) as lots,
    (select case when count(*) = $46 then 0 else ('a TOKEN_FLEX of the group would go below zero: ' || count(*))::int end from pools) as pools,
    (select case when count(*) = $47 then 0 else ('a FLEX_PACK of the group would go below zero: ' || count(*))::int end from packs) as packs`,
};

const micros = (value: bigint | null | undefined) => (value === null || value === undefined ? null : toDbMicros(value));

function column<T, V>(items: readonly T[], pick: (item: T) => V): V[] {
  return items.map(pick);
}

/**
 * Writes the plan's rows (see WRITE_GROUP) and returns the new charges as stored, in the plan's
 * order. `closing` is `commit` for a group of its own, sent in the same round trip: the answer
 * comes back once the group is committed, or with the error that kept it from being.
 */
export async function writeGroup(client: pg.ClientBase, plan: GroupPlan, now: Instant, closing: "commit" | ""): Promise<UsageCharge[]> {
  const { charges, sourceChanges, deficits, remainders, freeMonths } = plan;
  if (charges.length === 0 && sourceChanges.length === 0 && deficits.size === 0 && remainders.length === 0 && freeMonths.length === 0) {
    if (closing) await client.query(closing);
    return [];
  }
  const newCharges = charges.map(({ charge }) => charge);
  const parts = charges.flatMap(({ charge, allocations }) => allocations.map((part) => ({ eventId: charge.eventId, part })));
  const payg = charges.flatMap(({ charge, payg: owed }) => (owed ? [{ eventId: charge.eventId, ...owed }] : []));
  const ofKind = (kind: GroupPlan["sourceChanges"][number]["kind"]) => sourceChanges.filter((change) => change.kind === kind);
  const [lots, pools, packs] = [ofKind("CREDIT_LOT"), ofKind("TOKEN_FLEX"), ofKind("FLEX_PACK")];
  const owed = [...deficits];
  const values = [
    now,
    column(newCharges, (c) => c.eventId),
    column(newCharges, (c) => c.fingerprint),
    column(newCharges, (c) => c.accountId),
    column(newCharges, (c) => c.apiCode),
    column(newCharges, (c) => c.priceEntryId),
    column(newCharges, (c) => toDbMicros(c.quantityMicros)),
    column(newCharges, (c) => c.outcome),
    column(newCharges, (c) => c.occurredAt),
    column(newCharges, (c) => c.clientId),
    column(newCharges, (c) => JSON.stringify(c.labels)),
    column(newCharges, (c) => toDbMicros(c.tokensMicros)),
    column(newCharges, (c) => micros(c.units)),
    column(parts, (p) => p.eventId),
    column(parts, (p) => p.part.source),
    column(parts, (p) => (p.part.source === "CREDIT_LOT" ? p.part.sourceId : null)),
    column(parts, (p) => (p.part.source === "TOKEN_FLEX" ? p.part.sourceId : null)),
    column(parts, (p) => (p.part.source === "FLEX_PACK" ? p.part.sourceId : null)),
    column(parts, (p) => toDbMicros(p.part.amountMicros)),
    column(parts, (p) => micros(p.part.units)),
    ...[lots, pools, packs].flatMap((changes) => [column(changes, (c) => c.id), column(changes, (c) => toDbMicros(c.deltaMicros))]),
    column(owed, ([id]) => id),
    column(owed, ([, state]) => toDbMicros(state.deficitMicros)),
    column(owed, ([, state]) => state.graceStartedAt),
    column(remainders, (r) => r.accountId),
    column(remainders, (r) => r.key),
    column(remainders, (r) => toDbMicros(r.quantityMicros)),
    column(freeMonths, (m) => m.accountId),
    column(freeMonths, (m) => m.apiCode),
    column(freeMonths, (m) => m.month),
    column(freeMonths, (m) => toDbMicros(m.state.usedUnits)),
    column(freeMonths, (m) => toDbMicros(m.state.overrunUnits)),
    column(freeMonths, (m) => m.state.latestAt),
    column(freeMonths, (m) => toDbReaches(m.state.reaches)),
    column(payg, (p) => p.eventId),
    column(payg, (p) => p.statementMonth),
    column(payg, (p) => p.part.apiCode),
    column(payg, (p) => toDbMicros(p.part.units)),
    column(payg, (p) => toDbMicros(p.part.tokensMicros)),
    lots.length,
    pools.length,
    packs.length,
  ];
  await prepare(client, WRITE_GROUP);
  const sent = (await client.query(`${execute(WRITE_GROUP, values)}${closing ? `;\n${closing}` : ""}`)) as unknown as pg.QueryResult | pg.QueryResult[];
  const written = (Array.isArray(sent) ? sent[0]! : sent).rows[0] as { charges: [number, string][] | null };
  const ids = new Map((written.charges ?? []).map(([id, eventId]) => [eventId, safeInteger(id)]));
  return newCharges.map((charge) => storedCharge(charge, ids.get(charge.eventId)!, now));
}

/**
 * The engine for several replicas: PostgreSQL through node-postgres under drizzle. Every replica
 * is stateless; what one writes, the others read at their next statement.
 *
 * How units stay correct with many writers:
 * - a write unit first locks the rows of the accounts it names, FOR NO KEY UPDATE in ascending
 *   id order (no deadlock between units), and takes a transaction-scoped advisory lock per API
 *   code it publishes for; everything it then reads of those accounts is current and stays so;
 * - an event id or order reference committed by another replica meanwhile (a unique violation),
 *   a deadlock or a serialization failure rolls the unit back and runs it again: the second run
 *   finds the other replica's row and answers as a replay or a conflict;
 * - reads that must agree run in one REPEATABLE READ READ ONLY snapshot.
 * Commits are synchronous (the server's default `synchronous_commit = on`): an answer means stored.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import { schemaTables } from "../../../schema/tables.pg.js";
import type { DeficitState } from "../../core/account.js";
import type { Instant } from "../../core/time.js";
import { log } from "../../log.js";
import { PriceBook, type PublishedTerms } from "../price-book.js";
import type { RatingOutcome, RatingRequest, RatingRules, Store, StoreReads, StoreWrites, WriteLocks } from "../port.js";
import {
  DEFAULT_RATING_RULES,
  groupKeys,
  NO_TIERED_STATE,
  outcomesOf,
  planGroup,
  type SourceChange,
  type TieredState,
  tieredNeeds,
  unexpectedItemError,
} from "../rate-group.js";
import { toDbMicros } from "../rows.js";
import * as accounts from "./accounts.js";
import * as audit from "./audit.js";
import { migratePostgres, openPool, type Q } from "./database.js";
import * as funding from "./funding.js";
import * as insight from "./insight.js";
import * as keys from "./keys.js";
import * as ledger from "./ledger.js";
import * as prices from "./prices.js";
import { recomputeLedger } from "./recompute.js";
import * as tiered from "./tiered.js";

/** unique_violation, deadlock_detected, serialization_failure: another writer won; run again. */
const RERUN_CODES = new Set(["23505", "40P01", "40001"]);
const MAX_RUNS = 8;

export interface PgStoreOptions {
  readonly url: string;
  /** Connections this replica keeps open; the server's max_connections bounds the sum over replicas. */
  readonly poolSize?: number;
}

export class PgStore implements Store {
  readonly engine = "postgres";
  readonly reads: StoreReads;
  private readonly db: NodePgDatabase<typeof schemaTables>;
  private readonly book = new PriceBook();
  /** The transaction of the unit whose work is running: work it calls joins it (as a savepoint). */
  private readonly openUnit = new AsyncLocalStorage<Q>();

  /** Connects and applies pending migrations (under an advisory lock: replicas may start together). */
  static async open(options: PgStoreOptions): Promise<PgStore> {
    const pool = openPool(options.url, options.poolSize);
    try {
      await migratePostgres(pool);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PgStore(pool);
  }

  constructor(readonly pool: pg.Pool) {
    this.db = drizzle({ client: pool, schema: schemaTables });
    // A read on its own runs on any pooled connection, or inside the unit that is running.
    this.reads = readsOn(() => this.openUnit.getStore() ?? this.db, (q) => this.termsNow(q));
  }

  snapshot<T>(work: (reads: StoreReads) => Promise<T>): Promise<T> {
    const unit = this.openUnit.getStore();
    if (unit) return work(readsOn(() => unit, (q) => this.termsNow(q)));
    // The database server does the reading: heavy or not, the work leaves this loop free.
    return this.db.transaction((tx) => work(readsOn(() => tx, (q) => this.termsNow(q))), {
      isolationLevel: "repeatable read",
      accessMode: "read only",
    });
  }

  write<T>(locks: WriteLocks, work: (tx: StoreWrites) => Promise<T>): Promise<T> {
    const unit = this.openUnit.getStore();
    const run = async (tx: Q) => {
      await lock(tx, locks);
      return this.openUnit.run(tx, () => work(writesOn(() => tx, (q) => this.termsNow(q))));
    };
    if (unit) return unit.transaction(run);
    return rerunning(() => this.db.transaction(run));
  }

  async rateGroup(requests: readonly RatingRequest[], now: Instant, rules: RatingRules = DEFAULT_RATING_RULES): Promise<RatingOutcome[]> {
    if (requests.length === 0) return [];
    // Inside a unit (the demo seed records usage in the unit that made its accounts), the group
    // joins it: another connection would not see what the unit has not committed.
    const unit = this.openUnit.getStore();
    if (unit) return unit.transaction((tx) => this.rateInTransaction(tx, requests, now, rules));
    try {
      return await rerunning(() => this.db.transaction((tx) => this.rateInTransaction(tx, requests, now, rules)));
    } catch (error) {
      // An error no rule foresees (a stored amount that cannot be read, a storage fault) rolled
      // the group back. Rated one at a time, the events it does not concern go through.
      if (requests.length === 1) return [{ error: unexpectedItemError(error, requests[0]!.field) }];
      const outcomes: RatingOutcome[] = [];
      for (const request of requests) outcomes.push(...(await this.rateGroup([request], now, rules)));
      return outcomes;
    }
  }

  /** Lock, read, decide in memory, then one multi-row statement per table: see store/rate-group.ts. */
  private async rateInTransaction(tx: Q, requests: readonly RatingRequest[], now: Instant, rules: RatingRules): Promise<RatingOutcome[]> {
    const { accountIds, eventIds } = groupKeys(requests);
    // Every read and write of a group has its index. Statistics lag a table that grows fast (a
    // new or moved database: autovacuum analyses it a minute later), and meanwhile the planner,
    // believing usage_charges empty, scanned it for each foreign-key check and event-id lookup
    // of a group: seconds per 500 events at 30,000 charges. Within the group, it never scans.
    await tx.execute(sql`set local enable_seqscan = off`);
    const locked = await accounts.lockAccounts(tx, accountIds);
    const terms = await this.termsNow(tx);
    const plan = planGroup(
      requests,
      {
        replays: await ledger.findChargesByEventIds(tx, eventIds),
        accounts: new Map(locked.map((account) => [account.id, account])),
        sources: await funding.sourcesOfAccounts(tx, accountIds),
        prices: terms.prices,
        tiered: await tieredState(tx, requests, accountIds, terms),
      },
      now,
      rules,
    );
    const written = await ledger.insertCharges(tx, plan.charges, now);
    await applySourceChanges(tx, plan.sourceChanges);
    await saveDeficits(tx, plan.deficits);
    await tiered.saveRemainders(tx, plan.remainders);
    await tiered.saveFreeMonths(tx, plan.freeMonths);
    await tiered.insertPaygPartsOf(tx, plan.charges, written, now);
    return outcomesOf(plan, written);
  }

  async ping(): Promise<void> {
    await this.db.execute(sql`select 1`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async termsNow(q: Q): Promise<PublishedTerms> {
    const stamp = await prices.priceTableStamp(q);
    return this.book.current(stamp) ?? this.book.update(stamp, await prices.allPriceVersions(q), await tiered.allFreeCaps(q));
  }
}

/** The group's tiered state: one query finds no enrollment for a LEGACY group, which reads nothing more. */
async function tieredState(tx: Q, requests: readonly RatingRequest[], accountIds: readonly number[], terms: PublishedTerms): Promise<TieredState> {
  const enrollments = await tiered.enrollmentsOf(tx, accountIds);
  if (enrollments.size === 0) return NO_TIERED_STATE;
  const needs = tieredNeeds(requests, enrollments, terms.prices);
  return {
    enrollments,
    caps: terms.caps,
    remainders: await tiered.remaindersFor(tx, needs.remainders),
    freeMonths: await tiered.freeMonthsFor(tx, needs.freeMonths),
  };
}

/**
 * Takes the unit's locks: account rows in id order, then one advisory lock per API code, sorted.
 * A unit that names neither (loading the demo data into an empty database, creating accounts,
 * resellers and keys) takes one advisory lock shared by all such units: they check and then
 * write ("no accounts yet", "no operator key yet"), and replicas starting together on a new
 * database all loaded the demo data. They are rare, so running them one at a time costs nothing.
 */
async function lock(tx: Q, locks: WriteLocks): Promise<void> {
  if (!locks.accounts?.length && !locks.apiCodes?.length) {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('flexgate:unit naming no rows'))`);
    return;
  }
  if (locks.accounts?.length) await accounts.lockAccounts(tx, locks.accounts);
  for (const code of [...new Set(locks.apiCodes ?? [])].sort()) {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`price:${code}`}))`);
  }
}

/** Runs a whole transaction again while another writer's commit is what made it fail. */
async function rerunning<T>(transaction: () => Promise<T>): Promise<T> {
  for (let run = 1; ; run++) {
    try {
      return await transaction();
    } catch (error) {
      const code = sqlStateOf(error);
      if (run >= MAX_RUNS || code === undefined || !RERUN_CODES.has(code)) throw error;
      log.info("unit ran again after a concurrent commit", { sqlState: code, run });
    }
  }
}

/** drizzle wraps the driver's error; the SQLSTATE is on whichever of them carries one. */
function sqlStateOf(error: unknown): string | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current instanceof pg.DatabaseError) return current.code;
  }
  return undefined;
}

const SOURCE_TABLES = { CREDIT_LOT: "credit_lots", TOKEN_FLEX: "token_flex_pools", FLEX_PACK: "flex_packs" } as const;

/** Each lot's, pool's and pack's change of a group, one statement per kind; none may go below zero. */
async function applySourceChanges(tx: Q, changes: readonly SourceChange[]): Promise<void> {
  for (const kind of ["CREDIT_LOT", "TOKEN_FLEX", "FLEX_PACK"] as const) {
    const ofKind = changes.filter((change) => change.kind === kind);
    if (ofKind.length === 0) continue;
    const { rows } = await tx.execute(sql`
      update ${sql.identifier(SOURCE_TABLES[kind])} s set remaining_micros = s.remaining_micros + d.delta
      from unnest(${sql.param(ofKind.map((change) => change.id))}::bigint[], ${sql.param(ofKind.map((change) => toDbMicros(change.deltaMicros)))}::bigint[]) d(id, delta)
      where s.id = d.id and s.remaining_micros + d.delta >= 0
      returning s.id`);
    // The drain never takes more than is there; this guards the invariant at the last step.
    if (rows.length !== ofKind.length) throw new Error(`a ${kind} of the group would go below zero`);
  }
}

async function saveDeficits(tx: Q, deficits: ReadonlyMap<number, DeficitState>): Promise<void> {
  if (deficits.size === 0) return;
  const entries = [...deficits];
  await tx.execute(sql`
    update accounts a set deficit_micros = d.micros, grace_started_at = d.grace
    from unnest(${sql.param(entries.map(([id]) => id))}::bigint[], ${sql.param(entries.map(([, state]) => toDbMicros(state.deficitMicros)))}::bigint[],
      ${sql.param(entries.map(([, state]) => state.graceStartedAt))}::bigint[]) d(id, micros, grace)
    where a.id = d.id`);
}

/** The port's reads on whatever `q()` is when each read starts: the pool, or a unit's transaction. */
function readsOn(q: () => Q, terms: (q: Q) => Promise<PublishedTerms>): StoreReads {
  return {
    findAccount: (id) => accounts.findAccount(q(), id),
    findAccounts: (ids) => accounts.findAccounts(q(), ids),
    listAccounts: (query) => accounts.listAccounts(q(), query),
    countAccounts: (query) => accounts.countAccounts(q(), query),
    firstAccountsOfResellers: (ids, limit) => accounts.firstAccountsOfResellers(q(), ids, limit),
    countAccountsOfResellers: (ids) => accounts.countAccountsOfResellers(q(), ids),
    findReseller: (id) => accounts.findReseller(q(), id),
    findResellers: (ids) => accounts.findResellers(q(), ids),
    listResellers: (query) => accounts.listResellers(q(), query),
    countResellers: (query) => accounts.countResellers(q(), query),
    findCreditLot: (id) => funding.findCreditLot(q(), id),
    findFlexPack: (id) => funding.findFlexPack(q(), id),
    findCreditLotByRef: (ref) => funding.findCreditLotByRef(q(), ref),
    findFlexPackByRef: (resellerId, ref) => funding.findFlexPackByRef(q(), resellerId, ref),
    sourceCounts: (kind, accountId, from, to) => funding.sourceCounts(q(), kind, accountId, from, to),
    creditLotsOf: (ids) => funding.creditLotsOf(q(), ids),
    flexPacksOf: (ids) => funding.flexPacksOf(q(), ids),
    fundingSourcesAt: (accountId, at) => funding.fundingSourcesAt(q(), accountId, at),
    outstandingDeficits: (accountId) => funding.outstandingDeficits(q(), accountId),
    findCharge: (id) => ledger.findCharge(q(), id),
    findChargeByEventId: (eventId) => ledger.findChargeByEventId(q(), eventId),
    listCharges: (query) => ledger.listCharges(q(), query),
    countCharges: (query) => ledger.countCharges(q(), query),
    allocationsOfCharges: (ids) => ledger.allocationsOfCharges(q(), ids),
    settlementsOfAllocations: (ids) => ledger.settlementsOfAllocations(q(), ids),
    priceTable: async () => (await terms(q())).prices,
    priceVersionsOf: (apiCode) => prices.priceVersionsOf(q(), apiCode),
    findPriceVersion: (id) => prices.findPriceVersion(q(), id),
    findPriceCancellation: (id) => prices.findPriceCancellation(q(), id),
    findApiKey: (id) => keys.findApiKey(q(), id),
    findActiveKeyByHash: (hash) => keys.findActiveKeyByHash(q(), hash),
    findKeyByHash: (hash) => keys.findKeyByHash(q(), hash),
    countActiveOperatorKeys: () => keys.countActiveOperatorKeys(q()),
    listApiKeys: () => keys.listApiKeys(q()),
    enrollmentsOf: (ids) => tiered.enrollmentsOf(q(), ids),
    freeCaps: async () => (await terms(q())).caps,
    findTokenFlexPool: (id) => tiered.findTokenFlexPool(q(), id),
    findTokenFlexPoolByRef: (ref) => tiered.findTokenFlexPoolByRef(q(), ref),
    tokenFlexPoolsOf: (accountIds) => tiered.tokenFlexPoolsOf(q(), accountIds),
    unitRemaindersOf: (accountId) => tiered.remaindersOf(q(), accountId),
    freeMonthsOf: (accountId, month) => tiered.freeMonthsOf(q(), accountId, month),
    paygPartsOf: (accountId, month) => tiered.paygPartsOf(q(), accountId, month),
    unitRemaindersOfAccounts: (accountIds, month) => tiered.remaindersOfAccounts(q(), accountIds, month),
    freeMonthsOfAccounts: (accountIds, month) => tiered.freeMonthsOfAccounts(q(), accountIds, month),
    paygPartsOfAccounts: (accountIds, month) => tiered.paygPartsOfAccounts(q(), accountIds, month),
    paygStatementMonthOf: (chargeId) => tiered.paygStatementMonthOf(q(), chargeId),
    latestChargeOccurredAt: (accountId) => tiered.latestChargeOccurredAt(q(), accountId),
    listAudit: (query) => audit.listAudit(q(), query),
    countAudit: (filter) => audit.countAudit(q(), filter),
    ledgerAsOf: (accountId, t) => insight.ledgerAsOf(q(), accountId, t),
    chargedSince: (accountId, since) => insight.chargedSince(q(), accountId, since),
    dailyUsage: (accountId, from, to, clientId) => insight.dailyUsage(q(), accountId, from, to, clientId),
    usageGroupsSince: (apiCode, since) => insight.usageGroupsSince(q(), apiCode, since),
    exportPage: (accountId, from, to, after, limit) => insight.exportPage(q(), accountId, from, to, after, limit),
    recomputeLedger: () => recomputeLedger(q()),
  };
}

function writesOn(q: () => Q, terms: (q: Q) => Promise<PublishedTerms>): StoreWrites {
  return {
    ...readsOn(q, terms),
    insertAccount: (fields, now) => accounts.insertAccount(q(), fields, now),
    updateAccountFields: (id, fields, now) => accounts.updateAccountFields(q(), id, fields, now),
    saveDeficit: (id, state) => accounts.saveDeficit(q(), id, state),
    insertReseller: (fields, now) => accounts.insertReseller(q(), fields, now),
    updateResellerFields: (id, fields, now) => accounts.updateResellerFields(q(), id, fields, now),
    insertCreditLot: (lot, now) => funding.insertCreditLot(q(), lot, now),
    insertFlexPack: (pack, now) => funding.insertFlexPack(q(), pack, now),
    adjustRemaining: (kind, id, delta) => funding.adjustRemaining(q(), kind, id, delta),
    insertSettlements: (accountId, source, settlements, now) => funding.insertSettlements(q(), accountId, source, settlements, now),
    insertReversal: (chargeId, reason, actor, now) => ledger.insertReversal(q(), chargeId, reason, actor, now),
    insertPriceVersion: (version) => prices.insertPriceVersion(q(), version),
    insertPriceCancellation: (id, reason, actor, now) => prices.insertPriceCancellation(q(), id, reason, actor, now),
    insertEnrollment: (enrollment) => tiered.insertEnrollment(q(), enrollment),
    insertFreeCap: (cap) => tiered.insertFreeCap(q(), cap),
    insertTokenFlexPool: (pool, now) => tiered.insertTokenFlexPool(q(), pool, now),
    saveFreeMonth: (accountId, apiCode, month, state) => tiered.saveFreeMonth(q(), accountId, apiCode, month, state),
    insertPaygPart: (accountId, chargeId, month, part, now) => tiered.insertPaygPart(q(), accountId, chargeId, month, part, now),
    insertApiKey: (key, now) => keys.insertApiKey(q(), key, now),
    markKeyRevoked: (id, now) => keys.markKeyRevoked(q(), id, now),
    appendAudit: (actor, record, now) => audit.appendAudit(q(), actor, record, now),
  };
}

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
import { sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import { schemaTables } from "../../../schema/tables.pg.js";
import type { Enrollment } from "../../core/plan.js";
import type { Instant } from "../../core/time.js";
import { log } from "../../log.js";
import { PriceBook, type PublishedTerms } from "../price-book.js";
import type { RatingOutcome, RatingRequest, RatingRules, Report, Store, StoreReads, StoreWrites, WriteLocks } from "../port.js";
import {
  DEFAULT_RATING_RULES,
  groupKeys,
  NO_TIERED_STATE,
  outcomesOf,
  planGroup,
  type TieredState,
  tieredNeeds,
  unexpectedItemError,
} from "../rate-group.js";
import { shareReadsPerTurn } from "../shared-reads.js";
import { UnitContext } from "../unit-context.js";
import * as accounts from "./accounts.js";
import * as audit from "./audit.js";
import { migratePostgres, openPool, type Q } from "./database.js";
import * as funding from "./funding.js";
import * as insight from "./insight.js";
import * as keys from "./keys.js";
import * as ledger from "./ledger.js";
import * as prices from "./prices.js";
import * as rating from "./rating.js";
import { recomputeLedger } from "./recompute.js";
import * as tiered from "./tiered.js";
import { type Conn, inSavepoint, inTransaction, type Unit } from "./unit.js";

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
  /** The unit whose work is running: work it calls joins it (in a savepoint). */
  private readonly openUnit = new UnitContext<Unit>();

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
    const anyConnection: Conn = { q: this.db, client: pool };
    // A read on its own runs on any pooled connection, or inside the unit that is running.
    this.reads = readsOn(() => this.openUnit.current() ?? anyConnection, (q) => this.termsNow(q));
    // Key lookups share their queries their own way (keys.findActiveKeyByHash).
    shareReadsPerTurn(this.reads, () => this.openUnit.current() !== undefined, "findActiveKeyByHash");
  }

  snapshot<T>(work: (reads: StoreReads) => Promise<T>): Promise<T> {
    const unit = this.openUnit.current();
    if (unit) return work(readsOn(() => unit, (q) => this.termsNow(q)));
    // The database server does the reading: heavy or not, the work leaves this loop free.
    return inTransaction(this.pool, async (own) => {
      await own.client.query("begin isolation level repeatable read read only");
      return work(readsOn(() => own, (q) => this.termsNow(q)));
    });
  }

  report<A extends readonly unknown[], R>(report: Report<A, R>, ...args: A): Promise<R> {
    return this.snapshot((reads) => report.run(reads, ...args));
  }

  write<T>(locks: WriteLocks, work: (tx: StoreWrites) => Promise<T>): Promise<T> {
    const run = async (unit: Unit) => {
      await lock(unit.q, locks);
      return this.openUnit.run(unit, () => work(writesOn(() => unit, (q) => this.termsNow(q))));
    };
    const unit = this.openUnit.current();
    if (unit) return inSavepoint(unit, () => run(unit));
    return rerunning(() =>
      inTransaction(this.pool, async (own) => {
        await own.client.query("begin");
        return run(own);
      }),
    );
  }

  async rateGroup(requests: readonly RatingRequest[], clock: () => Instant, rules: RatingRules = DEFAULT_RATING_RULES): Promise<RatingOutcome[]> {
    if (requests.length === 0) return [];
    // Inside a unit (the demo seed records usage in the unit that made its accounts), the group
    // joins it: another connection would not see what the unit has not committed.
    const unit = this.openUnit.current();
    if (unit) return inSavepoint(unit, () => this.rateInUnit(unit, "", requests, clock, rules));
    try {
      return await rerunning(() => inTransaction(this.pool, (own) => this.rateInUnit(own, "begin", requests, clock, rules)));
    } catch (error) {
      // An error no rule foresees (a stored amount that cannot be read, a storage fault) rolled
      // the group back. Rated one at a time, the events it does not concern go through.
      if (requests.length === 1) return [{ error: unexpectedItemError(error, requests[0]!.field) }];
      const outcomes: RatingOutcome[] = [];
      for (const request of requests) outcomes.push(...(await this.rateGroup([request], clock, rules)));
      return outcomes;
    }
  }

  /**
   * Lock, read, decide in memory, then write every row in one statement: store/rate-group.ts has
   * the algorithm, pg/rating.ts the statements. `opening` opens the transaction in the lock's
   * round trip, or is empty inside a unit's savepoint.
   */
  private async rateInUnit(unit: Unit, opening: "begin" | "", requests: readonly RatingRequest[], clock: () => Instant, rules: RatingRules): Promise<RatingOutcome[]> {
    const { accountIds, eventIds } = groupKeys(requests);
    const { accounts: locked, read } = await rating.openGroup(unit.client, opening, accountIds, eventIds, requests.map((request) => request.apiCode));
    // After the locks: a group that waited for another unit decides at the time it decides.
    const now = clock();
    const terms = this.book.current(read.stamp) ?? this.book.update(read.stamp, await prices.allPriceVersions(unit.q), await tiered.allFreeCaps(unit.q));
    const plan = planGroup(
      requests,
      {
        replays: read.replays,
        accounts: new Map(locked.map((account) => [account.id, account])),
        sources: read.sources,
        prices: terms.prices,
        tiered: await tieredState(unit.q, requests, read.enrollments, terms),
      },
      now,
      rules,
    );
    const written = await rating.writeGroup(unit.client, plan, now, opening ? "commit" : "");
    if (opening) unit.committed = true;
    return outcomesOf(plan, written);
  }

  async ping(): Promise<void> {
    await this.pool.query("select 1");
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async termsNow(q: Q): Promise<PublishedTerms> {
    const stamp = await prices.priceTableStamp(q);
    return this.book.current(stamp) ?? this.book.update(stamp, await prices.allPriceVersions(q), await tiered.allFreeCaps(q));
  }
}

/** The group's tiered state: a LEGACY group (no enrollments among its accounts) reads nothing more. */
async function tieredState(q: Q, requests: readonly RatingRequest[], enrollments: ReadonlyMap<number, readonly Enrollment[]>, terms: PublishedTerms): Promise<TieredState> {
  if (enrollments.size === 0) return NO_TIERED_STATE;
  const needs = tieredNeeds(requests, enrollments, terms.prices);
  return {
    enrollments,
    caps: terms.caps,
    remainders: await tiered.remaindersFor(q, needs.remainders),
    freeMonths: await tiered.freeMonthsFor(q, needs.freeMonths),
  };
}

/**
 * Takes the unit's locks: account rows in id order, then the price book's codes, then one
 * advisory lock per API code, sorted. A unit that names none (loading the demo data into an empty database, creating accounts,
 * resellers and keys) takes one advisory lock shared by all such units: they check and then
 * write ("no accounts yet", "no operator key yet"), and replicas starting together on a new
 * database all loaded the demo data. They are rare, so running them one at a time costs nothing.
 */
async function lock(tx: Q, locks: WriteLocks): Promise<void> {
  if (!locks.accounts?.length && !locks.apiCodes?.length && !locks.priceBookCodes) {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('flexgate:unit naming no rows'))`);
    return;
  }
  if (locks.accounts?.length) await accounts.lockAccounts(tx, locks.accounts);
  if (locks.priceBookCodes) await tx.execute(sql`select pg_advisory_xact_lock(hashtext('flexgate:price book codes'))`);
  for (const code of [...new Set(locks.apiCodes ?? [])].sort()) {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${rating.priceLockKey(code)}))`);
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

/** The port's reads on whatever `conn()` is when each read starts: the pool, or a unit's connection. */
function readsOn(conn: () => Conn, terms: (q: Q) => Promise<PublishedTerms>): StoreReads {
  const q = () => conn().q;
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
    lotHoldingsOf: (ids) => funding.lotHoldingsOf(q(), ids),
    flexPacksOf: (ids) => funding.flexPacksOf(q(), ids),
    packHoldingsOf: (ids) => funding.packHoldingsOf(q(), ids),
    fundingSourcesAt: (accountId, at) => funding.fundingSourcesAt(q(), accountId, at),
    outstandingDeficits: (accountId, owedMicros) => funding.outstandingDeficits(q(), accountId, owedMicros),
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
    latestApiChargeOccurredAt: (apiCode, from) => prices.latestApiChargeOccurredAt(q(), apiCode, from),
    findApiKey: (id) => keys.findApiKey(q(), id),
    findActiveKeyByHash: (hash) => keys.findActiveKeyByHash(conn().client, hash),
    findKeyByHash: (hash) => keys.findKeyByHash(q(), hash),
    countActiveOperatorKeys: () => keys.countActiveOperatorKeys(q()),
    listApiKeys: () => keys.listApiKeys(q()),
    enrollmentsOf: (ids) => tiered.enrollmentsOf(q(), ids),
    freeCaps: async () => (await terms(q())).caps,
    findTokenFlexPool: (id) => tiered.findTokenFlexPool(q(), id),
    findTokenFlexPoolByRef: (ref) => tiered.findTokenFlexPoolByRef(q(), ref),
    tokenFlexPoolsOf: (accountIds) => tiered.tokenFlexPoolsOf(q(), accountIds),
    accountsWithPoolStartsToSettle: (now, limit) => tiered.accountsWithPoolStartsToSettle(q(), now, limit),
    poolStartsToSettle: (accountId, now) => tiered.poolStartsToSettle(q(), accountId, now),
    nextPoolStartAfter: (now) => tiered.nextPoolStartAfter(q(), now),
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

function writesOn(conn: () => Conn, terms: (q: Q) => Promise<PublishedTerms>): StoreWrites {
  const q = () => conn().q;
  return {
    ...readsOn(conn, terms),
    insertAccount: (fields, now) => accounts.insertAccount(q(), fields, now),
    updateAccountFields: (id, fields, now) => accounts.updateAccountFields(q(), id, fields, now),
    saveDeficit: (id, state) => accounts.saveDeficit(q(), id, state),
    insertReseller: (fields, now) => accounts.insertReseller(q(), fields, now),
    updateResellerFields: (id, fields, now) => accounts.updateResellerFields(q(), id, fields, now),
    insertCreditLot: (lot, now) => funding.insertCreditLot(q(), lot, now),
    insertFlexPack: (pack, now) => funding.insertFlexPack(q(), pack, now),
    adjustRemaining: (kind, id, delta) => funding.adjustRemaining(q(), kind, id, delta),
    markPoolStartSettled: (poolId, at) => tiered.markPoolStartSettled(q(), poolId, at),
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

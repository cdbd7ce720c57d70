/**
 * The embedded engine: one SQLite file through better-sqlite3, synchronous inside, behind the
 * asynchronous port.
 */
import { sql } from "drizzle-orm";
import type { Instant } from "../../core/time.js";
import { PriceBook, type PublishedTerms } from "../price-book.js";
import type { RatingOutcome, RatingRequest, RatingRules, Report, SnapshotOptions, Store, StoreReads, StoreWrites, WriteLocks } from "../port.js";
import { DEFAULT_RATING_RULES, groupKeys, NO_TIERED_STATE, outcomesOf, planGroup, type TieredState, tieredNeeds, unexpectedItemError } from "../rate-group.js";
import { shareReadsPerTurn } from "../shared-reads.js";
import { UnitContext } from "../unit-context.js";
import * as accounts from "./accounts.store.js";
import * as audit from "./audit.store.js";
import { type Db, inTransaction, migrateDatabase, openDatabase, type OpenOptions, prepared, rawStatement, type Tx } from "./database.js";
import * as funding from "./funding.store.js";
import * as insight from "./insight.store.js";
import * as keys from "./keys.store.js";
import * as ledger from "./ledger.store.js";
import * as prices from "./prices.store.js";
import { HEAVY_READS, ReadPool } from "./read-pool.js";
import { RatingThread } from "./rating-thread.js";
import { recomputeLedger } from "./recompute.store.js";
import * as tiered from "./tiered.store.js";

/**
 * Lets one piece of work at a time use the connection. better-sqlite3 runs every statement of a
 * connection inside whatever transaction is open on it, so while a unit is open between two
 * awaits, another request's statement would join that transaction: it would read what the unit
 * has not committed, or (a second BEGIN) fail. Work waits its turn instead; a unit runs within a
 * few microtasks, since every statement it awaits has already run.
 */
class ConnectionTurn {
  private busy = false;
  private readonly waiting: (() => void)[] = [];

  async take<T>(work: () => T | Promise<T>): Promise<T> {
    if (this.busy) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.busy = true;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.busy = false;
    }
  }
}

const unitStatements = (tx: Tx) => ({
  beginImmediate: rawStatement("begin immediate")(tx),
  beginDeferred: rawStatement("begin deferred")(tx),
  commit: rawStatement("commit")(tx),
  rollback: rawStatement("rollback")(tx),
  savepoint: rawStatement("savepoint unit")(tx),
  release: rawStatement("release savepoint unit")(tx),
  rollbackToSavepoint: rawStatement("rollback to savepoint unit")(tx),
});

/** An error met inside a rating group's open transaction; `cause` is the error itself. */
class GroupFault extends Error {
  constructor(override readonly cause: unknown) {
    super("a rating group met an unexpected error", { cause });
  }
}

export class SqliteStore implements Store {
  readonly engine = "sqlite";
  readonly reads: StoreReads;
  private readonly turn = new ConnectionTurn();
  /**
   * Set while a unit's work runs: whatever that work calls (a service inside another service's
   * unit, as the demo seed does) already holds the connection's turn and joins the unit as a
   * savepoint instead of waiting for the turn it holds. `open` turns false when the unit ends, so
   * a timer the work left behind waits like everyone else.
   */
  private readonly openUnit = new UnitContext<{ open: boolean }>();
  private readonly book = new PriceBook();
  /** The connection's reads and writes without waiting for the turn: for work that holds it. */
  private readonly direct: StoreWrites;

  /** Heavy reads run here when the database is a file; see heavyPath. */
  private readonly readPool: ReadPool | null;

  /** Rating groups run here when the database is a file and the thread is asked for. */
  private readonly ratingThread: RatingThread | null;

  private closed: Promise<void> | null = null;

  /** Opens (creating it) and migrates the file. */
  static open(options: OpenOptions & StoreOptions): SqliteStore {
    const db = openDatabase(options);
    migrateDatabase(db);
    return new SqliteStore(db, options);
  }

  /** `db` stays reachable for the tools that inspect the file itself (tests, the benchmark). */
  constructor(
    readonly db: Db,
    options: StoreOptions = {},
  ) {
    this.direct = writesOn(db, () => this.termsNow(db));
    // A read on its own waits for the connection's turn like any unit.
    const reads = readsOn(db, () => this.termsNow(db)) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    this.reads = Object.fromEntries(
      Object.entries(reads).map(([name, read]) => [name, (...args: unknown[]) => this.exclusive(() => read(...args))]),
    ) as unknown as StoreReads;
    shareReadsPerTurn(this.reads, () => this.openUnit.current()?.open === true);
    // Other threads cannot open a ":memory:" database: it is this connection's alone, and its
    // heavy reads stay on this loop.
    const threads = db.$client.memory ? 0 : (options.readThreads ?? 0);
    this.readPool = threads > 0 ? new ReadPool(db.$client.name, threads, Object.keys(reads) as (keyof StoreReads)[]) : null;
    this.ratingThread = options.ratingThread && !db.$client.memory ? new RatingThread(db.$client.name, options.synchronous ?? "FULL") : null;
    if (this.readPool) {
      this.readPool.startCheckpoints(options.synchronous ?? "FULL");
      const pooled = this.reads as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      for (const name of HEAVY_READS) {
        const inProcess = pooled[name]!;
        pooled[name] = (...args) =>
          this.heavyPath(
            (pool) => pool.snapshot((reads) => (reads[name] as (...args: unknown[]) => Promise<unknown>)(...args)),
            () => inProcess(...args),
          );
      }
    }
  }

  snapshot<T>(work: (reads: StoreReads) => Promise<T>, options: SnapshotOptions = {}): Promise<T> {
    if (options.heavy) return this.heavyPath((pool) => pool.snapshot(work), () => this.unit("deferred", work));
    return this.unit("deferred", work);
  }

  /** On the read pool, the whole report runs on a read thread: the rows it reads stay there. */
  report<A extends readonly unknown[], R>(report: Report<A, R>, ...args: A): Promise<R> {
    return this.heavyPath(
      (pool) => pool.report<R>(report.name, args),
      () => this.unit("deferred", (reads) => report.run(reads, ...args)),
    );
  }

  /**
   * The one place that decides where heavy reads run: on the read pool, unless there is none or
   * the caller is inside a unit of this connection, whose writes only this connection sees.
   */
  private heavyPath<T>(onPool: (pool: ReadPool) => Promise<T>, inProcess: () => Promise<T>): Promise<T> {
    if (!this.readPool || this.openUnit.current()?.open) return inProcess();
    return onPool(this.readPool);
  }

  // SQLite has one writer: the IMMEDIATE transaction takes the write lock before the first read,
  // which locks every row `locks` could name.
  write<T>(_locks: WriteLocks, work: (tx: StoreWrites) => Promise<T>): Promise<T> {
    return this.unit("immediate", work);
  }

  rateGroup(requests: readonly RatingRequest[], clock: () => Instant, rules: RatingRules = DEFAULT_RATING_RULES): Promise<RatingOutcome[]> {
    if (requests.length === 0) return Promise.resolve([]);
    const thread = this.ratingThread;
    // Inside a unit this connection holds the write lock: the group must run on it, here.
    // Its turn taken, the thread writes next: the clock is read then, not before the wait. A wait
    // there for another process's write lock is not counted: the thread cannot read this clock.
    if (thread && !this.openUnit.current()?.open) return this.turn.take(() => thread.rate(requests, clock(), rules));
    return this.exclusive(() => {
      try {
        return this.rateInTransaction(requests, clock, rules);
      } catch (error) {
        if (!(error instanceof GroupFault)) throw error;
        // Reading or writing the group met an error no rule foresees (a stored amount that cannot
        // be read, a storage fault) and the group rolled back. Rated one at a time, the events it
        // does not concern go through, and only the faulty one fails.
        if (requests.length === 1) return [{ error: unexpectedItemError(error.cause, requests[0]!.field) }];
        return requests.map((request): RatingOutcome => {
          try {
            return this.rateInTransaction([request], clock, rules)[0]!;
          } catch (alone) {
            if (!(alone instanceof GroupFault)) throw alone;
            return { error: unexpectedItemError(alone.cause, request.field) };
          }
        });
      }
    });
  }

  /**
   * Synchronous from the first read to the commit: a drizzle transaction callback on
   * better-sqlite3 must never await. An error met while the transaction is open comes out as a
   * GroupFault; one that kept the transaction from starting, ended it (SQLite rolls back on a full
   * disk or RAISE(ROLLBACK)) or failed the commit comes out as itself, and fails the whole group.
   */
  private rateInTransaction(requests: readonly RatingRequest[], clock: () => Instant, rules: RatingRules): RatingOutcome[] {
    return inTransaction(this.db, "immediate", (tx) => {
      // The write lock is held: a group that waited for it (another process's) decides now.
      const now = clock();
      try {
        const { accountIds, eventIds } = groupKeys(requests);
        const terms = this.termsNow(tx);
        const plan = planGroup(
          requests,
          {
            replays: ledger.findChargesByEventIds(tx, eventIds),
            accounts: new Map(accounts.findAccounts(tx, accountIds).map((account) => [account.id, account])),
            sources: funding.sourcesOfAccounts(tx, accountIds),
            prices: terms.prices,
            tiered: tieredState(tx, requests, accountIds, terms),
          },
          now,
          rules,
        );
        // One prepared single-row statement per row: inside one SQLite transaction that costs
        // what a multi-row statement would, without building a statement per group size.
        const written = plan.charges.map(({ charge, allocations }) => ledger.insertCharge(tx, charge, allocations, now));
        for (const change of plan.sourceChanges) funding.adjustRemaining(tx, change.kind, change.id, change.deltaMicros);
        for (const [accountId, deficit] of plan.deficits) accounts.saveDeficit(tx, accountId, deficit);
        tiered.saveRemainders(tx, plan.remainders);
        tiered.saveFreeMonths(tx, plan.freeMonths);
        tiered.insertPaygPartsOf(tx, plan.charges, written, now);
        return outcomesOf(plan, written);
      } catch (error) {
        throw this.db.$client.inTransaction ? new GroupFault(error) : error;
      }
    });
  }

  ping(): Promise<void> {
    return this.exclusive(() => {
      this.db.get(sql`select 1`);
    });
  }

  /** Resolves when the rating thread, if any, can take its first group: a server starts listening after it. */
  async ready(): Promise<void> {
    await this.ratingThread?.ready;
  }

  /** Closes the threads and the connection; closing again waits for the same close. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.readPool?.close();
      await this.exclusive(async () => {
        await this.ratingThread?.close();
        this.db.$client.close();
      });
    })();
    return this.closed;
  }

  /**
   * A unit whose work awaits: BEGIN and COMMIT are issued around it by hand while the connection
   * is this unit's alone (see ConnectionTurn), rather than through drizzle's transaction, which on
   * better-sqlite3 would commit at the work's first await.
   */
  private unit<T>(behavior: "deferred" | "immediate", work: (tx: StoreWrites) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      const statements = prepared(this.db, unitStatements);
      const nested = this.db.$client.inTransaction;
      if (nested) statements.savepoint.run();
      else (behavior === "immediate" ? statements.beginImmediate : statements.beginDeferred).run();
      const marker = { open: true };
      let result: T;
      try {
        result = await this.openUnit.run(marker, () => work(this.direct));
      } catch (error) {
        // A failed statement may have ended the transaction already (SQLite rolls back on a full disk).
        if (nested) {
          statements.rollbackToSavepoint.run();
          statements.release.run();
        } else if (this.db.$client.inTransaction) statements.rollback.run();
        throw error;
      } finally {
        marker.open = false;
      }
      (nested ? statements.release : statements.commit).run();
      return result;
    });
  }

  /** Runs `work` in the connection's turn, or at once inside the unit that holds it. */
  private exclusive<T>(work: () => T | Promise<T>): Promise<T> {
    if (this.openUnit.current()?.open) return Promise.resolve().then(work);
    return this.turn.take(work);
  }

  private termsNow(tx: Tx): PublishedTerms {
    const stamp = prices.priceTableStamp(tx);
    return this.book.current(stamp) ?? this.book.update(stamp, prices.allPriceVersions(tx), tiered.allFreeCaps(tx));
  }
}

/** The group's tiered state: one query finds no enrollment for a LEGACY group, which reads nothing more. */
function tieredState(tx: Tx, requests: readonly RatingRequest[], accountIds: readonly number[], terms: PublishedTerms): TieredState {
  const enrollments = tiered.enrollmentsOf(tx, accountIds);
  if (enrollments.size === 0) return NO_TIERED_STATE;
  const needs = tieredNeeds(requests, enrollments, terms.prices);
  return {
    enrollments,
    caps: terms.caps,
    remainders: tiered.remaindersFor(tx, needs.remainders),
    freeMonths: tiered.freeMonthsFor(tx, needs.freeMonths),
  };
}

export interface StoreOptions {
  /** Threads of the read pool for heavy reads; 0 (the default) reads everything on this loop. */
  readonly readThreads?: number;
  /** Rate groups of usage events on a worker thread (rating-thread.ts); off by default. */
  readonly ratingThread?: boolean;
  /** The file's synchronous mode, for the connections of the rating thread and of the read pool's checkpoints. */
  readonly synchronous?: OpenOptions["synchronous"];
}

function readsOn(db: Db, terms: () => PublishedTerms): StoreReads {
  return {
    findAccount: async (id) => accounts.findAccount(db, id),
    findAccounts: async (ids) => accounts.findAccounts(db, ids),
    listAccounts: async (query) => accounts.listAccounts(db, query),
    countAccounts: async (query) => accounts.countAccounts(db, query),
    firstAccountsOfResellers: async (ids, limit) => accounts.firstAccountsOfResellers(db, ids, limit),
    countAccountsOfResellers: async (ids) => accounts.countAccountsOfResellers(db, ids),
    findReseller: async (id) => accounts.findReseller(db, id),
    findResellers: async (ids) => accounts.findResellers(db, ids),
    listResellers: async (query) => accounts.listResellers(db, query),
    countResellers: async (query) => accounts.countResellers(db, query),
    findCreditLot: async (id) => funding.findCreditLot(db, id),
    findFlexPack: async (id) => funding.findFlexPack(db, id),
    findCreditLotByRef: async (ref) => funding.findCreditLotByRef(db, ref),
    findFlexPackByRef: async (resellerId, ref) => funding.findFlexPackByRef(db, resellerId, ref),
    sourceCounts: async (kind, accountId, from, to) => funding.sourceCounts(db, kind, accountId, from, to),
    creditLotsOf: async (ids) => funding.creditLotsOf(db, ids),
    lotHoldingsOf: async (ids) => funding.lotHoldingsOf(db, ids),
    flexPacksOf: async (ids) => funding.flexPacksOf(db, ids),
    packHoldingsOf: async (ids) => funding.packHoldingsOf(db, ids),
    fundingSourcesAt: async (accountId, at) => funding.fundingSourcesAt(db, accountId, at),
    outstandingDeficits: (accountId, owedMicros) => funding.outstandingDeficits(db, accountId, owedMicros),
    findCharge: async (id) => ledger.findCharge(db, id),
    findChargeByEventId: async (eventId) => ledger.findChargeByEventId(db, eventId),
    listCharges: async (query) => ledger.listCharges(db, query),
    countCharges: async (query) => ledger.countCharges(db, query),
    allocationsOfCharges: async (ids) => ledger.allocationsOfCharges(db, ids),
    settlementsOfAllocations: async (ids) => ledger.settlementsOfAllocations(db, ids),
    priceTable: async () => terms().prices,
    priceVersionsOf: async (apiCode) => prices.priceVersionsOf(db, apiCode),
    findPriceVersion: async (id) => prices.findPriceVersion(db, id),
    findPriceCancellation: async (id) => prices.findPriceCancellation(db, id),
    latestApiChargeOccurredAt: async (apiCode, from) => prices.latestApiChargeOccurredAt(db, apiCode, from),
    findApiKey: async (id) => keys.findApiKey(db, id),
    findActiveKeyByHash: async (hash) => keys.findActiveKeyByHash(db, hash),
    findKeyByHash: async (hash) => keys.findKeyByHash(db, hash),
    countActiveOperatorKeys: async () => keys.countActiveOperatorKeys(db),
    listApiKeys: async () => keys.listApiKeys(db),
    enrollmentsOf: async (ids) => tiered.enrollmentsOf(db, ids),
    freeCaps: async () => terms().caps,
    findTokenFlexPool: async (id) => tiered.findTokenFlexPool(db, id),
    findTokenFlexPoolByRef: async (ref) => tiered.findTokenFlexPoolByRef(db, ref),
    tokenFlexPoolsOf: async (accountIds) => tiered.tokenFlexPoolsOf(db, accountIds),
    accountsWithPoolStartsToSettle: async (now, limit) => tiered.accountsWithPoolStartsToSettle(db, now, limit),
    poolStartsToSettle: async (accountId, now) => tiered.poolStartsToSettle(db, accountId, now),
    nextPoolStartAfter: async (now) => tiered.nextPoolStartAfter(db, now),
    unitRemaindersOf: async (accountId) => tiered.remaindersOf(db, accountId),
    freeMonthsOf: async (accountId, month) => tiered.freeMonthsOf(db, accountId, month),
    paygPartsOf: async (accountId, month) => tiered.paygPartsOf(db, accountId, month),
    unitRemaindersOfAccounts: async (accountIds, month) => tiered.remaindersOfAccounts(db, accountIds, month),
    freeMonthsOfAccounts: async (accountIds, month) => tiered.freeMonthsOfAccounts(db, accountIds, month),
    paygPartsOfAccounts: async (accountIds, month) => tiered.paygPartsOfAccounts(db, accountIds, month),
    paygStatementMonthOf: async (chargeId) => tiered.paygStatementMonthOf(db, chargeId),
    latestChargeOccurredAt: async (accountId) => tiered.latestChargeOccurredAt(db, accountId),
    listAudit: async (query) => audit.listAudit(db, query),
    countAudit: async (filter) => audit.countAudit(db, filter),
    ledgerAsOf: async (accountId, t) => insight.ledgerAsOf(db, accountId, t),
    chargedSince: async (accountId, since) => insight.chargedSince(db, accountId, since),
    dailyUsage: async (accountId, from, to, clientId) => insight.dailyUsage(db, accountId, from, to, clientId),
    usageGroupsSince: async (apiCode, since) => insight.usageGroupsSince(db, apiCode, since),
    exportPage: async (accountId, from, to, after, limit) => insight.exportPage(db, accountId, from, to, after, limit),
    recomputeLedger: async () => recomputeLedger(db),
  };
}

function writesOn(db: Db, terms: () => PublishedTerms): StoreWrites {
  return {
    ...readsOn(db, terms),
    insertAccount: async (fields, now) => accounts.insertAccount(db, fields, now),
    updateAccountFields: async (id, fields, now) => accounts.updateAccountFields(db, id, fields, now),
    saveDeficit: async (id, state) => accounts.saveDeficit(db, id, state),
    insertReseller: async (fields, now) => accounts.insertReseller(db, fields, now),
    updateResellerFields: async (id, fields, now) => accounts.updateResellerFields(db, id, fields, now),
    insertCreditLot: async (lot, now) => funding.insertCreditLot(db, lot, now),
    insertFlexPack: async (pack, now) => funding.insertFlexPack(db, pack, now),
    adjustRemaining: async (kind, id, delta) => funding.adjustRemaining(db, kind, id, delta),
    markPoolStartSettled: async (poolId, at) => tiered.markPoolStartSettled(db, poolId, at),
    insertSettlements: async (accountId, source, settlements, now) => funding.insertSettlements(db, accountId, source, settlements, now),
    insertReversal: async (chargeId, reason, actor, now) => ledger.insertReversal(db, chargeId, reason, actor, now),
    insertPriceVersion: async (version) => prices.insertPriceVersion(db, version),
    insertPriceCancellation: async (id, reason, actor, now) => prices.insertPriceCancellation(db, id, reason, actor, now),
    insertEnrollment: async (enrollment) => tiered.insertEnrollment(db, enrollment),
    insertFreeCap: async (cap) => tiered.insertFreeCap(db, cap),
    insertTokenFlexPool: async (pool, now) => tiered.insertTokenFlexPool(db, pool, now),
    saveFreeMonth: async (accountId, apiCode, month, state) => tiered.saveFreeMonths(db, [{ accountId, apiCode, month, state }]),
    insertPaygPart: async (accountId, chargeId, month, part, now) => tiered.insertPaygPart(db, accountId, chargeId, month, part, now),
    insertApiKey: async (key, now) => keys.insertApiKey(db, key, now),
    markKeyRevoked: async (id, now) => keys.markKeyRevoked(db, id, now),
    appendAudit: async (actor, record, now) => audit.appendAudit(db, actor, record, now),
  };
}

/**
 * The store port: everything the services need from storage, in the domain's words. It names no
 * driver, no dialect and no SQL; `openStore` (store/open.ts) picks the engine behind it.
 *
 * Every method is asynchronous so that an engine across the network fits the same shape as the
 * embedded one. Three boundaries say what a call may see and hold:
 * - `reads`: one read each, on its own;
 * - `snapshot(work)`: several reads that must agree, in one read-only snapshot;
 * - `write(locks, work)`: a read-modify-write unit, committed whole or not at all. `locks` names
 *   the rows the unit will change derived state of (an account's deficit, its lots' remaining
 *   amounts), so an engine with several writers can serialise the units that touch them.
 * Rating a group of usage events is one method, `rateGroup`: see store/rate-group.ts.
 */
import type { DeficitState } from "../core/account.js";
import type { FundingSource, SourceKind } from "../core/drain.js";
import type { FlexgateError } from "../core/errors.js";
import type { DailyUsage, LedgerAsOf, UsageExportRow } from "../core/history.js";
import type { DatedDeficit, LedgerSettlement, Settlement } from "../core/ledger.js";
import type {
  Account,
  Actor,
  ApiKey,
  AuditEntry,
  BalancePolicy,
  ChargeAllocation,
  CreditLot,
  FlexPack,
  LotHolding,
  Outcome,
  PackHolding,
  Reseller,
  Role,
  TokenFlexPoolRecord,
  UsageCharge,
} from "../core/model.js";
import type { FreeCap, FreeMonth } from "../core/free-allowance.js";
import type { Month } from "../core/month.js";
import type { PaygLine, PaygPart } from "../core/payg.js";
import type { Enrollment } from "../core/plan.js";
import type { PriceVersion } from "../core/price.js";
import type { AccountUsageGroup } from "../core/price-impact.js";
import type { Instant } from "../core/time.js";

export interface AccountFields {
  readonly name: string;
  readonly country: string | null;
  readonly resellerId: number | null;
  readonly balancePolicy: BalancePolicy;
  readonly demo?: boolean;
}

export interface AccountQuery {
  readonly resellerId?: number | null;
  readonly nameContains?: string;
  readonly afterId?: number;
  readonly limit: number;
}

export interface ResellerFields {
  readonly name: string;
  readonly tier: Reseller["tier"];
  readonly flexAgreement: boolean;
  readonly active: boolean;
  readonly locations: readonly string[];
  readonly languages: readonly string[];
  readonly services: readonly string[];
  readonly demo?: boolean;
}

export interface ResellerQuery {
  readonly location?: string;
  readonly language?: string;
  readonly service?: string;
  readonly tier?: Reseller["tier"];
  readonly flexAgreement?: boolean;
  readonly active?: boolean;
  readonly ids?: readonly number[];
  readonly afterId?: number;
  readonly limit: number;
}

/** A lot as imported: the store sets its id, its remaining amount (all of it) and when it was booked. */
export interface NewCreditLot extends Omit<CreditLot, "id" | "remainingMicros" | "createdAt"> {
  readonly fingerprint: string;
}

/** A pack as bought: the store sets its id, its remaining tokens (all of them) and when it was booked. */
export interface NewFlexPack extends Omit<FlexPack, "id" | "remainingMicros" | "createdAt"> {
  readonly fingerprint: string;
}

/** A pool as imported: the store sets its id, its remaining tokens (all of them) and when it was booked. */
export interface NewTokenFlexPool extends Omit<TokenFlexPoolRecord, "id" | "remainingMicros" | "createdAt"> {
  readonly fingerprint: string;
  /** When it came in as new funds: now for a pool whose term has started, else null until it starts. */
  readonly startSettledAt: Instant | null;
}

/** An enrollment as decided (decideEnrollmentOrThrow), with its account and who made it when. */
export interface NewEnrollment extends Enrollment {
  readonly accountId: number;
  readonly enrolledBy: string;
  readonly enrolledAt: Instant;
}

/** A free cap as checked (checkFreeCapOrThrow), with who published it when. */
export interface NewFreeCap extends Omit<FreeCap, "id"> {
  readonly publishedBy: string;
  readonly publishedAt: Instant;
}

/** A stored partial unit under its remainderKey (apiCode|meterSince|month). */
export interface StoredRemainder {
  readonly key: string;
  readonly quantityMicros: bigint;
}

/** A charge as rated: the store sets its id and when it was rated; a new charge stands. */
export interface NewCharge extends Omit<UsageCharge, "id" | "ratedAt" | "reversedAt"> {
  readonly fingerprint: string;
}

/**
 * The orders an account's charges can be listed in. Each sort key ends in the unique id, so the
 * order is total and a page continues after the key of the last charge seen (keyset paging);
 * the (account_id, occurred_at) and (account_id, id) indexes serve each order as one range read.
 */
export const CHARGE_ORDERS = {
  OCCURRED_AT_DESC: { key: ["occurredAt", "id"], descending: true },
  OCCURRED_AT_ASC: { key: ["occurredAt", "id"], descending: false },
  BOOKED_DESC: { key: ["id"], descending: true },
  BOOKED_ASC: { key: ["id"], descending: false },
} as const satisfies Record<string, { key: readonly ("occurredAt" | "id")[]; descending: boolean }>;

export type ChargeOrder = keyof typeof CHARGE_ORDERS;

/** The values of a charge's sort key in `order`, which a page after it starts from. */
export function chargeSortKey(order: ChargeOrder, charge: UsageCharge): number[] {
  return CHARGE_ORDERS[order].key.map((field) => charge[field]);
}

export interface ChargeQuery {
  readonly accountId: number;
  readonly from?: Instant;
  readonly to?: Instant;
  readonly apiCode?: string;
  readonly clientId?: string;
  readonly order: ChargeOrder;
  /** The sort key (chargeSortKey) of the last charge seen: the page starts after it. */
  readonly after?: readonly number[];
  readonly limit: number;
}

/** A version as published: the store sets its id; a new version is never cancelled. */
export type NewPriceVersion = Omit<PriceVersion, "id" | "cancelledAt">;

export interface NewApiKey {
  readonly name: string;
  readonly role: Role;
  readonly resellerId: number | null;
  readonly secretHash: string;
  readonly secretPrefix: string;
  readonly createdBy: string;
}

export interface AuditRecord {
  readonly action: string;
  readonly entityType: string;
  readonly entityId: string | number;
  readonly before: unknown;
  readonly after: unknown;
}

/** Narrows the audit log; every filter left out matches everything. */
export interface AuditFilter {
  readonly entityType?: string;
  /** The actor's name, exactly. */
  readonly actor?: string;
  /** Changes made at or after this instant. */
  readonly from?: Instant;
  /** Changes made before this instant. */
  readonly to?: Instant;
}

export interface AuditQuery extends AuditFilter {
  readonly beforeId?: number;
  readonly limit: number;
}

export interface LedgerDrift {
  readonly entity: "CreditLot" | "TokenFlexPool" | "FlexPack" | "Account";
  readonly id: number;
  readonly storedMicros: bigint;
  readonly recomputedMicros: bigint;
}

/** Where a page of the usage export ends: the next page starts after this charge. */
export interface ExportCursor {
  readonly occurredAt: Instant;
  readonly chargeId: number;
}

export interface ExportPage {
  readonly rows: readonly UsageExportRow[];
  /** Null when this page was the last one. */
  readonly next: ExportCursor | null;
}

/** Every price version by API code, oldest first within a code. */
export type PriceTable = ReadonlyMap<string, readonly PriceVersion[]>;

export interface StoreReads {
  findAccount(id: number): Promise<Account | null>;
  findAccounts(ids: readonly number[]): Promise<Account[]>;
  listAccounts(query: AccountQuery): Promise<Account[]>;
  countAccounts(query: Omit<AccountQuery, "afterId" | "limit">): Promise<number>;
  /** The first `limit` accounts (by id) of each reseller. */
  firstAccountsOfResellers(resellerIds: readonly number[], limit: number): Promise<Account[]>;
  countAccountsOfResellers(resellerIds: readonly number[]): Promise<Map<number, number>>;
  findReseller(id: number): Promise<Reseller | null>;
  findResellers(ids: readonly number[]): Promise<Reseller[]>;
  listResellers(query: ResellerQuery): Promise<Reseller[]>;
  countResellers(query: Omit<ResellerQuery, "afterId" | "limit">): Promise<number>;

  findCreditLot(id: number): Promise<CreditLot | null>;
  findFlexPack(id: number): Promise<FlexPack | null>;
  findCreditLotByRef(externalRef: string): Promise<{ lot: CreditLot; fingerprint: string } | null>;
  /** The pack a seller (a reseller, or the eStore for null) recorded under its order reference. */
  findFlexPackByRef(resellerId: number | null, orderRef: string): Promise<{ pack: FlexPack; fingerprint: string } | null>;
  /** How many lots or packs an account holds: all of them, and those whose validity overlaps [from, to). */
  sourceCounts(kind: SourceKind, accountId: number, from: Instant, to: Instant): Promise<{ total: number; overlapping: number }>;
  /** Lots of the accounts, soonest expiry first. */
  creditLotsOf(accountIds: readonly number[]): Promise<CreditLot[]>;
  /** What the lots of the accounts hold, without how they were bought; soonest expiry first. */
  lotHoldingsOf(accountIds: readonly number[]): Promise<LotHolding[]>;
  /** Packs of the accounts, soonest expiry first. */
  flexPacksOf(accountIds: readonly number[]): Promise<FlexPack[]>;
  /** What the packs of the accounts hold, without how they were bought; soonest expiry first. */
  packHoldingsOf(accountIds: readonly number[]): Promise<PackHolding[]>;
  /** The lots, Token Flex pools and packs of an account that still hold tokens and are valid at `at`. */
  fundingSourcesAt(accountId: number, at: Instant): Promise<FundingSource[]>;
  /**
   * Deficit allocations of standing charges not yet fully paid, oldest first, of an account that
   * owes `owedMicros` (its deficit): read newest first until they add up to it (core/ledger.ts).
   */
  outstandingDeficits(accountId: number, owedMicros: bigint): Promise<DatedDeficit[]>;

  findCharge(id: number): Promise<UsageCharge | null>;
  /** The charge stored under an event id, with its idempotency fingerprint. */
  findChargeByEventId(eventId: string): Promise<{ charge: UsageCharge; fingerprint: string } | null>;
  listCharges(query: ChargeQuery): Promise<UsageCharge[]>;
  countCharges(query: Omit<ChargeQuery, "order" | "after" | "limit">): Promise<number>;
  allocationsOfCharges(chargeIds: readonly number[]): Promise<ChargeAllocation[]>;
  settlementsOfAllocations(allocationIds: readonly number[]): Promise<LedgerSettlement[]>;

  /** Every version of every API code, as rating sees it; cached while nothing is published. */
  priceTable(): Promise<PriceTable>;
  priceVersionsOf(apiCode: string): Promise<PriceVersion[]>;
  findPriceVersion(id: number): Promise<PriceVersion | null>;
  /** Who cancelled a version and why; null when it is not cancelled. */
  findPriceCancellation(id: number): Promise<{ cancelledBy: string; reason: string; cancelledAt: Instant } | null>;
  /**
   * The latest occurredAt of the booked charges of `apiCode` dated at or after `from`, reversed
   * ones too; null when none. It reads the charges dated from `from` on by their occurredAt
   * index: for a `from` of now or later that is only usage dated ahead, a few minutes' worth.
   */
  latestApiChargeOccurredAt(apiCode: string, from: Instant): Promise<Instant | null>;

  findApiKey(id: number): Promise<ApiKey | null>;
  /** Runs on every API request. */
  findActiveKeyByHash(secretHash: string): Promise<ApiKey | null>;
  /** The key a secret belongs to, revoked or not. */
  findKeyByHash(secretHash: string): Promise<ApiKey | null>;
  countActiveOperatorKeys(): Promise<number>;
  listApiKeys(): Promise<ApiKey[]>;

  /** The enrollments of the accounts that have any, oldest first (an account without any is LEGACY). */
  enrollmentsOf(accountIds: readonly number[]): Promise<Map<number, Enrollment[]>>;
  /** Every published free cap, oldest first; cached with the price table. */
  freeCaps(): Promise<readonly FreeCap[]>;
  findTokenFlexPool(id: number): Promise<TokenFlexPoolRecord | null>;
  findTokenFlexPoolByRef(externalRef: string): Promise<{ pool: TokenFlexPoolRecord; fingerprint: string } | null>;
  /** Pools of the accounts, soonest end first. */
  tokenFlexPoolsOf(accountIds: readonly number[]): Promise<TokenFlexPoolRecord[]>;
  /**
   * Up to `limit` accounts, by id, holding a pool imported before its term whose term has started
   * by `now` and that has not come in as new funds yet (FundingService.settleStartedPools).
   */
  accountsWithPoolStartsToSettle(now: Instant, limit: number): Promise<number[]>;
  /** Those pools of one account, soonest end first. */
  poolStartsToSettle(accountId: number, now: Instant): Promise<TokenFlexPoolRecord[]>;
  /** The soonest start after `now` of a pool that has not come in yet; null when none is to come. */
  nextPoolStartAfter(now: Instant): Promise<Instant | null>;
  /** Every stored remainder of an account. */
  unitRemaindersOf(accountId: number): Promise<StoredRemainder[]>;
  /** An account's FREE months of one calendar month, by API code. */
  freeMonthsOf(accountId: number, month: Month): Promise<Map<string, FreeMonth>>;
  /** The PAYG parts on an account's statement of `month`, summed per API (a row each, whatever the month holds), by API code. */
  paygPartsOf(accountId: number, month: Month): Promise<PaygLine[]>;
  /**
   * The remainders of several accounts that the next events can still build on: paid ones
   * (no month) and those of `month`, by account (for pages of accounts; a page costs one read).
   */
  unitRemaindersOfAccounts(accountIds: readonly number[], month: Month): Promise<Map<number, StoredRemainder[]>>;
  /** The FREE months of several accounts in one calendar month, by account, then API code. */
  freeMonthsOfAccounts(accountIds: readonly number[], month: Month): Promise<Map<number, Map<string, FreeMonth>>>;
  /** The PAYG parts on several accounts' statements of `month`, summed per API, by account, then API code. */
  paygPartsOfAccounts(accountIds: readonly number[], month: Month): Promise<Map<number, PaygLine[]>>;
  /** The statement a charge's PAYG part went on when it was rated; null when PAYG paid none of it. */
  paygStatementMonthOf(chargeId: number): Promise<Month | null>;
  /** The latest occurredAt of an account's booked charges, reversed ones too; null when none. */
  latestChargeOccurredAt(accountId: number): Promise<Instant | null>;

  listAudit(query: AuditQuery): Promise<AuditEntry[]>;
  countAudit(filter?: AuditFilter): Promise<number>;

  /** Everything the balance of one account as of `t` is made of. */
  ledgerAsOf(accountId: number, t: Instant): Promise<LedgerAsOf>;
  /** Tokens charged by standing charges whose usage occurred at or after `since`. */
  chargedSince(accountId: number, since: Instant): Promise<bigint>;
  /** Standing usage of an account in [from, to), summed per UTC day and API code. */
  dailyUsage(accountId: number, from: Instant, to: Instant, clientId: string | null): Promise<DailyUsage[]>;
  /** Standing charges of one API over every account since `since`, grouped by what re-rating depends on. */
  usageGroupsSince(apiCode: string, since: Instant): Promise<AccountUsageGroup[]>;
  /** One page of the standing charges of an account in [from, to), oldest first. */
  exportPage(accountId: number, from: Instant, to: Instant, after: ExportCursor | null, limit: number): Promise<ExportPage>;
  /** Every place where a stored remaining amount or deficit differs from the ledger recomputed. */
  recomputeLedger(): Promise<LedgerDrift[]>;
}

export interface StoreWrites extends StoreReads {
  insertAccount(fields: AccountFields, now: Instant): Promise<Account>;
  updateAccountFields(id: number, fields: Partial<AccountFields>, now: Instant): Promise<Account>;
  saveDeficit(id: number, state: DeficitState): Promise<void>;
  insertReseller(fields: ResellerFields, now: Instant): Promise<Reseller>;
  updateResellerFields(id: number, fields: Partial<ResellerFields>, now: Instant): Promise<Reseller>;

  insertCreditLot(lot: NewCreditLot, now: Instant): Promise<CreditLot>;
  insertFlexPack(pack: NewFlexPack, now: Instant): Promise<FlexPack>;
  /** Adds (or with a negative delta, takes) tokens to a lot or pack's remaining amount. */
  adjustRemaining(kind: SourceKind, id: number, deltaMicros: bigint): Promise<void>;
  /** The pool came in as new funds at `at`: its start is settled, once. */
  markPoolStartSettled(poolId: number, at: Instant): Promise<void>;
  insertSettlements(accountId: number, funding: { kind: SourceKind; id: number }, settlements: readonly Settlement[], now: Instant): Promise<void>;
  insertReversal(chargeId: number, reason: string, actor: string, now: Instant): Promise<void>;

  insertPriceVersion(version: NewPriceVersion): Promise<PriceVersion>;
  insertPriceCancellation(id: number, reason: string, actor: string, now: Instant): Promise<void>;

  insertEnrollment(enrollment: NewEnrollment): Promise<Enrollment>;
  /** Also moves the price table's change stamp: caps are cached with it. */
  insertFreeCap(cap: NewFreeCap): Promise<FreeCap>;
  insertTokenFlexPool(pool: NewTokenFlexPool, now: Instant): Promise<TokenFlexPoolRecord>;
  /** Stores a FREE month's state (a reversal gives units back). */
  saveFreeMonth(accountId: number, apiCode: string, month: Month, state: FreeMonth): Promise<void>;
  /** A PAYG part on a statement: positive from rating, negative from a reversal. */
  insertPaygPart(accountId: number, chargeId: number, statementMonth: Month, part: PaygPart, now: Instant): Promise<void>;

  insertApiKey(key: NewApiKey, now: Instant): Promise<ApiKey>;
  markKeyRevoked(id: number, now: Instant): Promise<ApiKey>;

  appendAudit(actor: Actor, record: AuditRecord, now: Instant): Promise<void>;
}

/** What a write unit will change the derived state of; see Store.write. */
export interface WriteLocks {
  /** Accounts whose deficit, lots, packs or charges the unit changes. */
  readonly accounts?: readonly number[];
  /** API codes whose price versions the unit publishes or cancels. */
  readonly apiCodes?: readonly string[];
  /**
   * The unit may add an API code to the price book, which it counts first (at most
   * MAXIMA.pricedApis): such units run one at a time, as two new codes take locks of their own.
   */
  readonly priceBookCodes?: boolean;
}

/** A validated usage event for rateGroup, with its idempotency fingerprint. */
export interface RatingRequest {
  readonly eventId: string;
  readonly fingerprint: string;
  readonly accountId: number;
  readonly apiCode: string;
  readonly quantityMicros: bigint;
  readonly outcome: Outcome;
  readonly occurredAt: Instant;
  readonly clientId: string | null;
  readonly labels: Readonly<Record<string, string>>;
  /** The input path its errors name ("inputs.3"). */
  readonly field: string;
}

export type RatingOutcome =
  | { readonly charge: UsageCharge; readonly replayed: boolean; readonly error?: undefined }
  | { readonly error: FlexgateError };

/** The configured rules rating needs beyond the stored state (see rate-group.ts). */
export interface RatingRules {
  /** Cloud-credit lots pay no usage that occurred at or after it (domain §8). */
  readonly creditAcceptanceEndAt: Instant;
}

export type StoreEngine = "sqlite" | "postgres";

export interface SnapshotOptions {
  /**
   * The work reads much (a year of usage, the whole ledger): an engine whose writes share one
   * event loop runs its reads elsewhere, so they never delay the writes (SQLite's read pool).
   */
  readonly heavy?: boolean;
}

/**
 * A heavy report: the whole work of one read-only snapshot, from its reads to its answer. Its
 * name is its key in services/reports.ts, where another thread finds it: arguments and answer
 * must survive a structured clone.
 */
export interface Report<A extends readonly unknown[], R> {
  readonly name: string;
  run(reads: StoreReads, ...args: A): Promise<R>;
}

export interface Store {
  readonly engine: StoreEngine;
  readonly reads: StoreReads;
  /** Runs several reads in one read-only snapshot, so they agree with each other. */
  snapshot<T>(work: (reads: StoreReads) => Promise<T>, options?: SnapshotOptions): Promise<T>;
  /**
   * Runs a heavy report in one read-only snapshot. An engine that reads away from the writers'
   * loop runs the whole report there (SQLite's read pool), so the rows it reads and the work of
   * summing them never reach that loop: only the answer does.
   */
  report<A extends readonly unknown[], R>(report: Report<A, R>, ...args: A): Promise<R>;
  /**
   * Runs a read-modify-write unit: it commits whole when `work` resolves, and nothing of it is
   * kept when `work` throws. An engine may run `work` again when a concurrent writer made it
   * fail (a unique key taken meanwhile, a deadlock): `work` must write only through `tx`.
   */
  write<T>(locks: WriteLocks, work: (tx: StoreWrites) => Promise<T>): Promise<T>;
  /**
   * Rates a group of events in one transaction: replays answer with the stored charge, a refused
   * event writes nothing and answers with its error, and each event sees the ones before it.
   * Outcomes come back in the order of `requests`. The group's now is read from `clock` once its
   * locks are held: the rules it applies (a PAYG statement still open, how far ahead an event may
   * be dated) hold at the moment it decides, not when it was sent, however long it waited. (On
   * SQLite's rating thread, when the group is handed to the thread: see SqliteStore.rateGroup.)
   */
  rateGroup(requests: readonly RatingRequest[], clock: () => Instant, rules?: RatingRules): Promise<RatingOutcome[]>;
  /** Answers when the database can be reached (health checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}


import { reduceDeficit } from "../core/account.js";
import type { SourceKind } from "../core/drain.js";
import { badInput, FlexgateError, notFound } from "../core/errors.js";
import { settleDeficit } from "../core/ledger.js";
import { MAXIMA } from "../core/maxima.js";
import { MAX_TOKENS_MICROS, MICROS_PER_TOKEN, parseMicros, sumMicros } from "../core/money.js";
import type { Account, Actor, CreditLot, FlexPack, SalesChannel, TokenFlexPoolRecord } from "../core/model.js";
import { checkTokenFlexPoolOrThrow, isPoolExpired, poolAsSource } from "../core/token-flex.js";
import { cleanReference } from "../core/text.js";
import { addOneYear, assertNotFuture, formatInstant, type Instant } from "../core/time.js";
import type { StoreWrites } from "../store/port.js";
import { accountOrThrow, fingerprint, type ServiceContext } from "./context.js";
import { PoolStarts } from "./pool-starts.js";
import { log } from "../log.js";

export interface CreditLotImport {
  readonly accountId: number;
  readonly amountMicros: bigint;
  readonly purchasedAt: Instant;
  readonly externalRef: string;
}

export interface TokenFlexPoolImport {
  readonly accountId: number;
  readonly tokensMicros: bigint;
  readonly startsAt: Instant;
  readonly endsAt: Instant;
  readonly externalRef: string;
}

export interface FlexPurchase {
  readonly accountId: number;
  readonly tokensMicros: bigint;
  readonly purchasedAt: Instant;
  readonly channel: SalesChannel;
  readonly resellerId?: number | null;
  readonly orderRef: string;
  readonly unitPrice?: string | null;
  readonly currency?: string | null;
}

/** A Flex purchase is at least 100 tokens, in whole tokens (Autodesk Flex terms). */
export const MIN_FLEX_PURCHASE_MICROS = 100n * MICROS_PER_TOKEN;

const CAPS = {
  CREDIT_LOT: { noun: "cloud-credit lots", atOnce: MAXIMA.creditLotsAtOnce, ever: MAXIMA.creditLotsPerAccount },
  FLEX_PACK: { noun: "Flex packs", atOnce: MAXIMA.flexPacksAtOnce, ever: MAXIMA.flexPacksPerAccount },
} as const;

/**
 * An account holds at most MAXIMA's lots and packs valid at once and ever, so its lists and a
 * charge's receipt stay bounded (core/maxima.ts). "At once" counts those whose year overlaps
 * the new one's: then no instant ever has more valid than the cap.
 * @throws FlexgateError BAD_USER_INPUT naming `field`
 */
async function assertRoomFor(tx: StoreWrites, kind: keyof typeof CAPS, accountId: number, purchasedAt: Instant, field: string): Promise<void> {
  const cap = CAPS[kind];
  const { total, overlapping } = await tx.sourceCounts(kind, accountId, purchasedAt, addOneYear(purchasedAt));
  if (overlapping >= cap.atOnce) {
    throw badInput(field, `the account already holds ${cap.atOnce} ${cap.noun} valid during the year of this one, the most it may hold at once`);
  }
  if (total >= cap.ever) throw badInput(field, `the account already holds ${cap.ever} ${cap.noun}, the most it may ever hold`);
}

/** Accounts settleStartedPools takes up at most in one call, each in a unit of its own. */
export const STARTED_POOLS_PER_PASS = 100;

/**
 * Brings tokens into accounts: cloud-credit lots imported from before Flexgate and Flex
 * purchases. New funds pay any deficit first.
 */
export class FundingService {
  /** Settles deficits as pools' terms start; a server starts it. */
  readonly poolStarts: PoolStarts;

  constructor(private readonly context: ServiceContext) {
    this.poolStarts = new PoolStarts({
      settle: async (now) => (await this.settleStartedPools(now)) === STARTED_POOLS_PER_PASS,
      reads: context.store.reads,
      clock: context.clock,
    });
  }

  /**
   * Idempotent on externalRef.
   * @throws FlexgateError BAD_USER_INPUT, NOT_FOUND, CREDIT_SALES_ENDED, IDEMPOTENCY_CONFLICT
   */
  async importCreditLot(input: CreditLotImport, actor: Actor, field = "input"): Promise<CreditLot> {
    if (input.amountMicros <= 0n) throw badInput(`${field}.amount`, `${field}.amount must be more than 0`);
    // Past the input maximum an amount no longer fits the store's safe integers; say so here.
    if (input.amountMicros > MAX_TOKENS_MICROS) throw badInput(`${field}.amount`, `${field}.amount is out of range`);
    assertNotFuture(input.purchasedAt, this.context.clock(), `${field}.purchasedAt`);
    if (input.purchasedAt >= this.context.rules.creditSalesEndAt) {
      throw new FlexgateError(
        "CREDIT_SALES_ENDED",
        `cloud credits were last sold before ${formatInstant(this.context.rules.creditSalesEndAt)}; later purchases are Flex tokens`,
        `${field}.purchasedAt`,
      );
    }
    const externalRef = cleanReference(input.externalRef, `${field}.externalRef`);
    const print = fingerprint({ ...input, externalRef: undefined });
    return this.context.store.write({ accounts: [input.accountId] }, async (tx) => {
      const existing = await tx.findCreditLotByRef(externalRef);
      if (existing) return this.replayOrThrow(existing.lot, existing.fingerprint, print, `${field}.externalRef`);
      const now = this.context.clock();
      const account = await accountOrThrow(tx, input.accountId, `${field}.accountId`);
      await assertRoomFor(tx, "CREDIT_LOT", account.id, input.purchasedAt, `${field}.accountId`);
      const lot = await tx.insertCreditLot(
        { accountId: account.id, amountMicros: input.amountMicros, purchasedAt: input.purchasedAt, expiresAt: addOneYear(input.purchasedAt), externalRef, fingerprint: print },
        now,
      );
      await this.settleFrom(tx, account, "CREDIT_LOT", lot, now);
      await tx.appendAudit(actor, { action: "creditLot.import", entityType: "CreditLot", entityId: lot.id, before: null, after: lot }, now);
      return (await tx.findCreditLot(lot.id))!;
    });
  }

  /**
   * Idempotent on orderRef within the seller (the reseller, or the eStore): another seller's
   * reference is none of this one's business (domain §3).
   * @throws FlexgateError BAD_USER_INPUT, NOT_FOUND, RESELLER_NOT_FLEX_AUTHORIZED,
   *   ESTORE_NOT_AVAILABLE, IDEMPOTENCY_CONFLICT
   */
  async recordFlexPurchase(input: FlexPurchase, actor: Actor, field = "input"): Promise<FlexPack> {
    if (input.tokensMicros < MIN_FLEX_PURCHASE_MICROS || input.tokensMicros % MICROS_PER_TOKEN !== 0n) {
      throw badInput(`${field}.tokens`, `${field}.tokens must be a whole number of tokens, at least 100`);
    }
    if (input.tokensMicros > MAX_TOKENS_MICROS) throw badInput(`${field}.tokens`, `${field}.tokens is out of range`);
    assertNotFuture(input.purchasedAt, this.context.clock(), `${field}.purchasedAt`);
    const orderRef = cleanReference(input.orderRef, `${field}.orderRef`);
    const { unitPrice, currency } = this.validatePrice(input, field);
    const resellerId = input.resellerId ?? null;
    if (input.channel === "ESTORE") {
      if (resellerId !== null) throw badInput(`${field}.resellerId`, "an eStore purchase has no reseller");
      if (input.purchasedAt < this.context.rules.estoreStartAt) {
        throw new FlexgateError(
          "ESTORE_NOT_AVAILABLE",
          `the Autodesk eStore has sold Flex since ${formatInstant(this.context.rules.estoreStartAt)}`,
          `${field}.purchasedAt`,
        );
      }
    } else if (resellerId === null) {
      throw badInput(`${field}.resellerId`, "a reseller purchase names its reseller");
    }
    const payload = { ...input, resellerId, unitPrice, currency, orderRef: undefined };
    const print = fingerprint(payload);
    return this.context.store.write({ accounts: [input.accountId] }, async (tx) => {
      const existing = await tx.findFlexPackByRef(resellerId, orderRef);
      if (existing) return this.replayOrThrow(existing.pack, existing.fingerprint, print, `${field}.orderRef`);
      const now = this.context.clock();
      const account = await accountOrThrow(tx, input.accountId, `${field}.accountId`);
      await assertRoomFor(tx, "FLEX_PACK", account.id, input.purchasedAt, `${field}.accountId`);
      if (resellerId !== null) {
        const reseller = await tx.findReseller(resellerId);
        if (!reseller) throw notFound("reseller", `${field}.resellerId`);
        if (!reseller.active || !reseller.flexAgreement) {
          throw new FlexgateError(
            "RESELLER_NOT_FLEX_AUTHORIZED",
            `${reseller.name} is not an active reseller with a signed Flex agreement`,
            `${field}.resellerId`,
          );
        }
      }
      const pack = await tx.insertFlexPack(
        {
          accountId: account.id,
          tokensMicros: input.tokensMicros,
          purchasedAt: input.purchasedAt,
          expiresAt: addOneYear(input.purchasedAt),
          channel: input.channel,
          resellerId,
          orderRef,
          unitPrice,
          currency,
          fingerprint: print,
        },
        now,
      );
      await this.settleFrom(tx, account, "FLEX_PACK", pack, now);
      await tx.appendAudit(actor, { action: "flexPack.record", entityType: "FlexPack", entityId: pack.id, before: null, after: pack }, now);
      return (await tx.findFlexPack(pack.id))!;
    });
  }

  /**
   * Imports a Token Flex pool (an enterprise agreement's tokens, domain §8). Idempotent on
   * externalRef, like a lot import; like a purchase, it pays an outstanding deficit first.
   * @throws FlexgateError BAD_USER_INPUT, NOT_FOUND, IDEMPOTENCY_CONFLICT
   */
  async importTokenFlexPool(input: TokenFlexPoolImport, actor: Actor, field = "input"): Promise<TokenFlexPoolRecord> {
    checkTokenFlexPoolOrThrow(input);
    if (input.tokensMicros > MAX_TOKENS_MICROS) throw badInput(`${field}.tokens`, `${field}.tokens is out of range`);
    const externalRef = cleanReference(input.externalRef, `${field}.externalRef`);
    const print = fingerprint({ ...input, externalRef: undefined });
    const imported = await this.context.store.write({ accounts: [input.accountId] }, async (tx) => {
      const existing = await tx.findTokenFlexPoolByRef(externalRef);
      if (existing) return this.replayOrThrow(existing.pool, existing.fingerprint, print, `${field}.externalRef`);
      const now = this.context.clock();
      const account = await accountOrThrow(tx, input.accountId, `${field}.accountId`);
      const held = await tx.tokenFlexPoolsOf([account.id]);
      // Terms overlapping the new one's: then no instant ever has more pools valid than the cap.
      if (held.filter((pool) => pool.startsAt < input.endsAt && input.startsAt < pool.endsAt).length >= MAXIMA.tokenFlexPoolsAtOnce) {
        throw badInput(`${field}.accountId`, `the account already holds ${MAXIMA.tokenFlexPoolsAtOnce} Token Flex pools valid during the term of this one, the most it may hold at once`);
      }
      if (held.length >= MAXIMA.tokenFlexPoolsPerAccount) {
        throw badInput(`${field}.accountId`, `the account already holds ${MAXIMA.tokenFlexPoolsPerAccount} Token Flex pools, the most it may ever hold`);
      }
      // A pool pays what falls in its term: one that has not started yet cannot pay today's
      // debt. It comes in as new funds, settling the deficit, when its term starts
      // (settleStartedPools).
      const started = input.startsAt <= now;
      const pool = await tx.insertTokenFlexPool(
        { accountId: account.id, tokensMicros: input.tokensMicros, startsAt: input.startsAt, endsAt: input.endsAt, externalRef, fingerprint: print, startSettledAt: started ? now : null },
        now,
      );
      if (started) await this.settleFrom(tx, account, "TOKEN_FLEX", poolAsSource(pool), now);
      await tx.appendAudit(actor, { action: "tokenFlexPool.import", entityType: "TokenFlexPool", entityId: pool.id, before: null, after: pool }, now);
      return (await tx.findTokenFlexPool(pool.id))!;
    });
    // Its start may come before the next pass would: the pass after this import waits for it.
    if (imported.startsAt > this.context.clock()) this.poolStarts.wake();
    return imported;
  }

  /**
   * Brings in the pools imported before their term whose term has started by `now`. A pool that
   * has not started cannot pay today's debt, so it comes in as new funds at its start and, as one
   * imported then would, pays what the account owes first. Each pool comes in once, marked in the
   * unit that settles from it: a deficit booked later waits for the next new funds, as after any
   * purchase. Each account in a unit of its own, its pools soonest end first. PoolStarts runs it
   * as each term starts. Answers how many accounts it brought pools in for; one that fails is
   * logged and taken up again by the next call.
   */
  async settleStartedPools(now = this.context.clock(), limit = STARTED_POOLS_PER_PASS): Promise<number> {
    let done = 0;
    for (const accountId of await this.context.store.reads.accountsWithPoolStartsToSettle(now, limit)) {
      try {
        await this.context.store.write({ accounts: [accountId] }, async (tx) => {
          const at = this.context.clock();
          for (const pool of await tx.poolStartsToSettle(accountId, now)) {
            const account = (await tx.findAccount(accountId))!;
            await this.settleFrom(tx, account, "TOKEN_FLEX", poolAsSource(pool), at);
            await tx.markPoolStartSettled(pool.id, at);
          }
        });
        done++;
      } catch (error) {
        log.error("a Token Flex pool's start could not be settled", { accountId, error: error instanceof Error ? error.message : String(error) });
      }
    }
    return done;
  }

  /** An account's pools, soonest end first; expired ones (their end passed) only when asked. */
  async tokenFlexPools(accountId: number, includeExpired = false): Promise<TokenFlexPoolRecord[]> {
    return (await this.tokenFlexPoolsOf([accountId], includeExpired)).get(accountId) ?? [];
  }

  /** The pools of several accounts in one read, by account (for pages of accounts). */
  async tokenFlexPoolsOf(accountIds: readonly number[], includeExpired = false): Promise<Map<number, TokenFlexPoolRecord[]>> {
    const now = this.context.clock();
    const byAccount = new Map<number, TokenFlexPoolRecord[]>();
    for (const pool of await this.context.store.reads.tokenFlexPoolsOf(accountIds)) {
      if (!includeExpired && isPoolExpired(pool, now)) continue;
      const list = byAccount.get(pool.accountId);
      if (list) list.push(pool);
      else byAccount.set(pool.accountId, [pool]);
    }
    return byAccount;
  }

  /**
   * New funds pay the account's deficit first. Funds already expired when booked cannot pay
   * today's debt, so they settle nothing; a cloud-credit lot pays no usage from the credit
   * acceptance end on (domain §8), so it settles none of that usage's deficit either.
   */
  private async settleFrom(tx: StoreWrites, account: Account, kind: SourceKind, funding: { id: number; remainingMicros: bigint; expiresAt: Instant }, now: Instant) {
    if (account.deficitMicros === 0n || funding.expiresAt <= now) return;
    const { creditAcceptanceEndAt } = this.context.rules;
    const payable = (await tx.outstandingDeficits(account.id, account.deficitMicros)).filter((debt) => kind !== "CREDIT_LOT" || debt.occurredAt < creditAcceptanceEndAt);
    const settlements = settleDeficit(payable, funding.remainingMicros);
    const paid = sumMicros(settlements.map((settlement) => settlement.amountMicros));
    if (paid === 0n) return;
    await tx.insertSettlements(account.id, { kind, id: funding.id }, settlements, now);
    await tx.adjustRemaining(kind, funding.id, -paid);
    await tx.saveDeficit(account.id, reduceDeficit(account, paid));
  }

  private replayOrThrow<T>(existing: T, storedPrint: string, print: string, field: string): T {
    if (storedPrint !== print) {
      throw new FlexgateError("IDEMPOTENCY_CONFLICT", `${field} was already used with a different payload`, field);
    }
    return existing;
  }

  private validatePrice(input: FlexPurchase, field: string) {
    const unitPrice = input.unitPrice ?? null;
    const currency = input.currency ?? null;
    if ((unitPrice === null) !== (currency === null)) {
      throw badInput(`${field}.${unitPrice === null ? "unitPrice" : "currency"}`, "unitPrice and currency go together");
    }
    if (unitPrice !== null) parseMicros(unitPrice, `${field}.unitPrice`);
    if (currency !== null && !/^[A-Z]{3}$/.test(currency)) {
      throw badInput(`${field}.currency`, `${field}.currency must be an ISO 4217 code such as "JPY"`);
    }
    return { unitPrice, currency };
  }
}

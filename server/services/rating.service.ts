import { type Balance, applyAllocations, balanceAt } from "../core/balance.js";
import { type Allocation, isSourceKind } from "../core/drain.js";
import { badInput, FlexgateError, GENERIC_MESSAGE, notFound } from "../core/errors.js";
import { MAXIMA } from "../core/maxima.js";
import { decideReversal } from "../core/ledger.js";
import { MAX_TOKENS_MICROS } from "../core/money.js";
import type { Account, Actor, Outcome, PriceVersion, UsageCharge } from "../core/model.js";
import { chargeMicros, OUTCOMES, priceInForce } from "../core/price.js";
import { decideChargeOrThrow } from "../core/rating.js";
import { cleanApiCode, cleanReference, cleanText } from "../core/text.js";
import { assertNotFuture, type Instant } from "../core/time.js";
import { reduceDeficit } from "../core/account.js";
import { findAccount, saveDeficit } from "../store/accounts.store.js";
import { appendAudit } from "../store/audit.store.js";
import { inSavepoint, inTransaction, transactionIsOpen, type Tx } from "../store/database.js";
import { adjustRemaining, fundingSourcesAt } from "../store/funding.store.js";
import {
  allocationsOfCharges,
  findCharge,
  findChargeByEventId,
  insertCharge,
  insertReversal,
  settlementsOfAllocations,
} from "../store/ledger.store.js";
import * as crypto from "node:crypto";
import { log } from "../log.js";
import type { ServiceContext } from "./context.js";
import type { PriceBook } from "./price-book.js";

export interface UsageEvent {
  readonly eventId: string;
  readonly accountId: number;
  readonly apiCode: string;
  readonly quantityMicros: bigint;
  readonly outcome: Outcome;
  readonly occurredAt: Instant;
  readonly clientId?: string | null;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface RecordedUsage {
  readonly charge: UsageCharge;
  /** True when the event id was seen before with the same payload: nothing new was charged. */
  readonly replayed: boolean;
}

export type BatchItemResult =
  | ({ readonly eventId: string } & RecordedUsage & { readonly error?: undefined })
  | { readonly eventId: string; readonly error: FlexgateError };

/** One event of a group and the input path its errors name ("inputs.3"). */
export interface GroupItem {
  readonly event: UsageEvent;
  readonly field: string;
}

export interface UsageQuote {
  /** The charge recorded before under the same event id and payload: recording would replay it. */
  readonly alreadyRecorded: UsageCharge | null;
  readonly tokensMicros: bigint;
  readonly price: PriceVersion;
  readonly allocations: readonly Allocation[];
  readonly balanceAfter: Balance;
}

export const MAX_BATCH_SIZE = MAXIMA.eventsPerBatch;

/**
 * The idempotency fingerprint of a validated event: exactly `fingerprint({ ...event, eventId:
 * undefined })` (stored fingerprints decide replays, so not one byte may differ; a property
 * test holds the two equal), without the generic canonical form's replacer, which cost a tenth
 * of rating an event. A validated event has these keys and no others, written here already
 * sorted; labels are sorted as the generic form sorts every object.
 */
export function usageFingerprint(event: UsageEvent): string {
  const { labels } = event;
  const canonical = JSON.stringify({
    accountId: event.accountId,
    apiCode: event.apiCode,
    clientId: event.clientId,
    labels: labels && Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    occurredAt: event.occurredAt,
    outcome: event.outcome,
    quantityMicros: event.quantityMicros.toString(),
  });
  return sha256Hex(canonical);
}

/** crypto.hash (Node 20.12 and later) hashes in one call; createHash is the same digest, slower. */
const sha256Hex: (text: string) => string =
  typeof (crypto as { hash?: unknown }).hash === "function"
    ? (text) => (crypto as unknown as { hash(algorithm: string, data: string, encoding: string): string }).hash("sha256", text, "hex")
    : (text) => crypto.createHash("sha256").update(text).digest("hex");

/** Logs an item's unexpected error and answers it as the error edge answers any: masked. */
function unexpectedItemError(error: unknown, field: string): FlexgateError {
  log.error("unexpected error in one usage event", {
    field,
    error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error),
  });
  return new FlexgateError("INTERNAL_SERVER_ERROR", GENERIC_MESSAGE);
}

/** Every price version by API code, as the price book holds it. */
type PriceTable = ReturnType<PriceBook["all"]>;
export const MAX_LABELS = MAXIMA.labelsPerEvent;
export const MAX_LABEL_KEY_LENGTH = 64;
export const MAX_LABEL_VALUE_LENGTH = 256;

/**
 * A label key is kept exactly as given: trimming it would merge " job" into "job" and change the
 * payload the idempotency fingerprint sees, so surrounding spaces are refused instead.
 */
function cleanLabelKey(key: string, field: string): string {
  if (key !== key.trim()) throw badInput(field, `label key ${JSON.stringify(key)} must not begin or end with spaces`);
  return cleanText(key, field, { max: MAX_LABEL_KEY_LENGTH });
}

/** @throws FlexgateError BAD_USER_INPUT when a batch holds more than MAX_BATCH_SIZE events */
export function assertBatchSize(count: number, field: string): void {
  if (count > MAX_BATCH_SIZE) throw badInput(field, `${field} may hold at most ${MAX_BATCH_SIZE} events`);
}

/**
 * Prices usage events and pays them credit-first into the append-only ledger.
 * Every write is one IMMEDIATE transaction: the write lock is held from the first read, so two
 * writers can never drain the same tokens.
 */
export class RatingService {
  constructor(
    private readonly context: ServiceContext,
    private readonly prices: PriceBook,
  ) {}

  /**
   * @throws FlexgateError BAD_USER_INPUT, NOT_FOUND (account), PRICE_NOT_FOUND,
   *   IDEMPOTENCY_CONFLICT, ACCOUNT_RESTRICTED, INSUFFICIENT_BALANCE
   */
  recordUsage(input: UsageEvent, field = "input"): RecordedUsage {
    const event = this.validate(input, field);
    return inTransaction(this.context.db, "immediate", (tx) => this.recordInTransaction(tx, this.prices.all(tx), event, field));
  }

  /**
   * Records up to MAX_BATCH_SIZE events in one transaction; each event is isolated by a savepoint
   * so a refused event fails alone and leaves nothing behind.
   */
  recordUsageBatch(inputs: readonly UsageEvent[], field = "inputs"): BatchItemResult[] {
    assertBatchSize(inputs.length, field);
    return this.recordGroup(inputs.map((event, index) => ({ event, field: `${field}.${index}` })));
  }

  /**
   * Records several events in ONE transaction, each inside its own savepoint: a refused event
   * rolls back to its savepoint and fails alone. One commit (one fsync) for the whole group is
   * what lets a durable ledger rate thousands of events a second; see UsageBatcher.
   */
  recordGroup(items: readonly GroupItem[]): BatchItemResult[] {
    return inTransaction(this.context.db, "immediate", (tx) => {
      // The write lock is held from here to the commit, so the price table cannot change under
      // the group: one look at it serves every event.
      const prices = this.prices.all(tx);
      return items.map(({ event: input, field }): BatchItemResult => {
        try {
          const event = this.validate(input, field);
          return { eventId: input.eventId, ...inSavepoint(tx, (savepoint) => this.recordInTransaction(savepoint, prices, event, field)) };
        } catch (error) {
          if (error instanceof FlexgateError) return { eventId: input.eventId, error };
          // The savepoint has undone the item's writes; its neighbours must not pay for a defect
          // met by one event. Only when SQLite itself ended the transaction does the group fail.
          if (!transactionIsOpen(tx)) throw error;
          return { eventId: input.eventId, error: unexpectedItemError(error, field) };
        }
      });
    });
  }

  /**
   * What recordUsage would charge and drain now, writing nothing; for an event id recorded before,
   * the charge it would replay, or the IDEMPOTENCY_CONFLICT it would meet.
   */
  quoteUsage(input: UsageEvent, field = "input"): UsageQuote {
    const event = this.validate(input, field);
    return inTransaction(this.context.db, "deferred", (tx) => {
      const alreadyRecorded = this.recordedBefore(tx, event, usageFingerprint(event), field);
      const account = this.accountOrThrow(tx, event.accountId, `${field}.accountId`);
      const { price, tokensMicros, decision } = this.decide(tx, this.prices.all(tx), account, event, field);
      const now = this.context.clock();
      const sources = fundingSourcesAt(tx, account.id, now);
      return {
        alreadyRecorded,
        tokensMicros,
        price,
        allocations: decision.allocations,
        balanceAfter: balanceAt(applyAllocations(sources, decision.allocations), decision.deficit, now),
      };
    });
  }

  /**
   * Reverses a charge once: every token goes back to the lot, pack or deficit it came from.
   * @throws FlexgateError NOT_FOUND, BAD_USER_INPUT (already reversed, blank reason)
   */
  reverseCharge(chargeId: number, reason: string, actor: Actor): UsageCharge {
    const why = cleanText(reason, "reason", { max: 1000 });
    return inTransaction(this.context.db, "immediate", (tx) => {
      const charge = findCharge(tx, chargeId);
      if (!charge) throw notFound("charge", "chargeId");
      if (charge.reversedAt !== null) throw badInput("chargeId", "this charge has already been reversed");
      const account = this.accountOrThrow(tx, charge.accountId, "chargeId");
      const parts = allocationsOfCharges(tx, [charge.id]);
      const settlements = settlementsOfAllocations(
        tx,
        parts.filter((part) => part.source === "DEFICIT").map((part) => part.id),
      );
      const decision = decideReversal(
        parts.map((part) => ({
          id: part.id,
          source: part.source,
          sourceId: part.creditLotId ?? part.flexPackId,
          amountMicros: part.amountMicros,
        })),
        settlements,
      );
      for (const refund of decision.refunds) adjustRemaining(tx, refund.source, refund.sourceId, refund.amountMicros);
      if (decision.deficitReductionMicros > 0n) {
        saveDeficit(tx, account.id, reduceDeficit(account, decision.deficitReductionMicros));
      }
      const now = this.context.clock();
      insertReversal(tx, charge.id, why, actor.name, now);
      const reversed = { ...charge, reversedAt: now };
      appendAudit(tx, actor, { action: "charge.reverse", entityType: "UsageCharge", entityId: charge.id, before: charge, after: { ...reversed, reason: why } }, now);
      return reversed;
    });
  }

  /**
   * The charge already recorded under the event's id with the same payload, or null.
   * @throws FlexgateError IDEMPOTENCY_CONFLICT when it was recorded with a different payload
   */
  private recordedBefore(tx: Tx, event: UsageEvent, print: string, field: string): UsageCharge | null {
    const existing = findChargeByEventId(tx, event.eventId);
    if (!existing) return null;
    if (existing.fingerprint !== print) {
      throw new FlexgateError("IDEMPOTENCY_CONFLICT", `event ${event.eventId} was already recorded with a different payload`, `${field}.eventId`);
    }
    return existing.charge;
  }

  private recordInTransaction(tx: Tx, prices: PriceTable, event: UsageEvent, field: string): RecordedUsage {
    const print = usageFingerprint(event);
    const recorded = this.recordedBefore(tx, event, print, field);
    if (recorded) return { charge: recorded, replayed: true };
    const account = this.accountOrThrow(tx, event.accountId, `${field}.accountId`);
    const { price, tokensMicros, decision } = this.decide(tx, prices, account, event, field);
    const now = this.context.clock();
    const charge = insertCharge(
      tx,
      {
        eventId: event.eventId,
        fingerprint: print,
        accountId: account.id,
        apiCode: event.apiCode,
        priceEntryId: price.id,
        quantityMicros: event.quantityMicros,
        outcome: event.outcome,
        occurredAt: event.occurredAt,
        clientId: event.clientId ?? null,
        labels: event.labels ?? {},
        tokensMicros,
      },
      decision.allocations,
      now,
    );
    for (const part of decision.allocations) {
      if (isSourceKind(part.source)) adjustRemaining(tx, part.source, part.sourceId!, -part.amountMicros);
    }
    if (decision.deficit !== account) saveDeficit(tx, account.id, decision.deficit);
    return { charge, replayed: false };
  }

  private decide(tx: Tx, prices: PriceTable, account: Account, event: UsageEvent, field: string) {
    const price = priceInForce(prices.get(event.apiCode) ?? [], event.occurredAt);
    if (!price) {
      throw new FlexgateError(
        "PRICE_NOT_FOUND",
        `no price for ${event.apiCode} was in force at the time of the event`,
        `${field}.apiCode`,
      );
    }
    const tokensMicros = chargeMicros(price, event.quantityMicros, event.outcome);
    if (tokensMicros > MAX_TOKENS_MICROS) throw badInput(`${field}.quantity`, `${field}.quantity is too large to rate`);
    const decision = decideChargeOrThrow({
      costMicros: tokensMicros,
      occurredAt: event.occurredAt,
      policy: account.balancePolicy,
      deficit: account,
      sources: fundingSourcesAt(tx, account.id, event.occurredAt),
      now: this.context.clock(),
      field: `${field}.quantity`,
    });
    return { price, tokensMicros, decision };
  }

  private accountOrThrow(tx: Tx, id: number, field: string): Account {
    const account = findAccount(tx, id);
    if (!account) throw notFound("account", field);
    return account;
  }

  /** Normalises and checks an event before any transaction starts. */
  private validate(input: UsageEvent, field: string): UsageEvent {
    if (!OUTCOMES.includes(input.outcome)) throw badInput(`${field}.outcome`, `${field}.outcome is not a known outcome`);
    if (input.quantityMicros < 0n || input.quantityMicros > MAX_TOKENS_MICROS) {
      throw badInput(`${field}.quantity`, `${field}.quantity is out of range`);
    }
    assertNotFuture(input.occurredAt, this.context.clock(), `${field}.occurredAt`);
    const labelEntries = Object.entries(input.labels ?? {});
    if (labelEntries.length > MAX_LABELS) throw badInput(`${field}.labels`, `${field}.labels may hold at most ${MAX_LABELS} labels`);
    return {
      eventId: cleanReference(input.eventId, `${field}.eventId`),
      accountId: input.accountId,
      apiCode: cleanApiCode(input.apiCode, `${field}.apiCode`),
      quantityMicros: input.quantityMicros,
      outcome: input.outcome,
      occurredAt: input.occurredAt,
      clientId: input.clientId == null ? null : cleanReference(input.clientId, `${field}.clientId`),
      // fromEntries defines every key as its own property, "__proto__" included.
      labels: Object.fromEntries(
        labelEntries.map(([key, value]) => [
          cleanLabelKey(key, `${field}.labels`),
          cleanText(value, `${field}.labels`, { max: MAX_LABEL_VALUE_LENGTH, optional: true }),
        ]),
      ),
    };
  }
}

import { type Balance, applyAllocations, balanceAt } from "../core/balance.js";
import type { Allocation } from "../core/drain.js";
import { badInput, FlexgateError, notFound } from "../core/errors.js";
import { meterSince, remainderKey } from "../core/charged-units.js";
import { EMPTY_FREE_MONTH, freeMonthKey } from "../core/free-allowance.js";
import { decideReversal, type LedgerAllocation, type LedgerSettlement, type ReversalDecision } from "../core/ledger.js";
import { type Month, monthOf } from "../core/month.js";
import { balanceUnderPlan, type Plan } from "../core/plan.js";
import { applyTieredDecision, decideTieredEventOrThrow } from "../core/tiered-rating.js";
import { decideTieredReversal } from "../core/tiered-reversal.js";
import { MAXIMA } from "../core/maxima.js";
import { MAX_TOKENS_MICROS } from "../core/money.js";
import type { Account, Actor, ChargeAllocation, Outcome, PriceVersion, UsageCharge } from "../core/model.js";
import { chargeMicros, OUTCOMES, priceInForce } from "../core/price.js";
import { decideChargeOrThrow } from "../core/rating.js";
import { cleanApiCode, cleanReference, cleanText } from "../core/text.js";
import { assertNotFuture, type Instant } from "../core/time.js";
import { reduceDeficit } from "../core/account.js";
import { sha256Hex } from "../core/sha256.js";
import type { RatingRequest, RatingRules, StoreReads, StoreWrites } from "../store/port.js";
import { accountOrThrow, type ServiceContext } from "./context.js";
import { fundsOf, planOf } from "./plan-reads.js";

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

/** An event as the check left it: the request to rate, or the refusal to answer with. */
export type CheckedItem =
  | { readonly eventId: string; readonly request: RatingRequest; readonly error?: undefined }
  | { readonly eventId: string; readonly error: FlexgateError; readonly request?: undefined };

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
  /** FREE_ALLOWANCE, OVERRUN and PAYG parts carry their units (Allocation.units). */
  readonly allocations: readonly Allocation[];
  readonly balanceAfter: Balance;
  /** The plan in force at occurredAt: the one the event is rated under. */
  readonly plan: Plan;
  /** Whole charged units (domain §8); null under LEGACY, which rates exactly per event. */
  readonly units: bigint | null;
  /** The partial unit left after the event, under a FREE or PAID plan; null under LEGACY. */
  readonly remainderAfter: QuotedRemainder | null;
}

/** The remainder a tiered event leaves (api.md UnitRemainder). */
export interface QuotedRemainder {
  readonly apiCode: string;
  /** Meter units (micro quantity), always less than one charged unit. */
  readonly quantityMicros: bigint;
  /** The FREE month it belongs to; null for a paid remainder, which carries on. */
  readonly month: Month | null;
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

/**
 * A UsageInput's list of labels as the event's map, each key once (`field` names the list).
 * No prototype: "__proto__" is a key like any other, not a way to drop a label.
 */
export function labelsFromList(list: readonly { readonly key: string; readonly value: string }[], field: string): Record<string, string> {
  assertLabelCount(list.length, field);
  const labels: Record<string, string> = Object.create(null);
  for (const label of list) {
    if (Object.hasOwn(labels, label.key)) throw badInput(field, `label "${label.key}" is given twice`);
    labels[label.key] = label.value;
  }
  return labels;
}

/** @throws FlexgateError BAD_USER_INPUT when an event holds more than MAX_LABELS labels */
export function assertLabelCount(count: number, field: string): void {
  if (count > MAX_LABELS) throw badInput(field, `${field} may hold at most ${MAX_LABELS} labels`);
}

/** @throws FlexgateError BAD_USER_INPUT when a batch holds more than MAX_BATCH_SIZE events */
export function assertBatchSize(count: number, field: string): void {
  if (count > MAX_BATCH_SIZE) throw badInput(field, `${field} may hold at most ${MAX_BATCH_SIZE} events`);
}

/**
 * Prices usage events and pays them credit-first into the append-only ledger. Events are rated
 * in groups by the store (Store.rateGroup): each event of a group sees the ones before it, and a
 * refused event fails alone without writing anything.
 */
export class RatingService {
  constructor(private readonly context: ServiceContext) {}

  /**
   * @throws FlexgateError BAD_USER_INPUT, NOT_FOUND (account), PRICE_NOT_FOUND,
   *   IDEMPOTENCY_CONFLICT, ACCOUNT_RESTRICTED, INSUFFICIENT_BALANCE
   */
  async recordUsage(input: UsageEvent, field = "input"): Promise<RecordedUsage> {
    const request = this.ratingRequest(input, field);
    const [outcome] = await this.context.store.rateGroup([request], this.context.clock, this.ratingRules());
    if (outcome!.error) throw outcome!.error.code === "INTERNAL_SERVER_ERROR" && outcome!.error.cause ? outcome!.error.cause : outcome!.error;
    return { charge: outcome!.charge, replayed: outcome!.replayed };
  }

  /** Records up to MAX_BATCH_SIZE events in one transaction; a refused event fails alone. */
  async recordUsageBatch(inputs: readonly UsageEvent[], field = "inputs"): Promise<BatchItemResult[]> {
    assertBatchSize(inputs.length, field);
    return this.recordGroup(inputs.map((event, index) => ({ event, field: `${field}.${index}` })));
  }

  /**
   * Records several events in ONE transaction: one commit (one fsync) for the whole group is
   * what lets a durable ledger rate thousands of events a second; see UsageBatcher. An event
   * that fails validation is answered without reaching the store.
   */
  async recordGroup(items: readonly GroupItem[]): Promise<BatchItemResult[]> {
    return this.rateChecked(this.check(items));
  }

  /**
   * Validates a group's events and fingerprints them, without reading anything: each becomes
   * the request the store rates, or the refusal it is answered with. UsageBatcher checks events
   * as they arrive, so a group waits for nothing but the store when its turn comes.
   */
  check(items: readonly GroupItem[]): CheckedItem[] {
    return items.map(({ event, field }) => {
      try {
        return { eventId: event.eventId, request: this.ratingRequest(event, field) };
      } catch (error) {
        if (error instanceof FlexgateError) return { eventId: event.eventId, error };
        throw error;
      }
    });
  }

  /** Rates checked events in ONE transaction; those refused by the check are answered as they are. */
  async rateChecked(items: readonly CheckedItem[]): Promise<BatchItemResult[]> {
    const requests = items.flatMap((item) => (item.error ? [] : [item.request]));
    const outcomes = await this.context.store.rateGroup(requests, this.context.clock, this.ratingRules());
    let next = 0;
    return items.map(({ eventId, error }): BatchItemResult => {
      const outcome = error ? { error } : outcomes[next++]!;
      return outcome.error ? { eventId, error: outcome.error } : { eventId, charge: outcome.charge, replayed: outcome.replayed };
    });
  }

  /**
   * What recordUsage would charge and drain now, writing nothing; for an event id recorded before,
   * the charge it would replay, or the IDEMPOTENCY_CONFLICT it would meet. The event is quoted
   * under the plan in force at its occurredAt: under FREE or PAID with the same decision rating
   * makes (decideTieredEventOrThrow) on the account's stored remainders, FREE months, caps and
   * funds, so the quote shows the units, the tokens, what pays them and the remainder after,
   * and a refusal is the one rating would give (API_SUSPENDED, ACCOUNT_RESTRICTED).
   */
  async quoteUsage(input: UsageEvent, field = "input", canSee: (account: Account) => boolean = () => true): Promise<UsageQuote> {
    const event = this.validate(input, field);
    return this.context.store.snapshot(async (reads) => {
      const alreadyRecorded = await recordedBefore(reads, event, field, canSee);
      const account = await accountOrThrow(reads, event.accountId, `${field}.accountId`);
      if (alreadyRecorded) return this.quoteReplay(reads, account, alreadyRecorded);
      const versions = (await reads.priceTable()).get(event.apiCode) ?? [];
      const price = priceInForce(versions, event.occurredAt);
      if (!price) {
        throw new FlexgateError("PRICE_NOT_FOUND", `no price for ${event.apiCode} was in force at the time of the event`, `${field}.apiCode`);
      }
      const plan = await planOf(reads, account.id, event.occurredAt);
      if (plan.tier !== "LEGACY") return { alreadyRecorded, ...(await this.quoteTiered(reads, account, event, plan, price, versions, field)) };
      const tokensMicros = chargeMicros(price, event.quantityMicros, event.outcome);
      if (tokensMicros > MAX_TOKENS_MICROS) throw badInput(`${field}.quantity`, `${field}.quantity is too large to rate`);
      const now = this.context.clock();
      const decision = decideChargeOrThrow({
        costMicros: tokensMicros,
        occurredAt: event.occurredAt,
        policy: account.balancePolicy,
        deficit: account,
        sources: await reads.fundingSourcesAt(account.id, event.occurredAt),
        now,
        field: `${field}.quantity`,
        creditAcceptanceEndAt: this.context.rules.creditAcceptanceEndAt,
      });
      const sources = await reads.fundingSourcesAt(account.id, now);
      return {
        alreadyRecorded,
        tokensMicros,
        price,
        allocations: decision.allocations,
        // A LEGACY event reported after the account enrolled: its balance shows as the plan now does.
        balanceAfter: balanceUnderPlan(await planOf(reads, account.id, now), balanceAt(applyAllocations(sources, decision.allocations), decision.deficit, now, this.context.rules.creditAcceptanceEndAt)),
        plan,
        units: null,
        remainderAfter: null,
      };
    });
  }

  /**
   * The quote of an event recorded already: recording it again replays its charge and changes
   * nothing, whatever the account's state now (a cap used since, a deficit, a price retired). So
   * the quote is that charge, what paid it, the balance as it stands and the remainder as stored.
   */
  private async quoteReplay(reads: StoreReads, account: Account, charge: UsageCharge): Promise<UsageQuote> {
    const now = this.context.clock();
    const versions = (await reads.priceTable()).get(charge.apiCode) ?? [];
    // The price table holds every version, cancelled and retired ones too.
    const price = versions.find((version) => version.id === charge.priceEntryId)!;
    const plan = await planOf(reads, account.id, charge.occurredAt);
    const parts = await reads.allocationsOfCharges([charge.id]);
    const sources = await fundsOf(reads, account.id);
    let remainderAfter: QuotedRemainder | null = null;
    if (charge.units !== null) {
      const month = plan.tier === "FREE" ? monthOf(charge.occurredAt) : null;
      const key = remainderKey({ apiCode: charge.apiCode, meterSince: meterSince(versions, price), month });
      const stored = (await reads.unitRemaindersOf(account.id)).find((remainder) => remainder.key === key);
      remainderAfter = { apiCode: charge.apiCode, quantityMicros: stored?.quantityMicros ?? 0n, month };
    }
    return {
      alreadyRecorded: charge,
      tokensMicros: charge.tokensMicros,
      price,
      allocations: parts.map(toAllocation),
      balanceAfter: balanceUnderPlan(await planOf(reads, account.id, now), balanceAt(sources, account, now, this.context.rules.creditAcceptanceEndAt)),
      plan,
      units: charge.units,
      remainderAfter,
    };
  }

  /** A FREE or PAID event's quote: rating's decision on the stored state, nothing written. */
  private async quoteTiered(
    reads: StoreReads,
    account: Account,
    event: UsageEvent,
    plan: Plan,
    price: PriceVersion,
    versions: readonly PriceVersion[],
    field: string,
  ): Promise<Omit<UsageQuote, "alreadyRecorded">> {
    const now = this.context.clock();
    const month = monthOf(event.occurredAt);
    const remainders = new Map((await reads.unitRemaindersOf(account.id)).map((stored) => [stored.key, stored.quantityMicros]));
    const freeMonths = new Map([...(await reads.freeMonthsOf(account.id, month))].map(([apiCode, state]) => [freeMonthKey(apiCode, month), state]));
    // Every source that still holds tokens, as rating loads them: the drain judges validity at occurredAt.
    const sources = (await fundsOf(reads, account.id)).filter((source) => source.remainingMicros > 0n);
    const decision = decideTieredEventOrThrow(
      { remainders, freeMonths, sources, deficit: account },
      { apiCode: event.apiCode, quantityMicros: event.quantityMicros, outcome: event.outcome, occurredAt: event.occurredAt },
      { plan, price, versions, caps: await reads.freeCaps(), now, creditAcceptanceEndAt: this.context.rules.creditAcceptanceEndAt },
    );
    if (decision.tokensMicros > MAX_TOKENS_MICROS) throw badInput(`${field}.quantity`, `${field}.quantity is too large to rate`);
    const after = applyTieredDecision({ remainders, freeMonths, sources, deficit: account }, decision);
    return {
      tokensMicros: decision.tokensMicros,
      price,
      allocations: decision.allocations,
      balanceAfter: balanceUnderPlan(plan, balanceAt(after.sources, after.deficit, now, this.context.rules.creditAcceptanceEndAt)),
      plan,
      units: decision.units,
      remainderAfter: { apiCode: event.apiCode, quantityMicros: decision.remainder.quantityMicros, month: plan.tier === "FREE" ? month : null },
    };
  }

  /**
   * Reverses a charge once: every token goes back to the lot, pool, pack or deficit it came from.
   * A tiered charge (one with units) also gives its free units back to their month, which may
   * lift that month's suspension, and puts its PAYG part back as a negative part (domain §8);
   * the remainder it left stays.
   * @throws FlexgateError NOT_FOUND, BAD_USER_INPUT (already reversed, blank reason)
   */
  async reverseCharge(chargeId: number, reason: string, actor: Actor): Promise<UsageCharge> {
    const why = cleanText(reason, "reason", { max: 1000 });
    // The account to lock is the charge's; the unit reads the charge again under the lock.
    const found = await this.context.store.reads.findCharge(chargeId);
    if (!found) throw notFound("charge", "chargeId");
    return this.context.store.write({ accounts: [found.accountId] }, async (tx) => {
      const charge = (await tx.findCharge(chargeId))!;
      if (charge.reversedAt !== null) throw badInput("chargeId", "this charge has already been reversed");
      const account = await accountOrThrow(tx, charge.accountId, "chargeId");
      const parts = await tx.allocationsOfCharges([charge.id]);
      const settlements = await tx.settlementsOfAllocations(parts.filter((part) => part.source === "DEFICIT").map((part) => part.id));
      const allocations = parts.map((part) => ({ id: part.id, ...toAllocation(part) }));
      const now = this.context.clock();
      const decision = charge.units === null ? decideReversal(allocations, settlements) : await this.tieredReversal(tx, charge, allocations, settlements, now);
      for (const refund of decision.refunds) await tx.adjustRemaining(refund.source, refund.sourceId, refund.amountMicros);
      if (decision.deficitReductionMicros > 0n) {
        await tx.saveDeficit(account.id, reduceDeficit(account, decision.deficitReductionMicros));
      }
      await tx.insertReversal(charge.id, why, actor.name, now);
      const reversed = { ...charge, reversedAt: now };
      await tx.appendAudit(actor, { action: "charge.reverse", entityType: "UsageCharge", entityId: charge.id, before: charge, after: { ...reversed, reason: why } }, now);
      return reversed;
    });
  }

  /** Decides a tiered charge's reversal and writes its FREE month and PAYG part; the caller writes the rest. */
  private async tieredReversal(
    tx: StoreWrites,
    charge: UsageCharge,
    allocations: readonly LedgerAllocation[],
    settlements: readonly LedgerSettlement[],
    now: Instant,
  ): Promise<ReversalDecision> {
    const month = monthOf(charge.occurredAt);
    const hasFreeUnits = allocations.some((part) => part.source === "FREE_ALLOWANCE" || part.source === "OVERRUN");
    const freeMonth = hasFreeUnits ? ((await tx.freeMonthsOf(charge.accountId, month)).get(charge.apiCode) ?? EMPTY_FREE_MONTH) : EMPTY_FREE_MONTH;
    const paygStatementMonth = allocations.some((part) => part.source === "PAYG") ? await tx.paygStatementMonthOf(charge.id) : null;
    const decision = decideTieredReversal({ apiCode: charge.apiCode, occurredAt: charge.occurredAt, allocations, paygStatementMonth }, settlements, freeMonth, now);
    if (decision.freeMonth) await tx.saveFreeMonth(charge.accountId, charge.apiCode, month, decision.freeMonth.state);
    if (decision.payg) await tx.insertPaygPart(charge.accountId, charge.id, decision.payg.statementMonth, decision.payg.part, now);
    return decision;
  }

  /** The configured rules the store's rating needs. */
  private ratingRules(): RatingRules {
    return { creditAcceptanceEndAt: this.context.rules.creditAcceptanceEndAt };
  }

  /** A validated event with its fingerprint, as the store rates it. */
  private ratingRequest(input: UsageEvent, field: string): RatingRequest {
    const event = this.validate(input, field);
    return {
      eventId: event.eventId,
      fingerprint: usageFingerprint(event),
      accountId: event.accountId,
      apiCode: event.apiCode,
      quantityMicros: event.quantityMicros,
      outcome: event.outcome,
      occurredAt: event.occurredAt,
      clientId: event.clientId ?? null,
      labels: event.labels ?? {},
      field,
    };
  }

  /** Normalises and checks an event before any transaction starts. */
  private validate(input: UsageEvent, field: string): UsageEvent {
    if (!OUTCOMES.includes(input.outcome)) throw badInput(`${field}.outcome`, `${field}.outcome is not a known outcome`);
    if (input.quantityMicros < 0n || input.quantityMicros > MAX_TOKENS_MICROS) {
      throw badInput(`${field}.quantity`, `${field}.quantity is out of range`);
    }
    assertNotFuture(input.occurredAt, this.context.clock(), `${field}.occurredAt`);
    const labelEntries = Object.entries(input.labels ?? {});
    assertLabelCount(labelEntries.length, `${field}.labels`);
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


/** A stored allocation as rating decided it: its source, the lot, pool or pack, and what it took. */
function toAllocation(part: ChargeAllocation): Allocation {
  return {
    source: part.source,
    sourceId: part.creditLotId ?? part.tokenFlexPoolId ?? part.flexPackId,
    amountMicros: part.amountMicros,
    ...(part.units === null ? {} : { units: part.units }),
  };
}

/**
 * The charge already recorded under the event's id with the same payload, or null.
 * @throws FlexgateError IDEMPOTENCY_CONFLICT when it was recorded with a different payload
 */
async function recordedBefore(reads: StoreReads, event: UsageEvent, field: string, canSee: (account: Account) => boolean): Promise<UsageCharge | null> {
  const existing = await reads.findChargeByEventId(event.eventId);
  if (!existing) return null;
  // Event ids are unique across accounts. One recorded on an account the caller cannot see is
  // quoted as new: saying it conflicts would tell a partner which ids another reseller's
  // customers used.
  if (existing.charge.accountId !== event.accountId) {
    const holder = await reads.findAccount(existing.charge.accountId);
    if (holder && !canSee(holder)) return null;
  }
  if (existing.fingerprint !== usageFingerprint(event)) {
    throw new FlexgateError("IDEMPOTENCY_CONFLICT", `event ${event.eventId} was already recorded with a different payload`, `${field}.eventId`);
  }
  return existing.charge;
}

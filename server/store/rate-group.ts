/**
 * The rating algorithm shared by every engine: read what a group of events needs, decide every
 * event in memory with the pure core, then write the group's rows in one transaction.
 *
 * Deciding in memory is what removes the savepoint per event: a refused event is decided before
 * anything is written, so it leaves nothing to roll back. Each event sees the ones before it in
 * the group: a replay of an event decided earlier in the group, the tokens an earlier event
 * drained, the deficit it booked. The engine only loads the GroupState and writes the GroupPlan.
 *
 * Each event is judged by the plan in force at its occurredAt (domain §8): LEGACY events are
 * rated exactly per event as always (decideChargeOrThrow); FREE and PAID events in charged units
 * (decideTieredEventOrThrow), the group's remainders, FREE months and sources carrying each
 * decision forward as applyTieredDecision does. An engine loads the tiered state only for the
 * accounts that have enrollments (`tieredNeeds`), so a LEGACY group reads nothing more.
 */
import type { DeficitState } from "../core/account.js";
import { meterSince, remainderKey } from "../core/charged-units.js";
import { type Allocation, DEFAULT_CREDIT_ACCEPTANCE_END_AT, type FundingSource, isSourceKind, type SourceKind } from "../core/drain.js";
import { badInput, FlexgateError, GENERIC_MESSAGE, notFound } from "../core/errors.js";
import { type FreeCap, type FreeMonth, freeMonthKey } from "../core/free-allowance.js";
import { MAX_TOKENS_MICROS } from "../core/money.js";
import type { Account, UsageCharge } from "../core/model.js";
import { type Month, monthOf } from "../core/month.js";
import type { PaygPart } from "../core/payg.js";
import { type Enrollment, LEGACY_PLAN, planAt } from "../core/plan.js";
import { chargeMicros, priceInForce } from "../core/price.js";
import { decideChargeOrThrow } from "../core/rating.js";
import { decideTieredEventOrThrow } from "../core/tiered-rating.js";
import type { Instant } from "../core/time.js";
import { log } from "../log.js";
import type { NewCharge, PriceTable, RatingOutcome, RatingRequest, RatingRules } from "./port.js";

/** What a group's decisions depend on, read in the group's transaction. */
export interface GroupState {
  /** Charges already stored under the group's event ids. */
  readonly replays: ReadonlyMap<string, { readonly charge: UsageCharge; readonly fingerprint: string }>;
  readonly accounts: ReadonlyMap<number, Account>;
  /** Every lot and pack of the group's accounts that still holds tokens, whenever valid. */
  readonly sources: readonly GroupSource[];
  readonly prices: PriceTable;
  /** Empty for a group of LEGACY accounts: see TieredState. */
  readonly tiered: TieredState;
}

/** The tiered regime's part of a group's state, read only for accounts with enrollments. */
export interface TieredState {
  /** Enrollments by account, for the group's accounts that have any. */
  readonly enrollments: ReadonlyMap<number, readonly Enrollment[]>;
  /** Every published free cap; empty when no account of the group is enrolled. */
  readonly caps: readonly FreeCap[];
  /** The stored remainders `tieredNeeds` named, by account and remainderKey; a missing key is zero. */
  readonly remainders: ReadonlyMap<number, ReadonlyMap<string, bigint>>;
  /** The stored FREE months `tieredNeeds` named, by account and freeMonthKey. */
  readonly freeMonths: ReadonlyMap<number, ReadonlyMap<string, FreeMonth>>;
}

export const NO_TIERED_STATE: TieredState = Object.freeze({ enrollments: new Map(), caps: [], remainders: new Map(), freeMonths: new Map() });

export const DEFAULT_RATING_RULES: RatingRules = Object.freeze({ creditAcceptanceEndAt: DEFAULT_CREDIT_ACCEPTANCE_END_AT });

/** A lot, pool or pack as the drain sees it, with the account it belongs to. */
export interface GroupSource extends FundingSource {
  readonly accountId: number;
}

export interface PlannedCharge {
  readonly charge: NewCharge;
  readonly allocations: readonly Allocation[];
  /** The charge's PAYG part and the statement it goes on; null when PAYG paid nothing. */
  readonly payg: { readonly statementMonth: Month; readonly part: PaygPart } | null;
}

/** A remainder to store: the partial unit left under its key after the group's events. */
export interface PlannedRemainder {
  readonly accountId: number;
  readonly key: string;
  readonly quantityMicros: bigint;
}

/** A FREE month to store after the group's events. */
export interface PlannedFreeMonth {
  readonly accountId: number;
  readonly apiCode: string;
  readonly month: Month;
  readonly state: FreeMonth;
}

/** A lot or pack whose remaining amount the group changes, and by how much in all. */
export interface SourceChange {
  readonly kind: SourceKind;
  readonly id: number;
  readonly deltaMicros: bigint;
}

type Planned =
  | { readonly kind: "new"; readonly index: number }
  | { readonly kind: "replay"; readonly charge: UsageCharge }
  | { readonly kind: "replay-in-group"; readonly index: number }
  | { readonly kind: "refused"; readonly error: FlexgateError };

export interface GroupPlan {
  readonly outcomes: readonly Planned[];
  /** The new charges in event order; ids are given by the engine as it writes them. */
  readonly charges: readonly PlannedCharge[];
  readonly sourceChanges: readonly SourceChange[];
  /** The final deficit state of each account whose deficit the group changed. */
  readonly deficits: ReadonlyMap<number, DeficitState>;
  /** Remainders and FREE months the group's tiered events changed, each with its final value. */
  readonly remainders: readonly PlannedRemainder[];
  readonly freeMonths: readonly PlannedFreeMonth[];
}

/**
 * The remainders and FREE months a group's tiered events read, for the engine to load: each
 * event's key under the plan and price in force at its occurredAt. Accounts without enrollments
 * need none. An event that will be refused for another reason may name a key it never reads.
 */
export function tieredNeeds(requests: readonly RatingRequest[], enrollments: ReadonlyMap<number, readonly Enrollment[]>, prices: PriceTable) {
  const remainders = new Map<string, { accountId: number; key: string }>();
  const freeMonths = new Map<string, { accountId: number; apiCode: string; month: Month }>();
  if (enrollments.size === 0) return { remainders: [...remainders.values()], freeMonths: [...freeMonths.values()] };
  for (const request of requests) {
    const plan = planAt(enrollments.get(request.accountId) ?? [], request.occurredAt);
    if (plan.tier === "LEGACY") continue;
    const versions = prices.get(request.apiCode) ?? [];
    const price = priceInForce(versions, request.occurredAt);
    if (!price) continue;
    const month = plan.tier === "FREE" ? monthOf(request.occurredAt) : null;
    const key = remainderKey({ apiCode: request.apiCode, meterSince: meterSince(versions, price), month });
    remainders.set(`${request.accountId}|${key}`, { accountId: request.accountId, key });
    if (month !== null) freeMonths.set(`${request.accountId}|${freeMonthKey(request.apiCode, month)}`, { accountId: request.accountId, apiCode: request.apiCode, month });
  }
  return { remainders: [...remainders.values()], freeMonths: [...freeMonths.values()] };
}

/** The account ids and event ids a group's state is read for. */
export function groupKeys(requests: readonly RatingRequest[]) {
  return {
    accountIds: [...new Set(requests.map((request) => request.accountId))].sort((a, b) => a - b),
    eventIds: [...new Set(requests.map((request) => request.eventId))],
  };
}

/** Decides every event of the group in order. Pure: the state is not changed. */
export function planGroup(requests: readonly RatingRequest[], state: GroupState, now: Instant, rules: RatingRules = DEFAULT_RATING_RULES): GroupPlan {
  const accounts = new Map(state.accounts);
  // Per account, each lot, pool or pack by kind and id, as the events before have left it.
  const sources = new Map<number, Map<string, GroupSource>>();
  for (const source of state.sources) {
    let ofAccount = sources.get(source.accountId);
    if (!ofAccount) sources.set(source.accountId, (ofAccount = new Map()));
    ofAccount.set(sourceKey(source.kind, source.id), source);
  }
  const { tiered } = state;
  // Remainders and FREE months as the events before have left them, by account then key.
  const remainders = new Map<number, Map<string, bigint>>();
  const freeMonths = new Map<number, Map<string, FreeMonth>>();
  const changedRemainders = new Map<string, PlannedRemainder>();
  const changedFreeMonths = new Map<string, PlannedFreeMonth>();
  const decidedInGroup = new Map<string, { index: number; fingerprint: string }>();
  const charges: PlannedCharge[] = [];
  const changes = new Map<string, SourceChange>();
  const deficits = new Map<number, DeficitState>();

  const outcomes = requests.map((request): Planned => {
    try {
      const stored = state.replays.get(request.eventId);
      const earlier = decidedInGroup.get(request.eventId);
      const storedPrint = stored?.fingerprint ?? earlier?.fingerprint;
      if (storedPrint !== undefined) {
        if (storedPrint !== request.fingerprint) {
          throw new FlexgateError(
            "IDEMPOTENCY_CONFLICT",
            `event ${request.eventId} was already recorded with a different payload`,
            `${request.field}.eventId`,
          );
        }
        return stored ? { kind: "replay", charge: stored.charge } : { kind: "replay-in-group", index: earlier!.index };
      }
      const account = accounts.get(request.accountId);
      if (!account) throw notFound("account", `${request.field}.accountId`);
      const versions = state.prices.get(request.apiCode) ?? [];
      const price = priceInForce(versions, request.occurredAt);
      if (!price) {
        throw new FlexgateError(
          "PRICE_NOT_FOUND",
          `no price for ${request.apiCode} was in force at the time of the event`,
          `${request.field}.apiCode`,
        );
      }
      const usable = [...(sources.get(account.id)?.values() ?? [])].filter((source) => source.remainingMicros > 0n);
      const enrollments = tiered.enrollments.get(account.id);
      const plan = enrollments ? planAt(enrollments, request.occurredAt) : LEGACY_PLAN;
      let decided: { tokensMicros: bigint; units: bigint | null; allocations: readonly Allocation[]; deficit: DeficitState; payg: PlannedCharge["payg"] };
      if (plan.tier === "LEGACY") {
        const tokensMicros = chargeMicros(price, request.quantityMicros, request.outcome);
        if (tokensMicros > MAX_TOKENS_MICROS) throw badInput(`${request.field}.quantity`, `${request.field}.quantity is too large to rate`);
        const decision = decideChargeOrThrow({
          costMicros: tokensMicros,
          occurredAt: request.occurredAt,
          policy: account.balancePolicy,
          deficit: account,
          sources: usable,
          now,
          field: `${request.field}.quantity`,
          creditAcceptanceEndAt: rules.creditAcceptanceEndAt,
        });
        decided = { tokensMicros, units: null, allocations: decision.allocations, deficit: decision.deficit, payg: null };
      } else {
        const ownRemainders = mapOf(remainders, account.id, () => new Map(tiered.remainders.get(account.id) ?? []));
        const ownFreeMonths = mapOf(freeMonths, account.id, () => new Map(tiered.freeMonths.get(account.id) ?? []));
        const decision = decideTieredEventOrThrow(
          { remainders: ownRemainders, freeMonths: ownFreeMonths, sources: usable, deficit: account },
          { apiCode: request.apiCode, quantityMicros: request.quantityMicros, outcome: request.outcome, occurredAt: request.occurredAt },
          { plan, price, versions, caps: tiered.caps, now, creditAcceptanceEndAt: rules.creditAcceptanceEndAt },
        );
        if (decision.tokensMicros > MAX_TOKENS_MICROS) throw badInput(`${request.field}.quantity`, `${request.field}.quantity is too large to rate`);
        // The decision applied to the group's books, as applyTieredDecision applies it to one book.
        const { key, quantityMicros } = decision.remainder;
        if (quantityMicros !== (ownRemainders.get(key) ?? 0n)) {
          ownRemainders.set(key, quantityMicros);
          changedRemainders.set(`${account.id}|${key}`, { accountId: account.id, key, quantityMicros });
        }
        if (decision.freeMonth) {
          const { key: monthKey, month, state: monthState } = decision.freeMonth;
          ownFreeMonths.set(monthKey, monthState);
          changedFreeMonths.set(`${account.id}|${monthKey}`, { accountId: account.id, apiCode: request.apiCode, month, state: monthState });
        }
        decided = { tokensMicros: decision.tokensMicros, units: decision.units, allocations: decision.allocations, deficit: decision.deficit, payg: decision.payg };
      }
      for (const part of decided.allocations) {
        if (!isSourceKind(part.source)) continue;
        const key = sourceKey(part.source, part.sourceId!);
        const ofAccount = sources.get(account.id)!;
        const source = ofAccount.get(key)!;
        ofAccount.set(key, { ...source, remainingMicros: source.remainingMicros - part.amountMicros });
        const change = changes.get(key);
        changes.set(key, { kind: part.source, id: part.sourceId!, deltaMicros: (change?.deltaMicros ?? 0n) - part.amountMicros });
      }
      if (decided.deficit !== account) {
        accounts.set(account.id, { ...account, ...decided.deficit });
        deficits.set(account.id, decided.deficit);
      }
      charges.push({
        // Field by field, as storedCharge: an object rest copies through V8's slow generic path.
        charge: {
          eventId: request.eventId,
          fingerprint: request.fingerprint,
          accountId: request.accountId,
          apiCode: request.apiCode,
          priceEntryId: price.id,
          quantityMicros: request.quantityMicros,
          outcome: request.outcome,
          occurredAt: request.occurredAt,
          clientId: request.clientId,
          labels: request.labels,
          tokensMicros: decided.tokensMicros,
          units: decided.units,
        },
        allocations: decided.allocations,
        payg: decided.payg,
      });
      decidedInGroup.set(request.eventId, { index: charges.length - 1, fingerprint: request.fingerprint });
      return { kind: "new", index: charges.length - 1 };
    } catch (error) {
      // A defect met by one event must not cost its neighbours their charges.
      return { kind: "refused", error: error instanceof FlexgateError ? error : unexpectedItemError(error, request.field) };
    }
  });
  return {
    outcomes,
    charges,
    sourceChanges: [...changes.values()],
    deficits,
    remainders: [...changedRemainders.values()],
    freeMonths: [...changedFreeMonths.values()],
  };
}

function mapOf<K, V>(maps: Map<number, Map<K, V>>, accountId: number, create: () => Map<K, V>): Map<K, V> {
  let map = maps.get(accountId);
  if (!map) maps.set(accountId, (map = create()));
  return map;
}

/** The answers of a written plan, given the stored charges in the order of plan.charges. */
export function outcomesOf(plan: GroupPlan, written: readonly UsageCharge[]): RatingOutcome[] {
  return plan.outcomes.map((planned): RatingOutcome => {
    switch (planned.kind) {
      case "new":
        return { charge: written[planned.index]!, replayed: false };
      case "replay-in-group":
        return { charge: written[planned.index]!, replayed: true };
      case "replay":
        return { charge: planned.charge, replayed: true };
      case "refused":
        return { error: planned.error };
    }
  });
}

const sourceKey = (kind: SourceKind, id: number) => `${kind}:${id}`;

/** Logs an event's unexpected error and answers it as the error edge answers any: masked. */
export function unexpectedItemError(error: unknown, field: string): FlexgateError {
  log.error("unexpected error in one usage event", {
    field,
    error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error),
  });
  // The error itself stays reachable as the cause, for a caller that rated this event alone and
  // lets it reach the error edge as it is; the edge masks it the same way.
  return Object.assign(new FlexgateError("INTERNAL_SERVER_ERROR", GENERIC_MESSAGE), { cause: error });
}

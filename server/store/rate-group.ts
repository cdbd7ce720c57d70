/**
 * The rating algorithm shared by every engine: read what a group of events needs, decide every
 * event in memory with the pure core, then write the group's rows in one transaction.
 *
 * Deciding in memory is what removes the savepoint per event: a refused event is decided before
 * anything is written, so it leaves nothing to roll back. Each event sees the ones before it in
 * the group: a replay of an event decided earlier in the group, the tokens an earlier event
 * drained, the deficit it booked. The engine only loads the GroupState and writes the GroupPlan.
 */
import type { DeficitState } from "../core/account.js";
import { type Allocation, type FundingSource, isSourceKind, type SourceKind } from "../core/drain.js";
import { badInput, FlexgateError, GENERIC_MESSAGE, notFound } from "../core/errors.js";
import { MAX_TOKENS_MICROS } from "../core/money.js";
import type { Account, UsageCharge } from "../core/model.js";
import { chargeMicros, priceInForce } from "../core/price.js";
import { decideChargeOrThrow } from "../core/rating.js";
import type { Instant } from "../core/time.js";
import { log } from "../log.js";
import type { NewCharge, PriceTable, RatingOutcome, RatingRequest } from "./port.js";

/** What a group's decisions depend on, read in the group's transaction. */
export interface GroupState {
  /** Charges already stored under the group's event ids. */
  readonly replays: ReadonlyMap<string, { readonly charge: UsageCharge; readonly fingerprint: string }>;
  readonly accounts: ReadonlyMap<number, Account>;
  /** Every lot and pack of the group's accounts that still holds tokens, whenever valid. */
  readonly sources: readonly GroupSource[];
  readonly prices: PriceTable;
}

/** A lot or pack as the drain sees it, with the account it belongs to. */
export interface GroupSource extends FundingSource {
  readonly accountId: number;
}

export interface PlannedCharge {
  readonly charge: NewCharge;
  readonly allocations: readonly Allocation[];
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
}

/** The account ids and event ids a group's state is read for. */
export function groupKeys(requests: readonly RatingRequest[]) {
  return {
    accountIds: [...new Set(requests.map((request) => request.accountId))].sort((a, b) => a - b),
    eventIds: [...new Set(requests.map((request) => request.eventId))],
  };
}

/** Decides every event of the group in order. Pure: the state is not changed. */
export function planGroup(requests: readonly RatingRequest[], state: GroupState, now: Instant): GroupPlan {
  const accounts = new Map(state.accounts);
  // Per account, each lot or pack by kind and id, as the events before have left it.
  const sources = new Map<number, Map<string, GroupSource>>();
  for (const source of state.sources) {
    let ofAccount = sources.get(source.accountId);
    if (!ofAccount) sources.set(source.accountId, (ofAccount = new Map()));
    ofAccount.set(sourceKey(source.kind, source.id), source);
  }
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
      const price = priceInForce(state.prices.get(request.apiCode) ?? [], request.occurredAt);
      if (!price) {
        throw new FlexgateError(
          "PRICE_NOT_FOUND",
          `no price for ${request.apiCode} was in force at the time of the event`,
          `${request.field}.apiCode`,
        );
      }
      const tokensMicros = chargeMicros(price, request.quantityMicros, request.outcome);
      if (tokensMicros > MAX_TOKENS_MICROS) throw badInput(`${request.field}.quantity`, `${request.field}.quantity is too large to rate`);
      const decision = decideChargeOrThrow({
        costMicros: tokensMicros,
        occurredAt: request.occurredAt,
        policy: account.balancePolicy,
        deficit: account,
        sources: [...(sources.get(account.id)?.values() ?? [])].filter((source) => source.remainingMicros > 0n),
        now,
        field: `${request.field}.quantity`,
      });
      for (const part of decision.allocations) {
        if (!isSourceKind(part.source)) continue;
        const key = sourceKey(part.source, part.sourceId!);
        const ofAccount = sources.get(account.id)!;
        const source = ofAccount.get(key)!;
        ofAccount.set(key, { ...source, remainingMicros: source.remainingMicros - part.amountMicros });
        const change = changes.get(key);
        changes.set(key, { kind: part.source, id: part.sourceId!, deltaMicros: (change?.deltaMicros ?? 0n) - part.amountMicros });
      }
      if (decision.deficit !== account) {
        accounts.set(account.id, { ...account, ...decision.deficit });
        deficits.set(account.id, decision.deficit);
      }
      const { field: _, ...event } = request;
      charges.push({ charge: { ...event, priceEntryId: price.id, tokensMicros }, allocations: decision.allocations });
      decidedInGroup.set(request.eventId, { index: charges.length - 1, fingerprint: request.fingerprint });
      return { kind: "new", index: charges.length - 1 };
    } catch (error) {
      // A defect met by one event must not cost its neighbours their charges.
      return { kind: "refused", error: error instanceof FlexgateError ? error : unexpectedItemError(error, request.field) };
    }
  });
  return { outcomes, charges, sourceChanges: [...changes.values()], deficits };
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

/**
 * A tiered account in memory, driven the way a service will drive the pure core: plan in force
 * at occurredAt, price in force, decide, apply. Test values are chosen here, not APS's (APS
 * published its tiered rates and caps only as an image).
 */
import type { DeficitState } from "../../server/core/account.js";
import type { FundingSource } from "../../server/core/drain.js";
import type { FreeCap } from "../../server/core/free-allowance.js";
import { type Enrollment, planAt } from "../../server/core/plan.js";
import { type Outcome, type PriceVersion, priceInForce } from "../../server/core/price.js";
import { applyTieredDecision, decideTieredEventOrThrow, type TieredBook, type TieredDecision } from "../../server/core/tiered-rating.js";
import { DEFAULT_CREDIT_ACCEPTANCE_END_AT } from "../../server/core/drain.js";
import { aPriceVersion, tokens, utc } from "./builders.js";

export const REVIT = "design-automation/revit";
export const COMPLEX = "model-derivative/complex-job";

/** revit at 1 token per 1200 s, a complex job at 0.5 tokens: the worked example's prices. */
export const examplePrices = (): PriceVersion[] => [
  aPriceVersion({ apiCode: REVIT, name: "Revit", meter: "SECOND", unitQuantity: 1200, rate: "1", effectiveFrom: "2025-12-08" }),
  aPriceVersion({ apiCode: COMPLEX, rate: "0.5", effectiveFrom: "2025-12-08" }),
];

let capId = 0;
export function aFreeCap(apiCode: string, unitsPerMonth: number, effectiveFrom = "2025-12-08"): FreeCap {
  return { id: ++capId, apiCode, unitsPerMonth, effectiveFrom: utc(effectiveFrom), note: "test value" };
}

export const emptyBook = (sources: FundingSource[] = [], deficit: DeficitState = { deficitMicros: 0n, graceStartedAt: null }): TieredBook => ({
  remainders: new Map(),
  freeMonths: new Map(),
  sources,
  deficit,
});

export interface TieredWorld {
  readonly prices: readonly PriceVersion[];
  readonly caps: readonly FreeCap[];
  readonly enrollments: readonly Enrollment[];
  readonly now: number;
  readonly creditAcceptanceEndAt?: number;
}

export interface AnEvent {
  readonly apiCode: string;
  readonly quantity: string;
  readonly occurredAt: string;
  readonly outcome?: Outcome;
}

/** Decides one event against the book; throws the core's refusal unchanged. */
export function decide(world: TieredWorld, book: TieredBook, event: AnEvent): TieredDecision {
  const occurredAt = utc(event.occurredAt);
  const versions = world.prices.filter((price) => price.apiCode === event.apiCode);
  const price = priceInForce(versions, occurredAt);
  if (!price) throw new Error(`no test price for ${event.apiCode}`);
  return decideTieredEventOrThrow(
    book,
    { apiCode: event.apiCode, quantityMicros: tokens(event.quantity), outcome: event.outcome ?? "SUCCEEDED", occurredAt },
    {
      plan: planAt(world.enrollments, occurredAt),
      price,
      versions,
      caps: world.caps,
      now: world.now,
      creditAcceptanceEndAt: world.creditAcceptanceEndAt ?? DEFAULT_CREDIT_ACCEPTANCE_END_AT,
    },
  );
}

/** Rates events in arrival order, each seeing the ones before; a refusal leaves the book as it was. */
export function rateAll(world: TieredWorld, book: TieredBook, events: readonly AnEvent[]): { book: TieredBook; decisions: (TieredDecision | Error)[] } {
  const decisions: (TieredDecision | Error)[] = [];
  for (const event of events) {
    try {
      const decision = decide(world, book, event);
      book = applyTieredDecision(book, decision);
      decisions.push(decision);
    } catch (error) {
      decisions.push(error as Error);
    }
  }
  return { book, decisions };
}

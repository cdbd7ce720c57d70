/**
 * Rating a group decides every event in memory before writing anything. The ledger it leaves must
 * be exactly the one that rating the same events one at a time leaves: each event of a group sees
 * the replays, drains and deficits of the events before it, and a refused event writes nothing.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Outcome } from "../../server/core/model.js";
import type { BatchItemResult, UsageEvent } from "../../server/services/rating.service.js";
import { aCreditLot, aFlexPack, anAccount, at, createHarness, type Harness, tokens } from "../fixtures/harness.js";
import { dbSnapshot } from "../fixtures/ledger-assertions.js";
import { timeLimit } from "../fixtures/engine.js";

const APIS = ["model-derivative/complex-job", "design-automation/revit", "reality-capture/photoscene"] as const;

interface EventSpec {
  readonly account: number;
  /** Picks an earlier event id to send again (a replay, or a conflict when the payload differs). */
  readonly repeat: number | null;
  readonly api: number;
  readonly units: number;
  readonly outcome: Outcome;
  readonly hoursAgo: number;
}

const eventSpec: fc.Arbitrary<EventSpec> = fc.record({
  account: fc.integer({ min: 0, max: 3 }),
  repeat: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
  api: fc.integer({ min: 0, max: APIS.length - 1 }),
  units: fc.integer({ min: 1, max: 60 }),
  outcome: fc.constantFrom<Outcome>("SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED"),
  hoursAgo: fc.integer({ min: 1, max: 1500 }),
});

/** Four accounts: one that may owe, a prepaid one, one with nothing, and an unknown id. */
async function fundedStore(): Promise<{ h: Harness; accountIds: number[] }> {
  const h = await createHarness({ now: "2023-08-01T00:00:00Z" });
  // Fixed names and references: the two stores must start byte-identical.
  const owing = await anAccount(h, { name: "Owing" });
  const prepaid = await anAccount(h, { name: "Prepaid", balancePolicy: "HARD_STOP" });
  const empty = await anAccount(h, { name: "Empty" });
  await aCreditLot(h, owing.id, { amount: "30", purchasedAt: at("2022-11-01T00:00:00Z"), externalRef: "lot" });
  await aFlexPack(h, owing.id, { tokens: "100", purchasedAt: at("2023-07-10T00:00:00Z"), orderRef: "owing" });
  await aFlexPack(h, prepaid.id, { tokens: "100", purchasedAt: at("2023-07-10T00:00:00Z"), orderRef: "prepaid-small" });
  await aFlexPack(h, prepaid.id, { tokens: "120", purchasedAt: at("2023-07-10T00:00:00Z"), orderRef: "prepaid-large" });
  return { h, accountIds: [owing.id, prepaid.id, empty.id, 999] };
}

function eventsOf(specs: readonly EventSpec[], accountIds: readonly number[], now: number): UsageEvent[] {
  const events: UsageEvent[] = [];
  specs.forEach((spec, index) => {
    const earlier = spec.repeat !== null && events.length > 0 ? events[spec.repeat % events.length]! : null;
    const fresh: UsageEvent = {
      eventId: `group-${index}`,
      accountId: accountIds[spec.account]!,
      apiCode: APIS[spec.api]!,
      quantityMicros: tokens(String(spec.units)),
      outcome: spec.outcome,
      occurredAt: now - spec.hoursAgo * 3_600_000,
    };
    // A repeat with the same units is a replay; with other units, a conflict.
    events.push(earlier ? (spec.units % 2 === 0 ? earlier : { ...earlier, quantityMicros: fresh.quantityMicros + 1n }) : fresh);
  });
  return events;
}

const answerOf = (result: BatchItemResult) =>
  result.error ? { eventId: result.eventId, code: result.error.code } : { eventId: result.eventId, chargeId: result.charge.id, replayed: result.replayed, tokens: result.charge.tokensMicros };

describe("rating a group", () => {
  it("leaves exactly the ledger, and gives exactly the answers, of rating its events one at a time", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventSpec, { minLength: 1, maxLength: 40 }), async (specs) => {
        const grouped = await fundedStore();
        const single = await fundedStore();
        try {
          const events = eventsOf(specs, grouped.accountIds, grouped.h.now());
          const groupAnswers = (await grouped.h.services.rating.recordUsageBatch(events)).map(answerOf);
          const singleAnswers: ReturnType<typeof answerOf>[] = [];
          for (const [index, event] of events.entries()) {
            singleAnswers.push(answerOf((await single.h.services.rating.recordUsageBatch([event], "inputs"))[0]!));
            expect(singleAnswers[index]!.eventId).toBe(event.eventId);
          }
          expect(groupAnswers).toEqual(singleAnswers);
          expect(await dbSnapshot(grouped.h.sql)).toEqual(await dbSnapshot(single.h.sql));
          expect(await grouped.h.services.ledger.verify()).toEqual([]);
        } finally {
          await grouped.h.close();
          await single.h.close();
        }
      }),
      { numRuns: 40 },
    );
  }, timeLimit(60_000));
});

/**
 * Rating groups that mix LEGACY and tiered accounts (domain §8 through store/rate-group.ts):
 * LEGACY events are rated exactly as before, a refused tiered event fails alone, a group leaves
 * the ledger that rating its events one at a time leaves, and a paid account's units for an API
 * are floor(Σq ÷ U) whatever order and grouping the events arrive in. Test values chosen for the
 * tests (fixtures/tiered.ts): revit at 1 token per 1200 s capped at 3 units a month.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatMicros, MICROS_PER_TOKEN } from "../../server/core/money.js";
import type { BatchItemResult, UsageEvent } from "../../server/services/rating.service.js";
import { aFlexPack, anAccount, at, createHarness, OPERATOR, tokens } from "../fixtures/harness.js";
import { dbSnapshot } from "../fixtures/ledger-assertions.js";
import { anEnrolledAccount, anEventAt, COMPLEX, partsOf, publishTestTerms, REVIT } from "../fixtures/tiered.js";

type Harness = Awaited<ReturnType<typeof createHarness>>;

/** A LEGACY account with a pack, a FREE one, a PAID one with PAYG and a pool; the clock at 2026-01-10. */
async function mixedWorld(): Promise<{ h: Harness; legacy: number; free: number; paid: number }> {
  const h = await createHarness();
  await publishTestTerms(h);
  const legacy = await anAccount(h, { name: "Legacy" });
  await aFlexPack(h, legacy.id, { tokens: "100", purchasedAt: at("2025-12-19T00:00:00Z"), orderRef: "legacy-pack" });
  // Fixed names: two worlds built alike must start byte-identical.
  const free = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" }, { name: "Free" });
  const paid = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" }, { name: "Paid" });
  await h.services.funding.importTokenFlexPool(
    { accountId: paid.id, tokensMicros: tokens("3"), startsAt: at("2026-01-01T00:00:00Z"), endsAt: at("2027-01-01T00:00:00Z"), externalRef: "EBA-group" },
    OPERATOR,
  );
  h.setNow("2026-01-10T00:00:00Z");
  return { h, legacy: legacy.id, free: free.id, paid: paid.id };
}

const answerOf = (result: BatchItemResult) =>
  result.error
    ? { eventId: result.eventId, code: result.error.code }
    : { eventId: result.eventId, chargeId: result.charge.id, replayed: result.replayed, units: result.charge.units, tokens: result.charge.tokensMicros };

describe("rating groups of LEGACY and tiered accounts", () => {
  it("rates LEGACY events exactly per event beside tiered ones, and refuses a suspended API's event alone", async () => {
    const { h, legacy, free, paid } = await mixedWorld();
    try {
      const events: UsageEvent[] = [
        anEventAt(legacy, REVIT, "1500", "2026-01-05T10:00:00Z", { eventId: "legacy-1" }),
        anEventAt(free, REVIT, "3600", "2026-01-05T10:00:00Z", { eventId: "free-1" }),
        anEventAt(free, REVIT, "100", "2026-01-05T11:00:00Z", { eventId: "free-2" }),
        anEventAt(legacy, COMPLEX, "1", "2026-01-05T11:00:00Z", { eventId: "legacy-2" }),
        anEventAt(paid, REVIT, "3000", "2026-01-05T10:00:00Z", { eventId: "paid-1" }),
        anEventAt(paid, REVIT, "3000", "2026-01-05T11:00:00Z", { eventId: "paid-2" }),
        anEventAt(legacy, REVIT, "100", "2026-01-05T12:00:00Z", { eventId: "legacy-3" }),
      ];
      const results = await h.services.rating.recordUsageBatch(events);
      expect(results.map((result) => (result.error ? result.error.code : [result.charge.units, formatMicros(result.charge.tokensMicros)]))).toEqual([
        [null, "1.25"],
        [3n, "0"],
        "API_SUSPENDED",
        [null, "0.5"],
        [2n, "2"],
        [3n, "3"],
        [null, "0.083333"],
      ]);
      const charge = (index: number) => {
        const result = results[index]!;
        if (result.error) throw result.error;
        return result.charge;
      };
      expect(await partsOf(h, charge(0))).toEqual(["FLEX_PACK 1.25"]);
      expect(await partsOf(h, charge(4))).toEqual(["TOKEN_FLEX 2"]);
      expect(await partsOf(h, charge(5))).toEqual(["TOKEN_FLEX 1", "PAYG 2"]);
      expect(await h.store.reads.recomputeLedger()).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it("leaves exactly the ledger, and gives exactly the answers, of rating its events one at a time", async () => {
    const spec = fc.record({
      account: fc.constantFrom("legacy", "free", "paid"),
      api: fc.constantFrom(REVIT, COMPLEX),
      quantity: fc.integer({ min: 1, max: 4000 }),
      minutesAgo: fc.integer({ min: 1, max: 12_000 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(spec, { minLength: 1, maxLength: 25 }), async (specs) => {
        const grouped = await mixedWorld();
        const single = await mixedWorld();
        try {
          const events = specs.map((item, index): UsageEvent => ({
            eventId: `mixed-${index}`,
            accountId: grouped[item.account],
            apiCode: item.api,
            quantityMicros: BigInt(item.quantity) * MICROS_PER_TOKEN,
            outcome: "SUCCEEDED",
            occurredAt: grouped.h.now() - item.minutesAgo * 60_000,
          }));
          const groupAnswers = (await grouped.h.services.rating.recordUsageBatch(events)).map(answerOf);
          const singleAnswers: ReturnType<typeof answerOf>[] = [];
          for (const event of events) singleAnswers.push(answerOf((await single.h.services.rating.recordUsageBatch([event]))[0]!));
          expect(groupAnswers).toEqual(singleAnswers);
          expect(await dbSnapshot(grouped.h.sql)).toEqual(await dbSnapshot(single.h.sql));
        } finally {
          await grouped.h.close();
          await single.h.close();
        }
      }),
      { numRuns: 8 },
    );
  }, 60_000);

  it("charges a paid account floor(Σq ÷ U) units of an API whatever order and grouping its events arrive in", async () => {
    const scenario = fc.record({
      // Quantities in milliseconds of processing, so partial seconds take part too.
      quantities: fc.array(fc.integer({ min: 0, max: 3_000_000 }), { minLength: 1, maxLength: 30 }),
      order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 30, maxLength: 30 }),
      groupSizes: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 30, maxLength: 30 }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async ({ quantities, order, groupSizes }) => {
        const h = await createHarness();
        try {
          await publishTestTerms(h);
          const account = await anEnrolledAccount(h, { tier: "PAID", payg: true, from: "2026-01-01T00:00:00Z" });
          h.setNow("2026-03-01T00:00:00Z");
          // Spread over two months: a paid remainder carries on across them.
          const events = quantities.map((milliseconds, index) =>
            anEventAt(account.id, REVIT, (milliseconds / 1000).toFixed(3), new Date(at("2026-01-02T00:00:00Z") + index * 3 * 86_400_000).toISOString()),
          );
          const shuffled = events.map((event, index) => ({ event, key: order[index]! })).sort((a, b) => a.key - b.key).map(({ event }) => event);
          let units = 0n;
          for (let start = 0, group = 0; start < shuffled.length; group++) {
            const size = groupSizes[group % groupSizes.length]!;
            for (const result of await h.services.rating.recordUsageBatch(shuffled.slice(start, start + size))) {
              if (result.error) throw result.error;
              units += result.charge.units!;
            }
            start += size;
          }
          const total = quantities.reduce((sum, milliseconds) => sum + BigInt(milliseconds), 0n);
          expect(units).toBe(total / 1_200_000n);
        } finally {
          await h.close();
        }
      }),
      { numRuns: 12 },
    );
  }, 60_000);
});

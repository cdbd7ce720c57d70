/**
 * Texts a caller chooses (event ids, client ids, label keys and values) reach the ledger exactly
 * as given, whatever quotes, backslashes, braces and commas they hold: PostgreSQL's rating path
 * writes them into its statements' text and into array literals. Ids and client ids take no
 * spaces (those are refused): theirs become underscores.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { BatchItemResult } from "../../server/services/rating.service.js";
import { aFlexPack, anAccount, aUsageEvent, createHarness, type Harness } from "../fixtures/harness.js";

/** A batch item's charge, or the item's error thrown. */
function recorded(result: BatchItemResult) {
  if (result.error) throw result.error;
  return result;
}

const AWKWARD = [`o'brien`, `say "hi"`, `back\\slash`, `{a,b}`, `x"},{"y`, `\\"'{}NULL`, `NULL`, `E'\\x41'`];

describe("texts that quote, escape or delimit", () => {
  let h: Harness;
  afterEach(() => h.close());

  it("are stored and replayed exactly, in a group and alone, and a different payload under one is a conflict", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const events = AWKWARD.map((text, index) =>
      aUsageEvent(account.id, { eventId: `${text}-${index}`.replace(/\s/g, "_"), clientId: `${text}-client`.replace(/\s/g, "_"), labels: { [text]: `${text} value`, plain: text } }),
    );
    const first = await h.services.rating.recordUsageBatch(events);
    expect(first.map((result) => [result.eventId, recorded(result).replayed])).toEqual(events.map((event) => [event.eventId, false]));
    for (const [index, event] of events.entries()) {
      const stored = (await h.store.reads.findChargeByEventId(event.eventId))!;
      expect([stored.charge.id, stored.charge.eventId, stored.charge.clientId, stored.charge.labels]).toEqual([recorded(first[index]!).charge.id, event.eventId, event.clientId, event.labels]);
    }

    // Stored ones found again by their ids, in a group and one by one.
    const again = await h.services.rating.recordUsageBatch(events);
    expect(again.map((result) => [recorded(result).charge.id, recorded(result).replayed])).toEqual(first.map((result) => [recorded(result).charge.id, true]));
    const alone = await h.services.rating.recordUsage(events[1]!);
    expect([alone.charge.id, alone.replayed]).toEqual([recorded(first[1]!).charge.id, true]);

    const changed = await h.services.rating.recordUsageBatch([{ ...events[2]!, labels: { other: "payload" } }]);
    expect([changed[0]!.error?.code, changed[0]!.error?.field]).toEqual(["IDEMPOTENCY_CONFLICT", "inputs.0.eventId"]);
    expect(await h.store.reads.countCharges({ accountId: account.id })).toBe(events.length);
    expect(await h.services.ledger.verify()).toEqual([]);
  });
});

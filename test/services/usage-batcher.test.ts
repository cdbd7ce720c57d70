import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { aFlexPack, anAccount, aUsageEvent, createHarness, type Harness } from "../fixtures/harness.js";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

describe("draining the usage batcher before a shutdown", () => {
  it("waits for a group being rated: every caller is answered when it resolves", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const answered: string[] = [];
    const recorded = ["a", "b"].map((eventId) => h.services.usageBatcher.record(aUsageEvent(account.id, { eventId })).then(() => answered.push(eventId)));
    void h.services.usageBatcher.flush(); // the group is in flight; nothing waits in the queue
    await h.services.usageBatcher.drain();
    expect(answered.sort()).toEqual(["a", "b"]);
    await Promise.all(recorded);
  });

  it("rates the group still gathering", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const recorded = h.services.usageBatcher.record(aUsageEvent(account.id, { eventId: "gathering" }));
    await h.services.usageBatcher.drain();
    expect((await h.store.reads.findChargeByEventId("gathering"))?.charge.eventId).toBe("gathering");
    await recorded;
  });

  it("resolves at once when nothing is waiting or in flight", async () => {
    await expect(h.services.usageBatcher.drain()).resolves.toBeUndefined();
  });
});

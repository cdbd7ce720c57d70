import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SINGLE_WRITER_BATCHING, UsageBatcher } from "../../server/services/usage-batcher.js";
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

/**
 * Each group the store rates, as its events' ids, in order. The first `held` groups wait for
 * `release`, so callers can arrive while they are rating.
 */
function recordGroups(h: Harness, held = 1) {
  const groups: string[][] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const rateGroup = h.store.rateGroup.bind(h.store);
  h.store.rateGroup = async (requests, ...rest) => {
    groups.push(requests.map((request) => request.eventId));
    if (groups.length <= held) await released;
    return rateGroup(requests, ...rest);
  };
  return { groups, release };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

const itemsOf = (accountId: number, ids: readonly string[], quantity = "1") => ids.map((eventId, index) => ({ event: aUsageEvent(accountId, { eventId, quantity }), field: `inputs.${index}` }));

describe("group commit of whole batches, one group at a time", () => {
  it("rates batches that arrive while a group commits together in the next group, answering each caller its own events", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const { groups, release } = recordGroups(h);
    const batcher = new UsageBatcher(h.services.rating, { maxInFlight: 1 });
    const first = batcher.recordAll(itemsOf(account.id, ["a1", "a2"]));
    await nextTurn(); // the first group is rating while the others arrive, turns apart
    const second = batcher.recordAll(itemsOf(account.id, ["b1", "b2"]));
    await nextTurn();
    const third = batcher.recordAll(itemsOf(account.id, ["c1"]));
    await nextTurn();
    release();
    const answers = await Promise.all([first, second, third]);
    expect(groups).toEqual([["a1", "a2"], ["b1", "b2", "c1"]]);
    expect(answers.map((results) => results.map((result) => [result.eventId, result.error ? result.error.code : result.charge.eventId]))).toEqual([
      [["a1", "a1"], ["a2", "a2"]],
      [["b1", "b1"], ["b2", "b2"]],
      [["c1", "c1"]],
    ]);
  });

  it("never splits a caller's events across groups, even when they alone exceed the group size", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const { groups, release } = recordGroups(h);
    release();
    const batcher = new UsageBatcher(h.services.rating, { maxInFlight: 1, maxGroupSize: 3 });
    await Promise.all([
      batcher.recordAll(itemsOf(account.id, ["a1", "a2"])),
      batcher.recordAll(itemsOf(account.id, ["b1", "b2"])),
      batcher.recordAll(itemsOf(account.id, ["c1", "c2", "c3", "c4"])),
    ]);
    expect(groups).toEqual([["a1", "a2"], ["b1", "b2"], ["c1", "c2", "c3", "c4"]]);
  });

  it("answers an event sent by two callers in one group once charged and once replayed, and a changed payload as a conflict", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const { groups, release } = recordGroups(h);
    release();
    const batcher = new UsageBatcher(h.services.rating, { maxInFlight: 1 });
    const [first, same, changed] = await Promise.all([
      batcher.recordAll(itemsOf(account.id, ["shared"])),
      batcher.recordAll(itemsOf(account.id, ["shared"])),
      batcher.recordAll(itemsOf(account.id, ["shared"], "2")),
    ]);
    expect(groups).toEqual([["shared", "shared", "shared"]]);
    expect(first[0]).toMatchObject({ replayed: false });
    const charged = first[0]!;
    if (charged.error) throw charged.error;
    expect(same[0]).toMatchObject({ replayed: true, charge: { id: charged.charge.id } });
    expect(changed[0]!.error).toMatchObject({ code: "IDEMPOTENCY_CONFLICT", field: "inputs.0.eventId" });
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it("rejects every caller of a group whose transaction fails, and rates the next group", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const batcher = new UsageBatcher(h.services.rating, { maxInFlight: 1 });
    const rateGroup = h.store.rateGroup.bind(h.store);
    let failures = 1;
    h.store.rateGroup = (...args) => (failures-- > 0 ? Promise.reject(new Error("disk I/O error")) : rateGroup(...args));
    const settled = await Promise.allSettled([batcher.recordAll(itemsOf(account.id, ["x1"])), batcher.recordAll(itemsOf(account.id, ["x2"]))]);
    expect(settled.map((result) => result.status)).toEqual(["rejected", "rejected"]);
    const [after] = await batcher.recordAll(itemsOf(account.id, ["y1"]));
    expect(after).toMatchObject({ eventId: "y1", replayed: false });
    expect(await h.sql.scalar("select count(*) from usage_charges")).toBe(1);
  });
});

describe("groups rated at once, by engine", () => {
  it("rates one group at a time on SQLite and two on PostgreSQL, whose groups lock their accounts; what arrives meanwhile gathers into the next group", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const { groups, release } = recordGroups(h, 2);
    const batcher = h.services.usageBatcher;
    const first = batcher.recordAll(itemsOf(account.id, ["a1"]));
    await nextTurn();
    const second = batcher.recordAll(itemsOf(account.id, ["b1"]));
    await nextTurn();
    const later = [batcher.recordAll(itemsOf(account.id, ["c1"])), batcher.recordAll(itemsOf(account.id, ["d1"]))];
    for (let turn = 0; turn < 20; turn++) await nextTurn();
    const sqlite = h.store.engine === "sqlite";
    expect(groups).toEqual(sqlite ? [["a1"]] : [["a1"], ["b1"]]);
    release();
    await Promise.all([first, second, ...later]);
    expect(groups).toEqual(sqlite ? [["a1"], ["b1", "c1", "d1"]] : [["a1"], ["b1"], ["c1", "d1"]]);
  });
});

describe("waiting for company under load, one writer", () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** A first group that takes about 40 ms to rate, then answered: the writer has just been busy. */
  async function afterASlowGroup(batcher: UsageBatcher, accountId: number) {
    const { groups, release } = recordGroups(h);
    const first = batcher.recordAll(itemsOf(accountId, ["a1"]));
    await sleep(40);
    release();
    await first;
    return groups;
  }

  it("gathers batches read shortly after a group ends into one group, where taking the first alone would rate each apart", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const rated = async (batcher: UsageBatcher, prefix: string) => {
      const groups = await afterASlowGroup(batcher, account.id);
      const second = batcher.recordAll(itemsOf(account.id, [`${prefix}b1`, `${prefix}b2`]));
      await nextTurn(); // the next request's body arrives a turn later
      await nextTurn();
      const third = batcher.recordAll(itemsOf(account.id, [`${prefix}c1`]));
      await Promise.all([second, third]);
      return groups.slice(1);
    };
    expect(await rated(new UsageBatcher(h.services.rating, { maxInFlight: 1, busyWaitMs: 50 }), "")).toEqual([["b1", "b2", "c1"]]);
    expect(await rated(new UsageBatcher(h.services.rating, { maxInFlight: 1, busyWaitMs: 0 }), "x")).toEqual([["xb1", "xb2"], ["xc1"]]);
  });

  it("starts a full group at once, busy or not", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const batcher = new UsageBatcher(h.services.rating, { maxInFlight: 1, busyWaitMs: 50, maxGroupSize: 2 });
    const groups = await afterASlowGroup(batcher, account.id);
    const full = batcher.recordAll(itemsOf(account.id, ["f1", "f2"]));
    expect(groups).toEqual([["a1"], ["f1", "f2"]]);
    await full;
  });

  /** How many turns of the event loop had passed each time the store was handed a group. */
  function turnsAtEachGroup() {
    let turns = 0;
    let counting = true;
    const count = () => {
      if (!counting) return;
      turns++;
      setImmediate(count);
    };
    setImmediate(count);
    const seen: number[] = [];
    const rateGroup = h.store.rateGroup.bind(h.store);
    h.store.rateGroup = (...args) => {
      seen.push(turns);
      return rateGroup(...args);
    };
    return { seen, stop: () => (counting = false) };
  }

  it("under load, turns the event loop before each group: Node accepts one waiting connection per turn", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const turns = SINGLE_WRITER_BATCHING.turnsBeforeGroup!;
    expect(turns).toBeGreaterThanOrEqual(4);
    const batcher = new UsageBatcher(h.services.rating, { ...SINGLE_WRITER_BATCHING, maxGroupSize: 2 });
    await afterASlowGroup(batcher, account.id);
    const groups = turnsAtEachGroup();
    await batcher.recordAll(itemsOf(account.id, ["f1", "f2"]));
    groups.stop();
    expect(groups.seen).toHaveLength(1);
    expect(groups.seen[0]).toBeGreaterThanOrEqual(turns);
  });

  it("gives no turns before a group when the writer has been idle", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const batcher = new UsageBatcher(h.services.rating, { ...SINGLE_WRITER_BATCHING, maxGroupSize: 2 });
    const groups = turnsAtEachGroup();
    await batcher.recordAll(itemsOf(account.id, ["i1", "i2"]));
    groups.stop();
    expect(groups.seen).toEqual([0]);
  });

  it("rates at the next turn when the writer has been idle", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const { groups, release } = recordGroups(h);
    release();
    const batcher = new UsageBatcher(h.services.rating, { maxInFlight: 1, busyWaitMs: 50 });
    const lone = batcher.recordAll(itemsOf(account.id, ["lone"]));
    await nextTurn();
    expect(groups).toEqual([["lone"]]);
    await lone;
  });
});

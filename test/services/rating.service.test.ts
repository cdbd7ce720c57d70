import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GRACE_PERIOD_MS } from "../../server/core/account.js";
import type { ErrorCode } from "../../server/core/errors.js";
import { formatMicros, MAX_TOKENS_MICROS } from "../../server/core/money.js";
import { MAX_BATCH_SIZE, type UsageEvent } from "../../server/services/rating.service.js";
import { aCreditLot, aFlexPack, anAccount, aReseller, at, aUsageEvent, createHarness, type Harness, OPERATOR, tokens } from "../fixtures/harness.js";
import { ENGINE, onSqliteOnly } from "../fixtures/engine.js";
import { type Fault, faultMessageIn } from "../fixtures/test-sql.js";
import { dbSnapshot, deficitOf, expectRefusedUnchanged, receiptOf, remainingOf, rowCounts, scalar } from "../fixtures/ledger-assertions.js";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(() => h.close());


describe("idempotent usage recording", () => {
  it("replays the same eventId with the same payload: same charge, replayed, nothing written", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const event = aUsageEvent(account.id, { quantity: "3", clientId: "app-1", labels: { job: "a", site: "b" } });
    const first = await h.services.rating.recordUsage(event);
    expect(first.replayed).toBe(false);

    const before = await dbSnapshot(h.sql);
    h.advance(60_000);
    const again = await h.services.rating.recordUsage({ ...event, labels: { site: "b", job: "a" } });
    expect(again.replayed).toBe(true);
    expect(again.charge).toEqual(first.charge);
    expect(await dbSnapshot(h.sql)).toEqual(before);
  });

  it("replays the original charge even after the account ran out of tokens", async () => {
    const account = await anAccount(h, { balancePolicy: "HARD_STOP" });
    await aFlexPack(h, account.id);
    const event = aUsageEvent(account.id, { quantity: "200" });
    const first = await h.services.rating.recordUsage(event);
    expect(await remainingOf(h.sql, "FLEX_PACK", 1)).toBe("0");
    expect(await h.services.rating.recordUsage(event)).toEqual({ charge: first.charge, replayed: true });
  });

  it.each<[string, Partial<UsageEvent> | ((accountId: number) => Partial<UsageEvent> | Promise<Partial<UsageEvent>>)]>([
    ["another quantity", { quantityMicros: tokens("2") }],
    ["another API", { apiCode: "model-derivative/simple-job" }],
    ["another outcome", { outcome: "FAILED" }],
    ["another usage time", { occurredAt: at("2024-05-31T12:00:01Z") }],
    ["another client", { clientId: "app-2" }],
    ["other labels", { labels: { job: "b" } }],
    ["another account", async () => ({ accountId: (await anAccount(h)).id })],
  ])("refuses the same eventId with %s: IDEMPOTENCY_CONFLICT on input.eventId, nothing written", async (_why, change) => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const event = aUsageEvent(account.id, { clientId: "app-1", labels: { job: "a" } });
    await h.services.rating.recordUsage(event);
    const changed = { ...event, ...(typeof change === "function" ? await change(account.id) : change) };
    await expectRefusedUnchanged(h.sql, () => h.services.rating.recordUsage(changed), "IDEMPOTENCY_CONFLICT", "input.eventId");
  });
});

describe("credit-first drain on the real store", () => {
  it("drains cloud credits before Flex packs, and packs by expiry then size", async () => {
    h.setNow("2023-02-01T00:00:00Z");
    const account = await anAccount(h);
    const reseller = await aReseller(h);
    const oldLot = await aCreditLot(h, account.id, { amount: "4", purchasedAt: at("2022-03-01T00:00:00Z") });
    const newLot = await aCreditLot(h, account.id, { amount: "10", purchasedAt: at("2022-10-01T00:00:00Z") });
    const big = await aFlexPack(h, account.id, { tokens: "500", channel: "RESELLER", resellerId: reseller.id, purchasedAt: at("2022-12-01T00:00:00Z") });
    const small = await aFlexPack(h, account.id, { tokens: "100", channel: "RESELLER", resellerId: reseller.id, purchasedAt: at("2022-12-01T00:00:00Z") });
    const later = await aFlexPack(h, account.id, { tokens: "100", channel: "RESELLER", resellerId: reseller.id, purchasedAt: at("2023-01-10T00:00:00Z") });

    // 240 complex jobs at 0.5 = 120 tokens.
    const { charge } = await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "240", occurredAt: at("2023-01-31T00:00:00Z") }));
    expect(formatMicros(charge.tokensMicros)).toBe("120");
    expect(await receiptOf(h.sql, charge.id)).toEqual([
      `CREDIT_LOT#${oldLot.id}:4`,
      `CREDIT_LOT#${newLot.id}:10`,
      `FLEX_PACK#${small.id}:100`,
      `FLEX_PACK#${big.id}:6`,
    ]);
    expect(await remainingOf(h.sql, "FLEX_PACK", later.id)).toBe("100");
    expect(await remainingOf(h.sql, "FLEX_PACK", big.id)).toBe("494");
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it("rates a late event with the price and the lots valid when it occurred", async () => {
    const account = await anAccount(h);
    const lot = await aCreditLot(h, account.id, { amount: "10", purchasedAt: at("2022-01-01T00:00:00Z") });
    const beforeCut = (await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: at("2022-02-01T00:00:00Z") }))).charge;
    const afterCut = (await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: at("2022-03-29T00:00:00Z") }))).charge;
    expect(formatMicros(beforeCut.tokensMicros)).toBe("1.5");
    expect(formatMicros(afterCut.tokensMicros)).toBe("0.5");
    expect(beforeCut.priceEntryId).not.toBe(afterCut.priceEntryId);
    expect(await receiptOf(h.sql, beforeCut.id)).toEqual([`CREDIT_LOT#${lot.id}:1.5`]);
    expect(await remainingOf(h.sql, "CREDIT_LOT", lot.id)).toBe("8");
  });

  it.each([
    ["a lot bought after the usage is not used", "2022-06-01T00:00:00Z", "2022-05-31T23:59:59.999Z"],
    ["a lot expired before the usage is not used", "2021-01-01T00:00:00Z", "2022-01-01T00:00:00Z"],
  ])("%s: the cost becomes a deficit and the lot keeps its tokens", async (_why, purchasedAt, occurredAt) => {
    const account = await anAccount(h);
    const lot = await aCreditLot(h, account.id, { amount: "10", purchasedAt: at(purchasedAt) });
    const { charge } = await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: at(occurredAt), quantity: "2" }));
    expect(await receiptOf(h.sql, charge.id)).toEqual([`DEFICIT#-:${formatMicros(charge.tokensMicros)}`]);
    expect(await remainingOf(h.sql, "CREDIT_LOT", lot.id)).toBe("10");
  });

  it("charges 217 s of Design Automation 0.120556 tokens, split to the micro-token across a lot and a pack", async () => {
    h.setNow("2023-02-01T00:00:00Z");
    const account = await anAccount(h);
    const reseller = await aReseller(h);
    const lot = await aCreditLot(h, account.id, { amount: "0.1", purchasedAt: at("2022-10-01T00:00:00Z") });
    const pack = await aFlexPack(h, account.id, { channel: "RESELLER", resellerId: reseller.id, purchasedAt: at("2022-12-01T00:00:00Z") });
    const { charge } = await h.services.rating.recordUsage(
      aUsageEvent(account.id, { apiCode: "design-automation/autocad", quantity: "217", occurredAt: at("2023-01-15T00:00:00Z") }),
    );
    expect(await receiptOf(h.sql, charge.id)).toEqual([`CREDIT_LOT#${lot.id}:0.1`, `FLEX_PACK#${pack.id}:0.020556`]);
    expect(await remainingOf(h.sql, "FLEX_PACK", pack.id)).toBe("99.979444");
  });
});

describe("outcomes that are not billed", () => {
  it.each<[string, string, UsageEvent["outcome"], string, string]>([
    ["a failed Model Derivative job is free", "model-derivative/complex-job", "FAILED", "1", "0"],
    ["a cancelled Model Derivative job is free", "model-derivative/complex-job", "CANCELLED", "1", "0"],
    ["a Reality Capture job cancelled after processing started is charged", "reality-capture/photoscene", "CANCELLED", "100", "2"],
    ["a failed Reality Capture job is free", "reality-capture/photoscene", "FAILED", "100", "0"],
    ["a failed Design Automation work item is free", "design-automation/revit", "FAILED", "3600", "0"],
  ])("%s", async (_why, apiCode, outcome, quantity, expected) => {
    const account = await anAccount(h);
    const pack = await aFlexPack(h, account.id);
    const { charge } = await h.services.rating.recordUsage(aUsageEvent(account.id, { apiCode, outcome, quantity }));
    expect(formatMicros(charge.tokensMicros)).toBe(expected);
    expect(await remainingOf(h.sql, "FLEX_PACK", pack.id)).toBe(formatMicros(tokens("100") - tokens(expected)));
    // A free outcome still counts in usage reports, so its charge row exists, with no allocation.
    expect(await scalar(h.sql, "select count(*) from usage_charges where event_id = ?", charge.eventId)).toBe(1);
    expect(await receiptOf(h.sql, charge.id)).toEqual(expected === "0" ? [] : [`FLEX_PACK#${pack.id}:${expected}`]);
  });
});

describe("refused usage writes nothing", () => {
  it.each<[string, (accountId: number) => UsageEvent, ErrorCode, string]>([
    ["an unknown API", (id) => aUsageEvent(id, { apiCode: "model-derivative/unknown-job" }), "PRICE_NOT_FOUND", "input.apiCode"],
    ["an API before its first price version", (id) => aUsageEvent(id, { apiCode: "design-automation/revit", occurredAt: at("2019-10-27T23:59:59.999Z"), quantity: "60" }), "PRICE_NOT_FOUND", "input.apiCode"],
    ["usage before metering began", (id) => aUsageEvent(id, { occurredAt: at("2016-10-31T23:59:59.999Z") }), "PRICE_NOT_FOUND", "input.apiCode"],
    ["an unknown account", () => aUsageEvent(999), "NOT_FOUND", "input.accountId"],
    ["a malformed API code", (id) => aUsageEvent(id, { apiCode: "Model Derivative" }), "BAD_USER_INPUT", "input.apiCode"],
    ["an eventId with a space", (id) => aUsageEvent(id, { eventId: "event 1" }), "BAD_USER_INPUT", "input.eventId"],
    ["an empty eventId", (id) => aUsageEvent(id, { eventId: "" }), "BAD_USER_INPUT", "input.eventId"],
    ["a negative quantity", (id) => ({ ...aUsageEvent(id), quantityMicros: -1n }), "BAD_USER_INPUT", "input.quantity"],
    ["a quantity beyond the safe range", (id) => ({ ...aUsageEvent(id), quantityMicros: MAX_TOKENS_MICROS + 1n }), "BAD_USER_INPUT", "input.quantity"],
    ["an unknown outcome", (id) => ({ ...aUsageEvent(id), outcome: "DONE" as never }), "BAD_USER_INPUT", "input.outcome"],
    ["a usage time more than 5 minutes ahead", (id) => aUsageEvent(id, { occurredAt: at("2024-06-01T00:05:00.001Z") }), "BAD_USER_INPUT", "input.occurredAt"],
    ["a client id with control characters", (id) => aUsageEvent(id, { clientId: "app\n1" }), "BAD_USER_INPUT", "input.clientId"],
    ["more than 20 labels", (id) => aUsageEvent(id, { labels: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, "v"])) }), "BAD_USER_INPUT", "input.labels"],
  ])("refuses %s", async (_why, event, code, field) => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    await expectRefusedUnchanged(h.sql, () => h.services.rating.recordUsage(event(account.id)), code, field);
  });

  it("accepts a usage time exactly 5 minutes ahead (clock skew)", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    expect((await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: at("2024-06-01T00:05:00Z") }))).replayed).toBe(false);
  });

  it("refuses a cost too large to rate, naming the quantity", async () => {
    const account = await anAccount(h);
    await h.services.prices.publish(
      { apiCode: "test/expensive", meter: "JOB", unitQuantity: 1, tokensPerUnitMicros: tokens("1000"), note: "test price" },
      OPERATOR,
    );
    const event = aUsageEvent(account.id, { apiCode: "test/expensive", quantity: "1000001", occurredAt: h.now() });
    await expectRefusedUnchanged(h.sql, () => h.services.rating.recordUsage(event), "BAD_USER_INPUT", "input.quantity");
  });
});

describe("deficit, grace and restriction (NEGATIVE_WITH_GRACE)", () => {
  it("books what cannot be paid as a deficit and starts 14 days of grace from booking time", async () => {
    const account = await anAccount(h);
    const pack = await aFlexPack(h, account.id, { tokens: "100" });
    const { charge } = await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "210" }));
    expect(await receiptOf(h.sql, charge.id)).toEqual([`FLEX_PACK#${pack.id}:100`, "DEFICIT#-:5"]);
    expect(await deficitOf(h.sql, account.id)).toBe("5");
    expect(await h.statusOf(account.id)).toBe("GRACE");
    const balance = await h.balanceOf(account.id);
    expect(formatMicros(balance.availableMicros)).toBe("-5");
    // The event occurred 12 hours before it was booked; grace counts from the booking.
    expect(balance.graceEndsAt).toBe(h.now() + GRACE_PERIOD_MS);
  });

  it("keeps charging during grace, then refuses usage with a cost once grace is over, writing nothing", async () => {
    const account = await anAccount(h);
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "10" }));
    const booked = h.now();

    h.setNow(booked + GRACE_PERIOD_MS - 1);
    const during = await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: h.now() }));
    expect(await receiptOf(h.sql, during.charge.id)).toEqual(["DEFICIT#-:0.5"]);
    expect((await h.balanceOf(account.id)).graceEndsAt).toBe(booked + GRACE_PERIOD_MS);

    h.setNow(booked + GRACE_PERIOD_MS);
    expect(await h.statusOf(account.id)).toBe("RESTRICTED");
    await expectRefusedUnchanged(h.sql, () => h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: h.now() })), "ACCOUNT_RESTRICTED", undefined);
  });

  it("still records free usage on a restricted account", async () => {
    const account = await anAccount(h);
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "10" }));
    h.advance(GRACE_PERIOD_MS);
    const { charge } = await h.services.rating.recordUsage(aUsageEvent(account.id, { outcome: "FAILED", occurredAt: h.now() }));
    expect(charge.tokensMicros).toBe(0n);
    expect(await deficitOf(h.sql, account.id)).toBe("5");
  });
});

describe("HARD_STOP accounts (prepay only)", () => {
  it("refuses a cost the balance cannot cover with INSUFFICIENT_BALANCE and writes nothing", async () => {
    const account = await anAccount(h, { balancePolicy: "HARD_STOP" });
    await aFlexPack(h, account.id, { tokens: "100" });
    await expectRefusedUnchanged(h.sql, () => h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "200.000002" })), "INSUFFICIENT_BALANCE", undefined);
  });

  it("spends the balance to the last micro-token, then refuses", async () => {
    const account = await anAccount(h, { balancePolicy: "HARD_STOP" });
    const pack = await aFlexPack(h, account.id, { tokens: "100" });
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "199.999998" }));
    expect(await remainingOf(h.sql, "FLEX_PACK", pack.id)).toBe("0.000001");
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "0.000002" }));
    expect(await remainingOf(h.sql, "FLEX_PACK", pack.id)).toBe("0");
    expect(await deficitOf(h.sql, account.id)).toBe("0");
    await expectRefusedUnchanged(h.sql, () => h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "0.000002" })), "INSUFFICIENT_BALANCE", undefined);
  });
});

describe("a drain is all or nothing", () => {
  /** A storage fault between the charge's insert and the pack update, injected in the engine itself. */
  function failPackUpdatesBelow(amount: string) {
    return h.sql.injectFault({ table: "flex_packs", before: "update of remaining_micros", when: `new.remaining_micros < ${tokens(amount)}` });
  }

  it("leaves no charge or allocation behind when storage fails in the middle of an event", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    await failPackUpdatesBelow("50");
    const before = await dbSnapshot(h.sql);
    const error = await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "120" })).then(
      () => null,
      (failure: unknown) => failure,
    );
    expect(faultMessageIn(error)).toMatch(/injected storage fault/);
    expect(await dbSnapshot(h.sql)).toEqual(before);
    expect(await h.services.ledger.verify()).toEqual([]);
  });
});

/** RAISE(ROLLBACK) on SQLite: the fault ends the whole transaction, as a full disk or an I/O error would. */
const ROLLBACK_IS_SQLITES =
  "RAISE(ROLLBACK) ends a SQLite transaction from inside a statement; on PostgreSQL every error leaves the transaction to the store, which rates the group's events one at a time (group-isolation.test.ts)";
const packsBelowFifty: Fault = { table: "flex_packs", before: "update of remaining_micros", when: `new.remaining_micros < ${tokens("50")}`, endsTransaction: true };

describe("batches: each item succeeds or fails alone", () => {
  it("commits the good items around a refused one, and the refused one leaves nothing", async () => {
    const account = await anAccount(h, { balancePolicy: "HARD_STOP" });
    const pack = await aFlexPack(h, account.id, { tokens: "100" });
    const counts = await rowCounts(h.sql);
    const items = [
      aUsageEvent(account.id, { quantity: "80" }), // 40 tokens
      { ...aUsageEvent(account.id), quantityMicros: -1n },
      aUsageEvent(account.id, { quantity: "140" }), // 70 tokens: only 60 left
      aUsageEvent(account.id, { apiCode: "model-derivative/unknown-job" }),
      aUsageEvent(account.id, { quantity: "100" }), // 50 tokens
    ];
    const results = await h.services.rating.recordUsageBatch(items);
    expect(results.map((result) => (result.error ? { code: result.error.code, field: result.error.field } : result.replayed))).toEqual([
      false,
      { code: "BAD_USER_INPUT", field: "inputs.1.quantity" },
      { code: "INSUFFICIENT_BALANCE", field: undefined },
      { code: "PRICE_NOT_FOUND", field: "inputs.3.apiCode" },
      false,
    ]);
    expect(results.map((result) => result.eventId)).toEqual(items.map((item) => item.eventId));
    expect(await remainingOf(h.sql, "FLEX_PACK", pack.id)).toBe("10");
    const after = await rowCounts(h.sql);
    expect(after.usage_charges! - counts.usage_charges!).toBe(2);
    expect(after.allocations! - counts.allocations!).toBe(2);
    for (const refused of [items[1]!, items[2]!, items[3]!]) {
      expect(await scalar(h.sql, "select count(*) from usage_charges where event_id = ?", refused.eventId)).toBe(0);
    }
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it("replays and conflicts inside one batch like separate calls", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const event = aUsageEvent(account.id);
    const results = await h.services.rating.recordUsageBatch([event, event, { ...event, quantityMicros: tokens("2") }]);
    const [first, second] = results;
    if (!first || first.error || !second || second.error) throw new Error("expected the first two items to be recorded");
    expect(first.replayed).toBe(false);
    expect(second).toMatchObject({ replayed: true, charge: first.charge });
    expect({ code: results[2]!.error?.code, field: results[2]!.error?.field }).toEqual({ code: "IDEMPOTENCY_CONFLICT", field: "inputs.2.eventId" });
    expect(await scalar(h.sql, "select count(*) from usage_charges")).toBe(1);
  });

  it.skipIf(ENGINE !== "sqlite")(`rolls the whole batch back when SQLite ends the transaction inside an item, so a retry is clean${onSqliteOnly(ROLLBACK_IS_SQLITES)}`, async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    await h.sql.injectFault(packsBelowFifty);
    const items = [aUsageEvent(account.id, { quantity: "20" }), aUsageEvent(account.id, { quantity: "100" }), aUsageEvent(account.id, { quantity: "2" })];
    const before = await dbSnapshot(h.sql);
    await expect(h.services.rating.recordUsageBatch(items)).rejects.toThrow(/injected storage fault/);
    expect(await dbSnapshot(h.sql)).toEqual(before);

    await h.sql.removeFault(packsBelowFifty);
    const retried = await h.services.rating.recordUsageBatch(items);
    expect(retried.every((result) => !result.error && !result.replayed)).toBe(true);
    expect(await remainingOf(h.sql, "FLEX_PACK", 1)).toBe("39");
  });

  it(`refuses more than ${MAX_BATCH_SIZE} events at once, writing nothing`, async () => {
    const account = await anAccount(h);
    const items = Array.from({ length: MAX_BATCH_SIZE + 1 }, () => aUsageEvent(account.id));
    await expectRefusedUnchanged(h.sql, () => h.services.rating.recordUsageBatch(items), "BAD_USER_INPUT", "inputs");
  });
});

describe("quotes", () => {
  it("quotes exactly what recording will charge, writing nothing", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    const event = aUsageEvent(account.id, { quantity: "210" });
    const before = await dbSnapshot(h.sql);
    const quote = await h.services.rating.quoteUsage(event);
    expect(await dbSnapshot(h.sql)).toEqual(before);

    const { charge } = await h.services.rating.recordUsage(event);
    expect(quote.tokensMicros).toBe(charge.tokensMicros);
    expect(quote.price.id).toBe(charge.priceEntryId);
    expect(quote.allocations.map((a) => `${a.source}#${a.sourceId ?? "-"}:${formatMicros(a.amountMicros)}`)).toEqual(await receiptOf(h.sql, charge.id));
    expect(formatMicros(quote.balanceAfter.availableMicros)).toBe(formatMicros((await h.balanceOf(account.id)).availableMicros));
  });
});

describe("group commit of concurrent recordUsage calls", () => {
  it("answers each caller alone: refused events reject their own call, the others are charged", async () => {
    const account = await anAccount(h, { balancePolicy: "HARD_STOP" });
    const pack = await aFlexPack(h, account.id, { tokens: "100" });
    const settled = await Promise.allSettled([
      h.services.usageBatcher.record(aUsageEvent(account.id, { quantity: "80" })), // 40 tokens
      h.services.usageBatcher.record(aUsageEvent(account.id, { quantity: "140" })), // 70: only 60 left
      h.services.usageBatcher.record({ ...aUsageEvent(account.id), quantityMicros: -1n }),
      h.services.usageBatcher.record(aUsageEvent(account.id, { quantity: "100" })), // 50
    ]);
    expect(
      settled.map((result) =>
        result.status === "fulfilled" ? formatMicros(result.value.charge.tokensMicros) : { code: result.reason.code, field: result.reason.field },
      ),
    ).toEqual(["40", { code: "INSUFFICIENT_BALANCE", field: undefined }, { code: "BAD_USER_INPUT", field: "input.quantity" }, "50"]);
    expect(await remainingOf(h.sql, "FLEX_PACK", pack.id)).toBe("10");
    expect(await scalar(h.sql, "select count(*) from usage_charges")).toBe(2);
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it.skipIf(ENGINE !== "sqlite")(`rejects every caller of a group whose transaction SQLite rolls back, and writes nothing${onSqliteOnly(ROLLBACK_IS_SQLITES)}`, async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    // RAISE(ROLLBACK) ends the whole transaction, as a full disk or an I/O error would.
    await h.sql.injectFault(packsBelowFifty);
    const before = await dbSnapshot(h.sql);
    const settled = await Promise.allSettled([
      h.services.usageBatcher.record(aUsageEvent(account.id, { quantity: "20" })),
      h.services.usageBatcher.record(aUsageEvent(account.id, { quantity: "100" })),
    ]);
    expect(settled.map((result) => result.status)).toEqual(["rejected", "rejected"]);
    expect(await dbSnapshot(h.sql)).toEqual(before);
  });
});

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_DEFICIT_MICROS } from "../../server/core/account.js";
import type { Account } from "../../server/core/model.js";
import { formatMicros } from "../../server/core/money.js";
import type { UsageEvent } from "../../server/services/rating.service.js";
import { anAccount, aUsageEvent, createHarness, type Harness, OPERATOR, tokens } from "../fixtures/harness.js";
import { dbSnapshot, deficitOf, scalar } from "../fixtures/ledger-assertions.js";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
  // One token per call: quantities read as the tokens they cost.
  await h.services.prices.publish({ apiCode: "test/one-token-call", meter: "CALL", unitQuantity: 1, tokensPerUnitMicros: tokens("1"), note: "test" }, OPERATOR);
});
afterEach(() => h.close());

const call = (accountId: number, quantity: string): UsageEvent => aUsageEvent(accountId, { apiCode: "test/one-token-call", quantity, occurredAt: h.now() });

/** How the callers of concurrent recordUsage calls were answered: "charged" or the error code. */
async function answersOf(events: readonly UsageEvent[]): Promise<Record<string, number>> {
  const settled = await Promise.allSettled(events.map((event) => h.services.usageBatcher.record(event)));
  const tally: Record<string, number> = {};
  for (const result of settled) {
    const answer = result.status === "fulfilled" ? "charged" : String(result.reason.code ?? result.reason);
    tally[answer] = (tally[answer] ?? 0) + 1;
  }
  return tally;
}

/** 500 valid events of ten other accounts, with `odd` in the middle of them. */
async function besideFiveHundred(odd: UsageEvent): Promise<UsageEvent[]> {
  const others: Account[] = [];
  for (let i = 0; i < 10; i++) others.push(await anAccount(h));
  const events = Array.from({ length: 500 }, (_, index) => call(others[index % 10]!.id, "1"));
  events.splice(250, 0, odd);
  return events;
}

describe("the deficit bound", () => {
  it("refuses with INSUFFICIENT_BALANCE on input.quantity an event that would take a deficit past one billion tokens", async () => {
    const account = await anAccount(h);
    await h.services.rating.recordUsage(call(account.id, formatMicros(MAX_DEFICIT_MICROS - 1n)));
    await h.services.rating.recordUsage(call(account.id, "0.000001"));
    expect(await deficitOf(h.sql, account.id)).toBe("1000000000");

    const before = await dbSnapshot(h.sql);
    const beyond = call(account.id, "0.000001");
    for (const attempt of [() => h.services.rating.recordUsage(beyond), () => h.services.rating.quoteUsage(beyond)]) {
      await expect(attempt()).rejects.toThrow(expect.objectContaining({ code: "INSUFFICIENT_BALANCE", field: "input.quantity", message: expect.stringMatching(/may not exceed 1000000000 tokens/) }));
    }
    expect(await dbSnapshot(h.sql)).toEqual(before);
    // Free usage still goes through.
    expect((await h.services.rating.recordUsage(call(account.id, "0"))).charge.tokensMicros).toBe(0n);
  });

  it("answers 500 concurrent valid events of other accounts beside one that would overflow the deficit", async () => {
    const debtor = await anAccount(h);
    // Nine billion tokens fit a safe integer of micros; ten do not. Only the first billion is owed.
    for (let i = 0; i < 9; i++) await answersOf([call(debtor.id, "1000000000")]);
    expect(await deficitOf(h.sql, debtor.id)).toBe("1000000000");

    expect(await answersOf(await besideFiveHundred(call(debtor.id, "1000000000")))).toEqual({ charged: 500, INSUFFICIENT_BALANCE: 1 });
    expect(await scalar(h.sql, "select count(*) from usage_charges")).toBe(501);
    expect(await h.services.ledger.verify()).toEqual([]);
  });
});

describe("an unexpected error in one event of a group", () => {
  it("fails that event alone with INTERNAL_SERVER_ERROR: its 500 neighbours are charged", async () => {
    const broken = await anAccount(h);
    // A stored amount outside the safe-integer range cannot be read: an error no rule foresees.
    await h.sql.run("update accounts set deficit_micros = 9007199254740993 where id = ?", broken.id);
    const settled = await Promise.allSettled([h.services.usageBatcher.record(call(broken.id, "1"))]);
    expect(settled[0]).toMatchObject({ status: "rejected", reason: { code: "INTERNAL_SERVER_ERROR", message: expect.not.stringMatching(/safe integer/) } });

    expect(await answersOf(await besideFiveHundred(call(broken.id, "1")))).toEqual({ charged: 500, INTERNAL_SERVER_ERROR: 1 });
    expect(await scalar(h.sql, "select count(*) from usage_charges where account_id = ?", broken.id)).toBe(0);
  });

  it("isolates an event whose write a storage trigger aborts, and the batch result names it", async () => {
    const [first, second] = [await anAccount(h), await anAccount(h)];
    await h.sql.injectFault({ table: "usage_charges", before: "insert", when: `new.account_id = ${second.id}` });
    const results = await h.services.rating.recordUsageBatch([call(first.id, "2"), call(second.id, "3"), call(first.id, "4")]);
    expect(results.map((result) => (result.error ? result.error.code : formatMicros(result.charge.tokensMicros)))).toEqual(["2", "INTERNAL_SERVER_ERROR", "4"]);
    expect(await deficitOf(h.sql, first.id)).toBe("6");
    expect(await deficitOf(h.sql, second.id)).toBe("0");
    expect(await h.services.ledger.verify()).toEqual([]);
  });
});

import { afterEach, describe, expect, it } from "vitest";
import type { Balance } from "../../server/core/balance.js";
import { formatMicros } from "../../server/core/money.js";
import type { UsageCharge } from "../../server/core/model.js";
import { formatInstant } from "../../server/core/time.js";
import { aCreditLot, aFlexPack, anAccount, aReseller, at, aUsageEvent, collect, createHarness, type Harness, OPERATOR } from "../fixtures/harness.js";
import { refusalOf } from "../fixtures/ledger-assertions.js";

let h: Harness;
afterEach(() => h.close());

/** A balance in tokens, so expectations read like a statement. */
const shown = (balance: Balance) => ({
  cloudCredits: formatMicros(balance.cloudCreditsMicros),
  flexTokens: formatMicros(balance.flexTokensMicros),
  deficit: formatMicros(balance.deficitMicros),
  available: formatMicros(balance.availableMicros),
  graceEndsAt: balance.graceEndsAt === null ? null : formatInstant(balance.graceEndsAt),
});

async function allCharges(accountId: number): Promise<UsageCharge[]> {
  return (await h.services.ledger.charges(accountId, {}, 100, undefined)).items as UsageCharge[];
}

describe("balance as of a date", () => {
  /** A 100-token pack; 10 tokens used on 10 May, 5 on 20 May, 2 on 12 May reported late; the 10 reversed on 1 June. */
  async function usageBetweenTwoDates() {
    h = await createHarness({ now: "2024-05-01T00:00:00Z" });
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2024-05-01T00:00:00Z") });
    h.setNow("2024-05-10T13:00:00Z");
    const first = (await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "20", occurredAt: at("2024-05-10T12:00:00Z") }))).charge;
    h.setNow("2024-05-20T13:00:00Z");
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "10", occurredAt: at("2024-05-20T12:00:00Z") }));
    h.setNow("2024-06-01T00:00:00Z");
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "4", occurredAt: at("2024-05-12T00:00:00Z") }));
    h.setNow("2024-06-01T01:00:00Z");
    await h.services.rating.reverseCharge(first.id, "duplicate job", OPERATOR);
    h.setNow("2024-06-01T02:00:00Z");
    return account;
  }

  it.each([
    ["2024-04-30T00:00:00Z", "0", "before the pack was bought"],
    ["2024-05-10T12:00:00Z", "100", "at the instant of the first usage, which is not before it"],
    ["2024-05-15T00:00:00Z", "88", "between the two usages, with the late report of 12 May"],
    ["2024-05-25T00:00:00Z", "83", "after both usages"],
    ["2024-06-01T00:30:00Z", "83", "before the reversal was made"],
    ["2024-06-01T02:00:00Z", "93", "after the reversal gave the 10 tokens back"],
  ])("as of %s holds %s Flex tokens (%s)", async (asOf, flex, _why) => {
    const account = await usageBetweenTwoDates();
    expect(shown(await h.services.insight.balanceAsOf(account.id, at(asOf)))).toEqual({
      cloudCredits: "0",
      flexTokens: flex,
      deficit: "0",
      available: flex,
      graceEndsAt: null,
    });
  });

  it("as of now equals the stored balance", async () => {
    const account = await usageBetweenTwoDates();
    expect(await h.services.insight.balanceAsOf(account.id, h.now())).toEqual((await h.services.accounts.balances([account]))[0]);
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it("shows a deficit while it was owed, and the pack that later paid it less what it paid", async () => {
    h = await createHarness({ now: "2024-05-10T13:00:00Z" });
    const account = await anAccount(h);
    const { charge } = await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "20", occurredAt: at("2024-05-10T12:00:00Z") }));
    h.setNow("2024-05-20T00:00:00Z");
    await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2024-05-20T00:00:00Z") });
    h.setNow("2024-06-01T00:00:00Z");
    await h.services.rating.reverseCharge(charge.id, "customer goodwill", OPERATOR);
    h.setNow("2024-06-02T00:00:00Z");

    const asOf = async (iso: string) => shown(await h.services.insight.balanceAsOf(account.id, at(iso)));
    // Owed from the usage on, though the grace clock only started when the charge was booked.
    expect(await asOf("2024-05-10T12:30:00Z")).toEqual({ cloudCredits: "0", flexTokens: "0", deficit: "10", available: "-10", graceEndsAt: null });
    expect(await asOf("2024-05-15T00:00:00Z")).toEqual({
      cloudCredits: "0",
      flexTokens: "0",
      deficit: "10",
      available: "-10",
      graceEndsAt: "2024-05-24T13:00:00.000Z",
    });
    expect(await asOf("2024-05-25T00:00:00Z")).toEqual({ cloudCredits: "0", flexTokens: "90", deficit: "0", available: "90", graceEndsAt: null });
    expect(await asOf("2024-06-02T00:00:00Z")).toEqual({ cloudCredits: "0", flexTokens: "100", deficit: "0", available: "100", graceEndsAt: null });
    expect(await h.services.insight.balanceAsOf(account.id, h.now())).toEqual((await h.services.accounts.balances([account]))[0]);
  });

  it("dates a purchase that waited for another write at the moment it is made, as usage is, not when it arrived", async () => {
    h = await createHarness({ now: "2024-06-10T00:00:00Z" });
    const account = await anAccount(h);
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "20", occurredAt: at("2024-06-09T00:00:00Z") }));
    // Another write to the account holds its lock when the purchase arrives, and ends 5 s later.
    let release!: () => void;
    const held = h.store.write({ accounts: [account.id] }, () => new Promise<void>((resolve) => (release = resolve)));
    const purchase = aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2024-06-09T00:00:00Z") });
    await new Promise((resolve) => setTimeout(resolve, 50));
    h.setNow("2024-06-10T00:00:05Z");
    release();
    await Promise.all([held, purchase]);
    const asOf = async (iso: string) => shown(await h.services.insight.balanceAsOf(account.id, at(iso)));
    expect(await asOf("2024-06-10T00:00:04Z")).toMatchObject({ deficit: "10", graceEndsAt: "2024-06-24T00:00:00.000Z" });
    expect(await asOf("2024-06-10T00:00:06Z")).toMatchObject({ deficit: "0", flexTokens: "90", graceEndsAt: null });
  });

  it("splits cloud credits from Flex tokens and drops the lot the day it expires", async () => {
    h = await createHarness({ now: "2022-10-01T00:00:00Z" });
    const account = await anAccount(h);
    await aCreditLot(h, account.id, { amount: "30", purchasedAt: at("2022-01-15T00:00:00Z") });
    await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2022-09-01T00:00:00Z"), channel: "RESELLER", resellerId: (await aReseller(h)).id });
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "80", occurredAt: at("2022-09-30T00:00:00Z") }));
    h.setNow("2023-02-01T00:00:00Z");
    expect(shown(await h.services.insight.balanceAsOf(account.id, at("2022-10-01T00:00:00Z")))).toEqual({
      cloudCredits: "0",
      flexTokens: "90",
      deficit: "0",
      available: "90",
      graceEndsAt: null,
    });
    expect(shown(await h.services.insight.balanceAsOf(account.id, at("2022-09-15T00:00:00Z")))).toEqual({
      cloudCredits: "30",
      flexTokens: "100",
      deficit: "0",
      available: "130",
      graceEndsAt: null,
    });
    expect(formatMicros((await h.services.insight.balanceAsOf(account.id, at("2023-01-15T00:00:00Z"))).cloudCreditsMicros)).toBe("0");
  });

  it.each([
    ["an unknown account", 999, "2024-05-01T00:00:00Z", "NOT_FOUND", "accountId"],
    ["a date more than 5 minutes ahead", null, "2024-06-01T00:05:01Z", "BAD_USER_INPUT", "asOf"],
  ] as const)("refuses %s", async (_what, id, asOf, code, field) => {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const account = await anAccount(h);
    expect(await refusalOf(() => h.services.insight.balanceAsOf(id ?? account.id, at(asOf)))).toMatchObject({ code, field });
  });
});

describe("usage summary", () => {
  async function seededUsage() {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const account = await anAccount(h);
    const other = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "1000", purchasedAt: at("2024-03-01T00:00:00Z") });
    await aFlexPack(h, other.id, { tokens: "100", purchasedAt: at("2024-03-01T00:00:00Z") });
    const record = async (overrides: Parameters<typeof aUsageEvent>[1]) => (await h.services.rating.recordUsage(aUsageEvent(account.id, overrides))).charge;
    await record({ quantity: "2", occurredAt: at("2024-04-30T23:59:59.999Z"), clientId: "app-a" });
    await record({ quantity: "1", occurredAt: at("2024-05-01T00:00:00Z"), clientId: "app-a" });
    await record({ apiCode: "design-automation/revit", quantity: "217", occurredAt: at("2024-05-01T10:00:00Z"), clientId: "app-b" });
    await record({ apiCode: "design-automation/revit", quantity: "217", occurredAt: at("2024-05-01T11:00:00Z"), clientId: "app-b" });
    await record({ quantity: "3", outcome: "FAILED", occurredAt: at("2024-05-02T00:00:00Z"), clientId: "app-a" });
    await record({ apiCode: "model-derivative/simple-job", quantity: "5", occurredAt: at("2024-05-03T08:00:00Z") });
    const reversed = await record({ quantity: "4", occurredAt: at("2024-05-03T09:00:00Z"), clientId: "app-a" });
    await h.services.rating.reverseCharge(reversed.id, "test job", OPERATOR);
    await h.services.rating.recordUsage(aUsageEvent(other.id, { quantity: "7", occurredAt: at("2024-05-01T12:00:00Z") }));
    return account;
  }

  const rows = async (accountId: number, from: string, to: string, groupBy: "DAY" | "MONTH", clientId?: string) =>
    (await h.services.insight
      .usageSummary(accountId, at(from), at(to), groupBy, clientId))
      .map((row) => [formatInstant(row.periodStart).slice(0, 10), row.apiCode, row.events, formatMicros(row.quantityMicros), formatMicros(row.tokensMicros)]);

  it("sums standing usage per UTC day and API, counting uncharged outcomes and leaving out reversed charges", async () => {
    const account = await seededUsage();
    expect(await rows(account.id, "2024-04-01", "2024-06-01", "DAY")).toEqual([
      ["2024-04-30", "model-derivative/complex-job", 1, "2", "1"],
      ["2024-05-01", "design-automation/revit", 2, "434", "0.241112"],
      ["2024-05-01", "model-derivative/complex-job", 1, "1", "0.5"],
      ["2024-05-02", "model-derivative/complex-job", 1, "3", "0"],
      ["2024-05-03", "model-derivative/simple-job", 1, "5", "0.5"],
    ]);
  });

  it("sums per UTC month", async () => {
    const account = await seededUsage();
    expect(await rows(account.id, "2024-04-01", "2024-06-01", "MONTH")).toEqual([
      ["2024-04-01", "model-derivative/complex-job", 1, "2", "1"],
      ["2024-05-01", "design-automation/revit", 2, "434", "0.241112"],
      ["2024-05-01", "model-derivative/complex-job", 2, "4", "0.5"],
      ["2024-05-01", "model-derivative/simple-job", 1, "5", "0.5"],
    ]);
  });

  it("includes usage at `from` and leaves out usage at `to`", async () => {
    const account = await seededUsage();
    expect(await rows(account.id, "2024-05-01", "2024-05-03T08:00:00Z", "MONTH")).toEqual([
      ["2024-05-01", "design-automation/revit", 2, "434", "0.241112"],
      ["2024-05-01", "model-derivative/complex-job", 2, "4", "0.5"],
    ]);
  });

  it("reports one client's usage", async () => {
    const account = await seededUsage();
    expect(await rows(account.id, "2024-04-01", "2024-06-01", "MONTH", "app-b")).toEqual([
      ["2024-05-01", "design-automation/revit", 2, "434", "0.241112"],
    ]);
  });

  it("adds up to the standing charges of the window", async () => {
    const account = await seededUsage();
    const summary = await h.services.insight.usageSummary(account.id, at("2024-01-01"), at("2024-06-01"), "DAY");
    const standing = (await allCharges(account.id)).filter((charge) => charge.reversedAt === null);
    const sum = (values: bigint[]) => values.reduce((a, b) => a + b, 0n);
    expect(summary.reduce((n, row) => n + row.events, 0)).toBe(standing.length);
    expect(sum(summary.map((row) => row.tokensMicros))).toBe(sum(standing.map((charge) => charge.tokensMicros)));
    expect(sum(summary.map((row) => row.quantityMicros))).toBe(sum(standing.map((charge) => charge.quantityMicros)));
  });

  it.each([
    ["to before from", "2024-05-02", "2024-05-01", "DAY", 0, "BAD_USER_INPUT", "to"],
    ["from equal to to", "2024-05-01", "2024-05-01", "DAY", 0, "BAD_USER_INPUT", "to"],
    ["an unknown grouping", "2024-05-01", "2024-05-02", "WEEK", 0, "BAD_USER_INPUT", "groupBy"],
    ["an unknown account", "2024-05-01", "2024-05-02", "DAY", 999, "NOT_FOUND", "accountId"],
  ] as const)("refuses %s", async (_what, from, to, groupBy, id, code, field) => {
    const account = await seededUsage();
    expect(
      await refusalOf(() => h.services.insight.usageSummary(id || account.id, at(from), at(to), groupBy as "DAY")),
    ).toMatchObject({ code, field });
  });

  it("refuses a malformed client id", async () => {
    const account = await seededUsage();
    expect(await refusalOf(() => h.services.insight.usageSummary(account.id, at("2024-05-01"), at("2024-05-02"), "DAY", "app a"))).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "clientId",
    });
  });
});

describe("usage export", () => {
  it("has one row per standing charge, oldest first, equal to the charge and what paid it", async () => {
    h = await createHarness({ now: "2022-10-01T00:00:00Z" });
    const account = await anAccount(h);
    await aCreditLot(h, account.id, { amount: "1", purchasedAt: at("2022-01-15T00:00:00Z") });
    await aFlexPack(h, account.id, { tokens: "100", purchasedAt: at("2022-09-01T00:00:00Z"), channel: "RESELLER", resellerId: (await aReseller(h)).id });
    const record = async (overrides: Parameters<typeof aUsageEvent>[1]) => (await h.services.rating.recordUsage(aUsageEvent(account.id, overrides))).charge;
    // 204 jobs at 0.5 = 102 tokens: the 1-token lot, the 100-token pack, and 1 owed.
    const split = await record({ quantity: "204", occurredAt: at("2022-09-20T00:00:00Z"), clientId: "app-a" });
    const failed = await record({ quantity: "1", outcome: "FAILED", occurredAt: at("2022-09-10T00:00:00Z") });
    const reversed = await record({ quantity: "1", occurredAt: at("2022-09-15T00:00:00Z") });
    await h.services.rating.reverseCharge(reversed.id, "test", OPERATOR);
    await record({ quantity: "1", occurredAt: at("2022-08-31T23:59:59.999Z") });

    const rows = await collect(await h.services.insight.exportUsage(account.id, at("2022-09-01"), at("2022-10-01")));
    expect(rows).toEqual([
      {
        occurredAt: failed.occurredAt,
        eventId: failed.eventId,
        apiCode: "model-derivative/complex-job",
        clientId: null,
        quantityMicros: 1_000_000n,
        outcome: "FAILED",
        tokensMicros: 0n,
        creditsMicros: 0n,
        flexMicros: 0n,
        deficitMicros: 0n,
        units: null,
        tokenFlexMicros: 0n,
        paygMicros: 0n,
        overrunUnits: 0n,
      },
      {
        occurredAt: split.occurredAt,
        eventId: split.eventId,
        apiCode: "model-derivative/complex-job",
        clientId: "app-a",
        quantityMicros: 204_000_000n,
        outcome: "SUCCEEDED",
        tokensMicros: 102_000_000n,
        creditsMicros: 1_000_000n,
        flexMicros: 100_000_000n,
        deficitMicros: 1_000_000n,
        units: null,
        tokenFlexMicros: 0n,
        paygMicros: 0n,
        overrunUnits: 0n,
      },
    ]);
    const receipt = (await h.services.ledger.allocations([split.id])).get(split.id)!;
    expect(receipt.map((part) => [part.source, part.amountMicros])).toEqual([
      ["CREDIT_LOT", 1_000_000n],
      ["FLEX_PACK", 100_000_000n],
      ["DEFICIT", 1_000_000n],
    ]);
  });

  it("streams more charges than one page, in order, ties on the same instant included", async () => {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const account = await anAccount(h);
    const instants = ["2024-05-03T00:00:00Z", "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"].map(at);
    for (let batch = 0; batch < 2; batch++) {
      const results = await h.services.rating.recordUsageBatch(
        Array.from({ length: 600 }, (_, i) => aUsageEvent(account.id, { outcome: "FAILED", occurredAt: instants[i % 3]! })),
      );
      expect(results.every((result) => !result.error)).toBe(true);
    }
    const rows = await collect(await h.services.insight.exportUsage(account.id, at("2024-05-01"), at("2024-06-01")));
    expect(rows).toHaveLength(1200);
    expect(new Set(rows.map((row) => row.eventId)).size).toBe(1200);
    const times = rows.map((row) => row.occurredAt);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("leaves the database free for writes while a download is half read", async () => {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    for (let i = 0; i < 3; i++) await h.services.rating.recordUsage(aUsageEvent(account.id));
    const rows = await h.services.insight.exportUsage(account.id, at("2024-05-01"), at("2024-06-01"));
    expect((await rows.next()).done).toBe(false);
    expect((await h.services.rating.recordUsage(aUsageEvent(account.id))).replayed).toBe(false);
    // The page was read before the write, so the download holds the three charges it started with.
    expect(await collect(rows)).toHaveLength(2);
  });

  it.each([
    ["to before from", 0, "2024-05-02", "2024-05-01", "BAD_USER_INPUT", "to"],
    ["an unknown account", 999, "2024-05-01", "2024-05-02", "NOT_FOUND", "accountId"],
  ] as const)("refuses %s when called, before any row is read", async (_what, id, from, to, code, field) => {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const account = await anAccount(h);
    expect(await refusalOf(() => h.services.insight.exportUsage(id || account.id, at(from), at(to)))).toMatchObject({ code, field });
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import type { UsageEvent } from "../../server/services/rating.service.js";
import type { PricePublication } from "../../server/services/prices.service.js";
import { aCreditLot, aFlexPack, anAccount, aReseller, at, aUsageEvent, createHarness, type Harness, OPERATOR, tokens } from "../fixtures/harness.js";
import { dbSnapshot, refusalOf } from "../fixtures/ledger-assertions.js";

let h: Harness;
afterEach(() => h.close());

/** Every table's rows, so "writes nothing" compares whole contents. */
const contents = () => dbSnapshot(h.sql);

describe("a quote", () => {
  it.each([
    {
      name: "split across a cloud-credit lot, a Flex pack and a deficit",
      now: "2022-10-01T00:00:00Z",
      fund: async (accountId: number) => {
        await aCreditLot(h, accountId, { amount: "1", purchasedAt: at("2022-01-15T00:00:00Z") });
        await aFlexPack(h, accountId, { tokens: "100", purchasedAt: at("2022-09-01T00:00:00Z"), channel: "RESELLER", resellerId: (await aReseller(h)).id });
      },
      event: { quantity: "204", occurredAt: at("2022-09-30T12:00:00Z") },
      tokens: "102",
      sources: ["CREDIT_LOT", "FLEX_PACK", "DEFICIT"],
    },
    {
      name: "paid from one Flex pack, rounded like the charge",
      now: "2024-06-01T00:00:00Z",
      fund: async (accountId: number) => void (await aFlexPack(h, accountId)),
      event: { apiCode: "design-automation/revit", quantity: "217" },
      tokens: "0.120556",
      sources: ["FLEX_PACK"],
    },
    {
      name: "of an outcome that is not billed",
      now: "2024-06-01T00:00:00Z",
      fund: async (accountId: number) => void (await aFlexPack(h, accountId)),
      event: { quantity: "3", outcome: "FAILED" as const },
      tokens: "0",
      sources: [],
    },
  ])("equals the charge that follows it: $name", async ({ now, fund, event, tokens: cost, sources }) => {
    h = await createHarness({ now });
    const account = await anAccount(h);
    await fund(account.id);
    const usage: UsageEvent = aUsageEvent(account.id, event);

    const before = await contents();
    const quote = await h.services.rating.quoteUsage(usage);
    expect(await contents()).toEqual(before);

    const { charge } = await h.services.rating.recordUsage(usage);
    expect(formatMicros(quote.tokensMicros)).toBe(cost);
    expect(charge.tokensMicros).toBe(quote.tokensMicros);
    expect(charge.priceEntryId).toBe(quote.price.id);
    const receipt = (await h.services.ledger.allocations([charge.id])).get(charge.id) ?? [];
    expect(receipt.map((part) => ({ source: part.source, sourceId: part.creditLotId ?? part.flexPackId, amountMicros: part.amountMicros }))).toEqual(
      quote.allocations.map((part) => ({ ...part })),
    );
    expect(receipt.map((part) => part.source)).toEqual(sources);
    expect(await h.balanceOf(account.id)).toEqual(quote.balanceAfter);
  });
});

describe("price-change preview", () => {
  const complexJob = (overrides: Partial<PricePublication> = {}): PricePublication => ({
    apiCode: "model-derivative/complex-job",
    meter: "JOB",
    unitQuantity: 1,
    tokensPerUnitMicros: tokens("0.75"),
    note: "proposed increase",
    ...overrides,
  });

  /** Two accounts' Model Derivative usage around the last 30 days (now is 2024-06-01). */
  async function seededUsage() {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const a = await anAccount(h);
    const b = await anAccount(h);
    await aFlexPack(h, a.id, { tokens: "100", purchasedAt: at("2024-04-01T00:00:00Z") });
    await aFlexPack(h, b.id, { tokens: "100", purchasedAt: at("2024-04-01T00:00:00Z") });
    const record = async (accountId: number, overrides: Parameters<typeof aUsageEvent>[1]) =>
      (await h.services.rating.recordUsage(aUsageEvent(accountId, overrides))).charge;
    await record(a.id, { quantity: "1", occurredAt: at("2024-05-10T00:00:00Z") });
    await record(a.id, { quantity: "2", occurredAt: at("2024-05-20T00:00:00Z") });
    await record(a.id, { quantity: "5", outcome: "FAILED", occurredAt: at("2024-05-21T00:00:00Z") });
    const reversed = await record(a.id, { quantity: "10", occurredAt: at("2024-05-22T00:00:00Z") });
    await h.services.rating.reverseCharge(reversed.id, "test job", OPERATOR);
    await record(a.id, { quantity: "7", occurredAt: at("2024-05-01T12:00:00Z") }); // 30.5 days ago
    await record(a.id, { apiCode: "model-derivative/simple-job", quantity: "3", occurredAt: at("2024-05-15T00:00:00Z") });
    await record(b.id, { quantity: "3", occurredAt: at("2024-05-25T00:00:00Z") });
    return { a, b };
  }

  const shown = (impact: Awaited<ReturnType<Harness["services"]["insight"]["previewPriceChange"]>>) => ({
    days: impact.days,
    events: impact.events,
    current: formatMicros(impact.currentTokensMicros),
    proposed: formatMicros(impact.proposedTokensMicros),
    delta: formatMicros(impact.deltaTokensMicros),
  });

  it("equals the difference between the two rates over the standing usage of every account", async () => {
    const { a, b } = await seededUsage();
    const impact = await h.services.insight.previewPriceChange(complexJob(), 30);
    // Billed jobs in the window: 1 + 2 (account a) + 3 (account b) = 6, at 0.75 − 0.5.
    const since = h.now() - 30 * 86_400_000;
    const charges = [];
    for (const account of [a, b]) {
      charges.push(...(await h.services.ledger.charges(account.id, { apiCode: "model-derivative/complex-job", from: since }, 100, undefined)).items);
    }
    const billedJobs = charges
      .filter((charge) => charge.reversedAt === null && charge.outcome === "SUCCEEDED")
      .reduce((sum, charge) => sum + charge.quantityMicros, 0n);
    expect(formatMicros(billedJobs)).toBe("6");
    expect(impact.deltaTokensMicros).toBe((billedJobs * (tokens("0.75") - tokens("0.5"))) / 1_000_000n);
    expect(shown(impact)).toEqual({ days: 30, events: 4, current: "3", proposed: "4.5", delta: "1.5" });
  });

  it.each([
    ["looks back 30 days by default", complexJob(), undefined, { days: 30, events: 4, current: "3", proposed: "4.5", delta: "1.5" }],
    ["reaches older usage over more days", complexJob(), 40, { days: 40, events: 5, current: "6.5", proposed: "9.75", delta: "3.25" }],
    [
      "bills the outcomes the proposal bills",
      complexJob({ chargeableOutcomes: ["SUCCEEDED", "FAILED"] }),
      30,
      { days: 30, events: 4, current: "3", proposed: "8.25", delta: "5.25" },
    ],
    [
      "shows a price cut as a negative delta",
      complexJob({ tokensPerUnitMicros: tokens("0.25") }),
      30,
      { days: 30, events: 4, current: "3", proposed: "1.5", delta: "-1.5" },
    ],
    [
      "ignores an effective date in the past",
      complexJob({ effectiveFrom: at("2024-01-01T00:00:00Z") }),
      30,
      { days: 30, events: 4, current: "3", proposed: "4.5", delta: "1.5" },
    ],
    [
      "finds nothing for an API without usage",
      complexJob({ apiCode: "design-automation/fusion", meter: "SECOND", unitQuantity: 3600 }),
      30,
      { days: 30, events: 0, current: "0", proposed: "0", delta: "0" },
    ],
  ] as const)("%s", async (_name, input, days, expected) => {
    await seededUsage();
    expect(shown(await h.services.insight.previewPriceChange(input, days))).toEqual(expected);
  });

  it("re-rates each event with its own rounding", async () => {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    for (let i = 0; i < 3; i++) await h.services.rating.recordUsage(aUsageEvent(account.id, { apiCode: "design-automation/revit", quantity: "217" }));
    const impact = await h.services.insight.previewPriceChange(
      { apiCode: "design-automation/revit", meter: "SECOND", unitQuantity: 3600, tokensPerUnitMicros: tokens("3"), note: "proposal" },
      30,
    );
    // 217 s: 0.120556 each at 2 per hour, 0.180833 each at 3 per hour.
    expect(shown(impact)).toEqual({ days: 30, events: 3, current: "0.361668", proposed: "0.542499", delta: "0.180831" });
  });

  it("lists who pays: each account's tokens, change, zero-charge events, and whose balance runs out sooner", async () => {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const day = 86_400_000;
    const heavy = await anAccount(h, { name: "Heavy user" });
    const light = await anAccount(h, { name: "Failed jobs only" });
    await aFlexPack(h, heavy.id, { tokens: "130", purchasedAt: h.now() - 30 * day });
    await aFlexPack(h, light.id, { tokens: "100", purchasedAt: h.now() - 30 * day });
    // 15 hours of Revit in the last 30 days at 2 tokens an hour: 30 tokens, a burn of 1 a day, 100 left.
    for (let i = 0; i < 15; i++) {
      await h.services.rating.recordUsage(aUsageEvent(heavy.id, { eventId: `heavy-${i}`, apiCode: "design-automation/revit", quantity: "3600", occurredAt: h.now() - (i + 1) * day }));
    }
    await h.services.rating.recordUsage(aUsageEvent(light.id, { eventId: "light-0", apiCode: "design-automation/revit", quantity: "3600", outcome: "FAILED", occurredAt: h.now() - day }));
    const proposal = (effectiveFrom?: number) =>
      h.services.insight.previewPriceChange(
        { apiCode: "design-automation/revit", meter: "SECOND", unitQuantity: 3600, tokensPerUnitMicros: tokens("3"), note: "proposal", effectiveFrom },
        30,
      );
    const shownAccounts = (impact: Awaited<ReturnType<typeof proposal>>) =>
      impact.accounts.map((a) => ({
        accountId: a.accountId,
        events: a.events,
        zero: a.zeroChargeEvents,
        current: formatMicros(a.currentTokensMicros),
        proposed: formatMicros(a.proposedTokensMicros),
        delta: formatMicros(a.deltaTokensMicros),
        percent: a.changePercent,
        depletesAt: a.depletesAt === null ? null : new Date(a.depletesAt).toISOString(),
        proposedDepletesAt: a.proposedDepletesAt === null ? null : new Date(a.proposedDepletesAt).toISOString(),
      }));

    // In force at once: 1.5 tokens a day from today, so the 100 tokens last 66 2/3 days instead of 100.
    const now = await proposal();
    expect({ events: now.events, zero: now.zeroChargeEvents, accounts: now.accountCount }).toEqual({ events: 16, zero: 1, accounts: 2 });
    expect(shownAccounts(now)).toEqual([
      { accountId: heavy.id, events: 15, zero: 0, current: "30", proposed: "45", delta: "15", percent: "50.0", depletesAt: "2024-09-09T00:00:00.000Z", proposedDepletesAt: "2024-08-06T16:00:00.000Z" },
      { accountId: light.id, events: 1, zero: 1, current: "0", proposed: "0", delta: "0", percent: null, depletesAt: null, proposedDepletesAt: null },
    ]);
    // In force in 10 days: 90 tokens are left then, which last 60 days at 1.5 a day.
    expect(shownAccounts(await proposal(h.now() + 10 * day))[0]).toMatchObject({ depletesAt: "2024-09-09T00:00:00.000Z", proposedDepletesAt: "2024-08-10T00:00:00.000Z" });
  });

  it("writes nothing", async () => {
    await seededUsage();
    const before = await contents();
    await h.services.insight.previewPriceChange(complexJob(), 30);
    expect(await contents()).toEqual(before);
  });

  it.each([
    ["0 days", complexJob(), 0, "days"],
    ["367 days", complexJob(), 367, "days"],
    ["a fraction of a day", complexJob(), 1.5, "days"],
    ["a unit quantity of 0", complexJob({ unitQuantity: 0 }), 30, "input.unitQuantity"],
    ["a malformed API code", complexJob({ apiCode: "Model Derivative" }), 30, "input.apiCode"],
    ["a blank note", complexJob({ note: "  " }), 30, "input.note"],
    ["another meter than the usage was recorded in", complexJob({ meter: "PHOTO" }), 30, "input.meter"],
  ] as const)("refuses %s", async (_what, input, days, field) => {
    await seededUsage();
    expect(await refusalOf(() => h.services.insight.previewPriceChange(input, days))).toMatchObject({ code: "BAD_USER_INPUT", field });
  });
});

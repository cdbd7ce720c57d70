import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GRACE_PERIOD_MS } from "../../server/core/account.js";
import type { ErrorCode } from "../../server/core/errors.js";
import { formatMicros } from "../../server/core/money.js";
import type { PricePublication } from "../../server/services/prices.service.js";
import { createServices } from "../../server/services/index.js";
import { aFlexPack, anAccount, at, aUsageEvent, createHarness, type Harness, OPERATOR, tokens } from "../fixtures/harness.js";
import { dbSnapshot, expectRefusedUnchanged, receiptOf, scalar } from "../fixtures/ledger-assertions.js";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(() => h.close());

const day = (instant: number | null) => (instant === null ? null : new Date(instant).toISOString().slice(0, 10));
const complexJob = "model-derivative/complex-job";

function aPublication(overrides: Partial<PricePublication> = {}): PricePublication {
  return { apiCode: complexJob, meter: "JOB", unitQuantity: 1, tokensPerUnitMicros: tokens("0.75"), note: "price change", ...overrides };
}

describe("the shipped price table", () => {
  it("holds the published APS price history, with the billed outcomes", async () => {
    const rows = (await h.services.prices
      .allVersions())
      .map((v) => [v.apiCode, v.meter, v.unitQuantity, formatMicros(v.tokensPerUnitMicros), day(v.effectiveFrom), String(day(v.effectiveTo)), v.chargeableOutcomes.join(",")].join(" "))
      .sort();
    expect(rows).toEqual(
      [
        "model-derivative/complex-job JOB 1 1.5 2016-11-01 2022-03-29 SUCCEEDED",
        "model-derivative/complex-job JOB 1 0.5 2022-03-29 null SUCCEEDED",
        "model-derivative/simple-job JOB 1 0.2 2016-11-01 2022-03-29 SUCCEEDED",
        "model-derivative/simple-job JOB 1 0.1 2022-03-29 null SUCCEEDED",
        "design-automation/autocad SECOND 3600 4 2016-11-01 2022-03-29 SUCCEEDED",
        "design-automation/autocad SECOND 3600 2 2022-03-29 null SUCCEEDED",
        "design-automation/revit SECOND 3600 6 2019-10-28 2022-03-29 SUCCEEDED",
        "design-automation/revit SECOND 3600 2 2022-03-29 null SUCCEEDED",
        "design-automation/inventor SECOND 3600 6 2019-10-28 2022-03-29 SUCCEEDED",
        "design-automation/inventor SECOND 3600 2 2022-03-29 null SUCCEEDED",
        "design-automation/3dsmax SECOND 3600 6 2019-10-28 2022-03-29 SUCCEEDED",
        "design-automation/3dsmax SECOND 3600 2 2022-03-29 null SUCCEEDED",
        "design-automation/fusion SECOND 3600 3 2025-06-01 null SUCCEEDED",
        "flow-graph-engine/processing SECOND 3600 1 2024-11-01 null SUCCEEDED",
        "reality-capture/photoscene GIGAPIXEL 1 3.5 2017-11-01 2022-03-29 SUCCEEDED,CANCELLED",
        "reality-capture/photoscene GIGAPIXEL 1 1 2022-03-29 2022-09-07 SUCCEEDED,CANCELLED",
        "reality-capture/photoscene PHOTO 50 1 2022-09-07 null SUCCEEDED,CANCELLED",
        "model-derivative/basic-interactions CALL 300000 1 2025-12-08 null SUCCEEDED",
      ].sort(),
    );
  });

  it.each([
    ["2016-10-31", []],
    ["2022-03-28", ["1.5"]],
    ["2022-03-29", ["0.5"]],
  ])("lists the versions in force on %s", async (asOf, rates) => {
    const table = (await h.services.prices.priceTable(at(asOf))).filter((v) => v.apiCode === complexJob);
    expect(table.map((v) => formatMicros(v.tokensPerUnitMicros))).toEqual(rates);
  });
});

describe("publishing a price change", () => {
  it("takes effect now: new usage pays the new rate, late usage and past charges keep the old one", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const past = (await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "2" }))).charge;
    const ledgerBefore = await dbSnapshot(h.sql);

    const published = await h.services.prices.publish(aPublication(), OPERATOR);
    expect(published.status).toBe("ACTIVE");
    expect(published.effectiveFrom).toBe(h.now());
    const history = await h.services.prices.history(complexJob);
    expect(history.map((v) => v.status)).toEqual(["SUPERSEDED", "SUPERSEDED", "ACTIVE"]);
    expect(day(history[1]!.effectiveTo)).toBe("2024-06-01");

    // Append-only: no ledger row and no earlier price row changed.
    const after = await dbSnapshot(h.sql);
    for (const table of ["usage_charges", "allocations", "credit_lots", "flex_packs"]) expect(after[table]).toEqual(ledgerBefore[table]);
    expect(after.price_entries!.slice(0, -1)).toEqual(ledgerBefore.price_entries);
    expect(await h.services.ledger.findCharge(past.id)).toEqual(past);

    const late = (await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: h.now() - 1 }))).charge;
    const fresh = (await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: h.now() }))).charge;
    expect(formatMicros(late.tokensMicros)).toBe("0.5");
    expect(late.priceEntryId).toBe(past.priceEntryId);
    expect(formatMicros(fresh.tokensMicros)).toBe("0.75");
    expect(fresh.priceEntryId).toBe(published.id);
  });

  it("schedules a future version that applies only from its start", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const start = at("2024-07-01T00:00:00Z");
    const scheduled = await h.services.prices.publish(aPublication({ effectiveFrom: start }), OPERATOR);
    expect(scheduled.status).toBe("SCHEDULED");
    const before = (await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: h.now() }))).charge;
    expect(formatMicros(before.tokensMicros)).toBe("0.5");

    h.setNow(start);
    expect((await h.services.prices.find(scheduled.id))!.status).toBe("ACTIVE");
    const justBefore = (await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: start - 1 }))).charge;
    const from = (await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: start }))).charge;
    expect(formatMicros(justBefore.tokensMicros)).toBe("0.5");
    expect(formatMicros(from.tokensMicros)).toBe("0.75");
    expect(await h.services.ledger.findCharge(before.id)).toEqual(before);
  });

  it("cancels a scheduled version before it takes effect: usage keeps the previous rate, the row stays", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const start = at("2024-07-01T00:00:00Z");
    const scheduled = await h.services.prices.publish(aPublication({ effectiveFrom: start }), OPERATOR);
    const versions = await scalar(h.sql, "select count(*) from price_entries");

    const cancelled = await h.services.prices.cancelScheduled(scheduled.id, "published by mistake", OPERATOR);
    expect(cancelled.status).toBe("CANCELLED");
    expect(await scalar(h.sql, "select count(*) from price_entries")).toBe(versions);
    expect((await h.services.prices.history(complexJob)).map((v) => v.status)).toEqual(["SUPERSEDED", "ACTIVE", "CANCELLED"]);
    // The start is free again for a corrected version (cancelled in turn here).
    const corrected = await h.services.prices.publish(aPublication({ effectiveFrom: start, tokensPerUnitMicros: tokens("0.6") }), OPERATOR);
    expect(corrected.status).toBe("SCHEDULED");
    await h.services.prices.cancelScheduled(corrected.id, "corrected again", OPERATOR);

    h.setNow(start + 1);
    const charge = (await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: start }))).charge;
    expect(formatMicros(charge.tokensMicros)).toBe("0.5");
  });

  it("keeps a version that has rated an event dated ahead: it can no longer be cancelled, and the charge never points at a cancelled version", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "10000" });
    const start = h.now() + 2 * 60_000;
    const scheduled = await h.services.prices.publish(aPublication({ effectiveFrom: start, tokensPerUnitMicros: tokens("1000") }), OPERATOR);
    const { charge } = await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: start + 60_000 }));
    expect(charge.priceEntryId).toBe(scheduled.id);

    await expectRefusedUnchanged(h.sql, () => h.services.prices.cancelScheduled(scheduled.id, "too late", OPERATOR), "PRICE_CHANGE_IN_PAST", "id");
    expect((await h.services.prices.find(charge.priceEntryId))!.cancelledAt).toBeNull();
  });

  it("keeps a version usage was rated with on a server whose clock is ahead, when asked to cancel it on one whose clock is behind", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "10000" });
    const behind = h.now();
    const start = behind + 5 * 60_000 + 1;
    const scheduled = await h.services.prices.publish(aPublication({ effectiveFrom: start, tokensPerUnitMicros: tokens("1000") }), OPERATOR);
    h.setNow(behind + 1_000);
    const { charge } = await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: start }));
    expect(charge.priceEntryId).toBe(scheduled.id);
    h.setNow(behind);
    await expectRefusedUnchanged(h.sql, () => h.services.prices.cancelScheduled(scheduled.id, "too late", OPERATOR), "PRICE_CHANGE_IN_PAST", "id");
  });

  it("cancels a scheduled version just over 5 minutes away, and a retirement marker likewise", async () => {
    const version = await h.services.prices.publish(aPublication({ effectiveFrom: h.now() + 5 * 60_000 + 1 }), OPERATOR);
    expect((await h.services.prices.cancelScheduled(version.id, "changed our mind", OPERATOR)).status).toBe("CANCELLED");
    const marker = await h.services.prices.retire(complexJob, h.now() + 60_000, "end of life", OPERATOR);
    await expectRefusedUnchanged(h.sql, () => h.services.prices.cancelScheduled(marker.id, "too late", OPERATOR), "PRICE_CHANGE_IN_PAST", "id");
  });

  it("refuses a version that would take effect in the past: PRICE_CHANGE_IN_PAST, nothing written", async () => {
    await expectRefusedUnchanged(h.sql, () => h.services.prices.publish(aPublication({ effectiveFrom: h.now() - 1 }), OPERATOR), "PRICE_CHANGE_IN_PAST", "input.effectiveFrom");
  });

  it.each<[string, (scheduledId: number) => [number, string] | Promise<[number, string]>, ErrorCode, string]>([
    ["a version already in effect", () => [2, "too late"], "PRICE_CHANGE_IN_PAST", "id"],
    ["a scheduled version at the instant it takes effect", (id) => (h.setNow("2024-07-01T00:00:00Z"), [id, "too late"]), "PRICE_CHANGE_IN_PAST", "id"],
    ["a scheduled version less than 5 minutes away", (id) => (h.setNow("2024-06-30T23:55:00.001Z"), [id, "too late"]), "PRICE_CHANGE_IN_PAST", "id"],
    ["a scheduled version exactly 5 minutes away", (id) => (h.setNow("2024-06-30T23:55:00Z"), [id, "too late"]), "PRICE_CHANGE_IN_PAST", "id"],
    ["a version cancelled already", async (id) => ((await h.services.prices.cancelScheduled(id, "once", OPERATOR)), [id, "twice"]), "BAD_USER_INPUT", "id"],
    ["an unknown version", () => [999, "why"], "NOT_FOUND", "id"],
    ["without a reason", (id) => [id, "   "], "BAD_USER_INPUT", "reason"],
  ])("refuses to cancel %s, writing nothing", async (_why, target, code, field) => {
    const scheduled = await h.services.prices.publish(aPublication({ effectiveFrom: at("2024-07-01T00:00:00Z") }), OPERATOR);
    const [id, reason] = await target(scheduled.id);
    await expectRefusedUnchanged(h.sql, () => h.services.prices.cancelScheduled(id, reason, OPERATOR), code, field);
  });

  it.each<[string, Partial<PricePublication>, string]>([
    ["a second version at the same instant", { effectiveFrom: at("2022-03-29T00:00:00Z") }, "input.effectiveFrom"],
    ["a malformed API code", { apiCode: "Model Derivative" }, "input.apiCode"],
    ["an unknown meter", { meter: "HOUR" as never }, "input.meter"],
    ["a unit quantity of 0", { unitQuantity: 0 }, "input.unitQuantity"],
    ["a fractional unit quantity", { unitQuantity: 1.5 }, "input.unitQuantity"],
    ["a negative rate", { tokensPerUnitMicros: -1n }, "input.tokensPerUnit"],
    ["a repeated outcome", { chargeableOutcomes: ["SUCCEEDED", "SUCCEEDED"] }, "input.chargeableOutcomes"],
    ["a blank note", { note: " " }, "input.note"],
  ])("refuses %s as BAD_USER_INPUT, writing nothing", async (_why, change, field) => {
    if (change.effectiveFrom !== undefined) h.setNow("2022-03-28T00:00:00Z");
    await expectRefusedUnchanged(h.sql, () => h.services.prices.publish(aPublication(change), OPERATOR), "BAD_USER_INPUT", field);
  });
});

describe("retiring an API", () => {
  it("refuses usage after the retirement and still rates usage from before it", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const retirement = await h.services.prices.retire(complexJob, null, "API withdrawn", OPERATOR);
    expect(retirement.retired).toBe(true);
    expect((await h.services.prices.priceTable()).some((v) => v.apiCode === complexJob)).toBe(false);

    const event = aUsageEvent(account.id, { occurredAt: h.now() });
    await expectRefusedUnchanged(h.sql, () => h.services.rating.recordUsage(event), "PRICE_NOT_FOUND", "input.apiCode");
    const late = (await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: h.now() - 1 }))).charge;
    expect(formatMicros(late.tokensMicros)).toBe("0.5");
  });

  it("refuses a retirement dated in the past: PRICE_CHANGE_IN_PAST, nothing written", async () => {
    await expectRefusedUnchanged(h.sql, () => h.services.prices.retire(complexJob, at("2024-01-01T00:00:00Z"), "backdated", OPERATOR), "PRICE_CHANGE_IN_PAST", "effectiveFrom");
  });

  it("refuses to retire an API that has no price: NOT_FOUND", async () => {
    await expectRefusedUnchanged(h.sql, () => h.services.prices.retire("model-derivative/unknown-job", null, "nothing to retire", OPERATOR), "NOT_FOUND", "apiCode");
  });
});

describe("free APIs", () => {
  it("records usage of a price-0 API with a zero charge, even on a restricted account", async () => {
    const account = await anAccount(h);
    await h.services.prices.publish(aPublication({ apiCode: "viewer/load", tokensPerUnitMicros: 0n, note: "free API" }), OPERATOR);
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "2" }));
    h.advance(GRACE_PERIOD_MS);
    const { charge } = await h.services.rating.recordUsage(aUsageEvent(account.id, { apiCode: "viewer/load", quantity: "1000", occurredAt: h.now() }));
    expect(charge.tokensMicros).toBe(0n);
    expect(await receiptOf(h.sql, charge.id)).toEqual([]);
  });
});

describe("rating sees every price change at once", () => {
  it("rates with the previous version after cancelling an older scheduled version once a newer one was cancelled", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const older = await h.services.prices.publish(aPublication({ effectiveFrom: at("2024-07-01T00:00:00Z") }), OPERATOR);
    const newer = await h.services.prices.publish(aPublication({ effectiveFrom: at("2024-08-01T00:00:00Z"), tokensPerUnitMicros: tokens("0.9") }), OPERATOR);
    await h.services.prices.cancelScheduled(newer.id, "not needed", OPERATOR);
    // Rating reads the price table here, so anything it keeps in memory is now filled.
    await h.services.rating.quoteUsage(aUsageEvent(account.id, { occurredAt: h.now() }));
    await h.services.prices.cancelScheduled(older.id, "not needed either", OPERATOR);

    h.setNow("2024-07-15T00:00:00Z");
    const charge = (await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: h.now() }))).charge;
    expect(formatMicros(charge.tokensMicros)).toBe("0.5");
    expect((await h.services.prices.priceTable()).find((v) => v.apiCode === complexJob)!.status).toBe("ACTIVE");
  });

  it("rates with a version published by another connection to the same database", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    // Usage before the new version's start (a change may not take effect at a rated event's instant).
    await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: h.now() - 1 }));
    await createServices({ store: h.another(), clock: h.now, rules: h.services.context.rules }).prices.publish(aPublication(), OPERATOR);
    const charge = (await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: h.now() }))).charge;
    expect(formatMicros(charge.tokensMicros)).toBe("0.75");
  });
});

import { describe, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import { chargeMicros, effectiveTo, type Outcome, priceInForce, priceStatus, type PriceVersion } from "../../server/core/price.js";
import { aPriceVersion, tokens, utc } from "./builders.js";

describe("the rating formula: tokens = quantity × tokensPerUnit ÷ unitQuantity, rounded once half-up", () => {
  const designAutomation = aPriceVersion({ apiCode: "design-automation/revit", meter: "SECOND", unitQuantity: 3600, rate: "2" });
  const complexJob = aPriceVersion({ rate: "0.5" });
  const photoscene = aPriceVersion({ apiCode: "reality-capture/photoscene", meter: "PHOTO", unitQuantity: 50, rate: "1", chargeableOutcomes: ["SUCCEEDED", "CANCELLED"] });
  const basicCalls = aPriceVersion({ apiCode: "model-derivative/basic-interactions", meter: "CALL", unitQuantity: 300_000, rate: "1" });
  const free = aPriceVersion({ apiCode: "free/api", rate: "0" });

  it.each<[string, PriceVersion, string, string]>([
    ["the worked example: 217 s of Design Automation at 2 tokens per 3600 s", designAutomation, "217", "0.120556"],
    ["one hour of Design Automation", designAutomation, "3600", "2"],
    ["one second of Design Automation rounds 0.0005555… up", designAutomation, "1", "0.000556"],
    ["a fraction of a second that is exactly half a micro-token rounds up", designAutomation, "0.0009", "0.000001"],
    ["a fraction of a second below half a micro-token rounds to zero", designAutomation, "0.0008", "0"],
    ["one complex Model Derivative job", complexJob, "1", "0.5"],
    ["three complex jobs", complexJob, "3", "1.5"],
    ["50 photos of Reality Capture", photoscene, "50", "1"],
    ["75 photos", photoscene, "75", "1.5"],
    ["one photo", photoscene, "1", "0.02"],
    ["one basic interaction call rounds 3.33 micro-tokens down", basicCalls, "1", "0.000003"],
    ["150,000 basic interaction calls", basicCalls, "150000", "0.5"],
    ["any quantity of a free API", free, "1000", "0"],
    ["zero quantity", designAutomation, "0", "0"],
  ])("%s: %s units → %s tokens", (_why, price, quantity, expected) => {
    expect(formatMicros(chargeMicros(price, tokens(quantity), "SUCCEEDED"))).toBe(expected);
  });

  const modelDerivative = aPriceVersion({ rate: "0.5", chargeableOutcomes: ["SUCCEEDED"] });
  const designAutomationOutcomes = aPriceVersion({ meter: "SECOND", unitQuantity: 3600, rate: "2", chargeableOutcomes: ["SUCCEEDED"] });
  it.each<[string, PriceVersion, Outcome, string]>([
    ["a failed Model Derivative job is free", modelDerivative, "FAILED", "0"],
    ["a cancelled Model Derivative job is free", modelDerivative, "CANCELLED", "0"],
    ["a successful Model Derivative job is charged", modelDerivative, "SUCCEEDED", "0.5"],
    ["a Reality Capture job cancelled after processing started is charged", photoscene, "CANCELLED", "1"],
    ["a failed Reality Capture job is free", photoscene, "FAILED", "0"],
    ["a successful Reality Capture job is charged", photoscene, "SUCCEEDED", "1"],
    ["a failed Design Automation work item is free", designAutomationOutcomes, "FAILED", "0"],
  ])("%s", (_why, price, outcome, expected) => {
    const quantity = price.meter === "PHOTO" ? "50" : price.meter === "SECOND" ? "3600" : "1";
    expect(formatMicros(chargeMicros(price, tokens(quantity), outcome))).toBe(expected);
  });
});

describe("the price version in force at the usage time", () => {
  // The published history of model-derivative/complex-job, plus a scheduled change.
  const launch = aPriceVersion({ effectiveFrom: "2016-11-01", rate: "1.5" });
  const reduction = aPriceVersion({ effectiveFrom: "2022-03-29", rate: "0.5" });
  const scheduled = aPriceVersion({ effectiveFrom: "2026-01-01", rate: "0.75" });
  const history = [scheduled, launch, reduction];

  it.each([
    ["before the first version: no price", "2016-10-31T23:59:59.999Z", null],
    ["from the first version's start", "2016-11-01T00:00:00.000Z", launch],
    ["the last millisecond before a change", "2022-03-28T23:59:59.999Z", launch],
    ["from the instant a change takes effect", "2022-03-29T00:00:00.000Z", reduction],
    ["between changes", "2024-06-01T00:00:00.000Z", reduction],
    ["once a scheduled version takes effect", "2026-01-01T00:00:00.000Z", scheduled],
  ])("%s (%s)", (_why, t, expected) => {
    expect(priceInForce(history, utc(t))).toBe(expected);
  });

  it("ignores a cancelled version: the previous one stays in force", () => {
    const cancelled = { ...scheduled, cancelledAt: utc("2025-12-01") };
    expect(priceInForce([launch, reduction, cancelled], utc("2026-06-01"))).toBe(reduction);
  });

  it("has no price after a retirement, and the old price before it", () => {
    const retirement = aPriceVersion({ effectiveFrom: "2025-01-01", rate: "0", retired: true, chargeableOutcomes: [] });
    const versions = [launch, reduction, retirement];
    expect(priceInForce(versions, utc("2024-12-31T23:59:59.999Z"))).toBe(reduction);
    expect(priceInForce(versions, utc("2025-01-01"))).toBeNull();
    expect(priceInForce(versions, utc("2030-01-01"))).toBeNull();
  });

  it("prices a retired API again once a later version re-launches it", () => {
    const retirement = aPriceVersion({ effectiveFrom: "2025-01-01", rate: "0", retired: true, chargeableOutcomes: [] });
    const relaunch = aPriceVersion({ effectiveFrom: "2025-06-01", rate: "2" });
    expect(priceInForce([launch, retirement, relaunch], utc("2025-07-01"))).toBe(relaunch);
  });

  it("has no price for an API without versions", () => {
    expect(priceInForce([], utc("2024-01-01"))).toBeNull();
  });
});

describe("effectiveTo and the status of a version", () => {
  const now = utc("2024-06-01");
  const launch = aPriceVersion({ effectiveFrom: "2016-11-01", rate: "1.5" });
  const reduction = aPriceVersion({ effectiveFrom: "2022-03-29", rate: "0.5" });
  const scheduled = aPriceVersion({ effectiveFrom: "2025-01-01", rate: "0.75" });
  const cancelled = { ...aPriceVersion({ effectiveFrom: "2024-09-01", rate: "9" }), cancelledAt: utc("2024-05-01") };
  const versions = [launch, reduction, scheduled, cancelled];

  it.each([
    ["a superseded version ends where the next begins", launch, "2022-03-29T00:00:00.000Z", "SUPERSEDED"],
    ["the current version ends where the scheduled one begins, skipping the cancelled one", reduction, "2025-01-01T00:00:00.000Z", "ACTIVE"],
    ["the latest version is open-ended and scheduled", scheduled, null, "SCHEDULED"],
    ["a cancelled version has no end and is cancelled", cancelled, null, "CANCELLED"],
  ])("%s", (_why, version, end, status) => {
    const to = effectiveTo(version, versions);
    expect(to === null ? null : new Date(to).toISOString()).toBe(end);
    expect(priceStatus(version, versions, now)).toBe(status);
  });

  it.each([
    ["one millisecond before it starts", "2024-12-31T23:59:59.999Z", "SCHEDULED", "ACTIVE"],
    ["at the instant it starts", "2025-01-01T00:00:00.000Z", "ACTIVE", "SUPERSEDED"],
  ])("moves a scheduled version to ACTIVE and its predecessor to SUPERSEDED on time: %s", (_why, t, scheduledStatus, previousStatus) => {
    expect(priceStatus(scheduled, versions, utc(t))).toBe(scheduledStatus);
    expect(priceStatus(reduction, versions, utc(t))).toBe(previousStatus);
  });

  it("reopens the previous version when the only later version is cancelled", () => {
    const onlyCancelledLater = [launch, reduction, cancelled];
    expect(effectiveTo(reduction, onlyCancelledLater)).toBeNull();
    expect(priceStatus(reduction, onlyCancelledLater, utc("2030-01-01"))).toBe("ACTIVE");
  });
});

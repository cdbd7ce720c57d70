import { describe, expect, it } from "vitest";
import { type Month, monthOf, nextMonthStart, parseMonth } from "../../server/core/month.js";
import { formatMicros } from "../../server/core/money.js";
import { paygStatement, statementMonthFor, statementStatus } from "../../server/core/payg.js";
import { refusalOf } from "../fixtures/ledger-assertions.js";
import { tokens, utc } from "./builders.js";

describe("UTC calendar months", () => {
  it.each<[string, string, Month, string]>([
    ["the last instant of a month", "2026-01-31T23:59:59.999Z", "2026-01", "2026-02-01"],
    ["the first instant of a month", "2026-02-01T00:00:00Z", "2026-02", "2026-03-01"],
    ["December rolls into the next year", "2025-12-31T12:00:00Z", "2025-12", "2026-01-01"],
  ])("place %s", (_why, at, month, next) => {
    expect([monthOf(utc(at)), nextMonthStart(utc(at))]).toEqual([month, utc(next)]);
  });

  it.each(["2026-1", "2026-13", "2026-00", "26-01", "1969-12", "2026-01-01", 202601])("refuses %s as a month", (text) => {
    const error = refusalOf(() => parseMonth(text, "month"));
    expect([error.code, error.field]).toEqual(["BAD_USER_INPUT", "month"]);
  });
});

describe("a PAYG statement", () => {
  it.each<[string, string, string]>([
    ["is OPEN during its month", "2026-01-15", "OPEN"],
    ["is OPEN until 3 days after its month ends", "2026-02-03T23:59:59.999Z", "OPEN"],
    ["is FINAL from then on", "2026-02-04T00:00:00Z", "FINAL"],
  ])("%s", (_why, now, status) => {
    expect(statementStatus("2026-01", utc(now))).toBe(status);
  });

  it.each<[string, Month, string, Month]>([
    ["takes a part booked while the usage month's statement is open", "2026-01", "2026-02-03T23:59:59.999Z", "2026-01"],
    ["sends a part booked after it is final to the booking month's", "2026-01", "2026-02-04T00:00:00Z", "2026-02"],
    ["sends a very late part to the booking month's", "2025-12", "2026-05-20", "2026-05"],
  ])("%s", (_why, usageMonth, bookedAt, month) => {
    expect(statementMonthFor(usageMonth, utc(bookedAt))).toBe(month);
  });

  it("sums its parts into one line per API, by API code, with a reversed part cancelling out", () => {
    const statement = paygStatement(
      "2026-01",
      [
        { apiCode: "model-derivative/complex-job", units: 20n, tokensMicros: tokens("10") },
        { apiCode: "design-automation/revit", units: 1n, tokensMicros: tokens("1") },
        { apiCode: "design-automation/revit", units: 2n, tokensMicros: tokens("2") },
        { apiCode: "reality-capture/photoscene", units: 3n, tokensMicros: tokens("0.999999") },
        { apiCode: "reality-capture/photoscene", units: -3n, tokensMicros: -tokens("0.999999") },
      ],
      utc("2026-02-10"),
    );
    expect([statement.status, formatMicros(statement.tokensMicros)]).toEqual(["FINAL", "13"]);
    expect(statement.lines.map((line) => [line.apiCode, line.units, formatMicros(line.tokensMicros)])).toEqual([
      ["design-automation/revit", 3n, "3"],
      ["model-derivative/complex-job", 20n, "10"],
      ["reality-capture/photoscene", 0n, "0"],
    ]);
  });

  it("is empty and OPEN for a month without PAYG usage", () => {
    expect(paygStatement("2026-03", [], utc("2026-03-02"))).toEqual({ month: "2026-03", status: "OPEN", tokensMicros: 0n, lines: [] });
  });
});

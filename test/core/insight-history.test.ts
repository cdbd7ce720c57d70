import { describe, expect, it } from "vitest";
import { GRACE_PERIOD_MS } from "../../server/core/account.js";
import type { FundingSource } from "../../server/core/drain.js";
import { FlexgateError } from "../../server/core/errors.js";
import {
  assertWindow,
  balanceAsOf,
  type DailyUsage,
  graceClockAsOf,
  type LedgerAsOf,
  periodStart,
  summarizeUsage,
} from "../../server/core/history.js";
import { formatMicros, parseMicros } from "../../server/core/money.js";
import { DAY_MS, formatInstant, parseInstant } from "../../server/core/time.js";

const at = (iso: string) => parseInstant(iso, "test");
const t = (text: string) => parseMicros(text, "test");

describe("usage periods", () => {
  it.each([
    ["2024-02-29T23:59:59.999Z", "DAY", "2024-02-29T00:00:00.000Z"],
    ["2024-02-29T23:59:59.999Z", "MONTH", "2024-02-01T00:00:00.000Z"],
    ["2024-03-01T00:00:00.000Z", "DAY", "2024-03-01T00:00:00.000Z"],
    ["2024-03-01T00:00:00.000Z", "MONTH", "2024-03-01T00:00:00.000Z"],
    ["2023-12-31T12:00:00.000Z", "MONTH", "2023-12-01T00:00:00.000Z"],
  ] as const)("%s falls in the UTC %s starting %s", (instant, grouping, start) => {
    expect(formatInstant(periodStart(at(instant), grouping))).toBe(start);
  });
});

describe("usage summary", () => {
  const dayOf = (iso: string) => at(iso) / DAY_MS;
  const days: DailyUsage[] = [
    { day: dayOf("2024-03-01"), apiCode: "model-derivative/simple-job", events: 1, quantityMicros: t("1"), tokensMicros: t("0.1"), units: null },
    { day: dayOf("2024-02-29"), apiCode: "model-derivative/complex-job", events: 2, quantityMicros: t("3"), tokensMicros: t("1.5"), units: null },
    { day: dayOf("2024-02-01"), apiCode: "model-derivative/complex-job", events: 1, quantityMicros: t("1"), tokensMicros: t("0.5"), units: null },
    { day: dayOf("2024-03-01"), apiCode: "design-automation/revit", events: 3, quantityMicros: t("651"), tokensMicros: t("0.361668"), units: null },
  ];

  it("keeps one row per UTC day and API, sorted by day then API code", () => {
    expect(
      summarizeUsage(days, "DAY").map((row) => [formatInstant(row.periodStart).slice(0, 10), row.apiCode, row.events, formatMicros(row.tokensMicros)]),
    ).toEqual([
      ["2024-02-01", "model-derivative/complex-job", 1, "0.5"],
      ["2024-02-29", "model-derivative/complex-job", 2, "1.5"],
      ["2024-03-01", "design-automation/revit", 3, "0.361668"],
      ["2024-03-01", "model-derivative/simple-job", 1, "0.1"],
    ]);
  });

  it("adds the days of a month into one row per API", () => {
    expect(
      summarizeUsage(days, "MONTH").map((row) => [
        formatInstant(row.periodStart).slice(0, 10),
        row.apiCode,
        row.events,
        formatMicros(row.quantityMicros),
        formatMicros(row.tokensMicros),
      ]),
    ).toEqual([
      ["2024-02-01", "model-derivative/complex-job", 3, "4", "2"],
      ["2024-03-01", "design-automation/revit", 3, "651", "0.361668"],
      ["2024-03-01", "model-derivative/simple-job", 1, "1", "0.1"],
    ]);
  });

  it("has no rows without usage", () => {
    expect(summarizeUsage([], "MONTH")).toEqual([]);
  });

  it("counts no units for LEGACY usage and adds the units of FREE and PAID days, a LEGACY day adding none", () => {
    // Test values: a month that starts LEGACY (no units) and goes on tiered (3 then 2 units).
    const revit = "design-automation/revit";
    const month: DailyUsage[] = [
      { day: dayOf("2026-01-02"), apiCode: revit, events: 1, quantityMicros: t("1200"), tokensMicros: t("0.333334"), units: null },
      { day: dayOf("2026-01-10"), apiCode: revit, events: 2, quantityMicros: t("3600"), tokensMicros: t("3"), units: 3n },
      { day: dayOf("2026-01-11"), apiCode: revit, events: 1, quantityMicros: t("2400"), tokensMicros: t("2"), units: 2n },
    ];
    expect(summarizeUsage(month, "DAY").map((row) => row.units)).toEqual([null, 3n, 2n]);
    expect(summarizeUsage(month, "MONTH").map((row) => row.units)).toEqual([5n]);
    expect(summarizeUsage(month.slice(0, 1), "MONTH").map((row) => row.units)).toEqual([null]);
  });
});

describe("balance as of a date", () => {
  const lot: FundingSource = {
    kind: "CREDIT_LOT",
    id: 1,
    sizeMicros: t("50"),
    remainingMicros: t("0"),
    purchasedAt: at("2022-06-01"),
    expiresAt: at("2023-06-01"),
  };
  const pack: FundingSource = {
    kind: "FLEX_PACK",
    id: 1,
    sizeMicros: t("100"),
    remainingMicros: t("0"),
    purchasedAt: at("2023-01-01"),
    expiresAt: at("2024-01-01"),
  };
  const ledger = (overrides: Partial<LedgerAsOf> = {}): LedgerAsOf => ({
    sources: [lot, pack],
    draws: [],
    deficitBookedMicros: 0n,
    deficitSettledMicros: 0n,
    deficitMoves: [],
    ...overrides,
  });

  it("counts each lot and pack valid then at its size less what was drawn from it, ignoring today's remaining", () => {
    const balance = balanceAsOf(
      ledger({
        draws: [
          { kind: "CREDIT_LOT", id: 1, amountMicros: t("10") },
          { kind: "FLEX_PACK", id: 1, amountMicros: t("2.5") },
          { kind: "FLEX_PACK", id: 1, amountMicros: t("0.000001") },
        ],
      }),
      at("2023-03-01"),
    );
    expect(balance).toEqual({
      cloudCreditsMicros: t("40"),
      flexTokensMicros: t("97.499999"),
      deficitMicros: 0n,
      availableMicros: t("137.499999"),
      graceEndsAt: null,
    });
  });

  it.each([
    ["2022-12-31T23:59:59.999Z", "50", "0"], // the pack is not bought yet
    ["2023-06-01T00:00:00.000Z", "0", "100"], // the lot expired at that instant
    ["2024-01-01T00:00:00.000Z", "0", "0"], // everything has expired
  ])("as of %s holds %s cloud credits and %s Flex tokens", (asOf, credits, flex) => {
    const balance = balanceAsOf(ledger(), at(asOf));
    expect([formatMicros(balance.cloudCreditsMicros), formatMicros(balance.flexTokensMicros)]).toEqual([credits, flex]);
  });

  it("subtracts the deficit still unpaid then from the available balance, with the grace clock as it stood", () => {
    const booked = at("2023-02-10T09:00:00Z");
    const balance = balanceAsOf(
      ledger({
        deficitBookedMicros: t("8"),
        deficitSettledMicros: t("3"),
        deficitMoves: [
          { at: booked, deltaMicros: t("8") },
          { at: at("2023-02-12"), deltaMicros: -t("3") },
        ],
      }),
      at("2023-03-01"),
    );
    expect(formatMicros(balance.deficitMicros)).toBe("5");
    expect(formatMicros(balance.availableMicros)).toBe("145");
    expect(balance.graceEndsAt).toBe(booked + GRACE_PERIOD_MS);
  });

  it("shows no grace clock while no deficit had been booked yet, even for usage reported later", () => {
    const balance = balanceAsOf(
      ledger({ deficitBookedMicros: t("8"), deficitMoves: [{ at: at("2023-04-01"), deltaMicros: t("8") }] }),
      at("2023-03-01"),
    );
    expect(formatMicros(balance.deficitMicros)).toBe("8");
    expect(balance.graceEndsAt).toBeNull();
  });
});

describe("grace clock replay", () => {
  const move = (iso: string, delta: string) => ({
    at: at(iso),
    deltaMicros: delta.startsWith("-") ? -t(delta.slice(1)) : t(delta),
  });

  it.each([
    { name: "starts when a deficit is first booked", moves: [move("2024-01-01", "5"), move("2024-01-03", "2")], asOf: "2024-02-01", deficit: "7", start: "2024-01-01" },
    { name: "stops when the deficit is paid in full", moves: [move("2024-01-01", "5"), move("2024-01-03", "-5")], asOf: "2024-02-01", deficit: "0", start: null },
    { name: "keeps running while part is still owed", moves: [move("2024-01-01", "5"), move("2024-01-03", "-4")], asOf: "2024-02-01", deficit: "1", start: "2024-01-01" },
    { name: "restarts with the next deficit after a full payment", moves: [move("2024-01-01", "5"), move("2024-01-03", "-5"), move("2024-01-05", "1")], asOf: "2024-02-01", deficit: "1", start: "2024-01-05" },
    { name: "ignores moves made at or after the date asked", moves: [move("2024-01-01", "5"), move("2024-01-03", "-5")], asOf: "2024-01-03", deficit: "5", start: "2024-01-01" },
    { name: "applies a booking before a payment made in the same millisecond", moves: [move("2024-01-01", "-5"), move("2024-01-01", "5")], asOf: "2024-02-01", deficit: "0", start: null },
  ])("$name", ({ moves, asOf, deficit, start }) => {
    const state = graceClockAsOf(moves, at(asOf));
    expect(formatMicros(state.deficitMicros)).toBe(deficit);
    expect(state.graceStartedAt).toBe(start === null ? null : at(start));
  });
});

describe("report windows", () => {
  it.each([
    [at("2024-01-02"), at("2024-01-01"), "to"],
    [at("2024-01-01"), at("2024-01-01"), "to"],
    [-1, at("2024-01-01"), "from"],
    [0.5, at("2024-01-01"), "from"],
    [0, Number.NaN, "to"],
  ])("refuses from %s to %s naming %s", (from, to, field) => {
    try {
      assertWindow(from, to);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FlexgateError);
      expect(error).toMatchObject({ code: "BAD_USER_INPUT", field });
    }
  });

  it("accepts a window of one millisecond", () => {
    expect(() => assertWindow(0, 1)).not.toThrow();
  });
});

/**
 * A usage export page maps either engine's rows to the same figures: SQLite's safe-integer mode
 * hands integers over as bigint, PostgreSQL's sums come as exact text, and a sum over no parts
 * is null. An id or instant beyond a safe integer is corrupt data and is refused, not rounded.
 */
import { describe, expect, it } from "vitest";
import { type ExportPageRow, toExportPage } from "../../server/store/rows.js";

const sqliteRow: ExportPageRow = {
  id: 7n,
  occurredAt: 1_767_225_600_000n,
  eventId: "evt-1",
  apiCode: "design-automation/revit",
  clientId: null,
  quantity: 36_000_000_000n,
  outcome: "SUCCEEDED",
  tokens: 30_000_000n,
  credits: null,
  tokenFlex: 20_000_000n,
  flex: 10_000_000n,
  payg: null,
  deficit: null,
  units: 30n,
  overrunUnits: null,
};

const postgresRow: ExportPageRow = {
  ...sqliteRow,
  id: 7,
  occurredAt: 1_767_225_600_000,
  quantity: "36000000000",
  tokens: "30000000",
  tokenFlex: "20000000",
  flex: "10000000",
  units: 30,
};

describe("a usage export page", () => {
  it("maps SQLite's and PostgreSQL's rows to the same figures, a missing source as 0", () => {
    const expected = {
      occurredAt: 1_767_225_600_000,
      eventId: "evt-1",
      apiCode: "design-automation/revit",
      clientId: null,
      quantityMicros: 36_000_000_000n,
      outcome: "SUCCEEDED",
      tokensMicros: 30_000_000n,
      creditsMicros: 0n,
      flexMicros: 10_000_000n,
      deficitMicros: 0n,
      units: 30n,
      tokenFlexMicros: 20_000_000n,
      paygMicros: 0n,
      overrunUnits: 0n,
    };
    expect(toExportPage([sqliteRow], 2).rows).toEqual([expected]);
    expect(toExportPage([postgresRow], 2).rows).toEqual([expected]);
  });

  it("keeps a LEGACY charge's units null", () => {
    expect(toExportPage([{ ...sqliteRow, units: null }], 2).rows[0]!.units).toBeNull();
  });

  it("gives the next page's cursor after a full page, and none after a short one", () => {
    expect(toExportPage([sqliteRow], 1).next).toEqual({ occurredAt: 1_767_225_600_000, chargeId: 7 });
    expect(toExportPage([sqliteRow], 2).next).toBeNull();
    expect(toExportPage([], 1).next).toBeNull();
  });

  it("refuses an instant or an id beyond a safe integer rather than rounding it", () => {
    const beyond = 2n ** 53n + 1n;
    expect(() => toExportPage([{ ...sqliteRow, occurredAt: beyond }], 2)).toThrow(RangeError);
    expect(() => toExportPage([{ ...sqliteRow, id: beyond }], 1)).toThrow(/not a safe integer/);
  });
});

import { describe, expect, it } from "vitest";
import { EMPTY_FREE_MONTH, freeMonthKey, isSuspendedAt, takeFreeUnits } from "../../server/core/free-allowance.js";
import type { LedgerAllocation, LedgerSettlement } from "../../server/core/ledger.js";
import { formatMicros } from "../../server/core/money.js";
import { decideTieredReversal, type TieredChargeToReverse } from "../../server/core/tiered-reversal.js";
import { tokens, utc } from "./builders.js";
import { COMPLEX, REVIT } from "./tiered-builders.js";

const part = (id: number, source: LedgerAllocation["source"], sourceId: number | null, amount: string, units?: bigint): LedgerAllocation => ({
  id,
  source,
  sourceId,
  amountMicros: tokens(amount),
  ...(units === undefined ? {} : { units }),
});
const occurredAt = utc("2026-01-17");

describe("reversing a tiered charge", () => {
  it("gives tokens back to the exact pool, pack and deficit settlement, and takes the part off its open PAYG line", () => {
    const charge: TieredChargeToReverse = {
      apiCode: COMPLEX,
      occurredAt,
      allocations: [part(1, "TOKEN_FLEX", 4, "3"), part(2, "FLEX_PACK", 9, "2"), part(3, "PAYG", null, "10", 20n)],
      paygStatementMonth: "2026-01",
    };
    const reversal = decideTieredReversal(charge, [], EMPTY_FREE_MONTH, utc("2026-01-20"));
    expect(reversal.refunds.map((refund) => `${refund.source}#${refund.sourceId}:${formatMicros(refund.amountMicros)}`)).toEqual(["TOKEN_FLEX#4:3", "FLEX_PACK#9:2"]);
    expect(reversal.payg).toEqual({ statementMonth: "2026-01", part: { apiCode: COMPLEX, units: -20n, tokensMicros: -tokens("10") } });
    expect([reversal.deficitReductionMicros, reversal.freeMonth]).toEqual([0n, null]);
  });

  it("credits a PAYG part whose statement is final on the statement of the reversal's month", () => {
    const charge: TieredChargeToReverse = { apiCode: COMPLEX, occurredAt, allocations: [part(3, "PAYG", null, "10", 20n)], paygStatementMonth: "2026-01" };
    expect(decideTieredReversal(charge, [], EMPTY_FREE_MONTH, utc("2026-03-10")).payg?.statementMonth).toBe("2026-03");
  });

  it("cancels an unpaid deficit and returns what new funds already paid of it to them", () => {
    const charge: TieredChargeToReverse = { apiCode: REVIT, occurredAt, allocations: [part(5, "DEFICIT", null, "3")], paygStatementMonth: null };
    const paid: LedgerSettlement[] = [{ allocationId: 5, source: "FLEX_PACK", sourceId: 11, amountMicros: tokens("1") }];
    const reversal = decideTieredReversal(charge, paid, EMPTY_FREE_MONTH, utc("2026-01-20"));
    expect([reversal.refunds.map((refund) => `${refund.source}#${refund.sourceId}`), formatMicros(reversal.deficitReductionMicros), reversal.payg]).toEqual([["FLEX_PACK#11"], "2", null]);
  });

  it("gives free units back to their month, which lifts that month's suspension", () => {
    const month = takeFreeUnits(takeFreeUnits(EMPTY_FREE_MONTH, 2n, 3n, utc("2026-01-05")).state, 3n, 3n, utc("2026-01-07")).state;
    expect(isSuspendedAt(month, 3n, utc("2026-01-20"))).toBe(true);
    const charge: TieredChargeToReverse = {
      apiCode: REVIT,
      occurredAt: utc("2026-01-07"),
      allocations: [part(1, "FREE_ALLOWANCE", null, "0", 1n), part(2, "OVERRUN", null, "0", 2n)],
      paygStatementMonth: null,
    };
    const reversal = decideTieredReversal(charge, [], month, utc("2026-01-20"));
    expect(reversal.freeMonth?.key).toBe(freeMonthKey(REVIT, "2026-01"));
    expect([reversal.freeMonth?.state.usedUnits, reversal.freeMonth?.state.overrunUnits]).toEqual([2n, 0n]);
    expect(isSuspendedAt(reversal.freeMonth!.state, 3n, utc("2026-01-20"))).toBe(false);
    expect(reversal.refunds).toEqual([]);
  });
});

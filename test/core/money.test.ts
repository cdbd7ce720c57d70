import { describe, expect, it } from "vitest";
import { refusalOf } from "../fixtures/ledger-assertions.js";
import { formatMicros, MAX_TOKENS_MICROS, minMicros, mulDivHalfUp, parseMicros, sumMicros } from "../../server/core/money.js";

const FIELD = "input.amount";

describe("parsing decimal token amounts", () => {
  it.each([
    ["0", 0n],
    ["1", 1_000_000n],
    ["0.5", 500_000n],
    ["12.000001", 12_000_001n],
    ["0.000001", 1n],
    ["1.50", 1_500_000n],
    ["1.000000", 1_000_000n],
    ["0.120556", 120_556n],
    ["999999999.999999", 999_999_999_999_999n],
    ["1000000000", MAX_TOKENS_MICROS],
  ])("accepts %j as %d micro-tokens", (text, micros) => {
    expect(parseMicros(text, FIELD)).toBe(micros);
  });

  it.each([
    ["more than 6 fractional digits", "1.0000001"],
    ["a seventh fractional digit even when zero", "1.0000000"],
    ["a sub-micro amount", "0.0000001"],
    ["exponent notation", "1e3"],
    ["upper-case exponent", "1E3"],
    ["exponent with fraction", "1.5e-3"],
    ["NaN", "NaN"],
    ["Infinity", "Infinity"],
    ["negative Infinity", "-Infinity"],
    ["negative zero", "-0"],
    ["a negative amount", "-1"],
    ["an explicit plus sign", "+1"],
    ["hexadecimal", "0x10"],
    ["binary", "0b1"],
    ["a decimal comma", "1,5"],
    ["a thousands separator", "1,000"],
    ["an underscore separator", "1_000"],
    ["Arabic-Indic digits", "\u0661\u0662"],
    ["full-width digits", "\uff11"],
    ["a leading space", " 1"],
    ["a trailing space", "1 "],
    ["a trailing newline", "1\n"],
    ["a leading zero", "01"],
    ["a padded zero", "00"],
    ["leading zeros before a fraction", "007.5"],
    ["a bare fraction", ".5"],
    ["a bare point", "1."],
    ["two points", "1.5.1"],
    ["the empty string", ""],
    ["twenty nines", "99999999999999999999"],
    ["twenty nines with a fraction", "99999999999999999999.5"],
    ["one micro beyond the maximum", "1000000000.000001"],
    ["beyond the safe integer range", "9007199254740993"],
  ])("refuses %s (%j) as BAD_USER_INPUT naming the field", (_why, text) => {
    const error = refusalOf(() => parseMicros(text, FIELD));
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.field).toBe(FIELD);
    expect(error.message).toContain(FIELD);
  });

  it.each([
    ["a number", 1.5],
    ["a bigint", 10n],
    ["NaN as a number", Number.NaN],
    ["null", null],
    ["undefined", undefined],
  ])("refuses %s instead of a string", (_why, value) => {
    const error = refusalOf(() => parseMicros(value, FIELD));
    expect({ code: error.code, field: error.field }).toEqual({ code: "BAD_USER_INPUT", field: FIELD });
  });

  it("says which rule was broken for too many fractional digits", () => {
    expect(refusalOf(() => parseMicros("0.1234567", FIELD)).message).toMatch(/more than 6 fractional digits/);
  });

  it.each([
    ["50", 50_000_000n, 50_000_000n],
    ["50.000001", 50_000_000n, null],
    ["0", 0n, 0n],
  ])("honours a smaller maximum: %j with max %d", (text, maxMicros, expected) => {
    if (expected === null) {
      expect(refusalOf(() => parseMicros(text, FIELD, { maxMicros })).code).toBe("BAD_USER_INPUT");
    } else {
      expect(parseMicros(text, FIELD, { maxMicros })).toBe(expected);
    }
  });
});

describe("formatting micro-tokens", () => {
  it.each([
    [0n, "0"],
    [1n, "0.000001"],
    [500_000n, "0.5"],
    [120_556n, "0.120556"],
    [12_000_001n, "12.000001"],
    [100_000_000n, "100"],
    [-1n, "-0.000001"],
    [-5_000_000n, "-5"],
    [-101_500_000n, "-101.5"],
    [MAX_TOKENS_MICROS, "1000000000"],
  ])("formats %d as %j", (micros, text) => {
    expect(formatMicros(micros)).toBe(text);
  });

  it.each(["0", "0.5", "12.000001", "0.000001", "1000000000", "42.42"])("round-trips the canonical amount %j", (text) => {
    expect(formatMicros(parseMicros(text, FIELD))).toBe(text);
  });
});

describe("mulDivHalfUp: the one rounding step", () => {
  it.each([
    ["an exact quotient", 6n, 1n, 3n, 2n],
    ["a third rounds down", 1n, 1n, 3n, 0n],
    ["two thirds round up", 2n, 1n, 3n, 1n],
    ["0.5 rounds up", 1n, 1n, 2n, 1n],
    ["1.5 rounds up", 3n, 1n, 2n, 2n],
    ["2.5 rounds up, not to even", 5n, 1n, 2n, 3n],
    ["just below a half rounds down", 4_999n, 1n, 10_000n, 0n],
    ["exactly a half rounds up", 5_000n, 1n, 10_000n, 1n],
    ["a negative half rounds away from zero", -1n, 1n, 2n, -1n],
    ["a negative 2.5 rounds away from zero", -5n, 1n, 2n, -3n],
    ["a negative third rounds towards zero", -1n, 1n, 3n, 0n],
    ["zero stays zero", 0n, 7n, 3n, 0n],
    ["217 s at 2 tokens per 3600 s", 217_000_000n, 2_000_000n, 3_600_000_000n, 120_556n],
    ["large operands stay exact", 1_000_000_000_000_000n, 1_000_000_000_000_000n, 1_000_000_000_000_000n, 1_000_000_000_000_000n],
  ])("%s: %d × %d ÷ %d = %d", (_why, a, b, divisor, expected) => {
    expect(mulDivHalfUp(a, b, divisor)).toBe(expected);
  });

  it.each([0n, -1n])("refuses the divisor %d", (divisor) => {
    expect(() => mulDivHalfUp(1n, 1n, divisor)).toThrow(RangeError);
  });
});

describe("summing and comparing amounts", () => {
  it("sums exactly beyond the float-safe range", () => {
    expect(sumMicros([9_007_199_254_740_993n, 1n, -2n])).toBe(9_007_199_254_740_992n);
  });

  it("sums nothing to zero", () => {
    expect(sumMicros([])).toBe(0n);
  });

  it.each([
    [1n, 2n, 1n],
    [2n, 1n, 1n],
    [-3n, 3n, -3n],
  ])("takes the smaller of %d and %d", (a, b, expected) => {
    expect(minMicros(a, b)).toBe(expected);
  });
});

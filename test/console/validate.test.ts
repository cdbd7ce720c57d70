/**
 * The console's inline checks must agree with the server's: a value the console accepts must not
 * be refused by the server for the same rule, and the reverse. Both sides are run on the same
 * inputs, hand-picked and generated.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkApiCode, checkEffectiveFrom, checkMonth, checkNote, checkTokens, checkUnitQuantity, checkUnitsPerMonth } from "../../console/src/validate.js";
import { checkFreeCapOrThrow } from "../../server/core/free-allowance.js";
import { parseMonth } from "../../server/core/month.js";
import { parseMicros } from "../../server/core/money.js";
import { cleanApiCode, cleanText, requirePositiveInt } from "../../server/core/text.js";
import { parseInstant } from "../../server/core/time.js";

const serverAccepts = (work: () => unknown) => {
  try {
    work();
    return true;
  } catch {
    return false;
  }
};

describe("the console's rate check mirrors the server's", () => {
  it.each([
    ["0.5", true],
    ["2", true],
    ["0", true],
    ["12.000001", true],
    ["1000000000", true],
    ["1.2345678", false],
    ["1000000000.000001", false],
    ["-1", false],
    ["+1", false],
    ["1e3", false],
    ["1,5", false],
    ["01", false],
    [".5", false],
    ["1.", false],
    [" 1", false],
    ["NaN", false],
    ["Infinity", false],
    ["１", false],
    ["", false],
  ])("%j accepted: %s", (text, accepted) => {
    expect(checkTokens(text).ok).toBe(accepted);
    expect(serverAccepts(() => parseMicros(text, "input.tokensPerUnit"))).toBe(accepted);
  });

  it("agrees on generated decimals", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[-+]?[0-9]{0,12}(\.[0-9]{0,8})?(e[0-9])?$/), (text) => {
        expect(checkTokens(text).ok).toBe(serverAccepts(() => parseMicros(text, "input.tokensPerUnit")));
      }),
      { numRuns: 500 },
    );
  });
});

describe("the other checks mirror the server's", () => {
  it.each(["1", "3600", "300000", "1000000000", "0", "1000000001", "-1", "1.5", "1e3", "007", "", "99999999999"])("unit quantity %j", (text) => {
    const serverSide = /^-?[0-9]+$/.test(text) && serverAccepts(() => requirePositiveInt(Number(text), "input.unitQuantity", 1_000_000_000));
    // A leading zero is a valid Int to GraphQL but never typed on purpose; the console asks for the plain form.
    expect(checkUnitQuantity(text).ok).toBe(serverSide && !text.startsWith("0"));
  });

  it.each([
    ["Rate review", true],
    ["  padded  ", true],
    ["", false],
    ["   ", false],
    ["x".repeat(2000), true],
    ["x".repeat(2001), false],
    ["two\nlines", false],
    ["tab\there", false],
    ["bidi \u202e override", false],
    ["<img src=x onerror=alert(1)>", true],
  ])("note %j accepted: %s", (text, accepted) => {
    expect(checkNote(text).ok).toBe(accepted);
    expect(serverAccepts(() => cleanText(text, "input.note", { max: 2000 }))).toBe(accepted);
  });

  it.each(["design-automation/revit", "a", "model-derivative/complex-job", "Design", "a//b", "-a", "a-", "a b", "x".repeat(101)])("API code %j", (text) => {
    expect(checkApiCode(text).ok).toBe(serverAccepts(() => cleanApiCode(text, "input.apiCode")));
  });

  it("reads the picked time as UTC, refuses the past, and sends what the server parses", () => {
    const now = Date.parse("2026-01-15T09:00:00Z");
    const later = checkEffectiveFrom("2026-03-01T00:00", now);
    expect(later).toEqual({ ok: true, value: "2026-03-01T00:00:00Z" });
    expect(parseInstant(later.ok ? later.value : "", "input.effectiveFrom")).toBe(Date.parse("2026-03-01T00:00:00Z"));
    expect(checkEffectiveFrom("2026-01-15T08:59", now).ok).toBe(false);
    expect(checkEffectiveFrom("2026-02-30T00:00", now).ok).toBe(false);
    expect(checkEffectiveFrom("", now).ok).toBe(false);
  });
});

describe("the free cap checks mirror the server's", () => {
  const now = Date.parse("2026-01-15T09:00:00Z");
  const serverTakesCap = (units: number) => serverAccepts(() => checkFreeCapOrThrow({ apiCode: "design-automation/revit", unitsPerMonth: units, note: "n" }, now));

  it.each(["0", "3", "1000000000", "1000000001", "-1", "2.5", "1e3", "007", "", "99999999999"])("units a month %j", (text) => {
    const serverSide = /^-?[0-9]+$/.test(text) && serverTakesCap(Number(text));
    // As for unit quantities, a leading zero is never typed on purpose; the console asks for the plain form.
    expect(checkUnitsPerMonth(text).ok).toBe(serverSide && !/^0[0-9]/.test(text));
  });

  it("agrees on generated whole numbers", () => {
    fc.assert(
      fc.property(fc.integer({ min: -10, max: 2_000_000_000 }), (units) => {
        expect(checkUnitsPerMonth(String(units)).ok).toBe(serverTakesCap(units));
      }),
      { numRuns: 300 },
    );
  });

  it("says a cap in the past is refused in the cap's words", () => {
    const past = checkEffectiveFrom("2026-01-15T08:59", now, "A free cap");
    expect(past).toEqual({ ok: false, message: "A free cap takes effect now or later, never in the past." });
  });

  it.each(["2026-01", "2025-12", "1970-01", "1969-12", "2026-13", "2026-00", "2026-1", "202601", ""])("statement month %j", (text) => {
    expect(checkMonth(text).ok).toBe(serverAccepts(() => parseMonth(text, "month")));
  });
});

import { describe, expect, it } from "vitest";
import { cleanApiCode, cleanCountry, cleanReference, cleanText, parseId, requirePositiveInt } from "../../server/core/text.js";
import { refusalOf } from "../fixtures/ledger-assertions.js";

describe("caller-chosen references (event ids, order refs, external refs)", () => {
  it.each(["e", "evt-2024-05-31/job#17", "A".repeat(128), "!~"])("accepts %j", (value) => {
    expect(cleanReference(value, "input.eventId")).toBe(value);
  });

  it.each([
    ["empty", ""],
    ["with a space", "event 1"],
    ["with a tab", "event\t1"],
    ["non-ASCII", "événement"],
    ["longer than 128 characters", "A".repeat(129)],
  ])("refuses a reference %s, naming the field", (_why, value) => {
    const error = refusalOf(() => cleanReference(value, "input.eventId"));
    expect({ code: error.code, field: error.field }).toEqual({ code: "BAD_USER_INPUT", field: "input.eventId" });
  });
});

describe("API codes", () => {
  it.each(["model-derivative/complex-job", "design-automation/3dsmax", "viewer"])("accepts %j", (value) => {
    expect(cleanApiCode(value, "input.apiCode")).toBe(value);
  });

  it.each(["", "Model-Derivative/job", "model derivative", "/leading", "trailing/", "double//slash", "a--b", "x".repeat(101)])("refuses %j", (value) => {
    const error = refusalOf(() => cleanApiCode(value, "input.apiCode"));
    expect({ code: error.code, field: error.field }).toEqual({ code: "BAD_USER_INPUT", field: "input.apiCode" });
  });
});

describe("free text", () => {
  it("trims what it keeps", () => {
    expect(cleanText("  duplicate job  ", "reason", { max: 100 })).toBe("duplicate job");
  });

  it("accepts an empty optional text", () => {
    expect(cleanText("", "input.note", { max: 10, optional: true })).toBe("");
  });

  it.each([
    ["blank", "   ", { max: 10 }],
    ["too long", "abcdefghijk", { max: 10 }],
    ["a control character", "a\u0007b", { max: 10 }],
    ["a right-to-left override", "ok\u202eevil", { max: 20 }],
    ["a bidi isolate", "ok\u2066x", { max: 20 }],
  ])("refuses text that is %s", (_why, value, rule) => {
    const error = refusalOf(() => cleanText(value, "reason", rule));
    expect({ code: error.code, field: error.field }).toEqual({ code: "BAD_USER_INPUT", field: "reason" });
  });
});

describe("small structured inputs", () => {
  it.each([
    ["JP", true],
    ["jp", false],
    ["JPN", false],
  ])("country %j accepted: %s", (value, ok) => {
    if (ok) expect(cleanCountry(value, "input.country")).toBe(value);
    else expect(refusalOf(() => cleanCountry(value, "input.country")).field).toBe("input.country");
  });

  it.each([
    [1, true],
    [3600, true],
    [0, false],
    [-1, false],
    [1.5, false],
    [Number.NaN, false],
    [1_000_000_001, false],
  ])("unit quantity %d accepted: %s", (value, ok) => {
    if (ok) expect(requirePositiveInt(value, "input.unitQuantity", 1_000_000_000)).toBe(value);
    else expect(refusalOf(() => requirePositiveInt(value, "input.unitQuantity", 1_000_000_000)).field).toBe("input.unitQuantity");
  });

  it.each([
    ["42", 42],
    [7, 7],
    ["0", null],
    ["007", null],
    ["-1", null],
    ["1e3", null],
    ["9007199254740993", null],
  ])("id %j parses to %s", (value, expected) => {
    if (expected !== null) expect(parseId(value, "id")).toBe(expected);
    else expect(refusalOf(() => parseId(value, "id")).code).toBe("BAD_USER_INPUT");
  });
});

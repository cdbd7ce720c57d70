import { describe, expect, it } from "vitest";
import type { DeficitState } from "../../server/core/account.js";
import type { Allocation, FundingSource } from "../../server/core/drain.js";
import { formatMicros } from "../../server/core/money.js";
import type { Enrollment } from "../../server/core/plan.js";
import { statusUnderPlan, planAt } from "../../server/core/plan.js";
import type { TieredDecision } from "../../server/core/tiered-rating.js";
import { poolAsSource } from "../../server/core/token-flex.js";
import { refusalOf } from "../fixtures/ledger-assertions.js";
import { aLot, aPack, aPriceVersion, tokens, utc } from "./builders.js";
import { aFreeCap, type AnEvent, COMPLEX, decide, emptyBook, examplePrices, rateAll, REVIT, type TieredWorld } from "./tiered-builders.js";

const receipt = (allocations: readonly Allocation[]) =>
  allocations.map((part) => `${part.source}#${part.sourceId ?? "-"}:${formatMicros(part.amountMicros)}${part.units === undefined ? "" : `/${part.units}u`}`);
const outcomes = (decisions: (TieredDecision | Error)[]) =>
  decisions.map((decision) => (decision instanceof Error ? (decision as Error & { code: string }).code : `${decision.units}u`));

const FREE: Enrollment = { tier: "FREE", payg: false, effectiveFrom: utc("2025-12-08") };
const PREPAY: Enrollment = { tier: "PAID", payg: false, effectiveFrom: utc("2025-12-08") };
const PAYG: Enrollment = { tier: "PAID", payg: true, effectiveFrom: utc("2025-12-08") };
const world = (enrollments: Enrollment[], overrides: Partial<TieredWorld> = {}): TieredWorld => ({
  prices: [...examplePrices(), aPriceVersion({ apiCode: "viewer/free-call", rate: "0", effectiveFrom: "2025-12-08" })],
  caps: [aFreeCap(REVIT, 3), aFreeCap(COMPLEX, 2)],
  enrollments,
  now: utc("2026-03-01"),
  ...overrides,
});
const revit = (quantity: string, occurredAt: string, outcome?: AnEvent["outcome"]): AnEvent => ({ apiCode: REVIT, quantity, occurredAt, outcome });
const job = (quantity: string, occurredAt: string): AnEvent => ({ apiCode: COMPLEX, quantity, occurredAt });

describe("FREE events", () => {
  it("suspends only the API whose cap is reached: other APIs go on", () => {
    const { decisions } = rateAll(world([FREE]), emptyBook(), [revit("3600", "2026-01-05"), revit("1", "2026-01-06"), job("1", "2026-01-06"), revit("1", "2026-01-07")]);
    expect(outcomes(decisions)).toEqual(["3u", "API_SUSPENDED", "1u", "API_SUSPENDED"]);
  });

  it("lifts the suspension at the first instant of the next month (UTC)", () => {
    const { decisions } = rateAll(world([FREE]), emptyBook(), [revit("3600", "2026-01-05"), revit("1200", "2026-01-31T23:59:59.999Z"), revit("1200", "2026-02-01T00:00:00Z")]);
    expect(outcomes(decisions)).toEqual(["3u", "API_SUSPENDED", "1u"]);
    expect(receipt((decisions[2] as TieredDecision).allocations)).toEqual(["FREE_ALLOWANCE#-:0/1u"]);
  });

  it("refuses even an unbilled outcome of a suspended API, and writes nothing", () => {
    const { book } = rateAll(world([FREE]), emptyBook(), [revit("3600", "2026-01-05")]);
    const error = refusalOf(() => decide(world([FREE]), book, revit("100", "2026-01-06", "FAILED")));
    expect([error.code, error.field]).toEqual(["API_SUSPENDED", undefined]);
  });

  it("rates a late event that occurred before the cap was reached, as overrun", () => {
    const { decisions } = rateAll(world([FREE]), emptyBook(), [revit("3600", "2026-01-05T12:00:00Z"), revit("1200", "2026-01-05T11:00:00Z")]);
    expect(receipt((decisions[1] as TieredDecision).allocations)).toEqual(["OVERRUN#-:0/1u"]);
  });

  it("never caps or suspends a free API, even without a cap", () => {
    const { decisions } = rateAll(world([FREE]), emptyBook(), [1, 2, 3].map(() => ({ apiCode: "viewer/free-call", quantity: "5", occurredAt: "2026-01-05" })));
    expect(outcomes(decisions)).toEqual(["0u", "0u", "0u"]);
  });

  it("records the first event of an API without a cap as overrun, then suspends it", () => {
    const { decisions } = rateAll(world([FREE], { caps: [] }), emptyBook(), [job("2", "2026-01-05"), job("1", "2026-01-06")]);
    expect(receipt((decisions[0] as TieredDecision).allocations)).toEqual(["OVERRUN#-:0/2u"]);
    expect(outcomes(decisions)).toEqual(["2u", "API_SUSPENDED"]);
  });

  it("ignores a deficit: a FREE event costs no tokens", () => {
    const owing: DeficitState = { deficitMicros: tokens("5"), graceStartedAt: utc("2025-01-01") };
    const { decisions } = rateAll(world([FREE]), emptyBook([], owing), [revit("1200", "2026-01-05")]);
    expect(outcomes(decisions)).toEqual(["1u"]);
  });

  it("is lifted by enrolling in PAID, from its start on", () => {
    const paidFrom = { tier: "PAID", payg: true, effectiveFrom: utc("2026-01-20") } as const;
    const { decisions } = rateAll(world([FREE, paidFrom]), emptyBook(), [revit("3600", "2026-01-05"), revit("1200", "2026-01-19"), revit("1200", "2026-01-20")]);
    expect(outcomes(decisions)).toEqual(["3u", "API_SUSPENDED", "1u"]);
    expect(receipt((decisions[2] as TieredDecision).allocations)).toEqual(["PAYG#-:1/1u"]);
  });
});

describe("the paid funding chain", () => {
  const at = "2026-01-10";
  const pool = (id: number, amount: string, startsAt: string, endsAt: string): FundingSource =>
    poolAsSource({ id, tokensMicros: tokens(amount), remainingMicros: tokens(amount), startsAt: utc(startsAt), endsAt: utc(endsAt), externalRef: `EBA-${id}` });
  const pack = aPack({ id: 7, tokens: "100", remaining: "2", purchasedAt: "2025-12-15" });

  it.each<[string, Enrollment, FundingSource[], string, string[]]>([
    ["Token Flex before Flex, then PAYG", PAYG, [pack, pool(1, "3", "2026-01-01", "2026-02-01")], "6", ["TOKEN_FLEX#1:3", "FLEX_PACK#7:2", "PAYG#-:1/1u"]],
    ["the pool ending soonest first", PAYG, [pool(1, "3", "2026-01-01", "2026-03-01"), pool(2, "3", "2026-01-01", "2026-02-01")], "4", ["TOKEN_FLEX#2:3", "TOKEN_FLEX#1:1"]],
    ["among pools ending together, the oldest", PAYG, [pool(1, "3", "2026-01-02", "2026-02-01"), pool(2, "3", "2026-01-01", "2026-02-01")], "4", ["TOKEN_FLEX#2:3", "TOKEN_FLEX#1:1"]],
    ["among equal pools, the lower id, whatever their size", PAYG, [pool(2, "3", "2026-01-01", "2026-02-01"), pool(1, "30", "2026-01-01", "2026-02-01")], "4", ["TOKEN_FLEX#1:4"]],
    ["no pool outside its dates", PAYG, [pool(1, "3", "2026-01-11", "2026-02-01"), pool(2, "3", "2025-12-08", "2026-01-10")], "1", ["PAYG#-:1/1u"]],
    ["prepay only: the rest as a deficit", PREPAY, [pack], "5", ["FLEX_PACK#7:2", "DEFICIT#-:3"]],
    ["no cloud credits from 2026-01-01", PAYG, [aLot({ id: 3, tokens: "10", purchasedAt: "2025-06-01" })], "1", ["PAYG#-:1/1u"]],
  ])("drains %s", (_why, plan, sources, units, expected) => {
    const decision = decide(world([plan]), emptyBook(sources), revit(String(Number(units) * 1200), at));
    expect(receipt(decision.allocations)).toEqual(expected);
  });

  it("lets cloud credits pay usage before the acceptance end, which an operator can move", () => {
    const lot = aLot({ id: 3, tokens: "10", purchasedAt: "2025-06-01" });
    expect(receipt(decide(world([PAYG]), emptyBook([lot, pack]), revit("1200", "2025-12-31T23:59:59.999Z")).allocations)).toEqual(["CREDIT_LOT#3:1"]);
    const later = world([PAYG], { creditAcceptanceEndAt: utc("2026-02-01") });
    expect(receipt(decide(later, emptyBook([lot, pack]), revit("1200", at)).allocations)).toEqual(["CREDIT_LOT#3:1"]);
  });

  it("charges units × tokens per unit exactly", () => {
    const third = aPriceVersion({ apiCode: "reality-capture/photoscene", meter: "PHOTO", unitQuantity: 50, rate: "0.333333", effectiveFrom: "2025-12-08" });
    const decision = decide(world([PAYG], { prices: [third] }), emptyBook(), { apiCode: third.apiCode, quantity: "170", occurredAt: at });
    expect([decision.units, formatMicros(decision.tokensMicros), formatMicros(decision.remainder.quantityMicros)]).toEqual([3n, "0.999999", "20"]);
  });

  it("restricts a prepay-only account at once when its tokens run out, and refuses its next billed event", () => {
    const { book, decisions } = rateAll(world([PREPAY]), emptyBook([pack]), [revit("3600", at), revit("600", at), revit("600", at, "FAILED")]);
    expect(outcomes(decisions)).toEqual(["3u", "ACCOUNT_RESTRICTED", "0u"]);
    expect(book.deficit).toEqual({ deficitMicros: tokens("1"), graceStartedAt: utc("2026-03-01") });
    expect(statusUnderPlan(planAt([PREPAY], utc(at)), book.deficit, utc("2026-03-01"))).toBe("RESTRICTED");
    const error = refusalOf(() => decide(world([PREPAY]), book, revit("1200", at)));
    expect([error.code, error.field]).toEqual(["ACCOUNT_RESTRICTED", undefined]);
  });

  it("never refuses a PAYG account, even one owing an old deficit", () => {
    const owing: DeficitState = { deficitMicros: tokens("5"), graceStartedAt: utc("2025-01-01") };
    const { book, decisions } = rateAll(world([PAYG]), emptyBook([], owing), [revit("1200", at), revit("1200", at)]);
    expect(outcomes(decisions)).toEqual(["1u", "1u"]);
    expect(book.deficit).toBe(owing);
  });

  it.each<[string, string, string]>([
    ["on the usage month's statement while it is open", "2026-02-03T23:59:59.999Z", "2026-01"],
    ["on the booking month's statement once the usage month's is final", "2026-02-04T00:00:00Z", "2026-02"],
  ])("puts a late PAYG part %s", (_why, now, month) => {
    const decision = decide(world([PAYG], { now: utc(now) }), emptyBook(), revit("1200", "2026-01-31T23:00:00Z"));
    expect(decision.payg?.statementMonth).toBe(month);
  });

  it("counts on the PAYG line a unit that a pack paid only in part", () => {
    const half = aPack({ id: 8, tokens: "100", remaining: "0.4", purchasedAt: "2025-12-15" });
    const decision = decide(world([PAYG]), emptyBook([half]), job("2", at));
    expect(receipt(decision.allocations)).toEqual(["FLEX_PACK#8:0.4", "PAYG#-:0.6/2u"]);
  });

  it("keeps a LEGACY event away from the tiered rules", () => {
    expect(() => decide(world([]), emptyBook(), revit("1200", at))).toThrow(RangeError);
  });
});

/**
 * The tiered fields of a page of accounts cost the same few SQL statements whatever the page
 * size: each is read for the whole page through a loader. Counted by the database's own
 * statement hook over real requests. The revit price and cap are test values, not APS's.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { at, OPERATOR, tokens } from "../fixtures/harness.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { ok } from "./support.js";

let server: TestServer;
let recording = false;
const statements: string[] = [];

const ACCOUNTS = 110;
const REVIT = "design-automation/revit";

/** The statements one request's operation causes, the two key lookups of every request left out. */
async function statementsOf(query: string, variables?: Record<string, unknown>) {
  statements.length = 0;
  recording = true;
  try {
    return { data: await ok(server, query, variables), statements: statements.filter((sql) => !sql.includes('from "api_keys"')) };
  } finally {
    recording = false;
  }
}

beforeAll(async () => {
  server = await startTestServer({ now: "2025-12-20T00:00:00Z", onStatement: (sql) => recording && statements.push(sql) });
  const { accounts, tiered, funding, prices, rating } = server.services;
  await prices.publish({ apiCode: REVIT, meter: "SECOND", unitQuantity: 1200, tokensPerUnitMicros: tokens("1"), note: "test value, not APS's" }, OPERATOR);
  await tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth: 3, note: "test value, not APS's" }, OPERATOR);
  server.setNow("2026-01-10T00:00:00Z");
  for (let i = 0; i < ACCOUNTS; i++) {
    const account = await accounts.create({ name: `Tiered customer ${i}`, country: "JP" }, OPERATOR);
    // FREE and PAID with PAYG in turn, each with usage, a remainder and (PAID) a pool and PAYG lines.
    const paid = i % 2 === 1;
    await tiered.enrollPlan({ accountId: account.id, tier: paid ? "PAID" : "FREE", payg: paid, effectiveFrom: at("2026-01-01T00:00:00Z") }, OPERATOR);
    if (paid) {
      await funding.importTokenFlexPool({ accountId: account.id, tokensMicros: tokens("1"), startsAt: at("2026-01-01"), endsAt: at("2027-01-01"), externalRef: `EBA-${i}` }, OPERATOR);
    }
    await rating.recordUsage({ eventId: `usage-${i}`, accountId: account.id, apiCode: REVIT, quantityMicros: tokens("3000"), outcome: "SUCCEEDED", occurredAt: at("2026-01-05T00:00:00Z") });
  }
});

afterAll(() => server.close());

describe("statements per request do not grow with the page, tiered fields included", () => {
  const tieredPage = `query($n: Int!) { accounts(first: $n) { edges { node {
    id status plan { tier payg } planHistory { tier effectiveFrom }
    freeUsage { apiCode usedUnits overrunUnits suspendedUntil } freeUsage2025: freeUsage(month: "2025-12") { apiCode }
    tokenFlexPools(includeExpired: true) { id remaining expired } unitRemainders { apiCode quantity month }
  } } } }`;

  // A statement sums a month of PAYG parts per account: heavier, so its page is smaller.
  const statementPage = `query($n: Int!) { accounts(first: $n) { edges { node {
    id paygStatement(month: "2026-01") { status tokens lines { apiCode units tokens } }
  } } } }`;

  it.each([
    ["plans, free usage of two months, pools and remainders", tieredPage, 10, 100],
    ["PAYG statements", statementPage, 5, 40],
  ])("%s: a small and a large page cost the same few statements", async (_label, query, small, large) => {
    const few = await statementsOf(query, { n: small });
    const many = await statementsOf(query, { n: large });
    expect(few.data.accounts.edges).toHaveLength(small);
    expect(many.data.accounts.edges).toHaveLength(large);
    expect(many.statements.length, many.statements.join("\n")).toBe(few.statements.length);
    // One read per table (and per month asked for), plus each snapshot's begin, commit and check of the cached price book.
    expect(many.statements.length, many.statements.join("\n")).toBeLessThanOrEqual(15);
  });

  it("a page of 100 accounts with their PAYG statements is refused before it runs: each statement scans a month", async () => {
    statements.length = 0;
    recording = true;
    const { status, body } = await server.graphql(statementPage, { n: 100 }).finally(() => (recording = false));
    expect(status).toBe(400);
    expect(body.errors!.map((error: any) => error.extensions.code)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(statements.filter((sql) => sql.includes('"payg_parts"'))).toEqual([]);
  });

  it("a page carries what was seeded for each account", async () => {
    const { data } = await statementsOf(tieredPage, { n: 4 });
    const [free, paid] = data.accounts.edges.map((edge: any) => edge.node);
    expect(free).toMatchObject({
      status: "ACTIVE",
      plan: { tier: "FREE", payg: false },
      freeUsage: [{ apiCode: REVIT, usedUnits: 2, overrunUnits: 0, suspendedUntil: null }],
      // December's cap was in force at its end: a row without usage.
      freeUsage2025: [{ apiCode: REVIT }],
      tokenFlexPools: [],
      unitRemainders: [{ apiCode: REVIT, quantity: "600", month: "2026-01" }],
    });
    expect(paid).toMatchObject({
      status: "ACTIVE",
      plan: { tier: "PAID", payg: true },
      tokenFlexPools: [{ remaining: "0", expired: false }],
      unitRemainders: [{ apiCode: REVIT, quantity: "600", month: null }],
    });
    const statement = (await statementsOf(statementPage, { n: 2 })).data.accounts.edges[1].node.paygStatement;
    expect(statement).toEqual({ status: "OPEN", tokens: "1", lines: [{ apiCode: REVIT, units: 1, tokens: "1" }] });
  });
});

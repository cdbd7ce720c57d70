/**
 * DataLoaders: a page costs the same number of SQL statements whatever its size, counted by the
 * database's own statement hook over a real request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPERATOR, at, tokens } from "../fixtures/harness.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { ok, usageInput } from "./support.js";

let server: TestServer;
let recording = false;
const statements: string[] = [];
let chargedAccountId: string;

const ACCOUNTS = 120;
const RESELLERS = 105;
/**
 * A handful: one read per table reached, plus a read transaction's BEGIN and COMMIT. A per-item
 * query would cost at least one statement per edge, ten on the smallest page.
 */
const SMALL = 10;

/**
 * Runs one request as the operator and returns the statements its operation caused. The key
 * lookups are left out: every request makes two (before its body is read, and when its operation
 * starts), whatever it asks for.
 */
async function statementsOf(query: string, variables?: Record<string, unknown>, key?: string) {
  statements.length = 0;
  recording = true;
  try {
    return { data: await ok(server, query, variables, key), statements: statements.filter((sql) => !sql.includes('from "api_keys"')) };
  } finally {
    recording = false;
  }
}

beforeAll(async () => {
  // Early 2023, while the imported cloud credits are still valid beside the Flex packs.
  server = await startTestServer({ now: "2023-03-01T00:00:00Z", onStatement: (sql) => recording && statements.push(sql) });
  const { accounts, funding } = server.services;
  const resellers = [];
  for (let i = 0; i < RESELLERS; i++) resellers.push(
    await accounts.createReseller({ name: `Reseller ${i}`, tier: i % 2 ? "GOLD" : "PLATINUM", flexAgreement: true, services: ["Flex"] }, OPERATOR),
  );
  for (let i = 0; i < ACCOUNTS; i++) {
    // Spread over a few resellers, so the reseller loader has several keys to batch.
    const reseller = resellers[i % 4]!;
    const account = await accounts.create({ name: `Customer ${i}`, country: "JP", resellerId: reseller.id }, OPERATOR);
    if (i === 0) chargedAccountId = String(account.id);
    // The charged account's lot expires on 2023-02-01, so its later usage falls to its pack.
    const lot = i === 0 ? { amountMicros: tokens("100"), purchasedAt: at("2022-02-01T00:00:00Z") } : { amountMicros: tokens("10"), purchasedAt: at("2022-06-01T00:00:00Z") };
    await funding.importCreditLot({ accountId: account.id, ...lot, externalRef: `lot-${i}` }, OPERATOR);
    await funding.recordFlexPurchase(
      { accountId: account.id, tokensMicros: tokens("100"), purchasedAt: at("2023-01-15T00:00:00Z"), channel: "RESELLER", resellerId: reseller.id, orderRef: `order-${i}` },
      OPERATOR,
    );
  }
  // 110 charges on one account, through the API, alternately paid by its lot (January, while the
  // lot is valid) and by its pack (February), so every page has receipts of both kinds.
  const inputs = Array.from({ length: 110 }, (_, i) =>
    usageInput(chargedAccountId, { occurredAt: `2023-0${1 + (i % 2)}-${String(10 + (i % 15)).padStart(2, "0")}T00:00:00Z` }),
  );
  const batch = await ok(server, `mutation($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { error { code } } }`, { inputs });
  expect(batch.recordUsageBatch.every((result: any) => result.error === null)).toBe(true);
});

afterAll(() => server.close());

describe("statements per request do not grow with the page", () => {
  const accountsPage = `query($n: Int!) { accounts(first: $n) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
    id name status reseller { id name tier }
    balance { cloudCredits flexTokens deficit available graceEndsAt }
    creditLots { id amount remaining expiresAt expired }
    flexPacks { id tokens remaining expired channel reseller { id name } }
  } } } }`;

  const resellersPage = `query($n: Int!) { resellers(first: $n) { totalCount edges { node {
    id name accounts(first: 5) { totalCount edges { node { id balance { available } reseller { id } } } }
  } } } }`;

  const chargesPage = `query($id: ID!, $n: Int!) { account(id: $id) { charges(first: $n, orderBy: BOOKED_DESC) { totalCount edges { node {
    id tokens account { id } priceEntry { id apiCode tokensPerUnit }
    allocations { source amount creditLot { id remaining } flexPack { id remaining } }
  } } } } }`;

  /**
   * Every receipt kind appears on the first page, so each loader runs on both page sizes. In
   * booking order the seeded charges alternate January (lot) and February (pack); newest usage
   * first, a page holds February's pack receipts only.
   */
  const bothReceiptKinds = (edges: any[]) =>
    expect(new Set(edges.flatMap((edge) => edge.node.allocations.map((allocation: any) => allocation.source)))).toEqual(new Set(["CREDIT_LOT", "FLEX_PACK"]));

  it.each([
    ["accounts with reseller, balance, lots and packs", accountsPage, () => ({}), (data: any) => data.accounts.edges, () => {}],
    ["resellers with their first accounts and balances", resellersPage, () => ({}), (data: any) => data.resellers.edges, () => {}],
    ["charges with price entry, account and receipts", chargesPage, () => ({ id: chargedAccountId }), (data: any) => data.account.charges.edges, bothReceiptKinds],
  ])("%s: first 10 and first 100 cost the same few statements", async (_label, query, variables, edges, check) => {
    const ten = await statementsOf(query, { ...variables(), n: 10 });
    const hundred = await statementsOf(query, { ...variables(), n: 100 });
    expect(edges(ten.data)).toHaveLength(10);
    expect(edges(hundred.data)).toHaveLength(100);
    check(edges(ten.data));
    expect(hundred.statements.length, hundred.statements.join("\n")).toBe(ten.statements.length);
    expect(hundred.statements.length, hundred.statements.join("\n")).toBeLessThanOrEqual(SMALL);
  });

  it("a page of 100 accounts carries what was seeded for each", async () => {
    const { data, statements: run } = await statementsOf(accountsPage, { n: 100 });
    expect(data.accounts.totalCount).toBe(ACCOUNTS);
    expect(data.accounts.pageInfo.hasNextPage).toBe(true);
    for (const { node } of data.accounts.edges.slice(1)) {
      expect(node.creditLots).toHaveLength(1);
      expect(node.flexPacks).toHaveLength(1);
      expect(node.balance).toMatchObject({ cloudCredits: "10", flexTokens: "100", deficit: "0", available: "110" });
      expect(node.flexPacks[0].reseller.id).toBe(node.reseller.id);
    }
    // One statement per table read: page, count, plans (the status and the balance follow the
    // plan), resellers, lots, Token Flex pools (they count in the balance), packs. drizzle quotes
    // the table; SQL written by hand may not.
    expect(run.map((sql) => /\bfrom "?(\w+)"?/.exec(sql)?.[1])).toEqual(["accounts", "accounts", "plan_enrollments", "resellers", "credit_lots", "token_flex_pools", "flex_packs"]);
  });

  it("a page that does not ask for totalCount does not count", async () => {
    const { data, statements: run } = await statementsOf(`{ accounts(first: 5) { edges { node { id } } } }`);
    expect(data.accounts.edges).toHaveLength(5);
    expect(run.map((sql) => /\bfrom "?(\w+)"?/.exec(sql)?.[1])).toEqual(["accounts"]);
  });

  it("a partner's page costs the same as an operator's", async () => {
    const partner = await server.key("PARTNER", Number((await ok(server, `{ resellers(first: 1) { edges { node { id } } } }`)).resellers.edges[0].node.id));
    const { data, statements: run } = await statementsOf(accountsPage, { n: 100 }, partner);
    expect(data.accounts.totalCount).toBe(ACCOUNTS / 4);
    expect(run.length).toBeLessThanOrEqual(SMALL);
  });
});

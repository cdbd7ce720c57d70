/**
 * Lots and packs read as holdings only: an operation that selects nothing of its lots and packs
 * but what they hold reads only those columns, any other answers from full rows, and both give
 * the same answer field for field. Watched through the database's own statement hook.
 */
import { getNamedType, isObjectType, type GraphQLObjectType } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphqlSchema } from "../../server/graphql/schema.js";
import { HOLDING_FIELDS } from "../../server/graphql/holdings.js";
import { OPERATOR, at, tokens } from "../fixtures/harness.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { ok, usageInput } from "./support.js";

let server: TestServer;
let recording = false;
const statements: string[] = [];
let accountId: string;

/** The select lists of the lots' and packs' reads an operation made, each as `table: columns`. */
async function sourceReadsOf(query: string, variables?: Record<string, unknown>) {
  statements.length = 0;
  recording = true;
  try {
    const data = await ok(server, query, variables);
    const reads = statements.flatMap((sql) => {
      const read = /select (.*?) from "(credit_lots|flex_packs)"/s.exec(sql);
      return read ? [`${read[2]}: ${read[1]}`] : [];
    });
    return { data, reads };
  } finally {
    recording = false;
  }
}

const onlyHoldingColumns = (read: string) => !/external_ref|order_ref|channel|unit_price|currency|created_at/.test(read);

beforeAll(async () => {
  server = await startTestServer({ now: "2023-09-01T00:00:00Z", onStatement: (sql) => recording && statements.push(sql) });
  const { accounts, funding } = server.services;
  const reseller = await accounts.createReseller({ name: "Reseller", tier: "GOLD", flexAgreement: true, services: ["Flex"] }, OPERATOR);
  for (let i = 0; i < 3; i++) {
    const account = await accounts.create({ name: `Customer ${i}`, country: "JP", resellerId: reseller.id }, OPERATOR);
    accountId ??= String(account.id);
    await funding.importCreditLot({ accountId: account.id, amountMicros: tokens("50"), purchasedAt: at("2022-06-01T00:00:00Z"), externalRef: `lot-${i}` }, OPERATOR);
    await funding.recordFlexPurchase(
      { accountId: account.id, tokensMicros: tokens("100"), purchasedAt: at("2023-01-15T00:00:00Z"), channel: "RESELLER", resellerId: reseller.id, orderRef: `order-${i}`, unitPrice: "1.25", currency: "USD" },
      OPERATOR,
    );
    await funding.recordFlexPurchase({ accountId: account.id, tokensMicros: tokens("200"), purchasedAt: at("2023-08-01T00:00:00Z"), channel: "ESTORE", orderRef: `estore-${i}` }, OPERATOR);
  }
  const usage = await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { allocations { source } } } }`, { input: usageInput(accountId, { occurredAt: "2023-08-10T00:00:00Z" }) });
  expect(usage.recordUsage.charge.allocations).toEqual([{ source: "FLEX_PACK" }]);
});

afterAll(() => server.close());

/** A field as a selection: with its own first-level fields when it is an object. */
function selection(type: GraphQLObjectType, name: string): string {
  const fieldType = getNamedType(type.getFields()[name]!.type);
  if (!isObjectType(fieldType)) return name;
  const leaves = Object.values(fieldType.getFields()).filter((field) => !isObjectType(getNamedType(field.type)));
  return `${name} { ${leaves.map((field) => field.name).join(" ")} }`;
}

describe("lots and packs read as holdings", () => {
  const schema = graphqlSchema();

  it.each([
    ["CreditLot", "creditLots", "externalRef"],
    ["FlexPack", "flexPacks", "orderRef"],
  ] as const)("every %s field answers the same from a holding as from the full row", async (typeName, list, fullOnly) => {
    const type = schema.getType(typeName) as GraphQLObjectType;
    for (const field of Object.keys(type.getFields())) {
      const page = (fields: string) => `{ accounts(first: 10) { edges { node { balance { available } ${list}(includeExpired: true) { ${fields} } } } } }`;
      const alone = await sourceReadsOf(page(selection(type, field)));
      const beside = await sourceReadsOf(page(`${selection(type, field)} ${field === fullOnly ? "id" : fullOnly}`));
      // Only a field a holding answers lets the operation read holdings.
      expect(alone.reads.every(onlyHoldingColumns), `${field}: ${alone.reads.join("; ")}`).toBe(HOLDING_FIELDS[typeName]!.has(field));
      expect(beside.reads.every(onlyHoldingColumns), `${field} beside ${fullOnly}`).toBe(false);
      const values = (data: any) => data.accounts.edges.map((edge: any) => [edge.node.balance, edge.node[list].map((item: any) => item[field])]);
      expect(values(alone.data), field).toEqual(values(beside.data));
    }
  });

  it("a portal page of balances, lots and packs reads only the holding columns", async () => {
    const { data, reads } = await sourceReadsOf(
      `{ accounts(first: 10) { edges { node { balance { available } creditLots(includeExpired: true) { remaining expiresAt } flexPacks { id remaining expiresAt expired } } } } }`,
    );
    // SQLite builds the rows as JSON: its select list is inside json_array(…).
    expect(reads.map((read) => read.replace(/json_group_array\(json_array\((.*)\)\)/s, "$1"))).toEqual([
      `credit_lots: "id", "account_id", "amount_micros", "remaining_micros", "purchased_at", "expires_at"`,
      `flex_packs: "id", "account_id", "tokens_micros", "remaining_micros", "purchased_at", "expires_at"`,
    ]);
    expect(data.accounts.edges[0].node.flexPacks).toHaveLength(2);
  });

  it.each([
    ["a named fragment", `{ accounts(first: 10) { edges { node { flexPacks { ...sale } } } } } fragment sale on FlexPack { remaining channel }`],
    ["an inline fragment", `{ accounts(first: 10) { edges { node { flexPacks { remaining ... on FlexPack { orderRef } } } } } }`],
    ["a field skipped by @skip", `{ accounts(first: 10) { edges { node { flexPacks { remaining orderRef @skip(if: true) } } } } }`],
    ["another root field of the operation", `{ accounts(first: 10) { edges { node { flexPacks { remaining } } } } account(id: "${"ID"}") { flexPacks { orderRef } } }`],
    ["a pack reached through a charge's receipts", `{ accounts(first: 10) { edges { node { flexPacks { remaining } charges(first: 5) { edges { node { allocations { flexPack { unitPrice } } } } } } } } }`],
  ])("a pack field beyond the holding in %s makes the whole operation read full rows", async (_label, query) => {
    const { reads } = await sourceReadsOf(query.replace('"ID"', `"${accountId}"`));
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.some(onlyHoldingColumns), reads.join("\n")).toBe(false);
  });

  it("an operation with both holding and full fields answers the full ones in full", async () => {
    const data = await ok(server, `{ accounts(first: 1) { edges { node { balance { available } flexPacks { remaining orderRef unitPrice currency channel reseller { name } } } } } }`);
    expect(data.accounts.edges[0].node.flexPacks).toEqual([
      { remaining: "99.5", orderRef: "order-0", unitPrice: "1.25", currency: "USD", channel: "RESELLER", reseller: { name: "Reseller" } },
      { remaining: "200", orderRef: "estore-0", unitPrice: null, currency: null, channel: "ESTORE", reseller: null },
    ]);
  });
});

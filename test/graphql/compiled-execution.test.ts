/**
 * Queries a client repeats run compiled by graphql-jit (server/graphql/executor.ts) from their
 * second execution on: the answer, data and errors alike, is the one graphql-js gave the first
 * time, and a document graphql-jit would not run as graphql-js does is left to graphql-js.
 */
import { parse } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compilable } from "../../server/graphql/executor.js";
import { graphqlSchema } from "../../server/graphql/schema.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { createWorld, ok, unique, usageInput, type World } from "./support.js";

let server: TestServer;
let world: World;

beforeAll(async () => {
  server = await startTestServer();
  world = await createWorld(server, 2);
  for (const accountId of world.own.accountIds) {
    await ok(server, `mutation($input: ImportCreditLotInput!) { importCreditLot(input: $input) { id } }`, {
      input: { accountId, amount: "50", purchasedAt: "2022-06-01T00:00:00Z", externalRef: unique("lot") },
    });
    await ok(server, `mutation($input: RecordFlexPurchaseInput!) { recordFlexPurchase(input: $input) { id } }`, {
      input: { accountId, tokens: "100", purchasedAt: "2024-04-01T00:00:00Z", channel: "RESELLER", resellerId: world.own.resellerId, orderRef: unique("order") },
    });
    await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, { input: usageInput(accountId, { occurredAt: "2024-05-10T09:00:00Z" }) });
  }
});

afterAll(() => server.close());

/** The same request three times: interpreted, then compiled twice. */
async function thrice(query: string, variables?: Record<string, unknown>, key?: string) {
  const answers = [];
  for (let run = 0; run < 3; run++) answers.push(await server.graphql(query, variables, key));
  return answers;
}

describe("a repeated query gets graphql-js's answer", () => {
  it.each([
    [
      "the portal page, as a partner",
      `query Page($n: Int) { accounts(first: $n) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
        id name status reseller { id name } balance { cloudCredits flexTokens deficit available graceEndsAt }
        creditLots(includeExpired: true) { id remaining expiresAt expired } flexPacks { id remaining expiresAt channel reseller { name } }
      } } } }`,
      { n: 50 },
      "PARTNER",
    ],
    ["fragments and directives", `query($with: Boolean!) { accounts(first: 5) { edges { node { ...Row balance @include(if: $with) { available } } } } } fragment Row on Account { id name plan { tier } }`, { with: true }, "OPERATOR"],
    ["a balance in the past", `query($at: DateTime) { accounts(first: 1) { edges { node { balance(asOf: $at) { available flexTokens } } } } }`, { at: "2024-05-15T00:00:00Z" }, "OPERATOR"],
    [
      "literal dates: a balance in the past and a month of daily usage",
      `query { accounts(first: 1) { edges { node { balance(asOf: "2024-05-15T00:00:00Z") { available } usageSummary(from: "2024-05-01T00:00:00Z", to: "2024-06-01T00:00:00Z", groupBy: DAY) { periodStart apiCode tokens } } } } }`,
      undefined,
      "OPERATOR",
    ],
    ["charges and their receipts", `query { accounts(first: 5) { edges { node { charges(first: 5) { edges { node { id tokens allocations { source amount } } } } } } } }`, undefined, "OPERATOR"],
    ["introspection", `query { __schema { queryType { name } types { name kind } } }`, undefined, "INTEGRATOR"],
  ])("%s", async (_label, query, variables, caller) => {
    const [first, ...again] = await thrice(query, variables, world.keys[caller as "PARTNER"]!);
    expect(first!.body.errors).toBeUndefined();
    expect(first!.body.data).toBeTruthy();
    for (const answer of again) expect(answer).toEqual(first);
  });

  it.each([
    ["an account that does not exist", `query { account(id: "999999") { id name } }`, undefined],
    ["someone else's account", `query($id: ID!) { account(id: $id) { id balance { available } } }`, () => ({ id: world.other.accountIds[0] })],
    ["a date that is not one, inline", `query { priceTable(asOf: "yesterday") { id } }`, undefined],
    ["a date that is not one, by variable", `query($when: DateTime) { priceTable(asOf: $when) { id } }`, () => ({ when: "yesterday" })],
    ["a page size out of range", `query { accounts(first: 1000) { edges { node { id } } } }`, undefined],
  ])("%s: the same errors each time", async (_label, query, variables) => {
    const [first, ...again] = await thrice(query, variables?.(), world.keys.PARTNER!);
    expect(first!.body.errors?.length).toBeGreaterThan(0);
    for (const answer of again) expect(answer).toEqual(first);
  });
});

describe("documents graphql-jit would run differently stay on graphql-js", () => {
  const schema = graphqlSchema();
  it.each([
    ["plain literals and variables", `query($q: Quantity!) { accounts(first: 5, filter: { nameContains: "x" }) { totalCount } a: priceTable { id } }`, true],
    ["an amount literal (a bigint once coerced)", `query { quoteUsage(input: { accountId: "1", apiCode: "x", quantity: "5", outcome: SUCCEEDED, occurredAt: "2024-05-01" }) { tokens } }`, false],
    ["a date literal (kept unparsed when it does not parse)", `query { priceTable(asOf: "yesterday") { id } }`, false],
    ["a date literal that parses (an instant: a number once coerced)", `query { priceTable(asOf: "2024-05-01T00:00:00Z") { id } }`, true],
    ["a date literal that parses, inside an input object", `query { quoteUsage(input: { accountId: "1", apiCode: "x", quantity: "5", outcome: SUCCEEDED, occurredAt: "2024-05-01" }) { tokens } }`, false],
    ["a variable's default of one of our scalars", `query($when: DateTime = "2024-05-01") { priceTable(asOf: $when) { id } }`, false],
  ])("%s", (_label, query, expected) => {
    expect(compilable(schema, parse(query))).toBe(expected);
  });
});

/**
 * The error edge: internal failures are masked, input errors name the offending field for
 * variables and inline literals alike, and no message suggests schema names.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphQLError } from "graphql";
import { formatError, GENERIC_MESSAGE } from "../../server/graphql/errors.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { bearer, createWorld, errorCodes, ok, request, unique, usageInput, type World } from "./support.js";

let server: TestServer;
let world: World;
let accountId: string;

beforeAll(async () => {
  server = await startTestServer();
  world = await createWorld(server, 1);
  accountId = world.own.accountIds[0]!;
  await ok(server, `mutation($input: ImportCreditLotInput!) { importCreditLot(input: $input) { id } }`, {
    input: { accountId, amount: "100", purchasedAt: "2022-06-01T00:00:00Z", externalRef: unique("lot") },
  });
  await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, { input: usageInput(accountId) });
});

afterAll(() => server.close());

describe("an internal failure is INTERNAL_SERVER_ERROR with the generic message and nothing more", () => {
  /** Words that would tell a caller about the internals. */
  const INTERNALS = [/sqlite/i, /postgres/i, /no such table/i, /relation /i, /select /i, /insert /i, /\.ts\b/, /node_modules/, /\/work\//, /\bat \S+ \(/, /stack/i];

  /** Moves a table aside for one request, then puts it back. */
  async function withTableMoved<T>(table: string, run: () => Promise<T>): Promise<T> {
    await server.sql.run(`ALTER TABLE "${table}" RENAME TO "${table}_moved"`);
    try {
      return await run();
    } finally {
      await server.sql.run(`ALTER TABLE "${table}_moved" RENAME TO "${table}"`);
    }
  }

  const graphqlCase = (query: string, variables?: () => Record<string, unknown>) => async () => {
    const response = await request(server, "/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(server.operatorKey) },
      body: JSON.stringify({ query, variables: variables?.() }),
    });
    return response;
  };

  it.each([
    ["a read through a loader", "credit_lots", graphqlCase(`{ accounts { edges { node { id creditLots { id } } } } }`), 200],
    ["a read of a page", "accounts", graphqlCase(`{ accounts { totalCount } }`), 200],
    ["a nested read", "allocations", graphqlCase(`query($id: ID!) { account(id: $id) { charges { edges { node { allocations { amount } } } } } }`, () => ({ id: accountId })), 200],
    ["a write inside a transaction", "audit_log", graphqlCase(`mutation { createAccount(input: { name: "never created" }) { id } }`), 200],
    ["authentication itself", "api_keys", graphqlCase(`{ viewer { role } }`), 500],
    [
      "the CSV export before its first row",
      "usage_charges",
      () => request(server, `/export/usage.csv?accountId=${accountId}&from=2024-01-01&to=2024-06-01`, { headers: bearer(server.operatorKey) }),
      500,
    ],
  ])("%s (%s moved away)", async (_label, table, run, status) => {
    const response = await withTableMoved(table, run);
    expect(response.status).toBe(status);
    const body = JSON.parse(response.text);
    expect(errorCodes(body)).toEqual(["INTERNAL_SERVER_ERROR"]);
    expect(body.errors[0].message).toBe(GENERIC_MESSAGE);
    expect(body.errors[0].extensions).toEqual({ code: "INTERNAL_SERVER_ERROR" });
    // The response path may name a field that shares the table's name; nothing else may.
    expect(JSON.stringify(body.errors.map(({ path: _path, ...rest }: any) => rest))).not.toContain(table);
    for (const internal of INTERNALS) expect(response.text).not.toMatch(internal);
  });

  it("a failure while the operation's context is made (the key looked up again when the body has arrived) is masked too", () => {
    // Apollo wraps it as "Context creation failed: " and the error's text: here a failed query's SQL.
    const failed = new Error('Failed query: select "id" from "api_keys" where "secret_hash" = $1');
    const wrapped = new GraphQLError(`Context creation failed: ${failed.message}`, { originalError: failed });
    expect(formatError({ message: wrapped.message }, wrapped)).toEqual({ message: GENERIC_MESSAGE, extensions: { code: "INTERNAL_SERVER_ERROR" } });
  });

  it("rolls back a write that failed midway, and the server keeps serving", async () => {
    const names = async () => (await ok(server, `{ accounts(first: 100) { edges { node { name } } } }`)).accounts.edges.map((edge: any) => edge.node.name);
    expect(await names()).not.toContain("never created");
    expect((await ok(server, `{ viewer { role } }`)).viewer.role).toBe("OPERATOR");
  });
});

describe("input errors are BAD_USER_INPUT naming the field", () => {
  const quote = (input: string) => `{ quoteUsage(input: { ${input} }) { tokens } }`;
  const literal = (overrides: Record<string, string>) => {
    const fields = { eventId: '"e-1"', accountId: `"ACCOUNT"`, apiCode: '"model-derivative/complex-job"', quantity: '"1"', outcome: "SUCCEEDED", occurredAt: '"2024-05-31T12:00:00Z"', ...overrides };
    return quote(Object.entries(fields).map(([key, value]) => `${key}: ${value}`).join(", "));
  };
  const byVariable = `query($input: UsageInput!) { quoteUsage(input: $input) { tokens } }`;
  const scalarVariable = `query($id: ID!, $q: Quantity!) { quoteUsage(input: { eventId: "e-1", accountId: $id, apiCode: "model-derivative/complex-job", quantity: $q, outcome: SUCCEEDED, occurredAt: "2024-05-31T12:00:00Z" }) { tokens } }`;

  const cases: [string, string, ((id: string) => Record<string, unknown>) | null, string][] = [
    ["quantity in exponent notation, inline", literal({ quantity: '"1e3"' }), null, "input.quantity"],
    ["quantity with 7 fractional digits, inline", literal({ quantity: '"1.0000001"' }), null, "input.quantity"],
    ["quantity as a number, inline", literal({ quantity: "5" }), null, "input.quantity"],
    ["quantity in exponent notation, by variable", byVariable, (id) => ({ input: usageInput(id, { quantity: "1e3" }) }), "input.quantity"],
    ["quantity with 7 fractional digits, by variable", byVariable, (id) => ({ input: usageInput(id, { quantity: "1.0000001" }) }), "input.quantity"],
    ["a negative quantity, by variable", byVariable, (id) => ({ input: usageInput(id, { quantity: "-1" }) }), "input.quantity"],
    ["quantity NaN, by variable", byVariable, (id) => ({ input: usageInput(id, { quantity: "NaN" }) }), "input.quantity"],
    ["month 13, inline", literal({ occurredAt: '"2024-13-01"' }), null, "input.occurredAt"],
    ["30 February, by variable", byVariable, (id) => ({ input: usageInput(id, { occurredAt: "2024-02-30T00:00:00Z" }) }), "input.occurredAt"],
    ["a local time without a zone, by variable", byVariable, (id) => ({ input: usageInput(id, { occurredAt: "2024-05-01T09:00:00" }) }), "input.occurredAt"],
    ["a wrong enum value, inline", literal({ outcome: "DONE" }), null, "input.outcome"],
    ["a wrong enum value, by variable", byVariable, (id) => ({ input: usageInput(id, { outcome: "DONE" }) }), "input.outcome"],
    ["a malformed account id, inline", literal({ accountId: '"12x"' }), null, "input.accountId"],
    ["a malformed account id, by variable", byVariable, () => ({ input: usageInput("0") }), "input.accountId"],
    ["a required field left out, inline", quote(`eventId: "e", accountId: "1", apiCode: "model-derivative/complex-job", outcome: SUCCEEDED, occurredAt: "2024-05-01"`), null, "input.quantity"],
    ["a required field left out, by variable", byVariable, (id) => ({ input: { ...usageInput(id), quantity: undefined } }), "input.quantity"],
    ["an unknown field, by variable", byVariable, (id) => ({ input: { ...usageInput(id), quantiy: "1" } }), "input.quantiy"],
    ["a quantity variable inside an inline input", scalarVariable, (id) => ({ id, q: "1e3" }), "input.quantity"],
    ["a required quantity variable left out", scalarVariable, (id) => ({ id }), "input.quantity"],
    ["a required quantity variable sent as null", scalarVariable, (id) => ({ id, q: null }), "input.quantity"],
    ["a date variable with another name", `query($when: DateTime) { priceTable(asOf: $when) { id } }`, () => ({ when: "yesterday" }), "asOf"],
    ["a malformed id argument", `{ account(id: "abc") { id } }`, null, "id"],
    ["a malformed id in a filter", `{ accounts(filter: { resellerId: "x" }) { totalCount } }`, null, "filter.resellerId"],
    ["a negative amount", `mutation { importCreditLot(input: { accountId: "1", amount: "-5", purchasedAt: "2022-05-01", externalRef: "r" }) { id } }`, null, "input.amount"],
    ["a fractional Flex purchase (checked by the service)", `mutation($id: ID!) { recordFlexPurchase(input: { accountId: $id, tokens: "100.5", purchasedAt: "2024-05-01", channel: ESTORE, orderRef: "o-1" }) { id } }`, (id) => ({ id }), "input.tokens"],
    ["a wrong role, inline", `mutation { createApiKey(input: { name: "k", role: OPERATR }) { secret } }`, null, "input.role"],
    ["a date that is not one", `{ priceTable(asOf: "yesterday") { id } }`, null, "asOf"],
    ["a page size that is not an Int", `{ accounts(first: "ten") { totalCount } }`, null, "first"],
    ["a required argument left out", `{ account { id } }`, null, "id"],
    ["a required argument of a mutation left out", `mutation { reverseCharge(chargeId: "1") { id } }`, null, "reason"],
    ["a variable of another type than its argument's", `query($x: String) { account(id: $x) { id } }`, () => ({ x: "1" }), "id"],
    ["a variable of another type than one of the two arguments it fills", `query($x: String) { accounts(after: $x) { totalCount } account(id: $x) { id } }`, () => ({ x: "1" }), "id"],
  ];

  it.each(cases)("%s", async (_label, query, variables, field) => {
    const { status, body } = await server.graphql(query.replace('"ACCOUNT"', `"${accountId}"`), variables?.(accountId));
    expect(errorCodes(body)).toContain("BAD_USER_INPUT");
    expect(new Set(errorCodes(body))).toEqual(new Set(["BAD_USER_INPUT"]));
    expect(body.errors!.map((error: any) => error.extensions.field)).toContain(field);
    expect([200, 400]).toContain(status);
  });

  it("accepts the same event when every field is right, inline and by variable", async () => {
    const inline = await ok(server, literal({}).replace('"ACCOUNT"', `"${accountId}"`));
    const variable = await ok(server, byVariable, { input: usageInput(accountId, { quantity: "1.000000" }) });
    expect(inline.quoteUsage.tokens).toBe("0.5");
    expect(variable.quoteUsage.tokens).toBe("0.5");
  });
});

describe("no message suggests names from the schema", () => {
  it.each([
    ["a misspelled field", `{ acounts { totalCount } }`, undefined],
    ["a misspelled argument", `{ accounts(frist: 1) { totalCount } }`, undefined],
    ["a misspelled enum value, inline", `mutation { createApiKey(input: { name: "k", role: OPERATR }) { secret } }`, undefined],
    ["a misspelled enum value, by variable", `mutation($r: Role!) { createApiKey(input: { name: "k", role: $r }) { secret } }`, { r: "OPERATR" }],
    ["a misspelled input field, inline", `mutation { createAccount(input: { nmae: "x" }) { id } }`, undefined],
    ["a misspelled input field, by variable", `mutation($i: CreateAccountInput!) { createAccount(input: $i) { id } }`, { i: { nmae: "x" } }],
    ["a misspelled type", `query($i: UsageInputt!) { quoteUsage(input: $i) { tokens } }`, { i: {} }],
    ["a misspelled fragment type", `{ viewer { ...on Vewer { role } } }`, undefined],
  ])("%s", async (_label, query, variables) => {
    const { status, body } = await server.graphql(query, variables);
    expect(status).toBe(400);
    expect(new Set(errorCodes(body))).toEqual(new Set(["BAD_USER_INPUT"]));
    const text = JSON.stringify(body);
    expect(text).not.toMatch(/did you mean/i);
    for (const name of ["\\\"accounts\\\"", "\\\"OPERATOR\\\"", "\\\"UsageInput\\\"", "\\\"Viewer\\\"", "\\\"first\\\""]) expect(text).not.toContain(name);
  });
});

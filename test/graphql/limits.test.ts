/**
 * Abuse limits: refused before anything runs. "Before anything runs" is shown by the statement
 * counter: the only SQL a refused request may cause is the API-key lookup, and a mutation in a
 * refused document writes nothing.
 */
import { parse } from "graphql";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { costIgnoresVariables, LIMITS, queryCostPlugin } from "../../server/graphql/limits.js";
import { graphqlSchema } from "../../server/graphql/schema.js";
import { BODY_LIMIT_BYTES } from "../../server/http/body-limit.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { bearer, createWorld, errorCodes, ok, request, timed, trivialRequestMs, usageInput, type World } from "./support.js";

let server: TestServer;
let world: World;
const statements: string[] = [];

/** Statements other than the authentication lookup every request makes. */
const work = () => statements.filter((sql) => !sql.includes('"api_keys"'));

beforeAll(async () => {
  server = await startTestServer({ onStatement: (sql) => statements.push(sql) });
  world = await createWorld(server, 3);
});

afterAll(() => server.close());

beforeEach(() => {
  statements.length = 0;
});

const accountCount = async () => (await ok(server, `{ accounts(first: 1) { totalCount } }`)).accounts.totalCount as number;

/**
 * A selection `levels` fields deep, following `hops` round and round, ending in a leaf valid on
 * the last hop's type.
 */
function chain(levels: number, hops: readonly string[], leaves: readonly string[]): string {
  let selection = leaves[(levels - 2) % hops.length]!;
  for (let level = levels - 2; level >= 0; level--) selection = `${hops[level % hops.length]} { ${selection} }`;
  return selection;
}

/** accounts → edges → node → reseller → accounts → …, `levels` fields deep. */
const nested = (levels: number) => `{ ${chain(levels, ["accounts(first: 1)", "edges", "node", "reseller"], ["totalCount", "cursor", "id", "id"])} }`;

const aliases = (count: number, selection: string) => Array.from({ length: count }, (_, i) => `a${i}: ${selection}`).join("\n");

describe("query limits", () => {
  it.each([
    ["a query at the depth limit", "accepted", nested(LIMITS.maxDepth)],
    ["an over-deep query", "QUERY_TOO_COMPLEX", nested(LIMITS.maxDepth + 1)],
    ["a very deep query", "QUERY_TOO_COMPLEX", nested(40)],
    [`${LIMITS.maxAliases} aliases`, "accepted", `{ ${aliases(LIMITS.maxAliases, "viewer { role }")} }`],
    ["300 aliases", "QUERY_TOO_COMPLEX", `{ ${aliases(300, "viewer { role }")} }`],
    ["300 aliases inside a fragment", "QUERY_TOO_COMPLEX", `query { ...many } fragment many on Query { ${aliases(300, "priceVersions { id }")} }`],
    ["300 aliased copies of introspection", "QUERY_TOO_COMPLEX", `{ ${aliases(300, "__schema { types { name fields { name } } }")} }`],
    // Within the token and alias caps, but more than graphql-js's validation will compare.
    ["900 unaliased copies of one field", "QUERY_TOO_COMPLEX", `{ ${Array.from({ length: 900 }, () => "__typename").join(" ")} }`],
    // A receipt may have a line per lot and pack valid at once (core/maxima.ts), and is counted so.
    ["one account with 100 charges and their receipts", "accepted", `{ accounts(first: 1) { edges { node { charges(first: 100) { edges { node { allocations { amount } } } } } } } }`],
    ["five accounts with 100 charges and their receipts", "QUERY_TOO_COMPLEX", `{ accounts(first: 5) { edges { node { charges(first: 100) { edges { node { allocations { amount } } } } } } } }`],
    // The cost is computed for each request with its variables.
    ["variable page sizes, counted at their value", "accepted", `query($n: Int = 1) { accounts(first: $n) { edges { node { charges(first: $n) { edges { node { allocations { amount } } } } } } } }`],
    ["variable page sizes, counted at their value", "QUERY_TOO_COMPLEX", `query($n: Int = 100) { accounts(first: $n) { edges { node { charges(first: $n) { edges { node { allocations { amount } } } } } } } }`],
  ])("%s: %s", async (_label, outcome, query) => {
    const { status, body } = await server.graphql(query);
    if (outcome === "accepted") {
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      expect(status).toBe(200);
      return;
    }
    expect(new Set(errorCodes(body))).toEqual(new Set([outcome]));
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(work()).toEqual([]);
  });

  it("costs the same document again for each request whose variables reach a page size or a @skip", async () => {
    const pages = `query($n: Int) { accounts(first: $n) { edges { node { charges(first: $n) { edges { node { allocations { amount } } } } } } } }`;
    const skipping = `query($skip: Boolean!) { accounts(first: 5) { edges { node { charges(first: 100) @skip(if: $skip) { edges { node { allocations { amount } } } } } } } }`;
    for (const [query, cheap, costly] of [
      [pages, { n: 1 }, { n: 100 }],
      [skipping, { skip: true }, { skip: false }],
    ] as const) {
      expect((await server.graphql(query, cheap)).body.errors).toBeUndefined();
      expect(errorCodes((await server.graphql(query, costly)).body)).toEqual(["QUERY_TOO_COMPLEX"]);
      expect((await server.graphql(query, cheap)).body.errors).toBeUndefined();
    }
  });

  it("costs a batch document once for each length of its list: the same length, whatever its events, costs the same", async () => {
    // Each event may answer with a receipt of up to ALLOCATIONS_PER_CHARGE lines: 469 fit the budget, 470 do not.
    const batch = `mutation($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { charge { allocations { amount } } } }`;
    const events = (count: number) => Array.from({ length: count }, () => usageInput(world.own.accountIds[0]!));
    for (const count of [469, 470]) {
      const first = events(count);
      // The second list holds a malformed event: the cost known for its length is refused first, or execution refuses it.
      const second = [...events(count - 1), usageInput(world.own.accountIds[0]!, { quantity: "twelve" })];
      for (const inputs of [first, second]) {
        statements.length = 0;
        const { body } = await server.graphql(batch, { inputs });
        if (count === 470) {
          expect(errorCodes(body)).toEqual(["QUERY_TOO_COMPLEX"]);
          expect(work()).toEqual([]);
        } else if (inputs === first) expect(body.errors).toBeUndefined();
        else expect((body.data as { recordUsageBatch: { charge: unknown }[] }).recordUsageBatch.at(-1)!.charge).toBeNull();
      }
    }
  });

  it("refuses a costly document each time when its variables reach nothing the cost model reads", async () => {
    const forecasts = `query($id: ID!) { ${aliases(4, "account(id: $id) { forecast { __typename } }")} }`;
    for (const id of world.own.accountIds) {
      const { status, body } = await server.graphql(forecasts, { id });
      expect(status).toBe(400);
      expect(errorCodes(body)).toEqual(["QUERY_TOO_COMPLEX"]);
    }
    expect(work()).toEqual([]);
  });

  it.each([
    ["an input no cost reads", `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, true],
    ["an account id", `query($id: ID!) { account(id: $id) { balance { available } creditLots { id } } }`, true],
    ["a page size", `query($n: Int) { accounts(first: $n) { totalCount } }`, false],
    ["a batch, whose length is its cost", `mutation($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { eventId } }`, false],
    ["a nested page size", `query($id: ID!, $n: Int) { account(id: $id) { charges(first: $n) { totalCount } } }`, false],
    ["a @skip", `query($s: Boolean!) { priceTable @skip(if: $s) { id } }`, false],
    ["a fragment's page size", `query($n: Int) { ...Page } fragment Page on Query { accounts(first: $n) { totalCount } }`, false],
  ])("knows whether variables can change a document's cost: %s", (_label, query, ignores) => {
    expect(costIgnoresVariables(graphqlSchema(), parse(query))).toBe(ignores);
  });

  it("refuses a document of more than 10,000 tokens while parsing, and its mutation writes nothing", async () => {
    const before = await accountCount();
    statements.length = 0;
    const query = `mutation { createAccount(input: { name: "token flood" }) { id ${"name ".repeat(LIMITS.maxTokens)} } }`;
    const { status, body } = await server.graphql(query);
    expect(status).toBe(400);
    expect(errorCodes(body)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(body.errors![0].message).toMatch(/10000 tokens/);
    expect(work()).toEqual([]);
    expect(await accountCount()).toBe(before);
  });

  it.each([
    ["300 aliased createAccount mutations", `mutation { ${aliases(300, 'createAccount(input: { name: "alias flood" }) { id }')} }`],
    [
      "an over-deep createAccount",
      `mutation { createAccount(input: { name: "deep flood" }) { ${chain(LIMITS.maxDepth, ["reseller", "accounts(first: 1)", "edges", "node"], ["id", "totalCount", "cursor", "id"])} } }`,
    ],
  ])("refuses %s without running any of them", async (_label, query) => {
    const before = await accountCount();
    statements.length = 0;
    const { status, body } = await server.graphql(query);
    expect(status).toBe(400);
    expect(errorCodes(body)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(work()).toEqual([]);
    expect(await accountCount()).toBe(before);
  });

  it("says which limit was broken, without the query", async () => {
    const { body } = await server.graphql(`{ ${aliases(300, "viewer { role }")} }`);
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]).toEqual({ message: `Aliases limit of ${LIMITS.maxAliases} exceeded, found 300.`, extensions: { code: "QUERY_TOO_COMPLEX" } });
  });
});

describe("a request that cannot run as written is refused before anything runs", () => {
  const forecasts = aliases(4, "account(id: $id) { forecast { __typename } }");

  it("refuses a null sent for a defaulted variable that fills a required argument, naming the argument, instead of running the rest uncosted", async () => {
    // Too costly as it stands; the null would have made the cost model give up and let it run.
    const query = `query($id: ID!, $x: ID = "1") { probe: account(id: $x) { id } ${forecasts} }`;
    const { status, body } = await server.graphql(query, { id: world.own.accountIds[0], x: null });
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors).toEqual([expect.objectContaining({ message: 'Variable "$x" is null where a value is required.', extensions: { code: "BAD_USER_INPUT", field: "id" } })]);
    expect(work()).toEqual([]);
  });

  it("lets the default stand in for a defaulted variable left out, and costs the document as usual", async () => {
    const cheap = `query($x: ID = "${world.own.accountIds[0]}") { account(id: $x) { id } }`;
    expect(await ok(server, cheap)).toEqual({ account: { id: world.own.accountIds[0] } });
    const { status, body } = await server.graphql(`query($id: ID!, $x: ID = "1") { probe: account(id: $x) { id } ${forecasts} }`, { id: world.own.accountIds[0] });
    expect(status).toBe(400);
    expect(errorCodes(body)).toEqual(["QUERY_TOO_COMPLEX"]);
  });

  it.each([
    ["an argument", `mutation($r: String = "x") { a: createAccount(input: { name: "written before the null" }) { id } b: reverseCharge(chargeId: "1", reason: $r) { id } }`, "reason"],
    ["an input field", `mutation($name: String = "x") { a: createAccount(input: { name: "written before the null" }) { id } b: createAccount(input: { name: $name }) { id } }`, "input.name"],
  ])("refuses a mutation document whose later field would get a null for %s, writing none of its fields", async (_label, mutation, field) => {
    const before = await accountCount();
    const variables = Object.fromEntries([...mutation.matchAll(/\$(\w+):/g)].map((match) => [match[1]!, null]));
    const { status, body } = await server.graphql(mutation, variables);
    expect(status).toBe(400);
    expect(errorCodes(body)).toEqual(["BAD_USER_INPUT"]);
    expect(body.errors![0]!.extensions!.field).toBe(field);
    expect(await accountCount()).toBe(before);
  });

  it.each([
    ["an operation name the document does not hold", `query Known { __typename }`, "Unknown", 'Unknown operation named "Unknown".'],
    ["no operation name for a document of two operations", `query A { __typename } query B { __typename }`, undefined, "Must provide operation name if query contains multiple operations."],
  ])("refuses %s with BAD_USER_INPUT naming operationName", async (_label, query, operationName, message) => {
    const response = await request(server, "/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", ...bearer(world.keys.OPERATOR!) },
      body: JSON.stringify({ query, operationName }),
    });
    expect(response.status).toBe(400);
    expect(JSON.parse(response.text).errors).toEqual([{ message, extensions: { code: "BAD_USER_INPUT", field: "operationName" } }]);
  });


  it("answers an account name filter longer than any name with no account, without asking the database", async () => {
    const query = `query($s: String) { accounts(filter: { nameContains: $s }) { totalCount edges { node { id } } } }`;
    expect(await ok(server, query, { s: "n".repeat(60_000) })).toEqual({ accounts: { totalCount: 0, edges: [] } });
    expect(work()).toEqual([]);
    expect(await ok(server, query, { s: "n".repeat(200) })).toEqual({ accounts: { totalCount: 0, edges: [] } });
  });
});

describe("variables past their size limits are refused before anything coerces them", () => {
  const small = { eventId: "e", accountId: "1", apiCode: "a/b", quantity: "1", outcome: "SUCCEEDED", occurredAt: "2024-05-31T12:00:00Z" };
  const label = { key: "k", value: "v" };

  it.each([
    ["a batch of 1,001 events", `mutation($events: [UsageInput!]!) { recordUsageBatch(inputs: $events) { eventId } }`, { events: Array.from({ length: 1_001 }, () => small) }, "inputs", 1_001],
    ["a batch of 150,000 events, 20 MB", `mutation($events: [UsageInput!]!) { recordUsageBatch(inputs: $events) { eventId } }`, { events: Array.from({ length: 150_000 }, () => small) }, "inputs", 150_000],
    ["an event with 600,000 labels, 14 MB", `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, { input: { ...small, labels: Array.from({ length: 600_000 }, () => label) } }, "input.labels", 600_000],
  ])("refuses %s by the length of its list, naming the argument, in under a second of CPU", async (_label, query, variables, field, length) => {
    expect(JSON.stringify({ query, variables }).length).toBeLessThan(BODY_LIMIT_BYTES);
    const baseline = await trivialRequestMs(server);
    const { status, body, ms } = await timed(server, query, variables);
    expect(status).toBe(400);
    expect(body.errors).toEqual([{ message: expect.stringContaining(`(a list of ${length} items) at`), extensions: { code: "BAD_USER_INPUT", field } }]);
    expect(body.errors![0].message).toMatch(/a list may hold at most 1000 items\.$/);
    expect(work()).toEqual([]);
    // Coercing the 600,000 labels took 12 s; parsing and writing the JSON is all that is left.
    expect(ms - baseline).toBeLessThan(1_000);
  });

  it("refuses variables of more values in all than a full batch with every label holds, without naming a field", async () => {
    const event = { ...small, labels: Array.from({ length: 1_000 }, () => label) };
    const { status, body } = await server.graphql(`mutation($events: [UsageInput!]!) { recordUsageBatch(inputs: $events) { eventId } }`, { events: Array.from({ length: 100 }, () => event) });
    expect(status).toBe(400);
    expect(body.errors).toEqual([{ message: `the variables hold more than ${LIMITS.maxVariableValues} values`, extensions: { code: "QUERY_TOO_COMPLEX" } }]);
    expect(work()).toEqual([]);
  });

  it("accepts the largest request it allows: a full batch whose every event has every field and the most labels", async () => {
    const labels = Array.from({ length: 20 }, (_, index) => ({ key: `k${index}`, value: "v" }));
    const events = Array.from({ length: 1_000 }, () => ({ ...usageInput(world.own.accountIds[0]!), clientId: "app", labels }));
    const { status, body } = await server.graphql(`mutation($events: [UsageInput!]!) { recordUsageBatch(inputs: $events) { eventId } }`, { events });
    expect(body.errors).toBeUndefined();
    expect(status).toBe(200);
  });
});

describe("the cost limit fails closed", () => {
  it("refuses an operation whose cost cannot be computed though its variables fit, rather than run it uncosted", async () => {
    const schema = graphqlSchema();
    const document = parse(`query($x: ID = "1") { account(id: $x) { id } }`);
    const listener = await queryCostPlugin.requestDidStart!({} as never);
    const resolved = listener!.didResolveOperation!({ request: { variables: { x: null } }, document, schema, operation: document.definitions[0] } as never);
    await expect(resolved).rejects.toMatchObject({ extensions: { code: "QUERY_TOO_COMPLEX" } });
  });
});

/**
 * `fragment F0 on Query { ...F1 ...F1 }`, `F1 { ...F2 ...F2 }` … `levels` deep: about 1 KB
 * written, `width`^`levels` selections once expanded. Each operation name is new, so Apollo's
 * per-document validation cache never answers for it.
 */
function fanOut(levels: number, width: number, operation: string): string {
  const body = (level: number) => (level + 1 < levels ? `...F${level + 1} `.repeat(width) : "__typename");
  const fragments = Array.from({ length: levels }, (_, level) => `fragment F${level} on Query { ${body(level)} }`);
  return `query ${operation} { ...F0 }\n${fragments.join("\n")}`;
}

describe("fragment fan-out", () => {
  it.each([
    [30, 2],
    [30, 4],
  ])("refuses a %i-level fragment document of fan-out %i in under 50 ms of CPU more than a trivial request", async (levels, width) => {
    const baseline = await trivialRequestMs(server);
    for (let attempt = 0; attempt < 3; attempt++) {
      statements.length = 0;
      const { status, body, ms } = await timed(server, fanOut(levels, width, `Fan${width}x${attempt}`));
      expect(status).toBe(400);
      expect(errorCodes(body)).toEqual(["QUERY_TOO_COMPLEX"]);
      expect(work()).toEqual([]);
      expect(ms - baseline).toBeLessThan(50);
    }
  });

  it("answers a fan-out document that expands within the selection limit", async () => {
    // 2^11 selections of __typename and 2^12 - 2 spreads: within LIMITS.maxSelections, and free.
    const { status, body } = await server.graphql(fanOut(11, 2, "Within"));
    expect(body.errors).toBeUndefined();
    expect(status).toBe(200);
    expect(body.data).toEqual({ __typename: "Query" });
  });
});

describe("HTTP transport", () => {
  const post = (body: string, headers: Record<string, string>) =>
    request(server, "/graphql", { method: "POST", headers: { ...bearer(server.operatorKey), ...headers }, body });
  const createMutation = (name: string) => JSON.stringify({ query: `mutation { createAccount(input: { name: "${name}" }) { id } }` });

  it("refuses a batched array body, running none of its operations", async () => {
    const before = await accountCount();
    statements.length = 0;
    const { status, text } = await post(JSON.stringify([JSON.parse(createMutation("batched 1")), JSON.parse(createMutation("batched 2"))]), {
      "content-type": "application/json",
    });
    expect(status).toBe(400);
    expect(errorCodes(JSON.parse(text))).toEqual(["BAD_USER_INPUT"]);
    expect(work()).toEqual([]);
    expect(await accountCount()).toBe(before);
  });

  it.each([["text/plain"], ["application/x-www-form-urlencoded"], ["multipart/form-data; boundary=x"]])(
    "refuses a POST with content-type %s and no preflight header (CSRF), writing nothing",
    async (contentType) => {
      const before = await accountCount();
      statements.length = 0;
      const { status, text } = await post(createMutation("csrf"), { "content-type": contentType });
      expect(status).toBe(400);
      const body = JSON.parse(text);
      expect(errorCodes(body)).toEqual(["BAD_USER_INPUT"]);
      expect(body.errors[0].message).toMatch(/Cross-Site Request Forgery/);
      expect(work()).toEqual([]);
      expect(await accountCount()).toBe(before);
    },
  );

  it.each([
    ["no content-type", {}],
    ["content-type text/plain", { "content-type": "text/plain" }],
  ])("refuses a GET query with %s and no preflight header (CSRF); one with the header is answered", async (_label, headers: Record<string, string>) => {
    const path = `/graphql?query=${encodeURIComponent("{ viewer { role } }")}`;
    statements.length = 0;
    const refused = await request(server, path, { headers: { ...bearer(server.operatorKey), ...headers } });
    expect(refused.status).toBe(400);
    expect(errorCodes(JSON.parse(refused.text))).toEqual(["BAD_USER_INPUT"]);
    expect(work()).toEqual([]);
    const accepted = await request(server, path, { headers: { ...bearer(server.operatorKey), "apollo-require-preflight": "true" } });
    expect(accepted.status).toBe(200);
    expect(JSON.parse(accepted.text)).toEqual({ data: { viewer: { role: "OPERATOR" } } });
  });

  it("never runs a mutation sent by GET, preflight header or not", async () => {
    const before = await accountCount();
    const path = `/graphql?query=${encodeURIComponent('mutation { createAccount(input: { name: "by GET" }) { id } }')}`;
    const { status, text } = await request(server, path, { headers: { ...bearer(server.operatorKey), "apollo-require-preflight": "true" } });
    expect(status).toBeGreaterThanOrEqual(400);
    expect(errorCodes(JSON.parse(text))).toEqual(["BAD_USER_INPUT"]);
    expect(await accountCount()).toBe(before);
  });

  it("refuses a body over the size limit with 413", async () => {
    const { status, text } = await post(JSON.stringify({ query: "{ viewer { role } }", variables: { pad: "x".repeat(BODY_LIMIT_BYTES) } }), {
      "content-type": "application/json",
    });
    expect(status).toBe(413);
    expect(errorCodes(JSON.parse(text))).toEqual(["BAD_USER_INPUT"]);
  });

  it("refuses a body that is not JSON", async () => {
    const { status, text } = await post("{ not json", { "content-type": "application/json" });
    expect(status).toBe(400);
    expect(errorCodes(JSON.parse(text))).toEqual(["BAD_USER_INPUT"]);
  });

  it("answers a partner's portal query within the limits", async () => {
    const data = await ok(
      server,
      `{ viewer { reseller { name accounts(first: 20) { totalCount edges { node { id name status balance { available }
         creditLots { remaining expiresAt } flexPacks { remaining expiresAt reseller { name } } charges(first: 20) { edges { node { tokens allocations { source amount } } } } } } } } } }`,
      {},
      world.keys.PARTNER!,
    );
    expect(data.viewer.reseller.accounts.totalCount).toBe(3);
  });
  it("answers the README's customers page: 40 accounts with balances and alerts", async () => {
    const data = await ok(
      server,
      `query Customers($after: String) { accounts(first: 40, after: $after) { totalCount pageInfo { hasNextPage endCursor }
         edges { node { id name status balance { cloudCredits flexTokens deficit available graceEndsAt } alerts { kind message tokens at } } } } }`,
      { after: null },
      world.keys.PARTNER!,
    );
    expect(data.accounts.totalCount).toBe(3);
  });
});

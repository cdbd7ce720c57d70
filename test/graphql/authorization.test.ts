/**
 * Who may do what: every query and mutation of the schema (and the field hops that lead to
 * accounts) for each role, for a missing key and for a revoked one, over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyOfRole } from "../../server/core/model.js";
import { graphqlSchema } from "../../server/graphql/schema.js";
import { OPERATOR } from "../fixtures/harness.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { CALLERS, type Caller, createWorld, errorCodes, keyOf, ok, unique, usageInput, type World } from "./support.js";

type Role = "OPERATOR" | "PARTNER" | "METERING" | "INTEGRATOR";
const ALL: Role[] = ["OPERATOR", "PARTNER", "METERING", "INTEGRATOR"];

interface Operation {
  readonly name: string;
  readonly allowed: readonly Role[];
  readonly query: string;
  readonly variables?: (role: Role | null) => Record<string, unknown> | Promise<Record<string, unknown>>;
}

let server: TestServer;
let world: World;
let chargeId: string;
let scheduledPriceId: string;

/** The partner only ever names its own customer, so a refusal can only come from its role. */
const ownAccount = () => world.own.accountIds[0]!;

const operations: Operation[] = [
  { name: "viewer", allowed: ALL, query: `{ viewer { role name } }` },
  { name: "account", allowed: ["OPERATOR", "PARTNER"], query: `query($id: ID!) { account(id: $id) { id name } }`, variables: () => ({ id: ownAccount() }) },
  { name: "accounts", allowed: ["OPERATOR", "PARTNER"], query: `{ accounts(first: 5) { totalCount edges { node { id } } } }` },
  {
    name: "reseller",
    allowed: ["OPERATOR", "PARTNER", "INTEGRATOR"],
    query: `query($id: ID!) { reseller(id: $id) { id name tier } }`,
    variables: () => ({ id: world.own.resellerId }),
  },
  { name: "resellers", allowed: ["OPERATOR", "PARTNER", "INTEGRATOR"], query: `{ resellers(first: 5) { totalCount edges { node { id name } } } }` },
  { name: "priceTable", allowed: ALL, query: `{ priceTable { apiCode tokensPerUnit } }` },
  { name: "priceHistory", allowed: ALL, query: `{ priceHistory(apiCode: "design-automation/revit") { tokensPerUnit effectiveFrom } }` },
  { name: "priceVersions", allowed: ALL, query: `{ priceVersions { id apiCode } }` },
  {
    name: "quoteUsage",
    allowed: ["OPERATOR", "METERING", "PARTNER"],
    query: `query($input: UsageInput!) { quoteUsage(input: $input) { tokens allocations { source amount } priceEntry { apiCode } } }`,
    variables: () => ({ input: usageInput(ownAccount()) }),
  },
  {
    name: "usageAuthorization",
    allowed: ["OPERATOR", "METERING", "PARTNER"],
    query: `query($id: ID!) { usageAuthorization(accountId: $id, apiCode: "model-derivative/complex-job") { allowed status } }`,
    variables: () => ({ id: ownAccount() }),
  },
  { name: "auditLog", allowed: ["OPERATOR"], query: `{ auditLog(first: 3) { totalCount edges { node { action } } } }` },
  { name: "apiKeys", allowed: ["OPERATOR"], query: `{ apiKeys { id role } }` },
  {
    name: "recordUsage",
    allowed: ["OPERATOR", "METERING"],
    query: `mutation($input: UsageInput!) { recordUsage(input: $input) { replayed charge { id tokens allocations { source amount } priceEntry { apiCode } } } }`,
    variables: () => ({ input: usageInput(ownAccount()) }),
  },
  {
    name: "recordUsageBatch",
    allowed: ["OPERATOR", "METERING"],
    query: `mutation($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { eventId error { code } } }`,
    variables: () => ({ inputs: [usageInput(ownAccount()), usageInput(ownAccount())] }),
  },
  {
    name: "createAccount",
    allowed: ["OPERATOR"],
    query: `mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }`,
    variables: () => ({ input: { name: unique("Matrix account") } }),
  },
  {
    name: "updateAccount",
    allowed: ["OPERATOR"],
    query: `mutation($id: ID!) { updateAccount(id: $id, input: { country: "JP" }) { id country } }`,
    variables: () => ({ id: ownAccount() }),
  },
  {
    name: "createReseller",
    allowed: ["OPERATOR"],
    query: `mutation($input: CreateResellerInput!) { createReseller(input: $input) { id } }`,
    variables: () => ({ input: { name: unique("Matrix reseller"), tier: "GOLD", flexAgreement: false } }),
  },
  {
    name: "updateReseller",
    allowed: ["OPERATOR"],
    query: `mutation($id: ID!) { updateReseller(id: $id, input: { languages: ["Japanese", "English"] }) { id languages } }`,
    variables: () => ({ id: world.other.resellerId }),
  },
  {
    name: "importCreditLot",
    allowed: ["OPERATOR"],
    query: `mutation($input: ImportCreditLotInput!) { importCreditLot(input: $input) { id amount } }`,
    variables: () => ({ input: { accountId: ownAccount(), amount: "100", purchasedAt: "2022-06-01T00:00:00Z", externalRef: unique("lot") } }),
  },
  {
    name: "recordFlexPurchase",
    allowed: ["OPERATOR", "PARTNER"],
    query: `mutation($input: RecordFlexPurchaseInput!) { recordFlexPurchase(input: $input) { id tokens channel } }`,
    // A partner records its own sales; anyone else is shown here with an eStore purchase.
    variables: (role) => ({
      input: {
        accountId: ownAccount(),
        tokens: "100",
        purchasedAt: "2024-05-01T00:00:00Z",
        channel: role === "PARTNER" ? "RESELLER" : "ESTORE",
        orderRef: unique("order"),
      },
    }),
  },
  {
    name: "reverseCharge",
    allowed: ["OPERATOR"],
    query: `mutation($id: ID!) { reverseCharge(chargeId: $id, reason: "duplicate job") { id reversed } }`,
    variables: () => ({ id: chargeId }),
  },
  {
    name: "publishPrice",
    allowed: ["OPERATOR"],
    query: `mutation($input: PublishPriceInput!) { publishPrice(input: $input) { id status } }`,
    variables: () => ({ input: { apiCode: "test/matrix-api", meter: "JOB", unitQuantity: 1, tokensPerUnit: "1", effectiveFrom: "2024-09-01T00:00:00Z", note: "matrix" } }),
  },
  {
    name: "cancelScheduledPrice",
    allowed: ["OPERATOR"],
    query: `mutation($id: ID!) { cancelScheduledPrice(id: $id, reason: "not yet") { id status } }`,
    variables: () => ({ id: scheduledPriceId }),
  },
  {
    name: "retirePrice",
    allowed: ["OPERATOR"],
    query: `mutation { retirePrice(apiCode: "test/retire-me", effectiveFrom: "2024-10-01T00:00:00Z", note: "retired") { id retired } }`,
  },
  {
    name: "previewPriceChange",
    allowed: ["OPERATOR"],
    query: `mutation { previewPriceChange(input: { apiCode: "model-derivative/complex-job", meter: JOB, unitQuantity: 1, tokensPerUnit: "0.4", note: "cut" }, days: 30) { events deltaTokens } }`,
  },
  {
    name: "createApiKey",
    allowed: ["OPERATOR"],
    query: `mutation { createApiKey(input: { name: "matrix integrator", role: INTEGRATOR }) { secret key { id } } }`,
  },
  {
    name: "revokeApiKey",
    allowed: ["OPERATOR"],
    query: `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`,
    variables: async () => ({ id: String((await server.services.keys.create({ name: "to revoke", role: "METERING", resellerId: null }, OPERATOR)).key.id) }),
  },
  { name: "freeCaps", allowed: ALL, query: `{ freeCaps { apiCode unitsPerMonth effectiveFrom } }` },
  {
    name: "publishFreeCap",
    allowed: ["OPERATOR"],
    // A test value, not APS's: any cap will do, each role's attempt on an API of its own.
    query: `mutation($apiCode: String!) { publishFreeCap(input: { apiCode: $apiCode, unitsPerMonth: 3, note: "test value, not APS's" }) { id } }`,
    variables: async () => {
      const apiCode = unique("test/capped");
      await server.services.prices.publish({ apiCode, name: "Capped test API", meter: "JOB", unitQuantity: 1, tokensPerUnitMicros: 1_000_000n, note: "test value, not APS's" }, OPERATOR);
      return { apiCode };
    },
  },
  {
    name: "importTokenFlexPool",
    allowed: ["OPERATOR"],
    query: `mutation($input: ImportTokenFlexPoolInput!) { importTokenFlexPool(input: $input) { id } }`,
    variables: () => ({ input: { accountId: ownAccount(), tokens: "20", startsAt: "2024-01-01", endsAt: "2025-01-01", externalRef: unique("EBA") } }),
  },
  {
    // Last of the operations: an enrollment starts on or after 2025-12-08 and never ahead of the
    // clock, so the clock moves there (late usage of the hops below is still accepted).
    name: "enrollPlan",
    allowed: ["OPERATOR"],
    query: `mutation($id: ID!) { enrollPlan(input: { accountId: $id, tier: FREE }) { id plan { tier } } }`,
    variables: async () => {
      server.setNow("2026-01-10T00:00:00Z");
      const account = await server.services.accounts.create({ name: unique("To enroll"), country: "JP", resellerId: Number(world.own.resellerId) }, OPERATOR);
      return { id: String(account.id) };
    },
  },
];

/** Field hops that lead to accounts, balances, lots or packs from types other roles may hold. */
const hops: Operation[] = [
  {
    name: "Reseller.accounts",
    allowed: ["OPERATOR", "PARTNER"],
    query: `query($id: ID!) { reseller(id: $id) { accounts { totalCount } } }`,
    variables: () => ({ id: world.own.resellerId }),
  },
  {
    name: "UsageCharge.account",
    allowed: ["OPERATOR"],
    query: `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { account { id name } } } }`,
    variables: () => ({ input: usageInput(ownAccount()) }),
  },
  {
    name: "Allocation.flexPack",
    allowed: ["OPERATOR"],
    query: `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { allocations { flexPack { orderRef unitPrice } } } } }`,
    variables: () => ({ input: usageInput(ownAccount()) }),
  },
  {
    name: "Allocation.creditLot",
    allowed: ["OPERATOR", "PARTNER"],
    query: `query($input: UsageInput!) { quoteUsage(input: $input) { allocations { creditLot { externalRef remaining } } } }`,
    variables: () => ({ input: usageInput(ownAccount()) }),
  },
  {
    name: "UsageQuote.balanceAfter",
    allowed: ["OPERATOR", "PARTNER"],
    query: `query($input: UsageInput!) { quoteUsage(input: $input) { tokens balanceAfter { available } } }`,
    variables: () => ({ input: usageInput(ownAccount()) }),
  },
];

beforeAll(async () => {
  server = await startTestServer();
  world = await createWorld(server);
  const charge = await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, { input: usageInput(ownAccount()) });
  chargeId = charge.recordUsage.charge.id;
  const scheduled = await ok(server, `mutation { publishPrice(input: { apiCode: "test/scheduled", meter: CALL, unitQuantity: 1000, tokensPerUnit: "1", effectiveFrom: "2024-12-01T00:00:00Z", note: "later" }) { id } }`);
  scheduledPriceId = scheduled.publishPrice.id;
  await ok(server, `mutation { publishPrice(input: { apiCode: "test/retire-me", meter: CALL, unitQuantity: 1000, tokensPerUnit: "1", note: "soon retired" }) { id } }`);
});

afterAll(() => server.close());

describe("the matrix", () => {
  it("covers every query and mutation of the schema", () => {
    const schema = graphqlSchema();
    const rootFields = [...Object.keys(schema.getQueryType()!.getFields()), ...Object.keys(schema.getMutationType()!.getFields())];
    expect(operations.map((operation) => operation.name).sort()).toEqual(rootFields.sort());
  });
});

const auditCount = async () => (await server.services.audit.list(1, undefined, undefined)).totalCount;
/** Everything a refused operation could have written: audit entries, and charges (usage is not audited). */
const written = async () => ({ audit: await auditCount(), charges: await (await server.services.ledger.charges(Number(ownAccount()), {}, 1, undefined)).totalCount });

describe.each([...operations, ...hops].map((operation) => [operation.name, operation] as const))("%s", (_name, operation) => {
  const cases = CALLERS.map((caller) => [
    caller,
    caller === "no key" || caller === "revoked key" ? "UNAUTHENTICATED" : operation.allowed.includes(caller as Role) ? "allowed" : "FORBIDDEN",
  ]);

  it.each(cases)("%s: %s", async (caller, outcome) => {
    const role = caller === "no key" || caller === "revoked key" ? null : (caller as Role);
    const variables = await operation.variables?.(role);
    const before = await written();
    const { status, body } = await server.graphql(operation.query, variables, keyOf(world, caller as Caller));
    if (outcome === "allowed") {
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      expect(status).toBe(200);
      return;
    }
    expect(errorCodes(body)).toEqual([outcome]);
    expect(status).toBe(outcome === "UNAUTHENTICATED" ? 401 : 200);
    // A refusal comes before the resolver: nothing was written on the caller's behalf.
    expect(await written()).toEqual(before);
    expect(body.data ?? null).toBeNull();
    if (outcome === "FORBIDDEN") expect(body.errors![0].message).toMatch(new RegExp(`^${keyOfRole(caller as Role)} may not (use|read) `));
  });
});

describe("a refused selection", () => {
  const RECORD_INTO_ACCOUNT = `mutation($input: UsageInput!) { recordUsage(input: $input) { replayed charge { id account { id } } } }`;
  const chargesOf = async (eventId: string) =>
    (await server.services.ledger.charges(Number(ownAccount()), {}, 100, undefined)).items.filter((charge) => charge.eventId === eventId);

  it("refuses recordUsage whole, charges nothing, and names the field path", async () => {
    const input = usageInput(ownAccount());
    const { status, body } = await server.graphql(RECORD_INTO_ACCOUNT, { input }, world.keys.METERING);
    expect(status).toBe(200);
    expect(body.data ?? null).toBeNull();
    expect(errorCodes(body)).toEqual(["FORBIDDEN"]);
    expect(body.errors![0].extensions.field).toBe("recordUsage.charge.account");
    expect(body.errors![0].message).toBe("a METERING key may not read UsageCharge.account");
    expect(await chargesOf(input.eventId)).toEqual([]);
    // The same event sent with a selection the role may read is then charged once, as new.
    const allowed = await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { replayed charge { id } } }`, { input }, world.keys.METERING!);
    expect(allowed.recordUsage.replayed).toBe(false);
    expect(await chargesOf(input.eventId)).toHaveLength(1);
  });

  it("refuses a batch whole when one item's selection reaches an account, and charges none of its events", async () => {
    const inputs = [usageInput(ownAccount()), usageInput(ownAccount())];
    const { body } = await server.graphql(
      `mutation($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { eventId charge { account { name } } error { code } } }`,
      { inputs },
      world.keys.METERING,
    );
    expect(body.data ?? null).toBeNull();
    expect(errorCodes(body)).toEqual(["FORBIDDEN"]);
    for (const input of inputs) expect(await chargesOf(input.eventId)).toEqual([]);
  });

  it("finds a forbidden field behind fragments and inline fragments", async () => {
    const input = usageInput(ownAccount());
    const { body } = await server.graphql(
      `mutation($input: UsageInput!) { recordUsage(input: $input) { ...Payload } }
       fragment Payload on RecordUsagePayload { charge { ... on UsageCharge { ...Receipt } } }
       fragment Receipt on UsageCharge { id allocations { source flexPack { orderRef } } }`,
      { input },
      world.keys.METERING,
    );
    expect(body.data ?? null).toBeNull();
    expect(errorCodes(body)).toEqual(["FORBIDDEN"]);
    expect(body.errors![0].extensions.field).toBe("recordUsage.charge.allocations.flexPack");
    expect(await chargesOf(input.eventId)).toEqual([]);
  });

  it("lets a metering key record, quote and authorize with what a pipeline needs", async () => {
    const input = usageInput(ownAccount());
    const data = await ok(
      server,
      `mutation($input: UsageInput!) { recordUsage(input: $input) { replayed charge { id eventId tokens reversed labels { key } allocations { source amount } priceEntry { apiCode tokensPerUnit } } } }`,
      { input },
      world.keys.METERING!,
    );
    expect(data.recordUsage.charge.eventId).toBe(input.eventId);
    const quote = await ok(
      server,
      `query($input: UsageInput!, $id: ID!) { quoteUsage(input: $input) { tokens allocations { source amount } priceEntry { id } } usageAuthorization(accountId: $id, apiCode: "model-derivative/complex-job") { allowed status reason } }`,
      { input: usageInput(ownAccount()), id: ownAccount() },
      world.keys.METERING!,
    );
    expect(quote.quoteUsage.tokens).toBe("0.5");
    expect(quote.usageAuthorization.allowed).toBe(true);
  });
});

describe("a revoked key", () => {
  it("is refused at once, while the operator's key keeps working", async () => {
    const secret = await server.key("INTEGRATOR");
    expect((await ok(server, `{ viewer { role } }`, {}, secret)).viewer.role).toBe("INTEGRATOR");
    const id = (await ok(server, `{ viewer { keyId } }`, {}, secret)).viewer.keyId;
    await ok(server, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id });
    const { status, body } = await server.graphql(`{ viewer { role } }`, {}, secret);
    expect(status).toBe(401);
    expect(errorCodes(body)).toEqual(["UNAUTHENTICATED"]);
    expect((await ok(server, `{ viewer { role } }`)).viewer.role).toBe("OPERATOR");
  });

  it.each([
    ["a malformed header", "Token abc"],
    ["an unknown secret", "Bearer fg_this-is-not-a-key-at-all-0000000000"],
    ["an empty bearer", "Bearer "],
  ])("%s is UNAUTHENTICATED with a challenge", async (_label, authorization) => {
    const response = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ query: "{ viewer { role } }" }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(errorCodes((await response.json()) as any)).toEqual(["UNAUTHENTICATED"]);
  });
});

describe("an answer", () => {
  it("tells every cache not to keep it, since balances change with each event", async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${keyOf(world, "OPERATOR")}` },
      body: JSON.stringify({ query: "{ viewer { role } }" }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
  });
});

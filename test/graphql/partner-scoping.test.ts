/**
 * A partner reaches only its own reseller's accounts, by every path: direct, listed, filtered,
 * nested under resellers and packs, through charges, purchases, quotes and the CSV export.
 * Someone else's account answers exactly like an id that does not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { bearer, createWorld, errorCodes, ok, request, unique, usageInput, type World } from "./support.js";

let server: TestServer;
let world: World;
let partner: string;
const MISSING = "999999";

const own = () => world.own.accountIds;
const other = () => world.other.accountIds;

beforeAll(async () => {
  server = await startTestServer();
  world = await createWorld(server, 2);
  partner = world.keys.PARTNER!;
  for (const accountId of [own()[0]!, other()[0]!]) {
    await ok(server, `mutation($input: ImportCreditLotInput!) { importCreditLot(input: $input) { id } }`, {
      input: { accountId, amount: "50", purchasedAt: "2022-06-01T00:00:00Z", externalRef: unique("lot") },
    });
    for (const occurredAt of ["2024-05-10T09:00:00Z", "2024-05-20T09:00:00Z"]) {
      await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, { input: usageInput(accountId, { occurredAt }) });
    }
  }
  // The partner's second customer once bought a pack from the other reseller: the pack names it.
  await ok(server, `mutation($input: RecordFlexPurchaseInput!) { recordFlexPurchase(input: $input) { id } }`, {
    input: { accountId: own()[1], tokens: "100", purchasedAt: "2024-04-01T00:00:00Z", channel: "RESELLER", resellerId: world.other.resellerId, orderRef: unique("order") },
  });
});

afterAll(() => server.close());

const ids = (connection: { edges: { node: { id: string } }[] }) => connection.edges.map((edge) => edge.node.id);

describe("someone else's account is NOT_FOUND, exactly like one that does not exist", () => {
  /** Each path, with the variables naming an account and the reseller selling to it. */
  const paths: [string, string, (accountId: string, resellerId: string) => Record<string, unknown>][] = [
    ["account", `query($id: ID!) { account(id: $id) { id name } }`, (id) => ({ id })],
    ["account with nested charges", `query($id: ID!) { account(id: $id) { id charges { edges { node { tokens } } } } }`, (id) => ({ id })],
    ["quoteUsage", `query($input: UsageInput!) { quoteUsage(input: $input) { tokens } }`, (id) => ({ input: usageInput(id) })],
    ["usageAuthorization", `query($id: ID!) { usageAuthorization(accountId: $id, apiCode: "model-derivative/complex-job") { allowed } }`, (id) => ({ id })],
    [
      "recordFlexPurchase",
      `mutation($input: RecordFlexPurchaseInput!) { recordFlexPurchase(input: $input) { id } }`,
      (id, resellerId) => ({ input: { accountId: id, tokens: "100", purchasedAt: "2024-05-01T00:00:00Z", channel: "RESELLER", resellerId, orderRef: unique("order") } }),
    ],
  ];

  it.each(paths)("%s", async (_path, query, variables) => {
    const theirs = await server.graphql(query, variables(other()[0]!, world.own.resellerId), partner);
    const missing = await server.graphql(query, variables(MISSING, world.own.resellerId), partner);
    expect(errorCodes(theirs.body)).toEqual(["NOT_FOUND"]);
    expect(theirs).toEqual(missing);
    expect(JSON.stringify(theirs.body)).not.toContain("Other customer");
  });

  it.each(paths)("%s works for the partner's own customer, and for an operator on any", async (_path, query, variables) => {
    await ok(server, query, variables(own()[0]!, world.own.resellerId), partner);
    await ok(server, query, variables(other()[0]!, world.other.resellerId));
  });
});

describe("lists and nested paths show only the partner's customers", () => {
  it("accounts lists only its own", async () => {
    const data = await ok(server, `{ accounts(first: 100) { totalCount edges { node { id reseller { id } } } } }`, {}, partner);
    expect(ids(data.accounts).sort()).toEqual([...own()].sort());
    expect(data.accounts.totalCount).toBe(own().length);
  });

  it.each([
    ["the other reseller", () => world.other.resellerId, () => [] as string[]],
    ["its own reseller", () => world.own.resellerId, () => own()],
    ["a reseller that does not exist", () => MISSING, () => [] as string[]],
  ])("accounts(filter: { resellerId: %s }) never widens the scope", async (_label, resellerId, expected) => {
    const data = await ok(server, `query($r: ID!) { accounts(filter: { resellerId: $r }) { totalCount edges { node { id } } } }`, { r: resellerId() }, partner);
    expect(ids(data.accounts).sort()).toEqual([...expected()].sort());
    expect(data.accounts.totalCount).toBe(expected().length);
  });

  it("accounts(filter: { nameContains }) finds nothing of someone else's", async () => {
    const data = await ok(server, `{ accounts(filter: { nameContains: "Other customer" }) { totalCount edges { node { id } } } }`, {}, partner);
    expect(data.accounts).toEqual({ totalCount: 0, edges: [] });
  });

  it("reseller(id).accounts is empty for another reseller and lists its own", async () => {
    const query = `query($id: ID!) { reseller(id: $id) { name accounts { totalCount edges { node { id } } } } }`;
    const theirs = await ok(server, query, { id: world.other.resellerId }, partner);
    expect(theirs.reseller.name).toBe("Other Reseller KK");
    expect(theirs.reseller.accounts).toEqual({ totalCount: 0, edges: [] });
    const mine = await ok(server, query, { id: world.own.resellerId }, partner);
    expect(ids(mine.reseller.accounts).sort()).toEqual([...own()].sort());
  });

  it("reseller(id).accounts(after:) stays scoped on later pages", async () => {
    const cursor = (await ok(server, `query($id: ID!) { reseller(id: $id) { accounts(first: 1) { pageInfo { endCursor } } } }`, { id: world.own.resellerId }, partner))
      .reseller.accounts.pageInfo.endCursor;
    const theirs = await ok(server, `query($id: ID!, $after: String) { reseller(id: $id) { accounts(after: $after) { totalCount edges { node { id } } } } }`, { id: world.other.resellerId, after: cursor }, partner);
    expect(theirs.reseller.accounts).toEqual({ totalCount: 0, edges: [] });
  });

  it("the reseller directory with accounts and their charges nested shows only its own", async () => {
    const data = await ok(
      server,
      `{ resellers(first: 10) { edges { node { id accounts(first: 10) { edges { node { id charges(first: 10) { edges { node { id account { id } } } } } } } } } } }`,
      {},
      partner,
    );
    const reached = data.resellers.edges.flatMap((reseller: any) => ids(reseller.node.accounts));
    expect(reached.sort()).toEqual([...own()].sort());
    const chargedAccounts = data.resellers.edges.flatMap((reseller: any) =>
      reseller.node.accounts.edges.flatMap((account: any) => account.node.charges.edges.map((charge: any) => charge.node.account.id)),
    );
    expect(new Set(chargedAccounts)).toEqual(new Set([own()[0]]));
  });

  it("a pack sold by another reseller does not open that reseller's accounts", async () => {
    const data = await ok(
      server,
      `query($id: ID!) { account(id: $id) { flexPacks { reseller { id accounts { totalCount edges { node { id } } } } } } }`,
      { id: own()[1] },
      partner,
    );
    expect(data.account.flexPacks).toEqual([{ reseller: { id: world.other.resellerId, accounts: { totalCount: 0, edges: [] } } }]);
  });

  it("viewer.reseller.accounts lists its own", async () => {
    const data = await ok(server, `{ viewer { role reseller { id accounts { edges { node { id } } } } } }`, {}, partner);
    expect(data.viewer.reseller.id).toBe(world.own.resellerId);
    expect(ids(data.viewer.reseller.accounts).sort()).toEqual([...own()].sort());
  });
});

describe("recordFlexPurchase by a partner", () => {
  const mutation = `mutation($input: RecordFlexPurchaseInput!) { recordFlexPurchase(input: $input) { id tokens channel reseller { id } } }`;
  const purchase = (overrides: Record<string, unknown>) => ({
    input: { accountId: own()[0], tokens: "100", purchasedAt: "2024-05-01T00:00:00Z", channel: "RESELLER", orderRef: unique("order"), ...overrides },
  });
  const packCount = async (accountId: string) => (await ok(server, `query($id: ID!) { account(id: $id) { flexPacks { id } } }`, { id: accountId })).account.flexPacks.length;

  it.each([
    ["without a reseller, recorded as its own sale", {}],
    ["naming itself", { resellerId: "own" }],
  ])("is accepted %s", async (_label, overrides) => {
    const resolved = Object.fromEntries(Object.entries(overrides).map(([key, value]) => [key, value === "own" ? world.own.resellerId : value]));
    const data = await ok(server, mutation, purchase(resolved), partner);
    expect(data.recordFlexPurchase).toMatchObject({ tokens: "100", channel: "RESELLER", reseller: { id: world.own.resellerId } });
  });

  it.each([
    ["naming another reseller", () => ({ resellerId: world.other.resellerId }), "FORBIDDEN", "input.resellerId"],
    ["as an eStore sale", () => ({ channel: "ESTORE" }), "FORBIDDEN", "input.channel"],
    ["for another reseller's customer", () => ({ accountId: other()[0] }), "NOT_FOUND", "input.accountId"],
  ])("is refused %s, writing nothing", async (_label, overrides, code, field) => {
    const target = (overrides() as { accountId?: string }).accountId ?? own()[0]!;
    const before = await packCount(target);
    const { body } = await server.graphql(mutation, purchase(overrides()), partner);
    expect(errorCodes(body)).toEqual([code]);
    expect(body.errors![0].extensions.field).toBe(field);
    expect(await packCount(target)).toBe(before);
  });
});

describe("order references of two partners", () => {
  const mutation = `mutation($input: RecordFlexPurchaseInput!) { recordFlexPurchase(input: $input) { id orderRef } }`;
  const sale = (accountId: string, orderRef: string, tokens = "100") => ({
    input: { accountId, tokens, purchasedAt: "2024-05-01T00:00:00Z", channel: "RESELLER", orderRef },
  });

  it("are separate: another partner's reference neither shows nor blocks, and a partner's own reuse is a replay or a conflict", async () => {
    const otherPartner = await server.key("PARTNER", Number(world.other.resellerId));
    const orderRef = unique("shared-order");
    const theirs = await ok(server, mutation, sale(other()[0]!, orderRef), otherPartner);
    const mine = await ok(server, mutation, sale(own()[0]!, orderRef), partner);
    expect(mine.recordFlexPurchase.id).not.toBe(theirs.recordFlexPurchase.id);
    expect(mine.recordFlexPurchase.orderRef).toBe(orderRef);
    expect((await ok(server, mutation, sale(own()[0]!, orderRef), partner)).recordFlexPurchase.id).toBe(mine.recordFlexPurchase.id);
    const { body } = await server.graphql(mutation, sale(own()[0]!, orderRef, "200"), partner);
    expect(errorCodes(body)).toEqual(["IDEMPOTENCY_CONFLICT"]);
    expect(body.errors![0].extensions.field).toBe("input.orderRef");
  });
});

describe("event ids in a partner's quotes", () => {
  const quote = `query($input: UsageInput!) { quoteUsage(input: $input) { tokens alreadyRecorded { id } } }`;

  it("quotes an id another reseller's customer used as a new event, telling nothing of it, where an operator is told it conflicts", async () => {
    const eventId = unique("their-event");
    await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, { input: usageInput(other()[1]!, { eventId }) });
    const asked = { input: usageInput(own()[0]!, { eventId }) };
    const fresh = { input: usageInput(own()[0]!) };
    expect(await ok(server, quote, asked, partner)).toEqual(await ok(server, quote, fresh, partner));
    const { body } = await server.graphql(quote, asked);
    expect(errorCodes(body)).toEqual(["IDEMPOTENCY_CONFLICT"]);
    expect(body.errors![0].extensions.field).toBe("input.eventId");
  });

  it("still tells a partner that an id its own customer used conflicts, or is the same event", async () => {
    const input = usageInput(own()[1]!);
    const recorded = await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, { input });
    expect((await ok(server, quote, { input }, partner)).quoteUsage.alreadyRecorded).toEqual({ id: recorded.recordUsage.charge.id });
    const { body } = await server.graphql(quote, { input: { ...input, accountId: own()[0] } }, partner);
    expect(errorCodes(body)).toEqual(["IDEMPOTENCY_CONFLICT"]);
  });
});

describe("GET /export/usage.csv", () => {
  const exportOf = (accountId: string, secret: string | null, window = "from=2024-05-01&to=2024-06-01") =>
    request(server, `/export/usage.csv?accountId=${accountId}&${window}`, { headers: secret ? bearer(secret) : {} });

  it("gives a partner its own customer's charges, header first", async () => {
    const { status, headers, text } = await exportOf(own()[0]!, partner);
    expect(status).toBe(200);
    expect(headers.get("content-type")).toMatch(/^text\/csv/);
    const lines = text.trimEnd().split("\r\n");
    expect(lines[0]).toBe("occurredAt,eventId,apiCode,clientId,quantity,outcome,tokens,paidFromCredits,paidFromFlex,deficit,units,paidFromTokenFlex,paidFromPayg,overrunUnits");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^2024-05-10T09:00:00(\.000)?Z,/);
  });

  it("answers someone else's account exactly like a missing one", async () => {
    const theirs = await exportOf(other()[0]!, partner);
    const missing = await exportOf(MISSING, partner);
    expect(theirs.status).toBe(404);
    expect(errorCodes(JSON.parse(theirs.text))).toEqual(["NOT_FOUND"]);
    expect(theirs.text).toBe(missing.text);
    expect(theirs.text).not.toContain("Other customer");
  });

  it("gives an operator any account", async () => {
    const { status, text } = await exportOf(other()[0]!, server.operatorKey);
    expect(status).toBe(200);
    expect(text.trimEnd().split("\r\n")).toHaveLength(3);
  });

  it.each([
    ["METERING", 403, "FORBIDDEN"],
    ["INTEGRATOR", 403, "FORBIDDEN"],
    ["revoked key", 401, "UNAUTHENTICATED"],
    ["no key", 401, "UNAUTHENTICATED"],
  ] as const)("refuses %s with %i %s", async (caller, status, code) => {
    const secret = caller === "no key" ? null : world.keys[caller]!;
    const response = await exportOf(own()[0]!, secret);
    expect(response.status).toBe(status);
    expect(errorCodes(JSON.parse(response.text))).toEqual([code]);
  });

  it.each([
    ["a malformed account id", "abc", "from=2024-05-01&to=2024-06-01", "accountId"],
    ["a malformed date", "OWN", "from=2024-13-01&to=2024-06-01", "from"],
    ["an empty window", "OWN", "from=2024-06-01&to=2024-05-01", "to"],
  ])("refuses %s as BAD_USER_INPUT naming the field", async (_label, accountId, window, field) => {
    const response = await exportOf(accountId === "OWN" ? own()[0]! : accountId, partner, window);
    expect(response.status).toBe(400);
    const body = JSON.parse(response.text);
    expect(errorCodes(body)).toEqual(["BAD_USER_INPUT"]);
    expect(body.errors[0].extensions.field).toBe(field);
  });
});

/**
 * Relay connections: paging forward with cursors visits every item once, in order, whatever the
 * page size; malformed cursors and page sizes out of range are refused naming the argument.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPERATOR } from "../fixtures/harness.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { errorCodes, ok, usageInput } from "./support.js";

let server: TestServer;
let chargedAccountId: string;
let bigResellerId: string;

const ACCOUNTS = 45;
const RESELLERS = 25;
const CHARGES = 30;

beforeAll(async () => {
  server = await startTestServer();
  const { accounts } = server.services;
  const resellers = [];
  for (let i = 0; i < RESELLERS; i++) resellers.push(await accounts.createReseller({ name: `Reseller ${i}`, tier: "GOLD", flexAgreement: true }, OPERATOR));
  bigResellerId = String(resellers[0]!.id);
  const created = [];
  for (let i = 0; i < ACCOUNTS; i++) created.push(
    await accounts.create({ name: `Customer ${i}`, resellerId: i % 2 === 0 ? resellers[0]!.id : resellers[1 + (i % (RESELLERS - 1))]!.id }, OPERATOR),
  );
  chargedAccountId = String(created[0]!.id);
  const inputs = Array.from({ length: CHARGES }, (_, i) => usageInput(chargedAccountId, { occurredAt: `2024-05-${String(1 + i).padStart(2, "0")}T00:00:00Z` }));
  await ok(server, `mutation($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { eventId } }`, { inputs });
});

afterAll(() => server.close());

interface Connection {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  edges: { cursor: string; node: { id: string } }[];
}

/** A connection that can be paged, and the order its ids come in. */
interface Paged {
  readonly name: string;
  readonly query: string;
  readonly variables: () => Record<string, unknown>;
  readonly connection: (data: any) => Connection;
  readonly order: "ascending" | "descending";
}

const PAGE = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id } }`;

const connections: Paged[] = [
  {
    name: "accounts",
    query: `query($first: Int, $after: String) { accounts(first: $first, after: $after) { ${PAGE} } }`,
    variables: () => ({}),
    connection: (data) => data.accounts,
    order: "ascending",
  },
  {
    name: "resellers",
    query: `query($first: Int, $after: String) { resellers(first: $first, after: $after) { ${PAGE} } }`,
    variables: () => ({}),
    connection: (data) => data.resellers,
    order: "ascending",
  },
  {
    name: "reseller.accounts",
    query: `query($id: ID!, $first: Int, $after: String) { reseller(id: $id) { accounts(first: $first, after: $after) { ${PAGE} } } }`,
    variables: () => ({ id: bigResellerId }),
    connection: (data) => data.reseller.accounts,
    order: "ascending",
  },
  {
    name: "account.charges",
    query: `query($id: ID!, $first: Int, $after: String) { account(id: $id) { charges(first: $first, after: $after) { ${PAGE} } } }`,
    variables: () => ({ id: chargedAccountId }),
    connection: (data) => data.account.charges,
    order: "descending",
  },
  {
    name: "auditLog",
    query: `query($first: Int, $after: String) { auditLog(first: $first, after: $after) { ${PAGE} } }`,
    variables: () => ({}),
    connection: (data) => data.auditLog,
    order: "descending",
  },
];

/** Pages forward to the end, checking each page's shape, and returns the ids in visiting order. */
async function pageThrough(paged: Paged, size: number, between?: (page: number) => Promise<void>): Promise<{ ids: number[]; totalCount: number }> {
  const ids: number[] = [];
  let after: string | null = null;
  let totalCount = -1;
  for (let page = 0; page < 200; page++) {
    const connection = paged.connection(await ok(server, paged.query, { ...paged.variables(), first: size, after }));
    if (totalCount === -1) totalCount = connection.totalCount;
    ids.push(...connection.edges.map((edge) => Number(edge.node.id)));
    expect(connection.pageInfo.startCursor).toBe(connection.edges[0]?.cursor ?? null);
    expect(connection.pageInfo.endCursor).toBe(connection.edges.at(-1)?.cursor ?? null);
    // Forward paging only, so the Relay spec's answer for a page reached with `after` is false.
    expect(connection.pageInfo.hasPreviousPage).toBe(false);
    if (!connection.pageInfo.hasNextPage) return { ids, totalCount };
    expect(connection.edges).toHaveLength(size);
    after = connection.pageInfo.endCursor;
    await between?.(page);
  }
  throw new Error("paging did not end");
}

const sortedIds = (ids: number[], order: Paged["order"]) => [...ids].sort((a, b) => (order === "ascending" ? a - b : b - a));

describe("paging forward visits every item once, in order", () => {
  const cases = connections.flatMap((paged) => [1, 7, 100].map((size) => [paged.name, size, paged] as const));

  it.each(cases)("%s in pages of %i", async (_name, size, paged) => {
    const { ids, totalCount } = await pageThrough(paged, size);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(sortedIds(ids, paged.order));
    expect(ids).toHaveLength(totalCount);
    const whole = paged.connection(await ok(server, paged.query, { ...paged.variables(), first: 100 }));
    if (!whole.pageInfo.hasNextPage) expect(ids).toEqual(whole.edges.map((edge) => Number(edge.node.id)));
  });

  it("an empty page has neither a start nor an end cursor, nor a next or previous page", async () => {
    const { accounts } = await ok(server, `{ accounts(filter: { nameContains: "nobody by this name" }) { ${PAGE} } }`);
    expect(accounts).toEqual({ totalCount: 0, edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } });
  });

  it("the seeded counts are what the connections report", async () => {
    const counts = await ok(
      server,
      `query($id: ID!) { accounts { totalCount } resellers { totalCount } account(id: $id) { charges { totalCount } } }`,
      { id: chargedAccountId },
    );
    expect(counts).toEqual({ accounts: { totalCount: ACCOUNTS }, resellers: { totalCount: RESELLERS }, account: { charges: { totalCount: CHARGES } } });
  });

  it("an account created while paging neither repeats nor hides one already listed", async () => {
    const before = (await ok(server, `{ accounts(first: 100) { edges { node { id } } } }`)).accounts.edges.map((edge: any) => Number(edge.node.id));
    const { ids } = await pageThrough(connections[0]!, 10, async (page) => {
      if (page === 1) await server.services.accounts.create({ name: "Arrived mid-paging" }, OPERATOR);
    });
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice(0, before.length)).toEqual(before);
    expect(ids).toHaveLength(before.length + 1);
  });

  it("a charge booked while paging newest-first does not shift the later pages", async () => {
    const before = (await ok(server, `query($id: ID!) { account(id: $id) { charges(first: 100) { edges { node { id } } } } }`, { id: chargedAccountId })).account.charges.edges.map(
      (edge: any) => Number(edge.node.id),
    );
    const { ids } = await pageThrough(connections[3]!, 8, async (page) => {
      if (page === 0) await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, { input: usageInput(chargedAccountId) });
    });
    expect(ids).toEqual(before);
  });
});

describe("malformed cursors and page sizes are BAD_USER_INPUT naming the argument", () => {
  const base64url = (text: string) => Buffer.from(text).toString("base64url");
  const badCursors: [string, string][] = [
    ["not base64 of anything", "zzz"],
    ["empty", ""],
    ["id zero", base64url("id:0")],
    ["a negative id", base64url("id:-1")],
    ["a fractional id", base64url("id:1.5")],
    ["an id beyond the safe range", base64url("id:99999999999999999999")],
    ["another prefix", base64url("cursor:1")],
  ];

  it.each(connections.flatMap((paged) => badCursors.map(([label, cursor]) => [paged.name, label, cursor, paged] as const)))(
    "%s: a cursor that is %s",
    async (_name, _label, cursor, paged) => {
      const { body } = await server.graphql(paged.query, { ...paged.variables(), after: cursor });
      expect(errorCodes(body)).toEqual(["BAD_USER_INPUT"]);
      expect(body.errors![0].extensions.field).toBe("after");
    },
  );

  it.each(connections.flatMap((paged) => [0, -1, 101, 1000].map((first) => [paged.name, first, paged] as const)))("%s: first %i", async (_name, first, paged) => {
    const { body } = await server.graphql(paged.query, { ...paged.variables(), first });
    expect(errorCodes(body)).toEqual(["BAD_USER_INPUT"]);
    expect(body.errors![0].extensions.field).toBe("first");
  });

  it.each(connections.map((paged) => [paged.name, paged] as const))("%s: first 1 and 100 and the default are accepted", async (_name, paged) => {
    for (const first of [1, 100, undefined]) {
      const connection = paged.connection(await ok(server, paged.query, { ...paged.variables(), first }));
      expect(connection.edges.length).toBe(Math.min(first ?? 20, connection.totalCount));
    }
  });
});

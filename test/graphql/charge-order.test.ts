/**
 * An account's charges in the order a portal asks for: newest usage first by default, oldest
 * usage first, or booking order, each paged forward by a cursor that carries its sort key, served
 * by an index without sorting, and refused (naming `after`) when it comes from another order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE, onSqliteOnly } from "../fixtures/engine.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { sqlitePlan } from "../fixtures/test-sql.js";
import { errorCodes, ok, usageInput } from "./support.js";

let server: TestServer;
let recording = false;
const statements: string[] = [];
let accountId: string;
/** The seeded charges in booking order (ascending id). */
let seeded: { id: number; occurredAt: string }[];

const ORDERS = ["OCCURRED_AT_DESC", "OCCURRED_AT_ASC", "BOOKED_DESC", "BOOKED_ASC"] as const;
type Order = (typeof ORDERS)[number];

/** Usage reported out of order, with several events on the same instant, as pipelines send it. */
const day = (i: number) => `2024-05-${String(1 + ((i * 7) % 10)).padStart(2, "0")}T00:00:00.000Z`;
const CHARGES = 23;

beforeAll(async () => {
  // Statements are recorded on SQLite only, where the query plans are checked.
  server = await startTestServer(ENGINE === "sqlite" ? { onStatement: (sql) => recording && statements.push(sql) } : {});
  accountId = String((await server.services.accounts.create({ name: "Portal customer" }, { name: "test", role: "OPERATOR", keyId: null, resellerId: null })).id);
  const inputs = Array.from({ length: CHARGES }, (_, i) => usageInput(accountId, { occurredAt: day(i) }));
  const results = await ok(server, `mutation($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { charge { id occurredAt } } }`, { inputs });
  seeded = results.recordUsageBatch.map((result: any) => ({ id: Number(result.charge.id), occurredAt: result.charge.occurredAt }));
});

afterAll(() => server.close());

/** The order the seeded charges must come in: by the sort key, ties broken by id. */
function expected(order: Order, charges = seeded): number[] {
  const byOccurred = (a: (typeof seeded)[0], b: (typeof seeded)[0]) => a.occurredAt.localeCompare(b.occurredAt) || a.id - b.id;
  const sorted = [...charges].sort(order.startsWith("OCCURRED_AT") ? byOccurred : (a, b) => a.id - b.id);
  return (order.endsWith("DESC") ? sorted.reverse() : sorted).map((charge) => charge.id);
}

const PAGE = `query($id: ID!, $first: Int, $after: String, $orderBy: ChargeOrder, $filter: ChargeFilter) {
  account(id: $id) { charges(first: $first, after: $after, orderBy: $orderBy, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id occurredAt } } } } }`;

async function page(variables: Record<string, unknown>) {
  return (await ok(server, PAGE, { id: accountId, ...variables })).account.charges;
}

/** Pages forward to the end and returns the ids in visiting order. */
async function pageThrough(variables: Record<string, unknown>, between?: (page: number) => Promise<void>): Promise<number[]> {
  const ids: number[] = [];
  let after: string | null = null;
  for (let n = 0; n < 100; n++) {
    const connection = await page({ ...variables, after });
    ids.push(...connection.edges.map((edge: any) => Number(edge.node.id)));
    if (!connection.pageInfo.hasNextPage) return ids;
    after = connection.pageInfo.endCursor;
    await between?.(n);
  }
  throw new Error("paging did not end");
}

describe("charges come in the order asked for, every charge once, whatever the page size", () => {
  it("the seeded usage is out of booking order and has ties, so each order differs", () => {
    expect(new Set(ORDERS.map((order) => expected(order).join())).size).toBe(ORDERS.length);
  });

  it.each(ORDERS.flatMap((order) => [1, 4, 100].map((first) => [order, first] as const)))("%s in pages of %i", async (orderBy, first) => {
    expect(await pageThrough({ orderBy, first })).toEqual(expected(orderBy));
  });

  it("without orderBy (or with null) the most recent usage comes first", async () => {
    const newest = expected("OCCURRED_AT_DESC");
    expect(await pageThrough({ first: 5 })).toEqual(newest);
    expect(await pageThrough({ first: 5, orderBy: null })).toEqual(newest);
  });

  it("a filter narrows each order without changing it", async () => {
    const filter = { from: "2024-05-03T00:00:00Z", to: "2024-05-08T00:00:00Z" };
    const inWindow = seeded.filter((charge) => charge.occurredAt >= "2024-05-03" && charge.occurredAt < "2024-05-08");
    for (const orderBy of ORDERS) {
      expect(await pageThrough({ orderBy, first: 3, filter })).toEqual(expected(orderBy, inWindow));
      expect((await page({ orderBy, filter })).totalCount).toBe(inWindow.length);
    }
  });

  it("usage reported late while paging newest first shows up once, in its place, and shifts nothing", async () => {
    let late: { id: number; occurredAt: string } | undefined;
    const ids = await pageThrough({ first: 4 }, async (n) => {
      if (n !== 0) return;
      // Older than everything on the first page: it belongs to a later one.
      const occurredAt = "2024-05-02T12:00:00.000Z";
      const { recordUsage } = await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, {
        input: usageInput(accountId, { occurredAt }),
      });
      late = { id: Number(recordUsage.charge.id), occurredAt };
    });
    seeded.push(late!);
    expect(ids).toEqual(expected("OCCURRED_AT_DESC"));
  });
});

describe("a cursor belongs to the order it was given out for", () => {
  const pairs = ORDERS.flatMap((from) => ORDERS.filter((to) => to !== from).map((to) => [from, to] as const));

  it.each(pairs)("a cursor of %s used with %s is BAD_USER_INPUT naming after", async (from, to) => {
    const cursor = (await page({ orderBy: from, first: 2 })).pageInfo.endCursor;
    const { body } = await server.graphql(PAGE, { id: accountId, orderBy: to, after: cursor });
    expect(errorCodes(body)).toEqual(["BAD_USER_INPUT"]);
    expect(body.errors![0].extensions.field).toBe("after");
    expect(body.errors![0].message).toContain(from);
  });

  it("a cursor of another connection, or one whose sort key was altered, is BAD_USER_INPUT naming after", async () => {
    const accountCursor = (await ok(server, `{ accounts(first: 1) { pageInfo { endCursor } } }`)).accounts.pageInfo.endCursor;
    const own = Buffer.from((await page({ first: 1 })).pageInfo.endCursor, "base64url").toString();
    const altered = [accountCursor, own.replace(/:\d+$/, ""), `${own}:1`, own.replace(/:(\d+):/, ":0$1:"), own.replace(/:(\d+):/, ":$1a:"), `${own}.5`];
    for (const text of altered) {
      const after = text === accountCursor ? text : Buffer.from(text).toString("base64url");
      const { body } = await server.graphql(PAGE, { id: accountId, after });
      expect(errorCodes(body), text).toEqual(["BAD_USER_INPUT"]);
      expect(body.errors![0].extensions.field).toBe("after");
    }
  });
});

describe.skipIf(ENGINE !== "sqlite")(`each order is one index range read, never a sort${onSqliteOnly("reads SQLite's EXPLAIN QUERY PLAN")}`, () => {
  /** SQLite's plan for the page query that a request ran, read by EXPLAIN QUERY PLAN. */
  async function planOf(variables: Record<string, unknown>): Promise<string> {
    statements.length = 0;
    recording = true;
    try {
      await page(variables);
    } finally {
      recording = false;
    }
    const pageQuery = statements.find((sql) => /from "usage_charges" .*order by/.test(sql))!;
    return sqlitePlan(server.file!.db, pageQuery);
  }

  it.each(ORDERS)("%s, first page and a page after a cursor", async (orderBy) => {
    const after = (await page({ orderBy, first: 2 })).pageInfo.endCursor;
    for (const plan of [await planOf({ orderBy }), await planOf({ orderBy, after })]) {
      expect(plan).toMatch(/SEARCH usage_charges USING INDEX usage_charges_account_(occurred|id)_idx \(account_id=\?/);
      expect(plan).not.toContain("TEMP B-TREE");
    }
  });
});

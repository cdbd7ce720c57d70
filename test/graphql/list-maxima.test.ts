/**
 * Every list the API returns is bounded: a connection, or a hard maximum (core/maxima.ts) that is
 * enforced where the data is written and that the cost model multiplies by. A partner can no
 * longer grow one account's packs without limit, so a query that fans out over them is priced at
 * what it could read, and refused before it runs.
 */
import { getNamedType, isListType, isNonNullType, isObjectType } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FlexgateError } from "../../server/core/errors.js";
import { MAXIMA } from "../../server/core/maxima.js";
import { DAY_MS } from "../../server/core/time.js";
import { itemsOf } from "../../server/graphql/cost.js";
import { graphqlSchema } from "../../server/graphql/schema.js";
import { at, OPERATOR, tokens } from "../fixtures/harness.js";
import { refusalOf, scalar } from "../fixtures/ledger-assertions.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { createWorld, errorCodes, ok, timed, trivialRequestMs, unique, type World } from "./support.js";

let server: TestServer;
let world: World;

beforeAll(async () => {
  server = await startTestServer();
  world = await createWorld(server, 2);
});

afterAll(() => server.close());

const packsOf = (accountId: string) => scalar(server.sql, "select count(*) from flex_packs where account_id = ?", Number(accountId));

function purchase(accountId: string, purchasedAt: number) {
  return server.services.funding.recordFlexPurchase(
    { accountId: Number(accountId), tokensMicros: tokens("100"), purchasedAt, channel: "RESELLER", resellerId: Number(world.own.resellerId), orderRef: unique("order") },
    OPERATOR,
  );
}

/**
 * Lets the server close the connections it found idle while a long synchronous loop of service
 * calls held the event loop, before the next request could reuse one of them.
 */
const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

describe("list maxima", () => {
  it("gives every list field of the schema a maximum in the cost model", () => {
    const lists: string[] = [];
    for (const type of Object.values(graphqlSchema().getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith("__")) continue;
      for (const field of Object.values(type.getFields())) {
        const unwrapped = isNonNullType(field.type) ? field.type.ofType : field.type;
        if (!isListType(unwrapped) && !getNamedType(field.type).name.endsWith("Connection")) continue;
        lists.push(`${type.name}.${field.name}`);
        expect(itemsOf(type.name, field, {}), `${type.name}.${field.name}`).toBeGreaterThan(0);
      }
    }
    expect(lists).toContain("Account.flexPacks");
    expect(lists).toContain("Query.priceVersions");
  });

  it("stops a partner's 2,000 purchases for one customer at 100 packs valid at once, each refusal naming the account", async () => {
    const accountId = world.own.accountIds[0]!;
    const refusals = new Map<string, number>();
    for (let i = 0; i < 1_999; i++) {
      try {
        await purchase(accountId, at("2024-05-01"));
      } catch (error) {
        if (!(error instanceof FlexgateError)) throw error;
        const kind = `${error.code} ${error.field}`;
        refusals.set(kind, (refusals.get(kind) ?? 0) + 1);
      }
    }
    expect(refusals).toEqual(new Map([["BAD_USER_INPUT input.accountId", 1_999 - MAXIMA.flexPacksAtOnce]]));
    await settle();
    const { body } = await server.graphql(
      `mutation($input: RecordFlexPurchaseInput!) { recordFlexPurchase(input: $input) { id } }`,
      { input: { accountId, tokens: "100", purchasedAt: "2024-05-01", channel: "RESELLER", orderRef: unique("order") } },
      world.keys.PARTNER!,
    );
    expect(errorCodes(body)).toEqual(["BAD_USER_INPUT"]);
    expect(body.errors![0].extensions.field).toBe("input.accountId");
    expect(body.errors![0].message).toBe("the account already holds 100 Flex packs valid during the year of this one, the most it may hold at once");
    expect(await packsOf(accountId)).toBe(MAXIMA.flexPacksAtOnce);
    // A pack whose year ends before theirs begins is accepted.
    expect((await purchase(accountId, at("2023-04-01"))).id).toBeGreaterThan(0);
    await settle();
  });

  it.each([
    ["flexPacks", `flexPacks { reseller { accounts(first: 50) { edges { node { flexPacks { id tokens remaining } } } } } }`],
    ["flexPacks(includeExpired: true)", `flexPacks(includeExpired: true) { reseller { accounts(first: 50) { edges { node { flexPacks(includeExpired: true) { id } } } } } }`],
  ])("refuses the partner's fan-out over %s of that customer before it runs", async (_label, selection) => {
    const baseline = await trivialRequestMs(server, world.keys.PARTNER!);
    const { status, body, ms } = await timed(server, `query($id: ID!) { account(id: $id) { ${selection} } }`, { id: world.own.accountIds[0] }, world.keys.PARTNER!);
    expect(status).toBe(400);
    expect(errorCodes(body)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(body.errors![0].message).toMatch(/^the query would cost \d+; at most 100000 is allowed/);
    expect(ms - baseline).toBeLessThan(50);
  });

  it("refuses an account's 1,001st pack ever, even when its year overlaps no other", async () => {
    const accountId = world.own.accountIds[1]!;
    // One pack every 8 days: a year on either side of any of them holds 91, under the cap at once.
    const start = at("2001-01-01");
    for (let i = 0; i < MAXIMA.flexPacksPerAccount; i++) await purchase(accountId, start + i * 8 * DAY_MS);
    const error = await refusalOf(() => purchase(accountId, at("2024-05-01")));
    expect({ code: error.code, field: error.field, message: error.message }).toEqual({
      code: "BAD_USER_INPUT",
      field: "input.accountId",
      message: "the account already holds 1000 Flex packs, the most it may ever hold",
    });
    expect(await packsOf(accountId)).toBe(MAXIMA.flexPacksPerAccount);
    await settle();
  });

  it.each([
    ["DAY", "2023-06-01", "accepted"],
    ["DAY", "2023-05-31", "refused"],
    ["MONTH", "2021-06-01", "accepted"],
    ["MONTH", "2021-05-31", "refused"],
  ])("a %s usage summary from %s to 2024-06-01 is %s (at most 366 days by day, 1,096 by month)", async (groupBy, from, outcome) => {
    const { body } = await server.graphql(`query($id: ID!, $from: DateTime!) { account(id: $id) { usageSummary(from: $from, to: "2024-06-01", groupBy: ${groupBy}) { tokens } } }`, {
      id: world.own.accountIds[0],
      from,
    });
    if (outcome === "accepted") {
      expect(body.errors).toBeUndefined();
      return;
    }
    expect(errorCodes(body)).toEqual(["BAD_USER_INPUT"]);
    expect(body.errors![0].extensions.field).toBe("to");
  });

  it("refuses a 101st version of one API and a 101st API code in the price book", async () => {
    const publish = (apiCode: string) =>
      server.services.prices.publish({ apiCode, meter: "JOB", unitQuantity: 1, tokensPerUnitMicros: tokens("1"), note: "cap test", effectiveFrom: server.now() + 60_000 }, OPERATOR);
    const codes = new Set((await server.services.prices.allVersions()).map((version) => version.apiCode));
    for (let i = 0; codes.size < MAXIMA.pricedApis; i++) {
      codes.add((await publish(`cap-test/api-${i}`)).apiCode);
    }
    expect(await refusalOf(() => publish("cap-test/one-too-many"))).toMatchObject({ code: "BAD_USER_INPUT", field: "input.apiCode" });
    const versioned = "cap-test/api-0";
    for (let n = (await server.services.prices.allVersions()).filter((v) => v.apiCode === versioned).length; n < MAXIMA.versionsPerApi; n++) {
      server.setNow(server.now() + 1_000);
      await publish(versioned);
    }
    server.setNow(server.now() + 1_000);
    expect(await refusalOf(() => publish(versioned))).toMatchObject({ code: "BAD_USER_INPUT", field: "input.apiCode" });
  });

  it("refuses a 1,001st API key, revoked ones counted", async () => {
    const revoked: string[] = [];
    for (let i = (await server.services.keys.list()).length; i < MAXIMA.apiKeys; i++) revoked.push(`revoked ${i}`, `hash ${i}`);
    await server.sql.run(
      `insert into api_keys (name, role, secret_hash, secret_prefix, created_by, created_at, revoked_at) values ${Array(revoked.length / 2).fill("(?, 'INTEGRATOR', ?, 'fg_', 'test', 0, 0)").join(", ")}`,
      ...revoked,
    );
    expect(await refusalOf(() => server.services.keys.create({ name: "one too many", role: "INTEGRATOR", resellerId: null }, OPERATOR))).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input",
    });
  });
});

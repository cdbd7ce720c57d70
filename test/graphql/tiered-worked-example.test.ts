/**
 * The worked example at the end of domain §8, figure for figure, over GraphQL as an operator
 * drives it: terms, enrollments, a pool, a pack, usage, then what the account shows. Test values
 * chosen for the test, not APS's (Flexgate ships none): revit at 1 token per 1200 s capped at 3
 * units a month; a complex job at its stored rate of 0.5 tokens; a Token Flex pool of 20 and a
 * Flex pack of 100.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { bearer, errorCodes, ok, request, unique } from "./support.js";

const REVIT = "design-automation/revit";
const COMPLEX = "model-derivative/complex-job";

let server: TestServer;
let accountId: string;

const RECORD = `mutation($input: UsageInput!) { recordUsage(input: $input) { charge {
  units tokens allocations { source amount units tokenFlexPool { externalRef } flexPack { orderRef } }
} } }`;

const ACCOUNT = `query($id: ID!) { account(id: $id) {
  status plan { tier payg effectiveFrom } planHistory { tier payg effectiveFrom }
  unitRemainders { apiCode quantity month }
  freeUsage(month: "2026-01") { apiCode capUnits usedUnits overrunUnits suspendedUntil }
  tokenFlexPools { tokens remaining expired externalRef }
  paygStatement(month: "2026-01") { month status tokens lines { apiCode units tokens } }
} }`;

function usage(apiCode: string, quantity: string, occurredAt: string) {
  return { eventId: unique("worked"), accountId, apiCode, quantity, outcome: "SUCCEEDED", occurredAt };
}

async function record(apiCode: string, quantity: string, occurredAt: string) {
  return (await ok(server, RECORD, { input: usage(apiCode, quantity, occurredAt) })).recordUsage.charge;
}

const account = async () => (await ok(server, ACCOUNT, { id: accountId })).account;

/** A receipt as "SOURCE amount", or "SOURCE Nu" for a part counted in units only. */
const parts = (charge: any) =>
  charge.allocations.map((part: any) => (part.units !== null && part.amount === "0" ? `${part.source} ${part.units}u` : `${part.source} ${part.amount}`));

beforeAll(async () => {
  server = await startTestServer({ now: "2025-12-20T00:00:00Z" });
  await ok(server, `mutation { publishPrice(input: { apiCode: "${REVIT}", meter: SECOND, unitQuantity: 1200, tokensPerUnit: "1", note: "test value, not APS's" }) { id } }`);
  await ok(server, `mutation { publishFreeCap(input: { apiCode: "${REVIT}", unitsPerMonth: 3, note: "test value, not APS's" }) { id } }`);
  accountId = (await ok(server, `mutation { createAccount(input: { name: "Worked example KK", country: "JP" }) { id } }`)).createAccount.id;
  server.setNow("2026-01-01T09:00:00Z");
  await ok(server, `mutation($id: ID!) { enrollPlan(input: { accountId: $id, tier: FREE, effectiveFrom: "2026-01-01T09:00:00Z" }) { id } }`, { id: accountId });
  server.setNow("2026-01-09T00:00:00Z");
});

afterAll(() => server.close());

describe("the worked example of domain §8, over GraphQL", () => {
  it("FREE: 1500 s is 1 unit free, 300 s left over", async () => {
    const charge = await record(REVIT, "1500", "2026-01-05T10:00:00Z");
    expect([charge.units, charge.tokens, parts(charge)]).toEqual([1, "0", ["FREE_ALLOWANCE 1u"]]);
    expect((await account()).unitRemainders).toEqual([{ apiCode: REVIT, quantity: "300", month: "2026-01" }]);
  });

  it("FREE: another 1500 s is 1 unit, 600 s left over", async () => {
    const charge = await record(REVIT, "1500", "2026-01-06T10:00:00Z");
    expect([charge.units, parts(charge)]).toEqual([1, ["FREE_ALLOWANCE 1u"]]);
    expect((await account()).unitRemainders).toEqual([{ apiCode: REVIT, quantity: "600", month: "2026-01" }]);
  });

  it("FREE: 3000 s is 3 units, 1 free and 2 overrun, and suspends revit until the 1st", async () => {
    const charge = await record(REVIT, "3000", "2026-01-07T10:00:00Z");
    expect([charge.units, charge.tokens, parts(charge)]).toEqual([3, "0", ["FREE_ALLOWANCE 1u", "OVERRUN 2u"]]);
    const { unitRemainders, freeUsage } = await account();
    expect(unitRemainders).toEqual([]);
    expect(freeUsage.find((row: any) => row.apiCode === REVIT)).toEqual({
      apiCode: REVIT,
      capUnits: 3,
      usedUnits: 3,
      overrunUnits: 2,
      suspendedUntil: "2026-02-01T00:00:00.000Z",
    });
  });

  it("FREE: 100 s of revit is refused API_SUSPENDED and charges nothing", async () => {
    const input = usage(REVIT, "100", "2026-01-08T10:00:00Z");
    const { body } = await server.graphql(RECORD, { input });
    expect(errorCodes(body)).toEqual(["API_SUSPENDED"]);
    expect(body.data ?? null).toBeNull();
    const charges = await ok(server, `query($id: ID!) { account(id: $id) { charges(first: 100) { edges { node { eventId } } } } }`, { id: accountId });
    expect(charges.account.charges.edges.map((edge: any) => edge.node.eventId)).not.toContain(input.eventId);
  });

  it("FREE: a complex job still rates", async () => {
    const charge = await record(COMPLEX, "1", "2026-01-08T11:00:00Z");
    expect([charge.units, charge.tokens]).toEqual([1, "0"]);
  });

  it("PAID with PAYG, pool 20 and pack 100: 36000 s is 30 tokens, pool 20 then pack 10 (revit no longer suspended)", async () => {
    server.setNow("2026-01-15T09:00:00Z");
    const enrolled = await ok(server, `mutation($id: ID!) { enrollPlan(input: { accountId: $id, tier: PAID, payg: true, effectiveFrom: "2026-01-15T00:00:00Z" }) { plan { tier payg effectiveFrom } } }`, {
      id: accountId,
    });
    expect(enrolled.enrollPlan.plan).toEqual({ tier: "PAID", payg: true, effectiveFrom: "2026-01-15T00:00:00.000Z" });
    await ok(server, `mutation($input: ImportTokenFlexPoolInput!) { importTokenFlexPool(input: $input) { id } }`, {
      input: { accountId, tokens: "20", startsAt: "2026-01-01T00:00:00Z", endsAt: "2027-01-01T00:00:00Z", externalRef: "EBA-worked-example" },
    });
    await ok(server, `mutation($input: RecordFlexPurchaseInput!) { recordFlexPurchase(input: $input) { id } }`, {
      input: { accountId, tokens: "100", purchasedAt: "2026-01-15T00:00:00Z", channel: "ESTORE", orderRef: "ESTORE-worked-example" },
    });
    server.setNow("2026-01-20T00:00:00Z");
    const charge = await record(REVIT, "36000", "2026-01-16T10:00:00Z");
    expect([charge.units, charge.tokens, parts(charge)]).toEqual([30, "30", ["TOKEN_FLEX 20", "FLEX_PACK 10"]]);
    expect(charge.allocations.map((part: any) => part.tokenFlexPool?.externalRef ?? part.flexPack?.orderRef)).toEqual(["EBA-worked-example", "ESTORE-worked-example"]);
  });

  it("PAID: 200 complex jobs at 0.5 are 100 tokens, pack 90 then PAYG 10", async () => {
    const charge = await record(COMPLEX, "200", "2026-01-17T10:00:00Z");
    expect([charge.units, charge.tokens, parts(charge)]).toEqual([200, "100", ["FLEX_PACK 90", "PAYG 10"]]);
    expect(charge.allocations.at(-1).units).toBe(20);
  });

  it("PAID: 600 s charges nothing and leaves 600 s", async () => {
    const charge = await record(REVIT, "600", "2026-01-18T10:00:00Z");
    expect([charge.units, charge.tokens, parts(charge)]).toEqual([0, "0", []]);
    expect((await account()).unitRemainders).toEqual([{ apiCode: REVIT, quantity: "600", month: null }]);
  });

  it("PAID: another 600 s completes 1 unit, paid by PAYG: the month's statement reads 11 tokens", async () => {
    const charge = await record(REVIT, "600", "2026-01-19T10:00:00Z");
    expect([charge.units, parts(charge)]).toEqual([1, ["PAYG 1"]]);
    const shown = await account();
    expect(shown.unitRemainders).toEqual([]);
    expect(shown.paygStatement).toEqual({
      month: "2026-01",
      status: "OPEN",
      tokens: "11",
      lines: [
        { apiCode: REVIT, units: 1, tokens: "1" },
        { apiCode: COMPLEX, units: 20, tokens: "10" },
      ],
    });
  });

  it("shows the plan history, the emptied pool and an ACTIVE account", async () => {
    const shown = await account();
    expect(shown.status).toBe("ACTIVE");
    expect(shown.plan).toEqual({ tier: "PAID", payg: true, effectiveFrom: "2026-01-15T00:00:00.000Z" });
    expect(shown.planHistory).toEqual([
      { tier: "LEGACY", payg: false, effectiveFrom: null },
      { tier: "FREE", payg: false, effectiveFrom: "2026-01-01T09:00:00.000Z" },
      { tier: "PAID", payg: true, effectiveFrom: "2026-01-15T00:00:00.000Z" },
    ]);
    expect(shown.tokenFlexPools).toEqual([{ tokens: "20", remaining: "0", expired: false, externalRef: "EBA-worked-example" }]);
  });

  it("exports the month as usage.csv: each row's units, overrun and sources, which add up to its tokens", async () => {
    const { status, text } = await request(server, `/export/usage.csv?accountId=${accountId}&from=2026-01-01&to=2026-02-01`, { headers: bearer(server.operatorKey) });
    expect(status).toBe(200);
    const [header, ...lines] = text.trimEnd().split("\r\n").map((line) => line.split(","));
    const rows = lines.map((cells) => Object.fromEntries(header!.map((name, i) => [name, cells[i]])));
    const sources = ["paidFromCredits", "paidFromTokenFlex", "paidFromFlex", "paidFromPayg", "deficit"];
    // apiCode, units, overrunUnits, tokens, then what paid them: credits, Token Flex, Flex, PAYG, deficit.
    expect(rows.map((row) => [row.apiCode, row.units, row.overrunUnits, row.tokens, ...sources.map((source) => row[source])])).toEqual([
      [REVIT, "1", "0", "0", "0", "0", "0", "0", "0"],
      [REVIT, "1", "0", "0", "0", "0", "0", "0", "0"],
      [REVIT, "3", "2", "0", "0", "0", "0", "0", "0"],
      [COMPLEX, "1", "1", "0", "0", "0", "0", "0", "0"], // no free cap for it: 0 units free
      [REVIT, "30", "0", "30", "0", "20", "10", "0", "0"],
      [COMPLEX, "200", "0", "100", "0", "0", "90", "10", "0"],
      [REVIT, "0", "0", "0", "0", "0", "0", "0", "0"],
      [REVIT, "1", "0", "1", "0", "0", "0", "1", "0"],
    ]);
    for (const row of rows) expect(sources.reduce((sum, source) => sum + Number(row[source]), 0)).toBe(Number(row.tokens));
  });

  it("shows the statement FINAL from 3 days after the month ends", async () => {
    server.setNow("2026-02-03T23:59:59Z");
    expect((await account()).paygStatement.status).toBe("OPEN");
    server.setNow("2026-02-04T00:00:00Z");
    expect((await account()).paygStatement).toMatchObject({ status: "FINAL", tokens: "11" });
  });
});

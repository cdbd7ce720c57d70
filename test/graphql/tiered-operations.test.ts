/**
 * The tiered regime's mutations and reads over GraphQL: each accepted and refused (the refusal
 * naming its field and writing nothing), who may do and read what, and partner scoping. Caps,
 * pools and dates are test values chosen for these tests, not APS's.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPERATOR } from "../fixtures/harness.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { createWorld, errorCodes, ok, unique, type World } from "./support.js";

let server: TestServer;
let world: World;

const ENROLL = `mutation($input: EnrollPlanInput!) { enrollPlan(input: $input) { id plan { tier payg effectiveFrom } } }`;
const PUBLISH_CAP = `mutation($input: PublishFreeCapInput!) { publishFreeCap(input: $input) { id apiCode unitsPerMonth effectiveFrom note } }`;
const IMPORT_POOL = `mutation($input: ImportTokenFlexPoolInput!) { importTokenFlexPool(input: $input) { id tokens remaining startsAt endsAt expired externalRef } }`;
const PLANS = `query($id: ID!) { account(id: $id) { plan { tier } planHistory { tier payg effectiveFrom } } }`;

/** Everything a refused mutation could have written. */
const audited = async () => (await server.services.audit.list(1, undefined, undefined)).totalCount;

async function anAccount(overrides: Record<string, unknown> = {}) {
  const account = await server.services.accounts.create({ name: unique("Tiered customer"), country: "JP", resellerId: Number(world.own.resellerId), ...overrides }, OPERATOR);
  return String(account.id);
}

/** Runs a refused operation and returns its one error, checking the code is in the closed set and nothing was written. */
async function refused(query: string, variables: Record<string, unknown>, key?: string) {
  const before = await audited();
  const { body } = await server.graphql(query, variables, key);
  expect(errorCodes(body)).toHaveLength(1);
  expect(body.data ?? null).toBeNull();
  expect(await audited()).toBe(before);
  return body.errors![0] as { message: string; extensions: { code: string; field?: string } };
}

beforeAll(async () => {
  server = await startTestServer({ now: "2026-01-10T00:00:00Z" });
  world = await createWorld(server, 2);
});

afterAll(() => server.close());

describe("enrollPlan", () => {
  it("enrolls an account in FREE from 2025-12-08 and keeps LEGACY first in its history", async () => {
    const id = await anAccount();
    const data = await ok(server, ENROLL, { input: { accountId: id, tier: "FREE", effectiveFrom: "2025-12-08T00:00:00Z" } });
    expect(data.enrollPlan).toEqual({ id, plan: { tier: "FREE", payg: false, effectiveFrom: "2025-12-08T00:00:00.000Z" } });
    expect((await ok(server, PLANS, { id })).account.planHistory).toEqual([
      { tier: "LEGACY", payg: false, effectiveFrom: null },
      { tier: "FREE", payg: false, effectiveFrom: "2025-12-08T00:00:00.000Z" },
    ]);
  });

  it("enrolls a Japanese account in PAID with PAYG, effective now by default", async () => {
    const data = await ok(server, ENROLL, { input: { accountId: await anAccount(), tier: "PAID", payg: true } });
    expect(data.enrollPlan.plan).toEqual({ tier: "PAID", payg: true, effectiveFrom: "2026-01-10T00:00:00.000Z" });
  });

  it.each([
    ["the LEGACY tier", { tier: "LEGACY" }, {}, "BAD_USER_INPUT", "input.tier"],
    ["an effectiveFrom before 2025-12-08", { tier: "FREE", effectiveFrom: "2025-12-07T23:59:59Z" }, {}, "BAD_USER_INPUT", "input.effectiveFrom"],
    ["an effectiveFrom more than 5 minutes ahead", { tier: "FREE", effectiveFrom: "2026-01-10T00:06:00Z" }, {}, "BAD_USER_INPUT", "input.effectiveFrom"],
    ["PAYG on FREE", { tier: "FREE", payg: true }, {}, "BAD_USER_INPUT", "input.payg"],
    ["PAYG for a Brazilian account", { tier: "PAID", payg: true }, { country: "BR" }, "PAYG_NOT_AVAILABLE", "input.payg"],
    ["PAYG for an account without a country", { tier: "PAID", payg: true }, { country: null }, "PAYG_NOT_AVAILABLE", "input.payg"],
  ])("refuses %s, naming the field and writing nothing", async (_label, input, account, code, field) => {
    const id = await anAccount(account);
    const error = await refused(ENROLL, { input: { accountId: id, ...input } });
    expect([error.extensions.code, error.extensions.field]).toEqual([code, field]);
    expect((await ok(server, PLANS, { id })).account.planHistory).toEqual([{ tier: "LEGACY", payg: false, effectiveFrom: null }]);
  });

  it("refuses an effectiveFrom at or before the account's last recorded usage", async () => {
    const id = await anAccount();
    await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, {
      input: { eventId: unique("before-enrolling"), accountId: id, apiCode: "model-derivative/complex-job", quantity: "1", outcome: "SUCCEEDED", occurredAt: "2026-01-05T00:00:00Z" },
    });
    const error = await refused(ENROLL, { input: { accountId: id, tier: "PAID", effectiveFrom: "2026-01-05T00:00:00Z" } });
    expect([error.extensions.code, error.extensions.field]).toEqual(["BAD_USER_INPUT", "input.effectiveFrom"]);
    expect((await ok(server, ENROLL, { input: { accountId: id, tier: "PAID", effectiveFrom: "2026-01-05T00:00:01Z" } })).enrollPlan.plan.tier).toBe("PAID");
  });

  it("shows each enrollment's own plan when one document enrolls twice", async () => {
    const id = await anAccount();
    const data = await ok(
      server,
      `mutation($id: ID!) {
        free: enrollPlan(input: { accountId: $id, tier: FREE, effectiveFrom: "2026-01-01T00:00:00Z" }) { plan { tier } }
        paid: enrollPlan(input: { accountId: $id, tier: PAID }) { plan { tier } planHistory { tier } }
      }`,
      { id },
    );
    expect(data).toEqual({ free: { plan: { tier: "FREE" } }, paid: { plan: { tier: "PAID" }, planHistory: [{ tier: "LEGACY" }, { tier: "FREE" }, { tier: "PAID" }] } });
  });

  it("refuses an account that does not exist as NOT_FOUND on input.accountId", async () => {
    const error = await refused(ENROLL, { input: { accountId: "999999", tier: "FREE" } });
    expect([error.extensions.code, error.extensions.field]).toEqual(["NOT_FOUND", "input.accountId"]);
  });

  it("refuses a PARTNER enrolling its own customer with FORBIDDEN before anything runs", async () => {
    const id = await anAccount();
    const error = await refused(ENROLL, { input: { accountId: id, tier: "FREE" } }, world.keys.PARTNER!);
    expect(error.extensions.code).toBe("FORBIDDEN");
    expect(error.message).toBe("a PARTNER key may not use enrollPlan");
    expect((await ok(server, PLANS, { id })).account.plan.tier).toBe("LEGACY");
  });
});

describe("publishFreeCap and freeCaps", () => {
  it("publishes a cap now or later, and freeCaps shows the one in force at asOf", async () => {
    const apiCode = unique("test/capped");
    await ok(server, `mutation($apiCode: String!) { publishPrice(input: { apiCode: $apiCode, meter: JOB, unitQuantity: 1, tokensPerUnit: "1", note: "test value, not APS's" }) { id } }`, { apiCode });
    const now = (await ok(server, PUBLISH_CAP, { input: { apiCode, unitsPerMonth: 5, note: "test value, not APS's" } })).publishFreeCap;
    expect(now).toMatchObject({ apiCode, unitsPerMonth: 5, effectiveFrom: "2026-01-10T00:00:00.000Z", note: "test value, not APS's" });
    await ok(server, PUBLISH_CAP, { input: { apiCode, unitsPerMonth: 0, effectiveFrom: "2026-02-01T00:00:00Z", note: "test value, not APS's" } });
    const caps = async (asOf?: string) =>
      (await ok(server, `query($asOf: DateTime) { freeCaps(asOf: $asOf) { apiCode unitsPerMonth } }`, { asOf }, world.keys.INTEGRATOR!)).freeCaps.filter(
        (cap: any) => cap.apiCode === apiCode,
      );
    expect(await caps()).toEqual([{ apiCode, unitsPerMonth: 5 }]);
    expect(await caps("2026-02-01T00:00:00Z")).toEqual([{ apiCode, unitsPerMonth: 0 }]);
    expect(await caps("2026-01-09T00:00:00Z")).toEqual([]);
  });

  it.each([
    ["a negative cap", { unitsPerMonth: -1 }, "BAD_USER_INPUT", "input.unitsPerMonth"],
    ["an effectiveFrom in the past", { unitsPerMonth: 3, effectiveFrom: "2026-01-09T00:00:00Z" }, "PRICE_CHANGE_IN_PAST", "input.effectiveFrom"],
    ["an empty note", { unitsPerMonth: 3, note: "" }, "BAD_USER_INPUT", "input.note"],
    ["a cap for an API without a price", { unitsPerMonth: 3 }, "PRICE_NOT_FOUND", "input.apiCode"],
  ])("refuses %s, naming the field and writing nothing", async (_label, input, code, field) => {
    const error = await refused(PUBLISH_CAP, { input: { apiCode: unique("test/capped"), note: "test value, not APS's", ...input } });
    expect([error.extensions.code, error.extensions.field]).toEqual([code, field]);
  });

  it("refuses a PARTNER with FORBIDDEN", async () => {
    const error = await refused(PUBLISH_CAP, { input: { apiCode: unique("test/capped"), unitsPerMonth: 3, note: "test value, not APS's" } }, world.keys.PARTNER!);
    expect(error.extensions.code).toBe("FORBIDDEN");
  });
});

describe("importTokenFlexPool", () => {
  const pool = (accountId: string, externalRef: string, overrides: Record<string, unknown> = {}) => ({
    input: { accountId, tokens: "20", startsAt: "2026-01-01T00:00:00Z", endsAt: "2027-01-01T00:00:00Z", externalRef, ...overrides },
  });

  it("imports a pool once: the same payload replays it, another is IDEMPOTENCY_CONFLICT on input.externalRef", async () => {
    const id = await anAccount();
    const ref = unique("EBA");
    const first = (await ok(server, IMPORT_POOL, pool(id, ref))).importTokenFlexPool;
    expect(first).toMatchObject({ tokens: "20", remaining: "20", startsAt: "2026-01-01T00:00:00.000Z", endsAt: "2027-01-01T00:00:00.000Z", expired: false, externalRef: ref });
    const before = await audited();
    expect((await ok(server, IMPORT_POOL, pool(id, ref))).importTokenFlexPool).toEqual(first);
    expect(await audited()).toBe(before);
    const error = await refused(IMPORT_POOL, pool(id, ref, { tokens: "21" }));
    expect([error.extensions.code, error.extensions.field]).toEqual(["IDEMPOTENCY_CONFLICT", "input.externalRef"]);
    const pools = await ok(server, `query($id: ID!) { account(id: $id) { tokenFlexPools { id tokens } } }`, { id });
    expect(pools.account.tokenFlexPools).toEqual([{ id: first.id, tokens: "20" }]);
  });

  it.each([
    ["zero tokens", { tokens: "0" }, "BAD_USER_INPUT", "input.tokens"],
    ["an end before the start", { endsAt: "2025-12-31T00:00:00Z" }, "BAD_USER_INPUT", "input.endsAt"],
    ["an account that does not exist", { accountId: "999999" }, "NOT_FOUND", "input.accountId"],
  ])("refuses %s, naming the field and writing nothing", async (_label, overrides, code, field) => {
    const error = await refused(IMPORT_POOL, pool(await anAccount(), unique("EBA"), overrides));
    expect([error.extensions.code, error.extensions.field]).toEqual([code, field]);
  });

  it("refuses a PARTNER with FORBIDDEN", async () => {
    const error = await refused(IMPORT_POOL, pool(await anAccount(), unique("EBA")), world.keys.PARTNER!);
    expect(error.extensions.code).toBe("FORBIDDEN");
  });

  it("lists expired pools only when asked", async () => {
    const id = await anAccount();
    await ok(server, IMPORT_POOL, pool(id, "EBA-ended", { startsAt: "2025-01-01T00:00:00Z", endsAt: "2026-01-01T00:00:00Z" }));
    await ok(server, IMPORT_POOL, pool(id, unique("EBA-running")));
    const pools = await ok(server, `query($id: ID!) { account(id: $id) { now: tokenFlexPools { externalRef expired } all: tokenFlexPools(includeExpired: true) { externalRef expired } } }`, { id });
    expect(pools.account.now.map((row: any) => row.expired)).toEqual([false]);
    expect(pools.account.all).toEqual([{ externalRef: "EBA-ended", expired: true }, pools.account.now[0]]);
  });
});

describe("reading the tiered fields", () => {
  const TIERED = `query($id: ID!) { account(id: $id) {
    plan { tier } planHistory { tier } freeUsage { apiCode } tokenFlexPools { id } unitRemainders { apiCode }
    paygStatement(month: "2026-01") { month status tokens lines { apiCode } }
  } }`;

  it("lets a PARTNER read all of it for its own customer", async () => {
    const data = await ok(server, TIERED, { id: world.own.accountIds[0] }, world.keys.PARTNER!);
    expect(data.account).toMatchObject({ plan: { tier: "LEGACY" }, paygStatement: { month: "2026-01", status: "OPEN", tokens: "0", lines: [] } });
  });

  it("answers a PARTNER reading another reseller's customer exactly as a missing account", async () => {
    const theirs = await server.graphql(TIERED, { id: world.other.accountIds[0] }, world.keys.PARTNER!);
    const missing = await server.graphql(TIERED, { id: "999999" }, world.keys.PARTNER!);
    expect(errorCodes(theirs.body)).toEqual(["NOT_FOUND"]);
    expect(theirs.body).toEqual(missing.body);
  });

  it.each([
    ["freeUsage", `freeUsage(month: "2026-13") { apiCode }`],
    ["paygStatement", `paygStatement(month: "January") { tokens }`],
  ])("refuses a malformed month of %s as BAD_USER_INPUT on month", async (_label, selection) => {
    const { body } = await server.graphql(`query($id: ID!) { account(id: $id) { ${selection} } }`, { id: world.own.accountIds[0] });
    expect(errorCodes(body)).toEqual(["BAD_USER_INPUT"]);
    expect(body.errors![0].extensions.field).toBe("month");
  });

  it("lets a METERING key read the units of a charge and its parts, but not the pool behind a part", async () => {
    const input = { eventId: unique("metered"), accountId: world.own.accountIds[1], apiCode: "model-derivative/complex-job", quantity: "2", outcome: "SUCCEEDED", occurredAt: "2026-01-09T00:00:00Z" };
    const data = await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { units allocations { source units } } } }`, { input }, world.keys.METERING!);
    // A LEGACY account's event is rated exactly: it has no charged units.
    expect(data.recordUsage.charge.units).toBeNull();
    const { body } = await server.graphql(
      `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { allocations { tokenFlexPool { externalRef } } } } }`,
      { input: { ...input, eventId: unique("metered") } },
      world.keys.METERING!,
    );
    expect(errorCodes(body)).toEqual(["FORBIDDEN"]);
    expect(body.errors![0].extensions.field).toBe("recordUsage.charge.allocations.tokenFlexPool");
  });
});

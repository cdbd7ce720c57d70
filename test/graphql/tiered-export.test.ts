/**
 * GET /export/payg.csv: a PAYG statement's lines as CSV, with the keys, partner scoping and
 * refusals of the usage export. The revit price is a test value chosen here, not APS's; the
 * complex job keeps its stored rate of 0.5 tokens a job.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPERATOR } from "../fixtures/harness.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { bearer, createWorld, errorCodes, ok, request, unique, type World } from "./support.js";

let server: TestServer;
let world: World;
let paygAccountId: string;
const MISSING = "999999";

const exportOf = (accountId: string, secret: string | null, month = "2026-01") =>
  request(server, `/export/payg.csv?accountId=${accountId}&month=${month}`, { headers: secret ? bearer(secret) : {} });

beforeAll(async () => {
  server = await startTestServer({ now: "2025-12-20T00:00:00Z" });
  world = await createWorld(server, 1);
  await server.services.prices.publish(
    { apiCode: "design-automation/revit", meter: "SECOND", unitQuantity: 1200, tokensPerUnitMicros: 1_000_000n, note: "test value, not APS's" },
    OPERATOR,
  );
  paygAccountId = world.own.accountIds[0]!;
  server.setNow("2026-01-02T00:00:00Z");
  await ok(server, `mutation($id: ID!) { enrollPlan(input: { accountId: $id, tier: PAID, payg: true, effectiveFrom: "2026-01-01T00:00:00Z" }) { id } }`, { id: paygAccountId });
  server.setNow("2026-01-20T00:00:00Z");
  // Nothing prepaid: every charged unit goes on the statement.
  for (const [apiCode, quantity] of [["model-derivative/complex-job", "4"], ["design-automation/revit", "2500"]] as const) {
    await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, {
      input: { eventId: unique("payg"), accountId: paygAccountId, apiCode, quantity, outcome: "SUCCEEDED", occurredAt: "2026-01-10T00:00:00Z" },
    });
  }
});

afterAll(() => server.close());

describe("GET /export/payg.csv", () => {
  it("gives the statement's lines, one per API, header row first", async () => {
    const { status, headers, text } = await exportOf(paygAccountId, server.operatorKey);
    expect(status).toBe(200);
    expect(headers.get("content-type")).toMatch(/^text\/csv/);
    expect(text.split("\r\n")).toEqual([
      "month,status,apiCode,units,tokens",
      "2026-01,OPEN,design-automation/revit,2,2",
      "2026-01,OPEN,model-derivative/complex-job,4,2",
      "",
    ]);
  });

  it("says FINAL from 3 days after the month ends", async () => {
    server.setNow("2026-02-04T00:00:00Z");
    const { text } = await exportOf(paygAccountId, server.operatorKey);
    expect(text.split("\r\n")[1]).toBe("2026-01,FINAL,design-automation/revit,2,2");
    server.setNow("2026-01-20T00:00:00Z");
  });

  it("gives a month without PAYG usage as the header alone", async () => {
    const { status, text } = await exportOf(paygAccountId, server.operatorKey, "2025-12");
    expect(status).toBe(200);
    expect(text).toBe("month,status,apiCode,units,tokens\r\n");
  });

  it("gives a partner its own customer's statement", async () => {
    const { status, text } = await exportOf(paygAccountId, world.keys.PARTNER!);
    expect(status).toBe(200);
    expect(text.trimEnd().split("\r\n")).toHaveLength(3);
  });

  it("answers someone else's account exactly like a missing one", async () => {
    const theirs = await exportOf(world.other.accountIds[0]!, world.keys.PARTNER!);
    const missing = await exportOf(MISSING, world.keys.PARTNER!);
    expect(theirs.status).toBe(404);
    expect(errorCodes(JSON.parse(theirs.text))).toEqual(["NOT_FOUND"]);
    expect(theirs.text).toBe(missing.text);
  });

  it.each([
    ["METERING", 403, "FORBIDDEN"],
    ["INTEGRATOR", 403, "FORBIDDEN"],
    ["revoked key", 401, "UNAUTHENTICATED"],
    ["no key", 401, "UNAUTHENTICATED"],
  ] as const)("refuses %s with %i %s", async (caller, status, code) => {
    const response = await exportOf(paygAccountId, caller === "no key" ? null : world.keys[caller]!);
    expect(response.status).toBe(status);
    expect(errorCodes(JSON.parse(response.text))).toEqual([code]);
  });

  it.each([
    ["a malformed account id", "abc", "2026-01", "accountId"],
    ["a malformed month", "OWN", "2026-1", "month"],
    ["a month 13", "OWN", "2026-13", "month"],
    ["no month", "OWN", "", "month"],
  ])("refuses %s as BAD_USER_INPUT naming the field", async (_label, accountId, month, field) => {
    const response = await exportOf(accountId === "OWN" ? paygAccountId : accountId, world.keys.PARTNER!, month);
    expect(response.status).toBe(400);
    const body = JSON.parse(response.text);
    expect(errorCodes(body)).toEqual(["BAD_USER_INPUT"]);
    expect(body.errors[0].extensions.field).toBe(field);
  });
});

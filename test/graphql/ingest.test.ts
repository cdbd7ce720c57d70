/**
 * POST /v1/events: a CloudEvents batch is recordUsageBatch by another road — the same keys, the
 * same idempotency, each event answered alone — with refusals naming the CloudEvent's own fields.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BATCH_SIZE } from "../../server/services/rating.service.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { bearer, CLOSED_CODES, createWorld, ok, request, trivialRequestMs, unique, usageInput, type World } from "./support.js";

const BATCH_TYPE = "application/cloudevents-batch+json";
const BATCH = `mutation($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { eventId replayed error { code field } charge { id tokens } } }`;

let server: TestServer;
let world: World;
beforeAll(async () => {
  server = await startTestServer();
  world = await createWorld(server, 1);
});
afterAll(() => server.close());

/** A usage event as a CloudEvent, from the API's UsageInput shape. */
function cloudEvent(input: ReturnType<typeof usageInput>, overrides: Record<string, unknown> = {}) {
  const { eventId, accountId, occurredAt, ...data } = input;
  return { specversion: "1.0", id: eventId, source: "//metering/test", type: "com.autodesk.aps.usage", subject: accountId, time: occurredAt, data, ...overrides };
}

async function send(body: unknown, key: string | null = world.keys.METERING, contentType = BATCH_TYPE) {
  const { status, text } = await request(server, "/v1/events", {
    method: "POST",
    headers: { "content-type": contentType, ...(key ? bearer(key) : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status, body: JSON.parse(text) };
}

const chargeCount = async () => Number(await server.sql.scalar("select count(*) from usage_charges"));

describe("POST /v1/events", () => {
  it("charges each event once: the same events sent again through GraphQL are replays of the same charges", async () => {
    const accountId = world.own.accountIds[0]!;
    const inputs = [usageInput(accountId, { quantity: "2" }), usageInput(accountId, { labels: [{ key: "job", value: "j-1" }], clientId: "app-1" })];
    const { status, body } = await send(inputs.map((input) => cloudEvent(input)));
    expect(status).toBe(200);
    expect(body).toEqual([
      { eventId: inputs[0]!.eventId, replayed: false, charge: { id: expect.any(String), tokens: "1", units: null }, error: null },
      { eventId: inputs[1]!.eventId, replayed: false, charge: { id: expect.any(String), tokens: "0.5", units: null }, error: null },
    ]);
    const again = await ok(server, BATCH, { inputs });
    expect(again.recordUsageBatch).toEqual(body.map((answer: any) => ({ eventId: answer.eventId, replayed: true, error: null, charge: { id: answer.charge.id, tokens: answer.charge.tokens } })));
    const resent = await send(inputs.map((input) => cloudEvent(input)));
    expect(resent.body.map((answer: any) => answer.replayed)).toEqual([true, true]);
  });

  it("answers each refused event alone, naming its CloudEvent field, and charges the others", async () => {
    const accountId = world.own.accountIds[0]!;
    const before = await chargeCount();
    const recorded = usageInput(accountId);
    await send([cloudEvent(recorded)]);
    const events = [
      cloudEvent(usageInput(accountId)),
      cloudEvent(usageInput(accountId, { quantity: "1.0000001" })),
      cloudEvent(usageInput("999999")),
      cloudEvent(usageInput(accountId), { type: "com.example.other" }),
      cloudEvent(usageInput(accountId), { data: undefined }),
      cloudEvent(usageInput(accountId, { occurredAt: "2030-01-01T00:00:00Z" })),
      cloudEvent(usageInput(accountId, { labels: [{ key: "a", value: "1" }, { key: "a", value: "2" }] })),
      cloudEvent({ ...recorded, quantity: "5" }),
      cloudEvent(usageInput(accountId, { apiCode: "no/such-api" })),
      "not an event",
      cloudEvent(usageInput(accountId, { eventId: "" })),
      cloudEvent(usageInput(accountId)),
    ];
    const { status, body } = await send(events);
    expect(status).toBe(200);
    expect(body.map((answer: any) => (answer.error ? `${answer.error.code} ${answer.error.field}` : "charged"))).toEqual([
      "charged",
      "BAD_USER_INPUT events.1.data.quantity",
      "NOT_FOUND events.2.subject",
      "BAD_USER_INPUT events.3.type",
      "BAD_USER_INPUT events.4.data",
      "BAD_USER_INPUT events.5.time",
      "BAD_USER_INPUT events.6.data.labels",
      "IDEMPOTENCY_CONFLICT events.7.id",
      "PRICE_NOT_FOUND events.8.data.apiCode",
      "BAD_USER_INPUT events.9",
      "BAD_USER_INPUT events.10.id",
      "charged",
    ]);
    for (const answer of body) if (answer.error) expect(CLOSED_CODES).toContain(answer.error.code);
    expect(body[10].error.message).toContain("events.10.id");
    expect(await chargeCount()).toBe(before + 3);
  });

  it("refuses an event with more than 20 labels by their number, 600,000 of them in under a second of CPU", async () => {
    const accountId = world.own.accountIds[0]!;
    const label = (n: number) => ({ key: `k${n}`, value: "v" });
    const over = await send([cloudEvent(usageInput(accountId, { labels: Array.from({ length: 21 }, (_, n) => label(n)) }))]);
    expect(over.body[0].error).toEqual({ code: "BAD_USER_INPUT", field: "events.0.data.labels", message: "events.0.data.labels may hold at most 20 labels" });
    const body = JSON.stringify([cloudEvent(usageInput(accountId, { labels: Array.from({ length: 600_000 }, (_, n) => label(n)) }))]);
    const baseline = await trivialRequestMs(server);
    const started = process.cpuUsage();
    const { status, text } = await request(server, "/v1/events", { method: "POST", headers: { "content-type": BATCH_TYPE, ...bearer(world.keys.METERING!) }, body });
    const spent = process.cpuUsage(started);
    expect([status, JSON.parse(text)[0].error.field]).toEqual([200, "events.0.data.labels"]);
    // Reading the 18 MB of JSON is all that is left.
    expect((spent.user + spent.system) / 1000 - baseline).toBeLessThan(1_000);
  });

  it.each([
    ["no key", null, 401, "UNAUTHENTICATED"],
    ["a partner key", "PARTNER", 403, "FORBIDDEN"],
    ["an integrator key", "INTEGRATOR", 403, "FORBIDDEN"],
    ["a revoked key", "revoked key", 401, "UNAUTHENTICATED"],
  ] as const)("refuses %s, writing nothing", async (_label, caller, status, code) => {
    const before = await chargeCount();
    const answer = await send([cloudEvent(usageInput(world.own.accountIds[0]!))], caller === null ? null : world.keys[caller]);
    expect(answer).toMatchObject({ status, body: { errors: [{ extensions: { code } }] } });
    expect(await chargeCount()).toBe(before);
  });

  it("takes an operator key, as recordUsageBatch does", async () => {
    const { status, body } = await send([cloudEvent(usageInput(world.own.accountIds[0]!))], server.operatorKey);
    expect(status).toBe(200);
    expect(body[0].error).toBeNull();
  });

  it.each([
    ["plain JSON", [], "application/json", 415, undefined],
    ["a body that is not JSON", "[{", BATCH_TYPE, 400, undefined],
    ["a body that is not a list", { events: [] }, BATCH_TYPE, 400, "events"],
    [`more than ${MAX_BATCH_SIZE} events`, "too many", BATCH_TYPE, 400, "events"],
  ] as const)("refuses %s whole, writing nothing", async (_label, body, contentType, status, field) => {
    const before = await chargeCount();
    const payload = body === "too many" ? Array.from({ length: MAX_BATCH_SIZE + 1 }, () => cloudEvent(usageInput(world.own.accountIds[0]!))) : body;
    const answer = await send(payload, world.keys.METERING, contentType);
    expect(answer.status).toBe(status);
    expect(answer.body.errors[0].extensions).toEqual({ code: "BAD_USER_INPUT", ...(field ? { field } : {}) });
    expect(await chargeCount()).toBe(before);
  });

  it("answers an empty batch with an empty list", async () => {
    expect(await send([])).toEqual({ status: 200, body: [] });
  });

  it("keeps answers unique per event id within one batch: a repeat is a replay of the first", async () => {
    const input = usageInput(world.own.accountIds[0]!, { eventId: unique("twice") });
    const { body } = await send([cloudEvent(input), cloudEvent(input)]);
    expect(body.map((answer: any) => answer.replayed)).toEqual([false, true]);
    expect(body[1].charge.id).toBe(body[0].charge.id);
  });
});

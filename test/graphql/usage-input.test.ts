/**
 * Usage events as metering clients write them: batch items that fail alone, RFC 3339 timestamps
 * in any spelling, labels kept exactly, quotes that know an event was recorded, and a full batch
 * under the body limit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BODY_LIMIT_BYTES } from "../../server/http/body-limit.js";
import { MAX_BATCH_SIZE, MAX_LABEL_KEY_LENGTH, MAX_LABEL_VALUE_LENGTH, MAX_LABELS } from "../../server/services/rating.service.js";
import { scalar } from "../fixtures/ledger-assertions.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { createWorld, ok, unique, usageInput } from "./support.js";
import { timeLimit } from "../fixtures/engine.js";

let server: TestServer;
let accountId: string;

beforeAll(async () => {
  server = await startTestServer();
  accountId = (await createWorld(server, 1)).own.accountIds[0]!;
});
afterAll(() => server.close());

const RECORD = `mutation($input: UsageInput!) { recordUsage(input: $input) { replayed charge { id eventId occurredAt labels { key value } } } }`;
const BATCH = `mutation($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { eventId replayed charge { id } error { code message field } } }`;
const QUOTE = `query($input: UsageInput!) { quoteUsage(input: $input) { tokens alreadyRecorded { id eventId } } }`;

const chargesOf = (eventIds: readonly string[]) =>
  scalar(server.sql, `select count(*) from usage_charges where event_id in (${eventIds.map(() => "?").join(", ")})`, ...eventIds);

/** A batch's answer as "charged" or "CODE field" per item. */
const outcomes = (results: { charge: unknown; error: { code: string; field: string } | null }[]) =>
  results.map((result) => (result.error ? `${result.error.code} ${result.error.field}` : result.charge ? "charged" : "nothing"));

/** The one error of a refused request, as "CODE field". */
async function refusal(query: string, variables: Record<string, unknown>): Promise<string> {
  const { body } = await server.graphql(query, variables);
  expect(body.errors, JSON.stringify(body)).toHaveLength(1);
  return `${body.errors![0].extensions.code} ${body.errors![0].extensions.field}`;
}

describe("a batch item with a malformed value fails alone", () => {
  const MALFORMED: [string, Record<string, unknown>, string][] = [
    ["a quantity in exponent notation", { quantity: "1e3" }, "quantity"],
    ["a negative quantity", { quantity: "-1" }, "quantity"],
    ["a quantity with 7 fractional digits", { quantity: "1.0000001" }, "quantity"],
    ["a quantity sent as a number", { quantity: 5 }, "quantity"],
    ["a date that is not one", { occurredAt: "yesterday" }, "occurredAt"],
    ["30 February", { occurredAt: "2024-02-30T00:00:00Z" }, "occurredAt"],
    ["a local time without a zone", { occurredAt: "2024-05-01T09:00:00" }, "occurredAt"],
  ];

  it("by variable: each malformed item is BAD_USER_INPUT on inputs.N.field, the others are charged", async () => {
    const inputs = [usageInput(accountId), ...MALFORMED.map(([, overrides]) => usageInput(accountId, overrides)), usageInput(accountId)];
    const { status, body } = await server.graphql(BATCH, { inputs });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(outcomes(body.data.recordUsageBatch)).toEqual([
      "charged",
      ...MALFORMED.map(([, , field], index) => `BAD_USER_INPUT inputs.${index + 1}.${field}`),
      "charged",
    ]);
    expect(body.data.recordUsageBatch[1].error.message).toMatch(/inputs\.1\.quantity must be a plain non-negative decimal/);
    expect(body.data.recordUsageBatch[5].error.message).toMatch(/inputs\.5\.occurredAt must be an RFC 3339 date-time/);
    expect(await chargesOf(inputs.map((input) => input.eventId))).toBe(2);
  });

  it("inline: a malformed literal fails its item alone too", async () => {
    const item = (eventId: string, quantity: string) =>
      `{ eventId: "${eventId}", accountId: "${accountId}", apiCode: "model-derivative/complex-job", quantity: ${quantity}, outcome: SUCCEEDED, occurredAt: "2024-05-31T12:00:00Z" }`;
    const [good, bad, number] = [unique("inline"), unique("inline"), unique("inline")];
    const data = await ok(server, `mutation { recordUsageBatch(inputs: [${item(good, '"1"')}, ${item(bad, '"1e3"')}, ${item(number, "5")}]) { eventId charge { id } error { code field } } }`);
    expect(outcomes(data.recordUsageBatch)).toEqual(["charged", "BAD_USER_INPUT inputs.1.quantity", "BAD_USER_INPUT inputs.2.quantity"]);
  });

  it(`records the other ${MAX_BATCH_SIZE - 1} events of a full batch with one malformed quantity`, async () => {
    const inputs = Array.from({ length: MAX_BATCH_SIZE }, (_, index) => usageInput(accountId, index === 500 ? { quantity: "1e3" } : {}));
    const { status, body } = await server.graphql(BATCH, { inputs });
    expect(status).toBe(200);
    const refused = outcomes(body.data.recordUsageBatch).filter((outcome) => outcome !== "charged");
    expect(refused).toEqual(["BAD_USER_INPUT inputs.500.quantity"]);
    expect(await chargesOf(inputs.map((input) => input.eventId))).toBe(MAX_BATCH_SIZE - 1);
  });

  it("keeps recordUsage and every other field strict: the whole request is refused on the named field, nothing written", async () => {
    const input = usageInput(accountId, { quantity: "1e3" });
    expect(await refusal(RECORD, { input })).toBe("BAD_USER_INPUT input.quantity");
    expect(await refusal(QUOTE, { input: usageInput(accountId, { occurredAt: "2024-05-01T09:00:00" }) })).toBe("BAD_USER_INPUT input.occurredAt");
    expect(await refusal(`query($at: DateTime) { priceTable(asOf: $at) { id } }`, { at: "tomorrow" })).toBe("BAD_USER_INPUT asOf");
    expect(await chargesOf([input.eventId])).toBe(0);
  });

  it("refuses a document of several mutations whole when a later one holds a malformed value: the earlier ones write nothing", async () => {
    const TWO = `mutation($first: UsageInput!, $second: UsageInput!) {
      first: recordUsage(input: $first) { charge { id } }
      second: recordUsage(input: $second) { charge { id } }
    }`;
    const first = usageInput(accountId);
    const second = usageInput(accountId, { quantity: "twelve" });
    const { body } = await server.graphql(TWO, { first, second });
    expect(body.data ?? null).toBeNull();
    expect(body.errors!.map((error: { path: string[]; extensions: { code: string; field: string } }) => [error.path, error.extensions.code, error.extensions.field])).toEqual([
      [["second"], "BAD_USER_INPUT", "input.quantity"],
    ]);
    // Inline, through a fragment, and in a field that is not recordUsage alike.
    const inline = usageInput(accountId);
    const inlineAnswer = await server.graphql(`mutation($first: UsageInput!) {
      first: recordUsage(input: $first) { charge { id } }
      ...Late
    }
    fragment Late on Mutation { importCreditLot(input: { accountId: "${accountId}", amount: "-x", purchasedAt: "2024-05-01T00:00:00Z", externalRef: "never" }) { id } }`, { first: inline });
    expect(inlineAnswer.body.errors!.map((error: { extensions: { code: string; field: string } }) => `${error.extensions.code} ${error.extensions.field}`)).toEqual(["BAD_USER_INPUT input.amount"]);
    expect(await chargesOf([first.eventId, inline.eventId])).toBe(0);
    expect(await scalar(server.sql, `select count(*) from credit_lots where external_ref = 'never'`)).toBe(0);
    // A field that @skip leaves out (by a variable's default) refuses nothing: the others run.
    const kept = usageInput(accountId);
    const skipped = await ok(
      server,
      `mutation($first: UsageInput!, $second: UsageInput!, $late: Boolean = true) {
        first: recordUsage(input: $first) { charge { id } }
        second: recordUsage(input: $second) @skip(if: $late) { charge { id } }
      }`,
      { first: kept, second: usageInput(accountId, { quantity: "twelve" }) },
    );
    expect(skipped.second).toBeUndefined();
    expect(await chargesOf([kept.eventId])).toBe(1);
    // Well-formed, both run, one after the other.
    const both = await ok(server, TWO, { first: usageInput(accountId), second: usageInput(accountId) });
    expect([both.first.charge.id, both.second.charge.id].every(Boolean)).toBe(true);
  });
});

describe("timestamps as clients write them", () => {
  it("records microseconds and offsets as the UTC millisecond; the same instant spelled otherwise replays, another conflicts", async () => {
    const eventId = unique("python");
    const first = await ok(server, RECORD, { input: usageInput(accountId, { eventId, occurredAt: "2024-05-31T21:00:00.123456+09:00" }) });
    expect(first.recordUsage).toMatchObject({ replayed: false, charge: { occurredAt: "2024-05-31T12:00:00.123Z" } });

    for (const spelling of ["2024-05-31T12:00:00.123Z", "2024-05-31T12:00:00.123999999Z", "2024-05-31T12:00:00.123+00:00", "2024-05-31T08:00:00.123-04:00"]) {
      const again = await ok(server, RECORD, { input: usageInput(accountId, { eventId, occurredAt: spelling }) });
      expect(again.recordUsage, spelling).toMatchObject({ replayed: true, charge: { id: first.recordUsage.charge.id } });
    }
    expect(await refusal(RECORD, { input: usageInput(accountId, { eventId, occurredAt: "2024-05-31T12:00:00.124Z" }) })).toBe("IDEMPOTENCY_CONFLICT input.eventId");
  });

  it("refuses anything else with a message that says what is expected", async () => {
    const { body } = await server.graphql(RECORD, { input: usageInput(accountId, { occurredAt: "31/05/2024 12:00" }) });
    expect(body.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.occurredAt" });
    expect(body.errors![0].message).toMatch(/input\.occurredAt must be an RFC 3339 date-time such as "2024-05-01T10:00:00Z"/);
  });
});

describe("labels are kept exactly", () => {
  const labels = (entries: [string, string][]) => entries.map(([key, value]) => ({ key, value }));

  it("keeps __proto__ as a label key: stored, shown, and part of the payload", async () => {
    const eventId = unique("proto");
    const input = usageInput(accountId, { eventId, labels: labels([["__proto__", "a"], ["job", "b"]]) });
    const recorded = await ok(server, RECORD, { input });
    expect(recorded.recordUsage.charge.labels).toEqual(labels([["__proto__", "a"], ["job", "b"]]));
    expect((await ok(server, RECORD, { input })).recordUsage.replayed).toBe(true);
    expect(await refusal(RECORD, { input: { ...input, labels: labels([["__proto__", "changed"], ["job", "b"]]) } })).toBe("IDEMPOTENCY_CONFLICT input.eventId");
  });

  it(`counts __proto__ towards the limit of ${MAX_LABELS} labels`, async () => {
    const many = labels([["__proto__", "x"], ...Array.from({ length: MAX_LABELS }, (_, i): [string, string] => [`k${i}`, "v"])]);
    const input = usageInput(accountId, { labels: many });
    expect(await refusal(RECORD, { input })).toBe("BAD_USER_INPUT input.labels");
    expect(await chargesOf([input.eventId])).toBe(0);
  });

  it("refuses keys with surrounding spaces instead of merging them with the bare key", async () => {
    for (const keys of [[" job"], ["job "], ["job", "job "], ["\tjob"]]) {
      const input = usageInput(accountId, { labels: labels(keys.map((key) => [key, "a"])) });
      expect(await refusal(RECORD, { input }), JSON.stringify(keys)).toBe("BAD_USER_INPUT input.labels");
      expect(await chargesOf([input.eventId])).toBe(0);
    }
  });
});

describe("quoteUsage for an event id already recorded", () => {
  it("names the charge recordUsage would replay; a different payload is IDEMPOTENCY_CONFLICT; a new id quotes with null", async () => {
    const input = usageInput(accountId);
    expect((await ok(server, QUOTE, { input })).quoteUsage.alreadyRecorded).toBeNull();
    const { recordUsage } = await ok(server, RECORD, { input });
    expect((await ok(server, QUOTE, { input })).quoteUsage.alreadyRecorded).toEqual({ id: recordUsage.charge.id, eventId: input.eventId });
    expect(await refusal(QUOTE, { input: { ...input, quantity: "2" } })).toBe("IDEMPOTENCY_CONFLICT input.eventId");
  });
});

describe("the body limit", () => {
  it(`accepts a ${MAX_BATCH_SIZE}-event batch with ${MAX_LABELS} labels of maximum size in 3-byte characters`, async () => {
    const text = (length: number, index: number) => `${"あ".repeat(length - 4)}${String(index).padStart(4, "0")}`;
    const inputs = Array.from({ length: MAX_BATCH_SIZE }, (_, event) => ({
      ...usageInput(accountId, { eventId: `${unique("full")}-${"e".repeat(100)}`.slice(0, 128), clientId: "c".repeat(128) }),
      labels: Array.from({ length: MAX_LABELS }, (_, index) => ({ key: text(MAX_LABEL_KEY_LENGTH, index), value: text(MAX_LABEL_VALUE_LENGTH, event) })),
    }));
    const size = Buffer.byteLength(JSON.stringify({ query: BATCH, variables: { inputs } }));
    expect(size).toBeGreaterThan(19_000_000);
    expect(size).toBeLessThanOrEqual(BODY_LIMIT_BYTES);
    const { status, body } = await server.graphql(BATCH, { inputs });
    expect(status).toBe(200);
    expect(outcomes(body.data.recordUsageBatch).filter((outcome) => outcome !== "charged")).toEqual([]);
  }, timeLimit(60_000));
});

/**
 * A corpus of hostile values sent over HTTP to every mutation and every query that takes
 * arguments (and to the argument-taking fields of Account), once as variables and once written
 * inline in the document. Each must get the api.md code with extensions.field naming the
 * argument path, leak nothing, and a refusal must leave every table exactly as it was (row
 * counts, sums and text lengths of every column).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  buildSchema,
  getNamedType,
  type GraphQLInputType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLField,
} from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorCode } from "../../server/core/errors.js";
import { MICROS_PER_TOKEN } from "../../server/core/money.js";
import { OPERATOR } from "../fixtures/harness.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { logicalSnapshot } from "./support/ledger-file.js";
import { errorsIn, expectSafeErrors } from "./support/safe-errors.js";
import { REPO_ROOT } from "./support/server-process.js";
import { timeLimit } from "../fixtures/engine.js";

const NOW = "2024-06-01T00:00:00Z";
const DAY = 86_400_000;
const schema = buildSchema(readFileSync(join(REPO_ROOT, "schema", "schema.graphql"), "utf8"));

/** A number token sent as it is written (`-0`, `1e3`), in the JSON body and in the document. */
class Raw {
  constructor(readonly token: string) {}
  toJSON() {
    return `@@raw:${this.token}@@`;
  }
}
const jsonBody = (value: unknown) => JSON.stringify(value).replace(/"@@raw:([^@]*)@@"/g, "$1");

interface Hostile {
  readonly label: string;
  readonly value: string | Raw;
}

const NUMBERS: readonly Hostile[] = ["-0", "1e3", "0x10", "1,5", "١٢", " 1", "1.0000001", "99999999999999999999"].map((text) => ({
  label: JSON.stringify(text),
  value: text,
}));
/** For Int arguments: the JSON-number spellings go as numbers, the others as (wrongly typed) strings. */
const INT_NUMBERS: readonly Hostile[] = NUMBERS.map(({ label, value }) =>
  /^-?\d+(\.\d+)?(e\d+)?$/.test(String(value)) ? { label: `${label} as a number`, value: new Raw(String(value)) } : { label, value },
);
const STRINGS = {
  empty: "",
  long: "x".repeat(10_000),
  control: "a\u0000b\u0007c\u001bd",
  rtl: "invoice\u202Egpj.exe",
  sql: "'; DROP TABLE accounts; --",
  html: '<script>alert(1)</script><img src=x onerror="alert(2)">',
};
type StringKind = keyof typeof STRINGS;
const DATES = {
  impossible: "2024-02-30",
  year0000: "0000-01-01T00:00:00Z",
  year9999: "9999-12-31T23:59:59Z",
  offsetWithoutColon: "2024-05-01T10:00:00+0900",
  noZone: "2024-05-01T10:00:00",
};
type DateKind = keyof typeof DATES;
const UNKNOWN_ID = "999999";
const MALFORMED_IDS = ["abc", "-1", "0", "1.5", "0x10", "١٢", " 1", "", "99999999999999999999", "1; DROP TABLE accounts"];

type Expectation = { readonly code: ErrorCode; readonly field: string } | "accepted";
type Mode = "variables" | "inline";

interface Case {
  readonly slot: string;
  readonly label: string;
  readonly value: unknown;
  /** What each mode must get; they differ only where JSON and GraphQL literals differ (`1e3`). */
  readonly expect: Record<Mode, Expectation>;
}

const bad = (field: string): Expectation => ({ code: "BAD_USER_INPUT", field });
const both = (expectation: Expectation) => ({ variables: expectation, inline: expectation });

/**
 * What a kind of argument must answer to the corpus. The kinds follow the rules of api.md and
 * the domain: references are 1–128 printable ASCII without spaces; free text is trimmed, bounded
 * and free of control and bidi-override characters but may say anything else (SQL and HTML are
 * stored verbatim, never run); dates are UTC, real and not in the future where usage and
 * purchases are concerned; read-only filters match nothing rather than fail.
 */
type Kind =
  | { kind: "decimal" }
  | { kind: "int"; accepts1000?: boolean; acceptsZero?: boolean }
  | { kind: "ref" }
  | { kind: "apiCode" }
  | { kind: "text"; optional?: boolean }
  | { kind: "code" }
  | { kind: "filterText" }
  | { kind: "cursor" }
  | { kind: "pastDate" }
  | { kind: "laterDate" }
  | { kind: "windowFrom"; to: string }
  | { kind: "windowTo"; bounded?: boolean }
  | { kind: "filterDate" }
  | { kind: "id"; unknown: "NOT_FOUND" | "accepted" }
  | { kind: "enum" };

function casesFor(slot: string, spec: Kind): Case[] {
  const field = slot;
  const strings = (accepted: readonly StringKind[] = []) =>
    (Object.keys(STRINGS) as StringKind[]).map((name) => ({
      slot,
      label: name,
      value: STRINGS[name],
      expect: both(accepted.includes(name) ? "accepted" : bad(field)),
    }));
  const dates = (accepted: readonly DateKind[], override: Partial<Record<DateKind, Expectation>> = {}) =>
    (Object.keys(DATES) as DateKind[]).map((name) => ({
      slot,
      label: name,
      value: DATES[name],
      expect: both(override[name] ?? (accepted.includes(name) ? "accepted" : bad(field))),
    }));
  switch (spec.kind) {
    case "decimal":
      return NUMBERS.map(({ label, value }) => ({ slot, label, value, expect: both(bad(field)) }));
    case "int":
      return INT_NUMBERS.map(({ label, value }) => ({
        slot,
        label,
        value,
        // JSON's 1e3 is the number 1000; a GraphQL literal 1e3 is a Float, never an Int.
        expect:
          value instanceof Raw && value.token === "1e3" && spec.accepts1000
            ? { variables: "accepted", inline: bad(field) }
            : // -0 is the Int 0, which a count that may be zero (a free cap of none) accepts.
              value instanceof Raw && value.token === "-0" && spec.acceptsZero
              ? both("accepted")
              : both(bad(field)),
      }));
    case "ref":
    case "apiCode":
    case "code":
    case "cursor":
      return strings();
    case "text":
      return strings(spec.optional ? ["empty", "sql", "html"] : ["sql", "html"]);
    case "filterText":
      return strings(["empty", "long", "control", "rtl", "sql", "html"]);
    case "pastDate":
      return dates([]);
    case "laterDate":
      return dates(["year9999"]);
    case "windowFrom":
      // A window starting in 9999 ends before it starts: the end is what is wrong.
      return dates([], { year9999: bad(spec.to) });
    case "windowTo":
      // A report's window spans at most three years (core/maxima.ts): one ending in 9999 is refused.
      return dates(spec.bounded ? [] : ["year9999"]);
    case "filterDate":
      return dates(["year9999"]);
    case "id":
      return [
        { slot, label: "unknown id", value: UNKNOWN_ID, expect: both(spec.unknown === "accepted" ? "accepted" : { code: "NOT_FOUND", field }) },
        // JSON 1e3 is the id 1000 (unknown); a literal 1e3 is a Float, which is no ID.
        { slot, label: "1e3 as a number", value: new Raw("1e3"), expect: { variables: spec.unknown === "accepted" ? "accepted" : { code: "NOT_FOUND", field }, inline: bad(field) } },
        ...MALFORMED_IDS.map((id) => ({ slot, label: `malformed id ${JSON.stringify(id)}`, value: id, expect: both(bad(field)) })),
      ];
    case "enum":
      return ["NOPE", "succeeded", "PLATINUM_", ""].map((value) => ({ slot, label: `enum ${JSON.stringify(value)}`, value, expect: both(bad(field)) }));
  }
}

// ---------------------------------------------------------------------------------------------
// Fixtures: the entities the valid baselines point at, made fresh where a case consumes them.

let server: TestServer;
let accountId: string;
let resellerId: string;
let unauthorizedResellerId: string;
let sequence = 0;
const unique = (prefix: string) => `${prefix}-${++sequence}`;
const ago = (days: number) => new Date(server.now() - days * DAY).toISOString();

async function freshCharge(): Promise<string> {
  return String(
    (await server.services.rating.recordUsage({
      eventId: unique("fixture-event"),
      accountId: Number(accountId),
      apiCode: "model-derivative/complex-job",
      quantityMicros: MICROS_PER_TOKEN,
      outcome: "SUCCEEDED",
      occurredAt: server.now() - DAY,
    })).charge.id,
  );
}
async function freshPrice(effectiveFrom: number | null): Promise<{ id: string; apiCode: string }> {
  const apiCode = unique("hostile/api");
  const version = await server.services.prices.publish(
    { apiCode, meter: "JOB", unitQuantity: 1, tokensPerUnitMicros: MICROS_PER_TOKEN, effectiveFrom, note: "fixture" },
    OPERATOR,
  );
  return { id: String(version.id), apiCode };
}
const usageInput = () => ({
  eventId: unique("hostile-event"),
  accountId,
  apiCode: "model-derivative/complex-job",
  quantity: "2",
  outcome: "SUCCEEDED",
  occurredAt: ago(1),
  clientId: "hostile-client",
  labels: [{ key: "job", value: "a" }],
});
const priceInput = () => ({
  apiCode: unique("hostile/publish"),
  name: "Hostile API",
  meter: "JOB",
  unitQuantity: 1,
  tokensPerUnit: "0.5",
  chargeableOutcomes: ["SUCCEEDED"],
  effectiveFrom: new Date(server.now() + DAY).toISOString(),
  note: "why",
});
const usageSlots = (prefix: string, idKind: Kind = { kind: "id", unknown: "NOT_FOUND" }): [string, Kind][] => [
  [`${prefix}.eventId`, { kind: "ref" }],
  [`${prefix}.accountId`, idKind],
  [`${prefix}.apiCode`, { kind: "apiCode" }],
  [`${prefix}.quantity`, { kind: "decimal" }],
  [`${prefix}.outcome`, { kind: "enum" }],
  [`${prefix}.occurredAt`, { kind: "pastDate" }],
  [`${prefix}.clientId`, { kind: "ref" }],
];
const labelSlots = (prefix: string): [string, Kind][] => [
  [`${prefix}.labels.0.key`, { kind: "text" }],
  [`${prefix}.labels.0.value`, { kind: "text", optional: true }],
];

interface Operation {
  /** Where the field lives: a root type, or Account/Reseller reached through account(id)/reseller(id). */
  readonly on: "Query" | "Mutation" | "Account" | "Reseller";
  readonly name: string;
  readonly selection: string;
  readonly valid: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  readonly slots: readonly [string, Kind][];
  /** Extra cases: domain refusals with their own codes. */
  readonly extra?: () => { label: string; args: Record<string, unknown>; expect: Expectation }[] | Promise<{ label: string; args: Record<string, unknown>; expect: Expectation }[]>;
  /** Label errors name the list (`input.labels`), not the item. */
  readonly fieldOf?: (slot: string) => string;
}

const labelsField = (slot: string) => slot.replace(/\.labels\.0\.(key|value)$/, ".labels");

const OPERATIONS: readonly Operation[] = [
  {
    on: "Mutation",
    name: "recordUsage",
    selection: "{ replayed charge { id tokens } }",
    valid: () => ({ input: usageInput() }),
    slots: [...usageSlots("input"), ...labelSlots("input")],
    fieldOf: labelsField,
    extra: () => [
      { label: "an API code with no price", args: { input: { ...usageInput(), apiCode: "no-such/api" } }, expect: { code: "PRICE_NOT_FOUND", field: "input.apiCode" } },
      { label: "usage 10 minutes ahead", args: { input: { ...usageInput(), occurredAt: new Date(server.now() + 600_000).toISOString() } }, expect: bad("input.occurredAt") },
    ],
  },
  {
    on: "Mutation",
    name: "recordUsageBatch",
    selection: "{ eventId replayed charge { id } error { code message field } }",
    valid: () => ({ inputs: [usageInput()] }),
    slots: [...usageSlots("inputs.0"), ...labelSlots("inputs.0")],
    fieldOf: labelsField,
    extra: async () => {
      // The first item replays an event recorded already, so the batch as a whole writes nothing.
      const recorded = usageInput();
      await server.services.rating.recordUsage({
        ...recorded,
        accountId: Number(accountId),
        quantityMicros: 2n * MICROS_PER_TOKEN,
        outcome: "SUCCEEDED",
        occurredAt: Date.parse(recorded.occurredAt),
        labels: { job: "a" },
      });
      return [
        { label: "a price-less API in the second item", args: { inputs: [recorded, { ...usageInput(), apiCode: "no-such/api" }] }, expect: { code: "PRICE_NOT_FOUND", field: "inputs.1.apiCode" } },
      ];
    },
  },
  {
    on: "Query",
    name: "quoteUsage",
    selection: "{ tokens allocations { source amount } }",
    valid: () => ({ input: usageInput() }),
    slots: [...usageSlots("input"), ...labelSlots("input")],
    fieldOf: labelsField,
  },
  {
    on: "Mutation",
    name: "createAccount",
    selection: "{ id name }",
    valid: () => ({ input: { name: "Hostile account", country: "JP", resellerId, balancePolicy: "HARD_STOP" } }),
    slots: [
      ["input.name", { kind: "text" }],
      ["input.country", { kind: "code" }],
      ["input.resellerId", { kind: "id", unknown: "NOT_FOUND" }],
      ["input.balancePolicy", { kind: "enum" }],
    ],
  },
  {
    on: "Mutation",
    name: "updateAccount",
    selection: "{ id name }",
    valid: () => ({ id: accountId, input: { name: "Renamed", country: "JP", resellerId, balancePolicy: "NEGATIVE_WITH_GRACE" } }),
    slots: [
      ["id", { kind: "id", unknown: "NOT_FOUND" }],
      ["input.name", { kind: "text" }],
      ["input.country", { kind: "code" }],
      ["input.resellerId", { kind: "id", unknown: "NOT_FOUND" }],
      ["input.balancePolicy", { kind: "enum" }],
    ],
  },
  {
    on: "Mutation",
    name: "createReseller",
    selection: "{ id name }",
    valid: () => ({ input: { name: "Hostile reseller", tier: "GOLD", flexAgreement: true, locations: ["JP"], languages: ["Japanese"], services: ["Flex"] } }),
    slots: [
      ["input.name", { kind: "text" }],
      ["input.tier", { kind: "enum" }],
      ["input.locations.0", { kind: "text" }],
      ["input.languages.0", { kind: "text" }],
      ["input.services.0", { kind: "text" }],
    ],
    fieldOf: (slot) => slot.replace(/\.0$/, ""),
  },
  {
    on: "Mutation",
    name: "updateReseller",
    selection: "{ id name }",
    valid: () => ({ id: resellerId, input: { name: "Renamed reseller", tier: "PLATINUM", locations: ["JP"] } }),
    slots: [
      ["id", { kind: "id", unknown: "NOT_FOUND" }],
      ["input.name", { kind: "text" }],
      ["input.tier", { kind: "enum" }],
      ["input.locations.0", { kind: "text" }],
    ],
    fieldOf: (slot) => slot.replace(/\.0$/, ""),
  },
  {
    on: "Mutation",
    name: "importCreditLot",
    selection: "{ id amount }",
    valid: () => ({ input: { accountId, amount: "12.5", purchasedAt: "2022-06-01T00:00:00Z", externalRef: unique("hostile-lot") } }),
    slots: [
      ["input.accountId", { kind: "id", unknown: "NOT_FOUND" }],
      ["input.amount", { kind: "decimal" }],
      ["input.purchasedAt", { kind: "pastDate" }],
      ["input.externalRef", { kind: "ref" }],
    ],
    extra: () => [
      { label: "a lot bought after credit sales ended", args: { input: { accountId, amount: "5", purchasedAt: "2023-01-01", externalRef: unique("late-lot") } }, expect: { code: "CREDIT_SALES_ENDED", field: "input.purchasedAt" } },
      { label: "a lot of 0 tokens", args: { input: { accountId, amount: "0", purchasedAt: "2022-06-01", externalRef: unique("zero-lot") } }, expect: bad("input.amount") },
    ],
  },
  {
    on: "Mutation",
    name: "recordFlexPurchase",
    selection: "{ id tokens }",
    valid: () => ({
      input: { accountId, tokens: "100", purchasedAt: ago(2), channel: "RESELLER", resellerId, orderRef: unique("hostile-order"), unitPrice: "1.25", currency: "JPY" },
    }),
    slots: [
      ["input.accountId", { kind: "id", unknown: "NOT_FOUND" }],
      ["input.tokens", { kind: "decimal" }],
      ["input.purchasedAt", { kind: "pastDate" }],
      ["input.channel", { kind: "enum" }],
      ["input.resellerId", { kind: "id", unknown: "NOT_FOUND" }],
      ["input.orderRef", { kind: "ref" }],
      ["input.unitPrice", { kind: "decimal" }],
      ["input.currency", { kind: "code" }],
    ],
    extra: () => [
      { label: "99.5 tokens", args: { input: { accountId, tokens: "99.5", purchasedAt: ago(2), channel: "ESTORE", orderRef: unique("o") } }, expect: bad("input.tokens") },
      { label: "an eStore sale before 2023-07-07", args: { input: { accountId, tokens: "100", purchasedAt: "2023-07-06", channel: "ESTORE", orderRef: unique("o") } }, expect: { code: "ESTORE_NOT_AVAILABLE", field: "input.purchasedAt" } },
      {
        label: "a reseller without a Flex agreement",
        args: { input: { accountId, tokens: "100", purchasedAt: ago(2), channel: "RESELLER", resellerId: unauthorizedResellerId, orderRef: unique("o") } },
        expect: { code: "RESELLER_NOT_FLEX_AUTHORIZED", field: "input.resellerId" },
      },
    ],
  },
  {
    on: "Mutation",
    name: "reverseCharge",
    selection: "{ id reversed }",
    valid: async () => ({ chargeId: await freshCharge(), reason: "customer complaint" }),
    slots: [
      ["chargeId", { kind: "id", unknown: "NOT_FOUND" }],
      ["reason", { kind: "text" }],
    ],
    extra: async () => {
      const chargeId = await freshCharge();
      await server.services.rating.reverseCharge(Number(chargeId), "first time", OPERATOR);
      return [{ label: "a charge reversed already", args: { chargeId, reason: "again" }, expect: bad("chargeId") }];
    },
  },
  {
    on: "Mutation",
    name: "publishPrice",
    selection: "{ id status }",
    valid: () => ({ input: priceInput() }),
    slots: [
      ["input.apiCode", { kind: "apiCode" }],
      ["input.name", { kind: "text" }],
      ["input.meter", { kind: "enum" }],
      ["input.unitQuantity", { kind: "int", accepts1000: true }],
      ["input.tokensPerUnit", { kind: "decimal" }],
      ["input.chargeableOutcomes.0", { kind: "enum" }],
      ["input.effectiveFrom", { kind: "laterDate" }],
      ["input.note", { kind: "text" }],
    ],
    extra: () => [
      { label: "a change effective yesterday", args: { input: { ...priceInput(), effectiveFrom: ago(1) } }, expect: { code: "PRICE_CHANGE_IN_PAST", field: "input.effectiveFrom" } },
    ],
  },
  {
    on: "Mutation",
    name: "previewPriceChange",
    selection: "{ events deltaTokens }",
    valid: () => ({ input: { ...priceInput(), apiCode: "model-derivative/complex-job" }, days: 30 }),
    slots: [
      ["input.apiCode", { kind: "apiCode" }],
      ["input.name", { kind: "text" }],
      ["input.meter", { kind: "enum" }],
      ["input.unitQuantity", { kind: "int", accepts1000: true }],
      ["input.tokensPerUnit", { kind: "decimal" }],
      ["input.chargeableOutcomes.0", { kind: "enum" }],
      // A preview ignores effectiveFrom (a change decided for yesterday may still be previewed).
      ["input.effectiveFrom", { kind: "laterDate" }],
      ["input.note", { kind: "text" }],
      ["days", { kind: "int" }],
    ],
  },
  {
    on: "Mutation",
    name: "cancelScheduledPrice",
    selection: "{ id status }",
    valid: async () => ({ id: (await freshPrice(server.now() + 10 * DAY)).id, reason: "changed our mind" }),
    slots: [
      ["id", { kind: "id", unknown: "NOT_FOUND" }],
      ["reason", { kind: "text" }],
    ],
    extra: async () => [{ label: "a version already in effect", args: { id: (await freshPrice(null)).id, reason: "too late" }, expect: { code: "PRICE_CHANGE_IN_PAST", field: "id" } }],
  },
  {
    on: "Mutation",
    name: "retirePrice",
    selection: "{ id retired }",
    valid: async () => ({ apiCode: (await freshPrice(null)).apiCode, effectiveFrom: new Date(server.now() + DAY).toISOString(), note: "end of life" }),
    slots: [
      ["apiCode", { kind: "apiCode" }],
      ["effectiveFrom", { kind: "laterDate" }],
      ["note", { kind: "text" }],
    ],
    extra: async () => [
      { label: "an API with no price", args: { apiCode: "no-such/api", note: "n" }, expect: { code: "NOT_FOUND", field: "apiCode" } },
      { label: "a retirement effective yesterday", args: { apiCode: (await freshPrice(null)).apiCode, effectiveFrom: ago(1), note: "n" }, expect: { code: "PRICE_CHANGE_IN_PAST", field: "effectiveFrom" } },
    ],
  },
  {
    on: "Mutation",
    name: "createApiKey",
    selection: "{ key { id } }",
    valid: () => ({ input: { name: "hostile key", role: "PARTNER", resellerId } }),
    slots: [
      ["input.name", { kind: "text" }],
      ["input.role", { kind: "enum" }],
      ["input.resellerId", { kind: "id", unknown: "NOT_FOUND" }],
    ],
  },
  {
    on: "Mutation",
    name: "revokeApiKey",
    selection: "{ id revokedAt }",
    valid: async () => ({ id: String((await server.services.keys.create({ name: unique("to revoke"), role: "METERING" }, OPERATOR)).key.id) }),
    slots: [["id", { kind: "id", unknown: "NOT_FOUND" }]],
  },
  { on: "Query", name: "account", selection: "{ id }", valid: () => ({ id: accountId }), slots: [["id", { kind: "id", unknown: "NOT_FOUND" }]] },
  {
    on: "Query",
    name: "accounts",
    selection: "{ totalCount }",
    valid: () => ({ first: 5, after: null, filter: { resellerId, nameContains: "Hostile" } }),
    slots: [
      ["first", { kind: "int" }],
      ["after", { kind: "cursor" }],
      ["filter.resellerId", { kind: "id", unknown: "accepted" }],
      ["filter.nameContains", { kind: "filterText" }],
    ],
  },
  { on: "Query", name: "reseller", selection: "{ id }", valid: () => ({ id: resellerId }), slots: [["id", { kind: "id", unknown: "NOT_FOUND" }]] },
  {
    on: "Query",
    name: "resellers",
    selection: "{ totalCount }",
    valid: () => ({ first: 5, after: null, filter: { location: "JP", language: "Japanese", service: "Flex", tier: "PLATINUM" } }),
    slots: [
      ["first", { kind: "int" }],
      ["after", { kind: "cursor" }],
      ["filter.location", { kind: "filterText" }],
      ["filter.language", { kind: "filterText" }],
      ["filter.service", { kind: "filterText" }],
      ["filter.tier", { kind: "enum" }],
    ],
  },
  { on: "Query", name: "priceTable", selection: "{ id }", valid: () => ({ asOf: ago(1) }), slots: [["asOf", { kind: "laterDate" }]] },
  { on: "Query", name: "priceHistory", selection: "{ id }", valid: () => ({ apiCode: "model-derivative/complex-job" }), slots: [["apiCode", { kind: "apiCode" }]] },
  {
    on: "Query",
    name: "usageAuthorization",
    selection: "{ allowed reason }",
    valid: () => ({ accountId, apiCode: "model-derivative/complex-job" }),
    slots: [
      ["accountId", { kind: "id", unknown: "NOT_FOUND" }],
      ["apiCode", { kind: "apiCode" }],
    ],
  },
  {
    on: "Query",
    name: "auditLog",
    selection: "{ totalCount }",
    valid: () => ({ first: 5, after: null, entityType: "Account", actor: null, from: null, to: null }),
    slots: [
      ["first", { kind: "int" }],
      ["after", { kind: "cursor" }],
      ["entityType", { kind: "filterText" }],
      ["actor", { kind: "filterText" }],
      ["from", { kind: "filterDate" }],
      ["to", { kind: "filterDate" }],
    ],
  },
  { on: "Account", name: "balance", selection: "{ available }", valid: () => ({ asOf: ago(1) }), slots: [["asOf", { kind: "pastDate" }]] },
  {
    on: "Account",
    name: "charges",
    selection: "{ totalCount }",
    valid: () => ({ first: 5, after: null, orderBy: "OCCURRED_AT_ASC", filter: { from: ago(30), to: ago(0), apiCode: "model-derivative/complex-job", clientId: "hostile-client" } }),
    slots: [
      ["first", { kind: "int" }],
      ["after", { kind: "cursor" }],
      ["orderBy", { kind: "enum" }],
      ["filter.from", { kind: "filterDate" }],
      ["filter.to", { kind: "filterDate" }],
      ["filter.apiCode", { kind: "filterText" }],
      ["filter.clientId", { kind: "filterText" }],
    ],
  },
  {
    on: "Account",
    name: "usageSummary",
    selection: "{ tokens }",
    valid: () => ({ from: ago(30), to: ago(0), groupBy: "DAY", clientId: "hostile-client" }),
    slots: [
      ["from", { kind: "windowFrom", to: "to" }],
      ["to", { kind: "windowTo", bounded: true }],
      ["groupBy", { kind: "enum" }],
      ["clientId", { kind: "ref" }],
    ],
  },
  {
    on: "Reseller",
    name: "accounts",
    selection: "{ totalCount }",
    valid: () => ({ first: 5, after: null }),
    slots: [
      ["first", { kind: "int" }],
      ["after", { kind: "cursor" }],
    ],
  },
  // The tiered regime's operations, last: their baselines move the clock into the regime
  // (enrollments start on or after 2025-12-08 and never ahead of now).
  {
    on: "Mutation",
    name: "enrollPlan",
    selection: "{ id plan { tier } }",
    valid: async () => ({ input: { accountId: await freshTieredAccount("JP"), tier: "PAID", payg: false, effectiveFrom: ago(1) } }),
    slots: [
      ["input.accountId", { kind: "id", unknown: "NOT_FOUND" }],
      ["input.tier", { kind: "enum" }],
      ["input.effectiveFrom", { kind: "pastDate" }],
    ],
    extra: async () => [
      { label: "back to LEGACY", args: { input: { accountId: await freshTieredAccount("JP"), tier: "LEGACY" } }, expect: bad("input.tier") },
      { label: "PAYG on the Free tier", args: { input: { accountId: await freshTieredAccount("JP"), tier: "FREE", payg: true } }, expect: bad("input.payg") },
      { label: "PAYG where it is not offered", args: { input: { accountId: await freshTieredAccount("BR"), tier: "PAID", payg: true } }, expect: { code: "PAYG_NOT_AVAILABLE", field: "input.payg" } },
      { label: "a start before the regime", args: { input: { accountId: await freshTieredAccount("JP"), tier: "FREE", effectiveFrom: "2025-12-07T00:00:00Z" } }, expect: bad("input.effectiveFrom") },
    ],
  },
  {
    on: "Mutation",
    name: "publishFreeCap",
    selection: "{ id unitsPerMonth }",
    valid: () => {
      enterTieredRegime();
      return { input: { apiCode: "design-automation/revit", unitsPerMonth: 3, effectiveFrom: new Date(server.now() + DAY + ++sequence * 1000).toISOString(), note: "hostile test value" } };
    },
    slots: [
      ["input.apiCode", { kind: "apiCode" }],
      ["input.unitsPerMonth", { kind: "int", accepts1000: true, acceptsZero: true }],
      ["input.effectiveFrom", { kind: "laterDate" }],
      ["input.note", { kind: "text" }],
    ],
    extra: () => [
      { label: "a cap effective yesterday", args: { input: { apiCode: "design-automation/revit", unitsPerMonth: 3, effectiveFrom: ago(1), note: "late" } }, expect: { code: "PRICE_CHANGE_IN_PAST", field: "input.effectiveFrom" } },
    ],
  },
  {
    on: "Mutation",
    name: "importTokenFlexPool",
    selection: "{ id tokens }",
    valid: async () => ({
      input: { accountId: await freshTieredAccount("JP"), tokens: "20", startsAt: "2026-01-01T00:00:00Z", endsAt: "2027-01-01T00:00:00Z", externalRef: unique("hostile-pool") },
    }),
    slots: [
      ["input.accountId", { kind: "id", unknown: "NOT_FOUND" }],
      ["input.tokens", { kind: "decimal" }],
      ["input.startsAt", { kind: "windowFrom", to: "input.endsAt" }],
      ["input.endsAt", { kind: "windowTo" }],
      ["input.externalRef", { kind: "ref" }],
    ],
  },
  {
    on: "Query",
    name: "freeCaps",
    selection: "{ apiCode unitsPerMonth }",
    valid: () => {
      enterTieredRegime();
      return { asOf: ago(0) };
    },
    slots: [["asOf", { kind: "filterDate" }]],
  },
];

/** The clock of the tiered operations: inside the regime, where enrollments may start. */
const enterTieredRegime = () => server.setNow("2026-06-01T00:00:00Z");

/** A new account with no usage yet, on the clock of the tiered regime: each enrollment needs its own. */
async function freshTieredAccount(country: string): Promise<string> {
  enterTieredRegime();
  return String((await server.services.accounts.create({ name: unique("hostile-tiered"), country }, OPERATOR)).id);
}

// ---------------------------------------------------------------------------------------------
// Documents: the same arguments as variables or written inline, from the committed SDL's types.

function fieldOf(operation: Operation): GraphQLField<unknown, unknown> {
  const type = operation.on === "Query" ? schema.getQueryType()! : operation.on === "Mutation" ? schema.getMutationType()! : schema.getType(operation.on);
  const field = (type as { getFields(): Record<string, GraphQLField<unknown, unknown>> }).getFields()[operation.name];
  if (!field) throw new Error(`${operation.on}.${operation.name} is not in the schema`);
  return field;
}

/** A value as a GraphQL literal of the given input type, however wrong the value is for it. */
function literal(value: unknown, type: GraphQLInputType): string {
  if (value === null || value === undefined) return "null";
  if (value instanceof Raw) return value.token;
  if (isNonNullType(type)) return literal(value, type.ofType);
  if (isListType(type)) return Array.isArray(value) ? `[${value.map((item) => literal(item, type.ofType)).join(", ")}]` : literal(value, type.ofType);
  if (isInputObjectType(type)) {
    const fields = type.getFields();
    return `{ ${Object.entries(value as Record<string, unknown>)
      .filter(([, inner]) => inner !== undefined)
      .map(([key, inner]) => `${key}: ${literal(inner, fields[key]!.type)}`)
      .join(", ")} }`;
  }
  if (isEnumType(type) && typeof value === "string" && /^[_A-Za-z][_0-9A-Za-z]*$/.test(value)) return value;
  if (isScalarType(type) && (typeof value === "number" || typeof value === "boolean")) return String(value);
  return JSON.stringify(value);
}

function documentFor(operation: Operation, args: Record<string, unknown>, mode: Mode): { query: string; variables?: Record<string, unknown> } {
  const field = fieldOf(operation);
  const given = field.args.filter((arg) => args[arg.name] !== undefined);
  const call =
    mode === "variables"
      ? `${operation.name}(${given.map((arg) => `${arg.name}: $${arg.name}`).join(", ")}) ${operation.selection}`
      : `${operation.name}(${given.map((arg) => `${arg.name}: ${literal(args[arg.name], arg.type)}`).join(", ")}) ${operation.selection}`;
  const body = operation.on === "Account" ? `account(id: "${accountId}") { ${call} }` : operation.on === "Reseller" ? `reseller(id: "${resellerId}") { ${call} }` : call;
  const kind = operation.on === "Mutation" ? "mutation" : "query";
  if (mode === "inline") return { query: `${kind} Hostile { ${body} }` };
  const definitions = given.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(", ");
  return { query: `${kind} Hostile${definitions ? `(${definitions})` : ""} { ${body} }`, variables: Object.fromEntries(given.map((arg) => [arg.name, args[arg.name]])) };
}

function withValue(args: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(args);
  const keys = path.split(".");
  let target: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[keys.at(-1)!] = value;
  return copy;
}

let totalRequests = 0;
async function send(document: { query: string; variables?: Record<string, unknown> }) {
  totalRequests++;
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${server.operatorKey}` },
    body: jsonBody(document),
  });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: unknown[] } };
}

const isReadOnly = (operation: Operation) => operation.on !== "Mutation" || operation.name === "previewPriceChange";

/** Runs one request and says what went wrong with it, if anything. */
async function check(operation: Operation, args: Record<string, unknown>, mode: Mode, expected: Expectation, echo: unknown): Promise<string | null> {
  const before = await logicalSnapshot(server.sql);
  const { status, body } = await send(documentFor(operation, args, mode));
  try {
    expectSafeErrors(body, { echoes: typeof echo === "string" ? [echo] : echo instanceof Raw ? [echo.token] : [] });
  } catch (error) {
    return `unsafe error: ${String(error).slice(0, 400)}`;
  }
  const got = errorsIn(body).map((error) => ({ code: error.extensions?.code, field: error.extensions?.field }));
  if (expected === "accepted") {
    if (got.length > 0 || status !== 200) return `expected acceptance, got ${status} ${JSON.stringify(got)} ${JSON.stringify(errorsIn(body)[0]?.message ?? "").slice(0, 160)}`;
    if (isReadOnly(operation) && JSON.stringify(await logicalSnapshot(server.sql)) !== JSON.stringify(before)) return "a read changed the database";
    return null;
  }
  if (JSON.stringify(got) !== JSON.stringify([expected])) {
    return `expected ${expected.code} on ${expected.field}, got ${JSON.stringify(got)} ${JSON.stringify(errorsIn(body)[0]?.message ?? "").slice(0, 160)}`;
  }
  if (JSON.stringify(await logicalSnapshot(server.sql)) !== JSON.stringify(before)) return "a refusal changed the database";
  return null;
}

beforeAll(async () => {
  server = await startTestServer({ now: NOW });
  const { services } = server;
  const reseller = await services.accounts.createReseller({ name: "Hostile Reseller", tier: "PLATINUM", flexAgreement: true, locations: ["JP"] }, OPERATOR);
  resellerId = String(reseller.id);
  unauthorizedResellerId = String((await services.accounts.createReseller({ name: "No Flex", tier: "GOLD", flexAgreement: false }, OPERATOR)).id);
  const account = await services.accounts.create({ name: "Hostile target", country: "JP", resellerId: reseller.id }, OPERATOR);
  accountId = String(account.id);
  await services.funding.recordFlexPurchase(
    { accountId: account.id, tokensMicros: 100_000n * MICROS_PER_TOKEN, purchasedAt: server.now() - 10 * DAY, channel: "ESTORE", orderRef: "hostile-seed" },
    OPERATOR,
  );
  await freshCharge();
});
afterAll(async () => {
  console.info(`hostile input: ${totalRequests} requests over ${OPERATIONS.length} operations, as variables and inline`);
  expect(await server.services.ledger.verify()).toEqual([]);
  // SQLite checks its file's pages; a PostgreSQL server keeps its own files whole.
  if (server.file) expect(server.file.db.$client.pragma("integrity_check")).toEqual([{ integrity_check: "ok" }]);
  await server.close();
});

it("covers every mutation and every query that takes arguments", () => {
  const covered = new Set(OPERATIONS.map((operation) => `${operation.on}.${operation.name}`));
  const needed = [
    ...Object.values(schema.getMutationType()!.getFields()).map((field) => `Mutation.${field.name}`),
    ...Object.values(schema.getQueryType()!.getFields()).filter((field) => field.args.length > 0).map((field) => `Query.${field.name}`),
  ];
  expect(needed.filter((name) => !covered.has(name))).toEqual([]);
  // Every argument of every covered field is attacked somewhere (booleans aside).
  for (const operation of OPERATIONS) {
    const slots = operation.slots.map(([slot]) => slot.split(".")[0]);
    const attackable = fieldOf(operation).args.filter((arg) => getNamedType(arg.type).name !== "Boolean").map((arg) => arg.name);
    expect(attackable.filter((arg) => !slots.includes(arg)), `${operation.on}.${operation.name}`).toEqual([]);
  }
});

describe.each(OPERATIONS.map((operation) => [`${operation.on === "Query" || operation.on === "Mutation" ? "" : `${operation.on}.`}${operation.name}`, operation] as const))(
  "%s",
  (_name, operation) => {
    it("answers every hostile value with the contract's code on the named field, and a refusal writes nothing", async () => {
      const mismatches: string[] = [];
      let requests = 0;
      for (const [slot, kind] of operation.slots) {
        for (const testCase of casesFor(slot, kind)) {
          for (const mode of ["variables", "inline"] as const) {
            const raw = testCase.expect[mode];
            const expected = raw === "accepted" ? raw : { ...raw, field: (operation.fieldOf ?? ((s: string) => s))(raw.field) };
            const args = withValue(await operation.valid(), slot, testCase.value);
            requests++;
            const problem = await check(operation, args, mode, expected, testCase.value);
            if (problem) mismatches.push(`${slot} = ${testCase.label} [${mode}]: ${problem}`);
          }
        }
      }
      for (const extra of (await operation.extra?.()) ?? []) {
        for (const mode of ["variables", "inline"] as const) {
          requests++;
          const problem = await check(operation, extra.args, mode, extra.expect, undefined);
          if (problem) mismatches.push(`${extra.label} [${mode}]: ${problem}`);
        }
      }
      // The baseline itself is accepted, so every refusal above is the hostile value's doing.
      expect(await check(operation, await operation.valid(), "variables", "accepted", undefined)).toBeNull();
      expect(mismatches, `${mismatches.length} of ${requests} requests`).toEqual([]);
    }, timeLimit(60_000));
  },
);

it("stores SQL and HTML in free text verbatim and runs none of it", async () => {
  const { body } = await send({
    query: `mutation($input: CreateAccountInput!) { createAccount(input: $input) { id name } }`,
    variables: { input: { name: STRINGS.sql } },
  });
  expectSafeErrors(body);
  const created = (body.data as { createAccount: { id: string; name: string } }).createAccount;
  expect(created.name).toBe(STRINGS.sql);
  const { body: read } = await send({ query: `query($id: ID!) { account(id: $id) { name } }`, variables: { id: created.id } });
  expect(read.data).toEqual({ account: { name: STRINGS.sql } });
  expect(await server.sql.scalar("select count(*) from accounts")).toBeGreaterThan(1);
});

describe("GET /export/usage.csv", () => {
  it("answers hostile query parameters with the contract's code on the named parameter, and writes nothing", async () => {
    const valid = () => ({ accountId, from: ago(30), to: ago(0) });
    const slots: [keyof ReturnType<typeof valid>, Kind][] = [
      ["accountId", { kind: "id", unknown: "NOT_FOUND" }],
      ["from", { kind: "windowFrom", to: "to" }],
      ["to", { kind: "windowTo" }],
    ];
    const cases = slots.flatMap(([slot, kind]) => casesFor(slot, kind).map((testCase) => ({ ...testCase, params: { ...valid(), [slot]: testCase.value instanceof Raw ? testCase.value.token : testCase.value } })));
    cases.push({ slot: "accountId", label: "given twice", value: "", expect: both(bad("accountId")), params: valid() });
    const mismatches: string[] = [];
    for (const testCase of cases) {
      const query = new URLSearchParams(testCase.params as Record<string, string>);
      if (testCase.label === "given twice") query.append("accountId", accountId);
      const before = await logicalSnapshot(server.sql);
      totalRequests++;
      const response = await fetch(`${server.url}/export/usage.csv?${query}`, { headers: { authorization: `Bearer ${server.operatorKey}` } });
      const text = await response.text();
      // A query parameter is text, as an inline literal is: "1e3" is no id there.
      const expected = testCase.expect.inline;
      if (expected === "accepted") {
        if (response.status !== 200 || !text.startsWith("occurredAt,")) mismatches.push(`${testCase.slot} = ${testCase.label}: expected a CSV, got ${response.status} ${text.slice(0, 160)}`);
        continue;
      }
      const body = JSON.parse(text) as unknown;
      expectSafeErrors(body, { echoes: [String(testCase.value)] });
      const got = errorsIn(body).map((error) => ({ code: error.extensions?.code, field: error.extensions?.field }));
      const status = expected.code === "NOT_FOUND" ? 404 : 400;
      if (response.status !== status || JSON.stringify(got) !== JSON.stringify([expected])) {
        mismatches.push(`${testCase.slot} = ${testCase.label}: expected ${status} ${expected.code} on ${expected.field}, got ${response.status} ${JSON.stringify(got)}`);
      }
      if (JSON.stringify(await logicalSnapshot(server.sql)) !== JSON.stringify(before)) mismatches.push(`${testCase.slot} = ${testCase.label}: the database changed`);
    }
    expect(mismatches).toEqual([]);
  });
});

/**
 * The schema integrators see: the committed SDL is what the code builds and what the server
 * serves, everything in it is described, and every key may introspect it in production.
 */
import { readFileSync } from "node:fs";
import {
  buildClientSchema,
  getIntrospectionQuery,
  type IntrospectionQuery,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  lexicographicSortSchema,
  printSchema,
} from "graphql";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { printedSchema } from "../../server/graphql/schema.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { CALLERS, createWorld, errorCodes, keyOf, ok, type World } from "./support.js";

const committed = readFileSync(new URL("../../schema/schema.graphql", import.meta.url), "utf8");

let server: TestServer;
let world: World;

beforeAll(async () => {
  // Apollo turns introspection off when NODE_ENV is production at construction, unless told otherwise.
  vi.stubEnv("NODE_ENV", "production");
  server = await startTestServer();
  world = await createWorld(server, 1);
});

afterAll(async () => {
  await server.close();
  vi.unstubAllEnvs();
});

const introspect = async (key?: string | null) => server.graphql<IntrospectionQuery>(getIntrospectionQuery({ inputValueDeprecation: true }), {}, key);

describe("the committed SDL", () => {
  it("equals the schema printed from the code (run `npm run schema:emit` after changing it)", () => {
    expect(printedSchema()).toBe(committed);
  });

  it("equals the schema the server serves, read by introspection over HTTP", async () => {
    const data = await ok<IntrospectionQuery>(server, getIntrospectionQuery({ inputValueDeprecation: true }));
    expect(`${printSchema(lexicographicSortSchema(buildClientSchema(data)))}\n`).toBe(committed);
  });

  it("keeps every name of the public contract in api.md", async () => {
    const schema = buildClientSchema(await ok<IntrospectionQuery>(server, getIntrospectionQuery({ inputValueDeprecation: true })));
    const absent: string[] = [];
    for (const line of CONTRACT.trim().split("\n")) {
      const [typeName, members] = line.split(":").map((part) => part.trim()) as [string, string];
      const type = schema.getType(typeName);
      if (!type) {
        absent.push(typeName);
        continue;
      }
      for (const member of members.split(/\s+/).filter(Boolean)) {
        const [name, args] = /^(\w+)(?:\(([\w,]+)\))?$/.exec(member)!.slice(1) as [string, string | undefined];
        if (isEnumType(type)) {
          if (!type.getValue(name)) absent.push(`${typeName}.${name}`);
        } else if (isObjectType(type) || isInputObjectType(type)) {
          const field = type.getFields()[name];
          if (!field) absent.push(`${typeName}.${name}`);
          for (const arg of args?.split(",") ?? []) {
            if (field && "args" in field && !field.args.some((candidate) => candidate.name === arg)) absent.push(`${typeName}.${name}(${arg})`);
          }
        }
      }
    }
    expect(absent).toEqual([]);
  });
});

/** The names api.md fixes: `Type: field field(arg,arg) …`, enum values for enums. */
const CONTRACT = `
Query: viewer account(id) accounts(first,after,filter) reseller(id) resellers(first,after,filter) priceTable(asOf) priceHistory(apiCode) quoteUsage(input) usageAuthorization(accountId,apiCode) auditLog(first,after)
Mutation: recordUsage(input) recordUsageBatch(inputs) createAccount(input) updateAccount(id,input) createReseller(input) updateReseller(id,input) importCreditLot(input) recordFlexPurchase(input) reverseCharge(chargeId,reason) publishPrice(input) cancelScheduledPrice(id,reason) previewPriceChange(input,days) createApiKey(input) revokeApiKey(id)
Account: id name country reseller balancePolicy status balance(asOf) creditLots(includeExpired) flexPacks(includeExpired) charges(first,after,filter) usageSummary(from,to,groupBy) forecast alerts
AccountConnection: edges pageInfo totalCount
AccountEdge: cursor node
PageInfo: hasNextPage endCursor
CreditLot: id amount remaining purchasedAt expiresAt expired externalRef
FlexPack: id tokens remaining purchasedAt expiresAt expired channel reseller orderRef
PriceEntry: id apiCode name meter unitQuantity tokensPerUnit chargeableOutcomes effectiveFrom effectiveTo status note publishedBy publishedAt
Reseller: id name tier flexAgreement active locations languages services accounts
UsageCharge: id eventId account apiCode priceEntry quantity outcome occurredAt ratedAt clientId tokens allocations reversed
Allocation: source amount creditLot flexPack
UsageInput: eventId accountId apiCode quantity outcome occurredAt clientId
CreateAccountInput: name country resellerId balancePolicy
CreateResellerInput: name tier flexAgreement locations languages services
ImportCreditLotInput: accountId amount purchasedAt externalRef
RecordFlexPurchaseInput: accountId tokens purchasedAt channel resellerId orderRef unitPrice currency
PublishPriceInput: apiCode name meter unitQuantity tokensPerUnit chargeableOutcomes effectiveFrom note
CreateApiKeyInput: name role resellerId
RecordUsagePayload: charge replayed
RecordUsageResult: eventId charge replayed error
UsageError: code message field
Balance: cloudCredits flexTokens deficit available graceEndsAt
CreatedApiKey: key secret
UsageQuote: tokens priceEntry allocations balanceAfter
UsageAuthorization: allowed status reason
UsageSummaryRow: periodStart apiCode events quantity tokens
BalanceForecast: burnRatePerDay depletesAt expiringWithin90Days expiringUnused
BalanceAlert: kind message tokens at
PriceImpact: days events currentTokens proposedTokens deltaTokens
UsageGrouping: DAY MONTH
AlertKind: LOW_BALANCE EXPIRING_SOON DEFICIT RESTRICTED
Role: OPERATOR PARTNER METERING INTEGRATOR
BalancePolicy: NEGATIVE_WITH_GRACE HARD_STOP
AccountStatus: ACTIVE GRACE RESTRICTED
PartnerTier: PLATINUM GOLD
SalesChannel: RESELLER ESTORE
Meter: SECOND JOB PHOTO CALL GIGAPIXEL MEGABYTE
UsageOutcome: SUCCEEDED FAILED CANCELLED
PriceStatus: SCHEDULED ACTIVE SUPERSEDED CANCELLED
AllocationSource: CREDIT_LOT FLEX_PACK DEFICIT
Tokens:
Quantity:
DateTime:
`;

describe("descriptions", () => {
  it("use English plurals and articles", () => {
    expect(committed).toContain('"""A page of audit entries."""');
    expect(committed).not.toMatch(/\b(entrys|a [AEIOU][A-Z]+ key)\b/);
  });

  it("every type, field, argument, input field and enum value served has a non-empty description", async () => {
    const schema = buildClientSchema(await ok<IntrospectionQuery>(server, getIntrospectionQuery({ inputValueDeprecation: true })));
    const undescribed: string[] = [];
    const check = (what: string, description: string | null | undefined) => {
      if (!description?.trim()) undescribed.push(what);
    };
    let described = 0;
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith("__")) continue;
      check(type.name, type.description);
      described++;
      if (isObjectType(type) || isInterfaceType(type)) {
        for (const field of Object.values(type.getFields())) {
          check(`${type.name}.${field.name}`, field.description);
          for (const arg of field.args) check(`${type.name}.${field.name}(${arg.name})`, arg.description);
          described += 1 + field.args.length;
        }
      }
      if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) check(`${type.name}.${field.name}`, field.description);
      }
      if (isEnumType(type)) {
        for (const value of type.getValues()) check(`${type.name}.${value.name}`, value.description);
      }
    }
    expect(undescribed).toEqual([]);
    expect(described).toBeGreaterThan(200);
  });
});

describe("introspection with NODE_ENV=production", () => {
  it("runs under production settings", () => {
    expect(process.env.NODE_ENV).toBe("production");
  });

  it.each(CALLERS.map((caller) => [caller, caller === "no key" || caller === "revoked key" ? "UNAUTHENTICATED" : "allowed"] as const))(
    "%s: %s",
    async (caller, outcome) => {
      const { status, body } = await introspect(keyOf(world, caller));
      if (outcome === "allowed") {
        expect(body.errors).toBeUndefined();
        expect(status).toBe(200);
        expect(body.data!.__schema.queryType.name).toBe("Query");
        expect(body.data!.__schema.types.map((type) => type.name)).toContain("UsageCharge");
        return;
      }
      expect(status).toBe(401);
      expect(errorCodes(body)).toEqual([outcome]);
    },
  );

  it("a small introspection query and __typename work for a key with the fewest rights", async () => {
    const data = await ok(server, `{ __typename __type(name: "Tokens") { kind description } }`, {}, world.keys.INTEGRATOR!);
    expect(data).toEqual({ __typename: "Query", __type: { kind: "SCALAR", description: expect.stringMatching(/6 fractional digits/) } });
  });

  it("errors carry no stack trace in production", async () => {
    const { body } = await server.graphql(`{ account(id: "abc") { id } }`, {}, world.keys.OPERATOR!);
    expect(body.errors![0].extensions).toEqual({ code: "BAD_USER_INPUT", field: "id" });
  });
});

/**
 * What the tiered regime adds to the existing reads (domain §8, api.md "The tiered regime"):
 * Account.balance with Token Flex pools and no tiered grace end, a quote's units and remainder,
 * usageAuthorization's code, the forecast's `unlimited`, a usage summary's units, and the Free
 * tier's alerts. Test values chosen for these tests, not APS's (Flexgate ships none): revit at
 * 1 token per 1200 s capped at 3 units a month; a made-up photo API at 1 token a photo capped at
 * 5 a month; a Token Flex pool of 20 tokens; the complex job at its stored rate of 0.5.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import { at } from "../fixtures/harness.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { createWorld, errorCodes, ok, unique, type World } from "./support.js";

const REVIT = "design-automation/revit";
const PHOTOS = "test/photos";
const COMPLEX = "model-derivative/complex-job";

let server: TestServer;
let world: World;
/** Accounts by what they show. */
const ids: Record<"free" | "prepay" | "owing" | "payg" | "legacy" | "legacyOwing" | "hardStop", string> = {} as never;

const RECORD = `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id units tokens } } }`;
const BALANCE = `query($id: ID!) { account(id: $id) { status balance { cloudCredits flexTokens deficit available graceEndsAt } } }`;
const QUOTE = `query($input: UsageInput!) { quoteUsage(input: $input) {
  tokens units remainderAfter { apiCode quantity month }
  allocations { source amount units tokenFlexPool { externalRef } }
} }`;
const AUTHORIZATION = `query($id: ID!, $api: String!) { usageAuthorization(accountId: $id, apiCode: $api) { allowed status reason code } }`;

function usage(accountId: string, apiCode: string, quantity: string, occurredAt: string, outcome = "SUCCEEDED") {
  return { eventId: unique("wiring"), accountId, apiCode, quantity, outcome, occurredAt };
}

const record = async (accountId: string, apiCode: string, quantity: string, occurredAt: string, outcome?: string) =>
  (await ok(server, RECORD, { input: usage(accountId, apiCode, quantity, occurredAt, outcome) })).recordUsage.charge;

async function anAccount(name: string, balancePolicy = "NEGATIVE_WITH_GRACE") {
  return (await ok(server, `mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }`, {
    input: { name: unique(name), country: "JP", resellerId: world.own.resellerId, balancePolicy },
  })).createAccount.id as string;
}

const enroll = (id: string, tier: "FREE" | "PAID", payg = false) =>
  ok(server, `mutation($input: EnrollPlanInput!) { enrollPlan(input: $input) { id } }`, { input: { accountId: id, tier, payg, effectiveFrom: "2026-01-01T00:00:00Z" } });

beforeAll(async () => {
  server = await startTestServer({ now: "2025-12-20T00:00:00Z" });
  world = await createWorld(server, 1);
  await ok(server, `mutation { publishPrice(input: { apiCode: "${REVIT}", meter: SECOND, unitQuantity: 1200, tokensPerUnit: "1", note: "test value, not APS's" }) { id } }`);
  await ok(server, `mutation { publishPrice(input: { apiCode: "${PHOTOS}", meter: PHOTO, unitQuantity: 1, tokensPerUnit: "1", note: "test value, not APS's" }) { id } }`);
  await ok(server, `mutation { publishFreeCap(input: { apiCode: "${REVIT}", unitsPerMonth: 3, note: "test value, not APS's" }) { id } }`);
  await ok(server, `mutation { publishFreeCap(input: { apiCode: "${PHOTOS}", unitsPerMonth: 5, note: "test value, not APS's" }) { id } }`);
  for (const name of ["free", "prepay", "owing", "payg", "legacy", "legacyOwing"] as const) ids[name] = await anAccount(name);
  ids.hardStop = await anAccount("hardStop", "HARD_STOP");
  // LEGACY usage in December: the complex job at 0.5 leaves a deficit whose grace ends 14 days
  // on (2026-01-03); a failed job is usage that costs nothing.
  await record(ids.legacyOwing, COMPLEX, "1", "2025-12-19T10:00:00Z");
  await record(ids.legacy, COMPLEX, "2", "2025-12-19T10:00:00Z", "FAILED");
  server.setNow("2026-01-01T00:00:00Z");
  await enroll(ids.free, "FREE");
  await enroll(ids.prepay, "PAID");
  await enroll(ids.owing, "PAID");
  await enroll(ids.payg, "PAID", true);
  await ok(server, `mutation($input: ImportTokenFlexPoolInput!) { importTokenFlexPool(input: $input) { id } }`, {
    input: { accountId: ids.prepay, tokens: "20", startsAt: "2026-01-01T00:00:00Z", endsAt: "2027-01-01T00:00:00Z", externalRef: "EBA-wiring-1" },
  });
  server.setNow("2026-01-10T00:00:00Z");
  // Prepay only, nothing held: 1200 s is one unit owed, and the account is restricted at once.
  await record(ids.owing, REVIT, "1200", "2026-01-05T10:00:00Z");
});

afterAll(() => server.close());

describe("Account.balance", () => {
  it("counts a Token Flex pool among the flex tokens", async () => {
    const { account } = await ok(server, BALANCE, { id: ids.prepay });
    expect(account.balance).toEqual({ cloudCredits: "0", flexTokens: "20", deficit: "0", available: "20", graceEndsAt: null });
  });

  it("shows no grace end under a tiered plan, and keeps it under LEGACY", async () => {
    const tiered = (await ok(server, BALANCE, { id: ids.owing })).account;
    expect(tiered).toEqual({ status: "RESTRICTED", balance: { cloudCredits: "0", flexTokens: "0", deficit: "1", available: "-1", graceEndsAt: null } });
    const legacy = (await ok(server, BALANCE, { id: ids.legacyOwing })).account;
    expect(legacy).toEqual({ status: "RESTRICTED", balance: { cloudCredits: "0", flexTokens: "0", deficit: "0.5", available: "-0.5", graceEndsAt: "2026-01-03T00:00:00.000Z" } });
  });

  it("shows on a page of accounts what the account service computes for each", async () => {
    const page = await ok(server, `{ accounts(first: 100) { edges { node { id balance { flexTokens deficit available graceEndsAt } } } } }`);
    const accounts = await server.services.accounts.findMany(Object.values(ids).map(Number));
    const expected = await server.services.accounts.balances(accounts);
    for (const [i, account] of accounts.entries()) {
      const shown = page.accounts.edges.find((edge: any) => edge.node.id === String(account.id)).node.balance;
      expect(shown).toEqual({
        flexTokens: formatMicros(expected[i]!.flexTokensMicros),
        deficit: formatMicros(expected[i]!.deficitMicros),
        available: formatMicros(expected[i]!.availableMicros),
        graceEndsAt: expected[i]!.graceEndsAt === null ? null : new Date(expected[i]!.graceEndsAt!).toISOString(),
      });
    }
  });
});

describe("quoteUsage under a plan", () => {
  it("FREE: shows the whole units, the month's remainder after, and the allowance part in units", async () => {
    const { quoteUsage } = await ok(server, QUOTE, { input: usage(ids.free, REVIT, "1500", "2026-01-09T10:00:00Z") });
    expect(quoteUsage).toEqual({
      tokens: "0",
      units: 1,
      remainderAfter: { apiCode: REVIT, quantity: "300", month: "2026-01" },
      allocations: [{ source: "FREE_ALLOWANCE", amount: "0", units: 1, tokenFlexPool: null }],
    });
  });

  it("PAID: names the Token Flex pool that would pay and carries the partial unit with no month", async () => {
    const { quoteUsage } = await ok(server, QUOTE, { input: usage(ids.prepay, REVIT, "3000", "2026-01-09T10:00:00Z") });
    expect(quoteUsage).toEqual({
      tokens: "2",
      units: 2,
      remainderAfter: { apiCode: REVIT, quantity: "600", month: null },
      allocations: [{ source: "TOKEN_FLEX", amount: "2", units: null, tokenFlexPool: { externalRef: "EBA-wiring-1" } }],
    });
  });

  it("LEGACY: no units and no remainder, the event rated exactly", async () => {
    const { quoteUsage } = await ok(server, QUOTE, { input: usage(ids.legacy, COMPLEX, "1", "2026-01-09T10:00:00Z") });
    expect(quoteUsage).toMatchObject({ tokens: "0.5", units: null, remainderAfter: null });
  });

  it("gives a metering key the units but not the pool behind them", async () => {
    const { body } = await server.graphql(QUOTE, { input: usage(ids.prepay, REVIT, "1200", "2026-01-09T10:00:00Z") }, world.keys.METERING);
    expect(errorCodes(body)).toEqual(["FORBIDDEN"]);
    const allowed = await ok(server, `query($input: UsageInput!) { quoteUsage(input: $input) { units remainderAfter { quantity } } }`, {
      input: usage(ids.prepay, REVIT, "1200", "2026-01-09T10:00:00Z"),
    }, world.keys.METERING!);
    expect(allowed.quoteUsage).toEqual({ units: 1, remainderAfter: { quantity: "0" } });
  });
});

describe("usageAuthorization.code", () => {
  it("is null when the call may start", async () => {
    const { usageAuthorization } = await ok(server, AUTHORIZATION, { id: ids.prepay, api: REVIT });
    expect(usageAuthorization).toEqual({ allowed: true, status: "ACTIVE", reason: null, code: null });
  });

  it("says ACCOUNT_RESTRICTED for a prepay-only account that owes", async () => {
    const { usageAuthorization } = await ok(server, AUTHORIZATION, { id: ids.owing, api: REVIT });
    expect([usageAuthorization.allowed, usageAuthorization.status, usageAuthorization.code]).toEqual([false, "RESTRICTED", "ACCOUNT_RESTRICTED"]);
  });

  it("says INSUFFICIENT_BALANCE for a LEGACY HARD_STOP account with nothing to pay, and PRICE_NOT_FOUND for an API without a price", async () => {
    expect((await ok(server, AUTHORIZATION, { id: ids.hardStop, api: COMPLEX })).usageAuthorization.code).toBe("INSUFFICIENT_BALANCE");
    expect((await ok(server, AUTHORIZATION, { id: ids.prepay, api: "test/never-priced" })).usageAuthorization).toMatchObject({ allowed: false, code: "PRICE_NOT_FOUND" });
  });
});

describe("forecast.unlimited", () => {
  it("is true under PAYG, with no depletion date, and false on prepay only", async () => {
    const FORECAST = `query($id: ID!) { account(id: $id) { forecast { depletesAt unlimited } } }`;
    expect((await ok(server, FORECAST, { id: ids.payg })).account.forecast).toEqual({ depletesAt: null, unlimited: true });
    expect((await ok(server, FORECAST, { id: ids.owing })).account.forecast.unlimited).toBe(false);
    expect((await ok(server, FORECAST, { id: ids.legacy })).account.forecast.unlimited).toBe(false);
  });
});

describe("usageSummary.units", () => {
  it("counts whole units of tiered charges and is null for a row of LEGACY charges only", async () => {
    const SUMMARY = `query($id: ID!) { account(id: $id) { usageSummary(from: "2025-12-01T00:00:00Z", to: "2026-02-01T00:00:00Z", groupBy: MONTH) { periodStart apiCode events units } } }`;
    expect((await ok(server, SUMMARY, { id: ids.owing })).account.usageSummary).toEqual([
      { periodStart: "2026-01-01T00:00:00.000Z", apiCode: REVIT, events: 1, units: 1 },
    ]);
    expect((await ok(server, SUMMARY, { id: ids.legacy })).account.usageSummary).toEqual([
      { periodStart: "2025-12-01T00:00:00.000Z", apiCode: COMPLEX, events: 1, units: null },
    ]);
  });
});

describe("the Free tier's alerts", () => {
  it("says which API is suspended and which is near its cap, each once, dated the next month", async () => {
    // revit: 3000 s + 600 s = 3 units, the cap reached; photos: 4 of 5 (80%).
    await record(ids.free, REVIT, "3600", "2026-01-08T10:00:00Z");
    await record(ids.free, PHOTOS, "4", "2026-01-08T11:00:00Z");
    const { account } = await ok(server, `query($id: ID!) { account(id: $id) { alerts { kind message at } } }`, { id: ids.free });
    expect(account.alerts.map((alert: any) => [alert.kind, alert.at])).toEqual([
      ["API_SUSPENDED", "2026-02-01T00:00:00.000Z"],
      ["FREE_CAP_NEAR", "2026-02-01T00:00:00.000Z"],
    ]);
    expect(account.alerts[0].message).toContain(REVIT);
    expect(account.alerts[1].message).toContain(PHOTOS);
    const { usageAuthorization } = await ok(server, AUTHORIZATION, { id: ids.free, api: REVIT });
    expect([usageAuthorization.allowed, usageAuthorization.code]).toEqual([false, "API_SUSPENDED"]);
    expect((await ok(server, AUTHORIZATION, { id: ids.free, api: PHOTOS })).usageAuthorization.code).toBeNull();
  });

  it("raises no LOW_BALANCE for a PAYG account that has spent what it held", async () => {
    // 1 token of usage beyond nothing held: billed in arrears, never refused.
    await record(ids.payg, REVIT, "1200", "2026-01-08T10:00:00Z");
    const { account } = await ok(server, `query($id: ID!) { account(id: $id) { status alerts { kind } } }`, { id: ids.payg });
    expect(account.status).toBe("ACTIVE");
    expect(account.alerts.map((alert: any) => alert.kind)).not.toContain("LOW_BALANCE");
  });
});

describe("Account.balance with a configured credit acceptance end", () => {
  it("counts no cloud-credit lot from the end on, now or as of a date after it, as rating pays none", async () => {
    const configured = await startTestServer({ now: "2022-10-01T00:00:00Z", rules: { creditAcceptanceEndAt: at("2022-09-01T00:00:00Z") } });
    try {
      const account = (await ok(configured, `mutation { createAccount(input: { name: "Lot holder" }) { id } }`)).createAccount.id as string;
      await ok(configured, `mutation($input: ImportCreditLotInput!) { importCreditLot(input: $input) { id } }`, {
        input: { accountId: account, amount: "100", purchasedAt: "2022-06-01T00:00:00Z", externalRef: unique("lot") },
      });
      const balance = async (asOf?: string) =>
        (await ok(configured, `query($id: ID!, $asOf: DateTime) { account(id: $id) { balance(asOf: $asOf) { cloudCredits available } } }`, { id: account, asOf })).account.balance;
      expect(await balance()).toEqual({ cloudCredits: "0", available: "0" });
      expect(await balance("2022-09-15T00:00:00Z")).toEqual({ cloudCredits: "0", available: "0" });
      expect(await balance("2022-08-31T23:59:59.999Z")).toEqual({ cloudCredits: "100", available: "100" });
    } finally {
      await configured.close();
    }
  });
});

describe("a Token Flex pool imported before its term", () => {
  it("settles the deficit of a prepay-only account as its term starts, with no request, and lifts the restriction", async () => {
    const own = await startTestServer({ now: "2026-01-10T00:00:00.000Z" });
    try {
      await ok(own, `mutation { publishPrice(input: { apiCode: "${REVIT}", meter: SECOND, unitQuantity: 1200, tokensPerUnit: "1", note: "test value, not APS's" }) { id } }`);
      const account = (await ok(own, `mutation { createAccount(input: { name: "Enterprise customer", country: "JP" }) { id } }`)).createAccount.id as string;
      await ok(own, `mutation($id: ID!) { enrollPlan(input: { accountId: $id, tier: PAID }) { id } }`, { id: account });
      await ok(own, RECORD, { input: usage(account, REVIT, "1200", "2026-01-10T00:00:00.000Z") });
      const state = async () => {
        const shown = (await ok(own, `query($id: ID!) { account(id: $id) { status balance { deficit } tokenFlexPools { remaining } } }`, { id: account })).account;
        return [shown.status, shown.balance.deficit, ...shown.tokenFlexPools.map((pool: { remaining: string }) => pool.remaining)];
      };
      const startsAt = own.now() + 300;
      await ok(own, `mutation($input: ImportTokenFlexPoolInput!) { importTokenFlexPool(input: $input) { id } }`, {
        input: { accountId: account, tokens: "20", startsAt: new Date(startsAt).toISOString(), endsAt: "2027-01-01T00:00:00Z", externalRef: unique("EBA-next") },
      });
      expect(await state()).toEqual(["RESTRICTED", "1", "20"]);
      own.setNow(startsAt);
      const deadline = Date.now() + 10_000;
      while ((await state())[0] === "RESTRICTED" && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await state()).toEqual(["ACTIVE", "0", "19"]);
    } finally {
      await own.close();
    }
  });
});

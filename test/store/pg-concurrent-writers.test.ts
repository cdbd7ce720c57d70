/**
 * Two writers on one PostgreSQL database, as two replicas are: a unit that fails because the
 * other one committed meanwhile runs again and answers as the rules say.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlexgateError } from "../../server/core/errors.js";
import { MAXIMA } from "../../server/core/maxima.js";
import { formatMicros } from "../../server/core/money.js";
import { priceInForce } from "../../server/core/price.js";
import { DEFAULT_RULES } from "../../server/services/context.js";
import { createServices, type Services } from "../../server/services/index.js";
import { PgStore } from "../../server/store/pg/store.js";
import { at, aUsageEvent, OPERATOR, tokens } from "../fixtures/harness.js";
import { refusalOf } from "../fixtures/ledger-assertions.js";
import { freshDatabase, NO_SERVER, TEST_DATABASE_URL, type TestDatabase } from "../fixtures/postgres.js";

const NOW = at("2024-06-01T00:00:00Z");
const COMPLEX = "model-derivative/complex-job";
const SIMPLE = "model-derivative/simple-job";
/** Within the 5 minutes an event may be dated ahead. */
const AHEAD_MS = 4 * 60_000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!TEST_DATABASE_URL)(`two writers on one PostgreSQL database${TEST_DATABASE_URL ? "" : ` (skipped: ${NO_SERVER})`}`, () => {
  let database: TestDatabase;
  let first: PgStore;
  let second: PgStore;
  let one: Services;
  let other: Services;

  beforeAll(async () => {
    database = await freshDatabase("writers");
    first = await PgStore.open({ url: database.url, poolSize: 2 });
    second = await PgStore.open({ url: database.url, poolSize: 2 });
    one = createServices({ store: first, clock: () => NOW, rules: DEFAULT_RULES });
    other = createServices({ store: second, clock: () => NOW, rules: DEFAULT_RULES });
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await database?.drop();
  });

  /** Runs `meanwhile` while a unit of the first writer holds `event`'s charge uncommitted, then commits it. */
  async function whileUncommitted<T>(event: ReturnType<typeof aUsageEvent>, meanwhile: () => Promise<T>): Promise<{ chargeId: number; answer: Promise<T> }> {
    let answer!: Promise<T>;
    const chargeId = await first.write({}, async () => {
      const { charge } = await one.rating.recordUsage(event);
      answer = meanwhile();
      // The other writer now waits on the event id's unique index entry.
      await pause(300);
      return charge.id;
    });
    return { chargeId, answer };
  }

  it("answers an event committed by the other writer meanwhile as a replay of its charge, charged once", async () => {
    const account = await one.accounts.create({ name: "Shared", country: "JP" }, OPERATOR);
    await one.funding.recordFlexPurchase({ accountId: account.id, tokensMicros: tokens("100"), purchasedAt: NOW, channel: "ESTORE", orderRef: "W-1" }, OPERATOR);
    const event = aUsageEvent(account.id, { eventId: "raced", quantity: "10" });
    const { chargeId, answer } = await whileUncommitted(event, () => other.rating.recordUsage(event));
    const { charge, replayed } = await answer;
    expect([charge.id, replayed]).toEqual([chargeId, true]);
    expect(await first.reads.countCharges({ accountId: account.id })).toBe(1);
    expect(formatMicros((await one.accounts.balances([(await one.accounts.find(account.id))!]))[0]!.availableMicros)).toBe("95");
    expect(await one.ledger.verify()).toEqual([]);
  });

  it("answers IDEMPOTENCY_CONFLICT when the other writer committed the event id for another account meanwhile", async () => {
    // Different accounts take different locks: the second writer meets the first one's event id
    // in the unique index, fails when it commits, and runs its unit again.
    const account = await one.accounts.create({ name: "Shared too", country: "JP" }, OPERATOR);
    const neighbour = await one.accounts.create({ name: "Neighbour", country: "JP" }, OPERATOR);
    const event = aUsageEvent(account.id, { eventId: "raced-differently", quantity: "10" });
    const { answer } = await whileUncommitted(event, () => refusalOf(() => other.rating.recordUsage({ ...event, accountId: neighbour.id })));
    const refusal = await answer;
    expect([refusal.code, refusal.field]).toEqual(["IDEMPOTENCY_CONFLICT", "input.eventId"]);
    expect(await first.reads.countCharges({ accountId: account.id })).toBe(1);
    expect(await first.reads.countCharges({ accountId: neighbour.id })).toBe(0);
  });

  it("answers IDEMPOTENCY_CONFLICT when the other writer booked the seller's order reference for another account meanwhile", async () => {
    const account = await one.accounts.create({ name: "Buyer", country: "JP" }, OPERATOR);
    const neighbour = await one.accounts.create({ name: "Other buyer", country: "JP" }, OPERATOR);
    const purchase = { accountId: account.id, tokensMicros: tokens("100"), purchasedAt: NOW, channel: "ESTORE" as const, orderRef: "W-raced" };
    let answer!: Promise<Awaited<ReturnType<typeof refusalOf>>>;
    await first.write({}, async () => {
      await one.funding.recordFlexPurchase(purchase, OPERATOR);
      answer = refusalOf(() => other.funding.recordFlexPurchase({ ...purchase, accountId: neighbour.id }, OPERATOR));
      await pause(300);
    });
    const refusal = await answer;
    expect([refusal.code, refusal.field]).toEqual(["IDEMPOTENCY_CONFLICT", "input.orderRef"]);
    expect(await first.reads.flexPacksOf([neighbour.id])).toEqual([]);
  });

  it("rates a group that waited on the other writer's lock on what that writer committed", async () => {
    const account = await one.accounts.create({ name: "Waiting", country: "JP" }, OPERATOR);
    await one.funding.recordFlexPurchase({ accountId: account.id, tokensMicros: tokens("100"), purchasedAt: at("2024-05-01T00:00:00Z"), channel: "ESTORE", orderRef: "W-wait" }, OPERATOR);
    // The first writer drains 90 of the pack's 100 tokens and holds the account's row; the other
    // writer's group waits for it, then must find the 10 left, not the 100 there before it waited.
    const { answer } = await whileUncommitted(aUsageEvent(account.id, { quantity: "180" }), () => other.rating.recordUsage(aUsageEvent(account.id, { quantity: "40" })));
    const { charge } = await answer;
    const parts = await first.reads.allocationsOfCharges([charge.id]);
    expect(parts.map((part) => [part.source, formatMicros(part.amountMicros)])).toEqual([
      ["FLEX_PACK", "10"],
      ["DEFICIT", "10"],
    ]);
    expect(await one.ledger.verify()).toEqual([]);
  });

  it("makes a group rating usage of an API wait for a publication of it, live usage as well as usage dated ahead, then rate with the version in force at each event; a group of another API waits for nothing", async () => {
    const account = await one.accounts.create({ name: "Rated ahead", country: "JP" }, OPERATOR);
    await one.funding.recordFlexPurchase({ accountId: account.id, tokensMicros: tokens("100"), purchasedAt: at("2024-05-01T00:00:00Z"), channel: "ESTORE", orderRef: "W-ahead" }, OPERATOR);
    const neighbour = await one.accounts.create({ name: "Rated meanwhile", country: "JP" }, OPERATOR);
    let settled = false;
    let live!: Promise<{ charge: { priceEntryId: number } }>;
    let otherApiWhileHeld = false;
    const previous = priceInForce(await first.reads.priceVersionsOf(COMPLEX), NOW)!;
    const published = await first.write({}, async () => {
      const version = await one.prices.publish({ apiCode: COMPLEX, meter: "JOB", unitQuantity: 1, tokensPerUnitMicros: tokens("0.75"), effectiveFrom: NOW, note: "raise" }, OPERATOR);
      // Dated now, not ahead: the publication's start is its clock's now, which another replica's
      // group may already have passed when it rates.
      live = other.rating.recordUsage(aUsageEvent(account.id, { occurredAt: NOW })).finally(() => (settled = true));
      await other.rating.recordUsage(aUsageEvent(neighbour.id, { apiCode: SIMPLE, occurredAt: NOW }));
      otherApiWhileHeld = true;
      await pause(300);
      expect(settled).toBe(false);
      return version;
    });
    expect(otherApiWhileHeld).toBe(true);
    expect((await live).charge.priceEntryId).toBe(published.id);
    expect((await other.rating.recordUsage(aUsageEvent(account.id, { occurredAt: NOW + AHEAD_MS }))).charge.priceEntryId).toBe(published.id);
    // Usage before the start, rated after the publication, keeps the version in force then.
    expect((await other.rating.recordUsage(aUsageEvent(account.id, { occurredAt: NOW - 1 }))).charge.priceEntryId).toBe(previous.id);
  });

  it("makes a publication wait for a group rating usage of its API, then start just after the usage rated ahead, or refuse a start asked for before it", async () => {
    const account = await one.accounts.create({ name: "Booked ahead", country: "JP" }, OPERATOR);
    let settled = false;
    let answer!: Promise<{ effectiveFrom: number }>;
    await first.write({}, async () => {
      await one.rating.recordUsage(aUsageEvent(account.id, { apiCode: SIMPLE, occurredAt: NOW + AHEAD_MS }));
      answer = other.prices.publish({ apiCode: SIMPLE, meter: "JOB", unitQuantity: 1, tokensPerUnitMicros: tokens("0.2"), note: "raise" }, OPERATOR).finally(() => (settled = true));
      await pause(300);
      expect(settled).toBe(false);
    });
    expect((await answer).effectiveFrom).toBe(NOW + AHEAD_MS + 1);
    const refusal = await refusalOf(() => other.prices.publish({ apiCode: SIMPLE, meter: "JOB", unitQuantity: 1, tokensPerUnitMicros: tokens("0.3"), effectiveFrom: NOW + 60_000, note: "raise" }, OPERATOR));
    expect([refusal.code, refusal.field]).toEqual(["PRICE_CHANGE_IN_PAST", "input.effectiveFrom"]);
  });

  // Last: it fills the price book, where the tests above add no API code.
  it("adds the price book's last API code once when each writer adds a new code meanwhile", async () => {
    const publish = (services: Services, apiCode: string) =>
      services.prices.publish({ apiCode, meter: "JOB", unitQuantity: 1, tokensPerUnitMicros: tokens("1"), note: "book test" }, OPERATOR);
    const codes = new Set((await one.prices.allVersions()).map((version) => version.apiCode));
    for (let i = 0; codes.size < MAXIMA.pricedApis - 1; i++) codes.add((await publish(one, `book-test/api-${i}`)).apiCode);
    let answer!: Promise<FlexgateError>;
    await first.write({}, async () => {
      await publish(one, "book-test/last-here");
      answer = refusalOf(() => publish(other, "book-test/last-there"));
      await pause(300);
    });
    const refusal = await answer;
    expect([refusal.code, refusal.field]).toEqual(["BAD_USER_INPUT", "input.apiCode"]);
    expect(new Set((await other.prices.allVersions()).map((version) => version.apiCode)).size).toBe(MAXIMA.pricedApis);
  });
});

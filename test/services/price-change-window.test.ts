/**
 * A change of an API's terms (a price version, a retirement, a free cap) starts after the usage of
 * that API already rated (domain §2): events may be dated up to 5 minutes ahead, and each charge
 * stays explained by the terms in force at its occurredAt.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { priceInForce } from "../../server/core/price.js";
import { formatInstant, type Instant } from "../../server/core/time.js";
import { aFlexPack, anAccount, aUsageEvent, createHarness, type Harness, OPERATOR, tokens } from "../fixtures/harness.js";
import { expectRefusedUnchanged, scalar } from "../fixtures/ledger-assertions.js";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(() => h.close());

const COMPLEX = "model-derivative/complex-job";
const SIMPLE = "model-derivative/simple-job";
/** Within the 5 minutes an event may be dated ahead. */
const AHEAD_MS = 4 * 60_000;

type Change = (apiCode: string, effectiveFrom: Instant | null) => Promise<{ effectiveFrom: Instant }>;

const CHANGES: [string, Change, string][] = [
  [
    "publishing a price version",
    (apiCode, effectiveFrom) =>
      h.services.prices.publish({ apiCode, meter: "JOB", unitQuantity: 1, tokensPerUnitMicros: tokens("0.75"), effectiveFrom, note: "price change" }, OPERATOR),
    "input.effectiveFrom",
  ],
  ["retiring an API", (apiCode, effectiveFrom) => h.services.prices.retire(apiCode, effectiveFrom, "end of life", OPERATOR), "effectiveFrom"],
  ["publishing a free cap", (apiCode, effectiveFrom) => h.services.tiered.publishFreeCap({ apiCode, unitsPerMonth: 2, effectiveFrom, note: "test value" }, OPERATOR), "input.effectiveFrom"],
];

/** Books a charge of `apiCode` dated `aheadMs` after now. */
async function rateAhead(apiCode: string, aheadMs = AHEAD_MS) {
  const account = await anAccount(h);
  await aFlexPack(h, account.id);
  return (await h.services.rating.recordUsage(aUsageEvent(account.id, { apiCode, occurredAt: h.now() + aheadMs }))).charge;
}

const termsRows = async () => ({
  versions: await scalar(h.sql, "select count(*) from price_entries"),
  caps: await scalar(h.sql, "select count(*) from free_caps"),
  audit: await scalar(h.sql, "select count(*) from audit_log"),
});

describe.each(CHANGES)("%s", (_change, change, field) => {
  it("is refused when a charge of that API is dated at or after its start: PRICE_CHANGE_IN_PAST, nothing written", async () => {
    const charge = await rateAhead(COMPLEX);
    const before = await termsRows();
    for (const start of [h.now(), charge.occurredAt - 1, charge.occurredAt]) {
      const refusal = await expectRefusedUnchanged(h.sql, () => change(COMPLEX, start), "PRICE_CHANGE_IN_PAST", field);
      expect(refusal.message).toContain(`usage of ${COMPLEX} dated ${formatInstant(charge.occurredAt)} is already rated`);
    }
    expect(await termsRows()).toEqual(before);
    // The charge is still priced by the version in force at its occurredAt.
    expect(priceInForce(await h.store.reads.priceVersionsOf(COMPLEX), charge.occurredAt)!.id).toBe(charge.priceEntryId);
  });

  it("is accepted when the only charges of that API are dated before its start", async () => {
    const charge = await rateAhead(COMPLEX);
    await rateAhead(COMPLEX, -60_000);
    await expectRefusedUnchanged(h.sql, () => change(COMPLEX, charge.occurredAt), "PRICE_CHANGE_IN_PAST", field);
    await change(COMPLEX, charge.occurredAt + 1);
    expect(priceInForce(await h.store.reads.priceVersionsOf(COMPLEX), charge.occurredAt)!.id).toBe(charge.priceEntryId);
  });

  it("without a start asked for, takes effect now, or just after usage of that API already rated ahead of now", async () => {
    expect((await change(SIMPLE, null)).effectiveFrom).toBe(h.now());
    const charge = await rateAhead(COMPLEX);
    const changed = await change(COMPLEX, null);
    expect(changed.effectiveFrom).toBe(charge.occurredAt + 1);
    expect(priceInForce(await h.store.reads.priceVersionsOf(COMPLEX), charge.occurredAt)!.id).toBe(charge.priceEntryId);
  });

  it("is unaffected by charges of another API", async () => {
    await rateAhead(SIMPLE);
    const before = await termsRows();
    await change(COMPLEX, h.now());
    expect((await termsRows()).audit).toBe(before.audit + 1);
    await expectRefusedUnchanged(h.sql, () => change(SIMPLE, h.now()), "PRICE_CHANGE_IN_PAST", field);
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import { aFlexPack, anAccount, at, aUsageEvent, createHarness, type Harness, OPERATOR } from "../fixtures/harness.js";

let h: Harness;
afterEach(() => h.close());

describe("ledger facts the reports rely on", () => {
  it("marks as reversed only the charge that was reversed", async () => {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const charges = [];
    for (let i = 0; i < 3; i++) charges.push((await h.services.rating.recordUsage(aUsageEvent(account.id))).charge);
    await h.services.rating.reverseCharge(charges[0]!.id, "duplicate", OPERATOR);
    const listed = (await h.services.ledger.charges(account.id, {}, 10, undefined)).items;
    expect(listed.map((charge) => [charge.id, charge.reversedAt !== null])).toEqual([
      [charges[2]!.id, false],
      [charges[1]!.id, false],
      [charges[0]!.id, true],
    ]);
    expect((await h.services.ledger.findCharge(charges[1]!.id))!.reversedAt).toBeNull();
    // A second charge can still be reversed.
    expect((await h.services.rating.reverseCharge(charges[1]!.id, "duplicate", OPERATOR)).reversedAt).toBe(h.now());
  });

  it("lets a second purchase settle what the first left of a deficit", async () => {
    h = await createHarness({ now: "2024-06-01T00:00:00Z" });
    const other = await anAccount(h);
    await aFlexPack(h, other.id);
    await h.services.rating.recordUsage(aUsageEvent(other.id));
    const account = await anAccount(h);
    // 300 jobs at 0.5 = 150 tokens owed; each purchase of 100 pays what it can.
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "300", occurredAt: at("2024-05-31T12:00:00Z") }));
    await aFlexPack(h, account.id, { tokens: "100" });
    expect(formatMicros((await h.services.accounts.find(account.id))!.deficitMicros)).toBe("50");
    await aFlexPack(h, account.id, { tokens: "100" });
    const balance = await h.balanceOf(account.id);
    expect([formatMicros(balance.deficitMicros), formatMicros(balance.availableMicros)]).toEqual(["0", "50"]);
    expect(await h.services.ledger.verify()).toEqual([]);
  });
});

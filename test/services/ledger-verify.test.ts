import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OPERATOR, aCreditLot, aFlexPack, anAccount, at, aUsageEvent, createHarness, type Harness, tokens } from "../fixtures/harness.js";

let h: Harness;
beforeEach(async () => {
  h = await createHarness({ now: "2023-08-01T00:00:00Z" });
});
afterEach(() => h.close());

const charge = async (accountId: number, quantity: string) => (await h.services.rating.recordUsage(aUsageEvent(accountId, { quantity, occurredAt: h.now() }))).charge;

/** A ledger with every kind of entry: lot and pack drains, a deficit, its settlement, a reversal. */
async function busyLedger() {
  const account = await anAccount(h);
  const lot = await aCreditLot(h, account.id, { amount: "10", purchasedAt: at("2022-10-01T00:00:00Z") });
  const pack = await aFlexPack(h, account.id, { tokens: "100" });
  await charge(account.id, "30"); // 15 tokens: 10 from the lot, 5 from the pack
  const reversed = await charge(account.id, "4"); // 2 tokens from the pack
  await h.services.rating.reverseCharge(reversed.id, "duplicate", OPERATOR);
  await charge(account.id, "200"); // 100 tokens: 95 from the pack, 5 owed
  const settling = await aFlexPack(h, account.id, { tokens: "100" }); // pays the 5 owed
  const quiet = await anAccount(h);
  return { account, lot, pack, settling, quiet };
}

describe("ledger verification", () => {
  it("finds nothing to report when every stored figure equals the recomputation", async () => {
    const { account, pack, settling } = await busyLedger();
    expect((await h.services.accounts.find(account.id))!.deficitMicros).toBe(0n);
    expect((await h.services.accounts.flexPacks([account.id])).get(account.id)!.map((p) => [p.id, p.remainingMicros])).toEqual([
      [pack.id, 0n],
      [settling.id, tokens("95")],
    ]);
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it.each([
    ["CreditLot", "credit_lots", "remaining_micros", "lot", 0n],
    ["FlexPack", "flex_packs", "remaining_micros", "pack", 0n],
    ["FlexPack", "flex_packs", "remaining_micros", "settling", tokens("95")],
    ["Account", "accounts", "deficit_micros", "account", 0n],
    ["Account", "accounts", "deficit_micros", "quiet", 0n],
  ] as const)("reports a %s whose stored figure drifted (%s.%s of the %s)", async (entity, table, column, which, recomputed) => {
    const entities = await busyLedger();
    const id = entities[which].id;
    await h.sql.run(`update ${table} set ${column} = ${column} + 7 where id = ?`, id);
    expect(await h.services.ledger.verify()).toEqual([{ entity, id, storedMicros: recomputed + 7n, recomputedMicros: recomputed }]);
  });

  it("counts a settlement only while the charge it paid stands", async () => {
    const { account, settling } = await busyLedger();
    // Reversing the charge that was settled hands the settled tokens back to the paying pack.
    const settled = (await h.services.ledger.charges(account.id, {}, 1, undefined)).items[0]!;
    await h.services.rating.reverseCharge(settled.id, "wrong account", OPERATOR);
    expect((await h.services.accounts.flexPacks([account.id])).get(account.id)!.find((p) => p.id === settling.id)!.remainingMicros).toBe(tokens("100"));
    expect(await h.services.ledger.verify()).toEqual([]);
  });
});

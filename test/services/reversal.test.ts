import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GRACE_PERIOD_MS } from "../../server/core/account.js";
import type { ErrorCode } from "../../server/core/errors.js";
import { formatMicros } from "../../server/core/money.js";
import { aCreditLot, aFlexPack, anAccount, aReseller, at, aUsageEvent, createHarness, type Harness, OPERATOR } from "../fixtures/harness.js";
import { dbSnapshot, deficitOf, expectRefusedUnchanged, receiptOf, remainingOf, rowCounts, scalar } from "../fixtures/ledger-assertions.js";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(() => h.close());

const charge = async (accountId: number, quantity: string, occurredAt = h.now()) =>
  (await h.services.rating.recordUsage(aUsageEvent(accountId, { quantity, occurredAt }))).charge;

describe("reversing a charge", () => {
  it("returns every token to the exact lot and pack it came from and cancels the unpaid deficit", async () => {
    h.setNow("2023-02-01T00:00:00Z");
    const account = await anAccount(h);
    const lot = await aCreditLot(h, account.id, { amount: "4", purchasedAt: at("2022-10-01T00:00:00Z") });
    const other = await aCreditLot(h, account.id, { amount: "50", purchasedAt: at("2022-10-22T00:00:00Z") });
    const pack = await aFlexPack(h, account.id, { channel: "RESELLER", resellerId: (await aReseller(h)).id, purchasedAt: at("2022-12-01T00:00:00Z") });
    await charge(account.id, "40"); // 20 tokens: the lot's 4, then 16 of the other lot
    const split = await charge(account.id, "220", at("2023-01-31T00:00:00Z")); // 110 tokens
    expect(await receiptOf(h.sql, split.id)).toEqual([`CREDIT_LOT#${other.id}:34`, `FLEX_PACK#${pack.id}:76`]);
    expect(await remainingOf(h.sql, "CREDIT_LOT", lot.id)).toBe("0");

    const deficitCharge = await charge(account.id, "60"); // 30 tokens: 24 from the pack, 6 owed
    expect(await receiptOf(h.sql, deficitCharge.id)).toEqual([`FLEX_PACK#${pack.id}:24`, "DEFICIT#-:6"]);
    const counts = await rowCounts(h.sql);

    const reversed = await h.services.rating.reverseCharge(deficitCharge.id, "duplicate job report", OPERATOR);
    expect(reversed.reversedAt).toBe(h.now());
    expect(await remainingOf(h.sql, "FLEX_PACK", pack.id)).toBe("24");
    expect(await deficitOf(h.sql, account.id)).toBe("0");
    expect(await h.statusOf(account.id)).toBe("ACTIVE");

    await h.services.rating.reverseCharge(split.id, "wrong account", OPERATOR);
    expect(await remainingOf(h.sql, "CREDIT_LOT", other.id)).toBe("34");
    expect(await remainingOf(h.sql, "FLEX_PACK", pack.id)).toBe("100");
    expect(await remainingOf(h.sql, "CREDIT_LOT", lot.id)).toBe("0");

    // A reversal is a new ledger entry: the charge and its receipt stay.
    const after = await rowCounts(h.sql);
    expect(after.usage_charges).toBe(counts.usage_charges);
    expect(after.allocations).toBe(counts.allocations);
    expect(after.reversals).toBe(counts.reversals! + 2);
    expect(await receiptOf(h.sql, split.id)).toEqual([`CREDIT_LOT#${other.id}:34`, `FLEX_PACK#${pack.id}:76`]);
    expect((await h.services.ledger.findCharge(split.id))!.reversedAt).toBe(h.now());
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it("gives a deficit later settled by a purchase back to the pack that paid it", async () => {
    const account = await anAccount(h);
    const first = await aFlexPack(h, account.id, { tokens: "100" });
    await charge(account.id, "194"); // 97 tokens: 3 left in the first pack
    const owing = await charge(account.id, "16"); // 8 tokens: 3 from the pack, 5 owed
    expect(await receiptOf(h.sql, owing.id)).toEqual([`FLEX_PACK#${first.id}:3`, "DEFICIT#-:5"]);
    const second = await aFlexPack(h, account.id, { tokens: "100" });
    expect(formatMicros(second.remainingMicros)).toBe("95");

    await h.services.rating.reverseCharge(owing.id, "job reported twice", OPERATOR);
    expect(await remainingOf(h.sql, "FLEX_PACK", first.id)).toBe("3");
    expect(await remainingOf(h.sql, "FLEX_PACK", second.id)).toBe("100");
    expect(await deficitOf(h.sql, account.id)).toBe("0");
    expect(formatMicros((await h.balanceOf(account.id)).availableMicros)).toBe("103");
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it("gives the settled part of a deficit back to its payer and cancels the unpaid rest", async () => {
    const account = await anAccount(h);
    const owing = await charge(account.id, "202"); // 101 tokens owed
    h.advance(GRACE_PERIOD_MS);
    const pack = await aFlexPack(h, account.id, { tokens: "100" });
    expect(await deficitOf(h.sql, account.id)).toBe("1");
    expect(await h.statusOf(account.id)).toBe("RESTRICTED");

    await h.services.rating.reverseCharge(owing.id, "billing error", OPERATOR);
    expect(await remainingOf(h.sql, "FLEX_PACK", pack.id)).toBe("100");
    expect(await deficitOf(h.sql, account.id)).toBe("0");
    expect(await h.statusOf(account.id)).toBe("ACTIVE");
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it("keeps the grace clock while another charge still owes", async () => {
    const account = await anAccount(h);
    const first = await charge(account.id, "2");
    const booked = h.now();
    h.advance(86_400_000);
    await charge(account.id, "4");
    await h.services.rating.reverseCharge(first.id, "test job", OPERATOR);
    expect(await deficitOf(h.sql, account.id)).toBe("2");
    expect((await h.balanceOf(account.id)).graceEndsAt).toBe(booked + GRACE_PERIOD_MS);
  });

  it("returns tokens to a pack that has expired since, where they stay lost", async () => {
    const account = await anAccount(h);
    const pack = await aFlexPack(h, account.id, { tokens: "100" });
    const spent = await charge(account.id, "20");
    h.setNow(pack.expiresAt + 86_400_000);
    await h.services.rating.reverseCharge(spent.id, "late correction", OPERATOR);
    expect(await remainingOf(h.sql, "FLEX_PACK", pack.id)).toBe("100");
    expect((await h.balanceOf(account.id)).availableMicros).toBe(0n);
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it("never charges a reversed event again: its replay returns the reversed charge and writes nothing", async () => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const event = aUsageEvent(account.id, { quantity: "2" });
    const { charge: original } = await h.services.rating.recordUsage(event);
    await h.services.rating.reverseCharge(original.id, "test", OPERATOR);
    const before = await dbSnapshot(h.sql);
    const replay = await h.services.rating.recordUsage(event);
    expect(replay.replayed).toBe(true);
    expect(replay.charge.id).toBe(original.id);
    expect(replay.charge.reversedAt).not.toBeNull();
    expect(await dbSnapshot(h.sql)).toEqual(before);
  });

  it.each<[string, (chargeId: number) => [number, string] | Promise<[number, string]>, ErrorCode, string]>([
    ["a charge reversed already", async (id) => ((await h.services.rating.reverseCharge(id, "first", OPERATOR)), [id, "second"]), "BAD_USER_INPUT", "chargeId"],
    ["an unknown charge", () => [999, "why"], "NOT_FOUND", "chargeId"],
    ["without a reason", (id) => [id, "  "], "BAD_USER_INPUT", "reason"],
    ["with a reason carrying control characters", (id) => [id, "ok\u202eevil"], "BAD_USER_INPUT", "reason"],
  ])("refuses to reverse %s, writing nothing", async (_why, target, code, field) => {
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const [id, reason] = await target((await charge(account.id, "2")).id);
    await expectRefusedUnchanged(h.sql, () => h.services.rating.reverseCharge(id, reason, OPERATOR), code, field);
    expect(await scalar(h.sql, "select count(*) from reversals")).toBeLessThanOrEqual(1);
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { GRACE_PERIOD_MS } from "../../server/core/account.js";
import type { ErrorCode } from "../../server/core/errors.js";
import { formatMicros, MAX_TOKENS_MICROS } from "../../server/core/money.js";
import type { CreditLotImport, FlexPurchase } from "../../server/services/funding.service.js";
import { aCreditLot, aFlexPack, anAccount, aReseller, at, aUsageEvent, createHarness, type Harness, OPERATOR, tokens } from "../fixtures/harness.js";
import { dbSnapshot, deficitOf, expectRefusedUnchanged, receiptOf, remainingOf, scalar } from "../fixtures/ledger-assertions.js";

let h: Harness;
afterEach(() => h.close());

const iso = (instant: number) => new Date(instant).toISOString();

describe("importing cloud-credit lots", () => {
  const lotImport = (accountId: number, overrides: Partial<CreditLotImport> = {}): CreditLotImport => ({
    accountId,
    amountMicros: tokens("100"),
    purchasedAt: at("2022-06-01T00:00:00Z"),
    externalRef: "forge-subscription-2022",
    ...overrides,
  });

  it("imports a lot valid one calendar year from purchase (29 February → 28 February)", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    const lot = await h.services.funding.importCreditLot(lotImport(account.id, { purchasedAt: at("2020-02-29T10:00:00Z") }), OPERATOR);
    expect(iso(lot.expiresAt)).toBe("2021-02-28T10:00:00.000Z");
    expect(lot.remainingMicros).toBe(tokens("100"));
    expect(lot.externalRef).toBe("forge-subscription-2022");
  });

  it("returns the same lot when the same external reference and payload come again, writing nothing", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    const first = await h.services.funding.importCreditLot(lotImport(account.id), OPERATOR);
    const before = await dbSnapshot(h.sql);
    expect(await h.services.funding.importCreditLot(lotImport(account.id), OPERATOR)).toEqual(first);
    expect(await dbSnapshot(h.sql)).toEqual(before);
  });

  it.each<[string, (accountId: number) => Partial<CreditLotImport> | Promise<Partial<CreditLotImport>>]>([
    ["another amount", () => ({ amountMicros: tokens("101") })],
    ["another purchase date", () => ({ purchasedAt: at("2022-06-02T00:00:00Z") })],
    ["another account", async () => ({ accountId: (await anAccount(h)).id })],
  ])("refuses the same external reference with %s: IDEMPOTENCY_CONFLICT, nothing written", async (_why, change) => {
    h = await createHarness();
    const account = await anAccount(h);
    await h.services.funding.importCreditLot(lotImport(account.id), OPERATOR);
    const changed = lotImport(account.id, await change(account.id));
    await expectRefusedUnchanged(h.sql, () => h.services.funding.importCreditLot(changed, OPERATOR), "IDEMPOTENCY_CONFLICT", "input.externalRef");
  });

  it("accepts a lot bought on the last day cloud credits were sold", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    const lot = await h.services.funding.importCreditLot(lotImport(account.id, { purchasedAt: at("2022-11-06T23:59:59.999Z") }), OPERATOR);
    expect(iso(lot.expiresAt)).toBe("2023-11-06T23:59:59.999Z");
  });

  it.each([
    ["on the day Flex launched", "2022-11-07T00:00:00Z"],
    ["long after", "2024-01-01T00:00:00Z"],
  ])("refuses a lot bought %s: CREDIT_SALES_ENDED, nothing written", async (_why, purchasedAt) => {
    h = await createHarness();
    const account = await anAccount(h);
    const input = lotImport(account.id, { purchasedAt: at(purchasedAt) });
    await expectRefusedUnchanged(h.sql, () => h.services.funding.importCreditLot(input, OPERATOR), "CREDIT_SALES_ENDED", "input.purchasedAt");
  });

  it("honours a configured end of credit sales", async () => {
    h = await createHarness({ rules: { creditSalesEndAt: at("2022-12-01T00:00:00Z") } });
    const account = await anAccount(h);
    expect((await h.services.funding.importCreditLot(lotImport(account.id, { purchasedAt: at("2022-11-20T00:00:00Z") }), OPERATOR)).id).toBeGreaterThan(0);
    const late = lotImport(account.id, { purchasedAt: at("2022-12-01T00:00:00Z"), externalRef: "late" });
    await expectRefusedUnchanged(h.sql, () => h.services.funding.importCreditLot(late, OPERATOR), "CREDIT_SALES_ENDED", "input.purchasedAt");
  });

  it.each<[string, (accountId: number) => CreditLotImport, ErrorCode, string]>([
    ["a zero amount", (id) => lotImport(id, { amountMicros: 0n }), "BAD_USER_INPUT", "input.amount"],
    ["a negative amount", (id) => lotImport(id, { amountMicros: -1n }), "BAD_USER_INPUT", "input.amount"],
    ["an amount beyond the safe range", (id) => lotImport(id, { amountMicros: MAX_TOKENS_MICROS * 10n }), "BAD_USER_INPUT", "input.amount"],
    ["an unknown account", () => lotImport(999), "NOT_FOUND", "input.accountId"],
    ["an external reference with a space", (id) => lotImport(id, { externalRef: "lot 1" }), "BAD_USER_INPUT", "input.externalRef"],
    ["a purchase more than 5 minutes ahead", (id) => lotImport(id, { purchasedAt: at("2022-06-01T00:05:00.001Z") }), "BAD_USER_INPUT", "input.purchasedAt"],
  ])("refuses %s, writing nothing", async (_why, input, code, field) => {
    h = await createHarness({ now: "2022-06-01T00:00:00Z" });
    const account = await anAccount(h);
    await expectRefusedUnchanged(h.sql, () => h.services.funding.importCreditLot(input(account.id), OPERATOR), code, field);
  });
});

describe("recording Flex purchases", () => {
  const purchase = (accountId: number, overrides: Partial<FlexPurchase> = {}): FlexPurchase => ({
    accountId,
    tokensMicros: tokens("100"),
    purchasedAt: at("2024-05-01T00:00:00Z"),
    channel: "ESTORE",
    orderRef: "order-1",
    ...overrides,
  });

  it("records a pack valid one year with its channel, reseller, order and price", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    const reseller = await aReseller(h);
    const pack = await h.services.funding.recordFlexPurchase(
      purchase(account.id, { channel: "RESELLER", resellerId: reseller.id, tokensMicros: tokens("500"), unitPrice: "550", currency: "JPY" }),
      OPERATOR,
    );
    expect(pack).toMatchObject({ channel: "RESELLER", resellerId: reseller.id, orderRef: "order-1", unitPrice: "550", currency: "JPY" });
    expect(pack.remainingMicros).toBe(tokens("500"));
    expect(iso(pack.expiresAt)).toBe("2025-05-01T00:00:00.000Z");
  });

  it("returns the same pack when the same order reference and payload come again, writing nothing", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    const first = await h.services.funding.recordFlexPurchase(purchase(account.id), OPERATOR);
    const before = await dbSnapshot(h.sql);
    expect(await h.services.funding.recordFlexPurchase(purchase(account.id), OPERATOR)).toEqual(first);
    expect(await dbSnapshot(h.sql)).toEqual(before);
  });

  it.each<[string, (accountId: number) => Partial<FlexPurchase> | Promise<Partial<FlexPurchase>>]>([
    ["another size", () => ({ tokensMicros: tokens("200") })],
    ["another purchase date", () => ({ purchasedAt: at("2024-05-02T00:00:00Z") })],
    ["a price where none was given", () => ({ unitPrice: "550", currency: "JPY" })],
    ["another account", async () => ({ accountId: (await anAccount(h)).id })],
  ])("refuses the same order reference with %s: IDEMPOTENCY_CONFLICT, nothing written", async (_why, change) => {
    h = await createHarness();
    const account = await anAccount(h);
    await h.services.funding.recordFlexPurchase(purchase(account.id), OPERATOR);
    const changed = purchase(account.id, await change(account.id));
    await expectRefusedUnchanged(h.sql, () => h.services.funding.recordFlexPurchase(changed, OPERATOR), "IDEMPOTENCY_CONFLICT", "input.orderRef");
  });

  it("scopes order references per seller: two resellers and the eStore may each use the same one", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    const [sakura, fuji] = [await aReseller(h), await aReseller(h)];
    const fromSakura = await h.services.funding.recordFlexPurchase(purchase(account.id, { channel: "RESELLER", resellerId: sakura.id }), OPERATOR);
    const fromFuji = await h.services.funding.recordFlexPurchase(purchase(account.id, { channel: "RESELLER", resellerId: fuji.id }), OPERATOR);
    const fromEStore = await h.services.funding.recordFlexPurchase(purchase(account.id), OPERATOR);
    expect(new Set([fromSakura.id, fromFuji.id, fromEStore.id]).size).toBe(3);
    expect([fromSakura, fromFuji, fromEStore].map((pack) => pack.orderRef)).toEqual(["order-1", "order-1", "order-1"]);
    // Within one seller the reference stays the idempotency key: a replay, or a conflict.
    expect(await h.services.funding.recordFlexPurchase(purchase(account.id, { channel: "RESELLER", resellerId: fuji.id }), OPERATOR)).toEqual(fromFuji);
    const changed = purchase(account.id, { channel: "RESELLER", resellerId: fuji.id, tokensMicros: tokens("200") });
    await expectRefusedUnchanged(h.sql, () => h.services.funding.recordFlexPurchase(changed, OPERATOR), "IDEMPOTENCY_CONFLICT", "input.orderRef");
  });

  it.each([
    ["has not signed the Flex agreement", { flexAgreement: false, active: true }],
    ["is no longer active", { flexAgreement: true, active: false }],
  ])("refuses a reseller that %s: RESELLER_NOT_FLEX_AUTHORIZED, nothing written", async (_why, reseller) => {
    h = await createHarness();
    const account = await anAccount(h);
    const { id } = await aReseller(h, reseller);
    const input = purchase(account.id, { channel: "RESELLER", resellerId: id });
    await expectRefusedUnchanged(h.sql, () => h.services.funding.recordFlexPurchase(input, OPERATOR), "RESELLER_NOT_FLEX_AUTHORIZED", "input.resellerId");
  });

  it("lets authorised resellers sell Flex from launch, before the eStore opened", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    const reseller = await aReseller(h);
    const pack = await h.services.funding.recordFlexPurchase(purchase(account.id, { channel: "RESELLER", resellerId: reseller.id, purchasedAt: at("2022-11-07T00:00:00Z") }), OPERATOR);
    expect(pack.channel).toBe("RESELLER");
  });

  it("refuses an eStore purchase before 2023-07-07: ESTORE_NOT_AVAILABLE, nothing written", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    const input = purchase(account.id, { purchasedAt: at("2023-07-06T23:59:59.999Z") });
    await expectRefusedUnchanged(h.sql, () => h.services.funding.recordFlexPurchase(input, OPERATOR), "ESTORE_NOT_AVAILABLE", "input.purchasedAt");
    expect((await h.services.funding.recordFlexPurchase(purchase(account.id, { purchasedAt: at("2023-07-07T00:00:00Z") }), OPERATOR)).channel).toBe("ESTORE");
  });

  it.each([
    ["100", true],
    ["101", true],
    ["5000", true],
    ["99", false],
    ["99.999999", false],
    ["100.5", false],
    ["100.000001", false],
    ["0", false],
  ])("%s tokens: accepted only as whole tokens, at least 100 → %s", async (amount, accepted) => {
    h = await createHarness();
    const account = await anAccount(h);
    const input = purchase(account.id, { tokensMicros: tokens(amount) });
    if (accepted) {
      expect(formatMicros((await h.services.funding.recordFlexPurchase(input, OPERATOR)).tokensMicros)).toBe(amount);
    } else {
      await expectRefusedUnchanged(h.sql, () => h.services.funding.recordFlexPurchase(input, OPERATOR), "BAD_USER_INPUT", "input.tokens");
    }
  });

  it.each<[string, (accountId: number, resellerId: number) => FlexPurchase, ErrorCode, string]>([
    ["tokens beyond the safe range", (id) => purchase(id, { tokensMicros: MAX_TOKENS_MICROS * 10n }), "BAD_USER_INPUT", "input.tokens"],
    ["an eStore purchase naming a reseller", (id, reseller) => purchase(id, { resellerId: reseller }), "BAD_USER_INPUT", "input.resellerId"],
    ["a reseller purchase without its reseller", (id) => purchase(id, { channel: "RESELLER" }), "BAD_USER_INPUT", "input.resellerId"],
    ["an unknown reseller", (id) => purchase(id, { channel: "RESELLER", resellerId: 999 }), "NOT_FOUND", "input.resellerId"],
    ["an unknown account", () => purchase(999), "NOT_FOUND", "input.accountId"],
    ["a price without currency", (id) => purchase(id, { unitPrice: "550" }), "BAD_USER_INPUT", "input.currency"],
    ["a currency without price", (id) => purchase(id, { currency: "JPY" }), "BAD_USER_INPUT", "input.unitPrice"],
    ["a price in exponent notation", (id) => purchase(id, { unitPrice: "1e3", currency: "JPY" }), "BAD_USER_INPUT", "input.unitPrice"],
    ["a lower-case currency", (id) => purchase(id, { unitPrice: "550", currency: "jpy" }), "BAD_USER_INPUT", "input.currency"],
    ["an empty order reference", (id) => purchase(id, { orderRef: "" }), "BAD_USER_INPUT", "input.orderRef"],
    ["a purchase more than 5 minutes ahead", (id) => purchase(id, { purchasedAt: at("2024-06-01T00:05:00.001Z") }), "BAD_USER_INPUT", "input.purchasedAt"],
  ])("refuses %s, writing nothing", async (_why, input, code, field) => {
    h = await createHarness();
    const account = await anAccount(h);
    const reseller = await aReseller(h);
    await expectRefusedUnchanged(h.sql, () => h.services.funding.recordFlexPurchase(input(account.id, reseller.id), OPERATOR), code, field);
  });
});

describe("new funds settle the deficit first", () => {
  it("owing 5 and buying 100 leaves 95 available and the account ACTIVE", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    const { charge } = await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "10" }));
    expect(await deficitOf(h.sql, account.id)).toBe("5");
    expect(await h.statusOf(account.id)).toBe("GRACE");

    const pack = await aFlexPack(h, account.id, { tokens: "100" });
    expect(formatMicros(pack.remainingMicros)).toBe("95");
    expect(await deficitOf(h.sql, account.id)).toBe("0");
    expect(await h.statusOf(account.id)).toBe("ACTIVE");
    const balance = await h.balanceOf(account.id);
    expect(formatMicros(balance.availableMicros)).toBe("95");
    expect(balance.graceEndsAt).toBeNull();
    // The settlement names the deficit it paid and the pack that paid it.
    const deficitAllocation = await scalar(h.sql, "select id from allocations where charge_id = ? and source = 'DEFICIT'", charge.id);
    expect(await h.sql.rows("select allocation_id, source, flex_pack_id, amount_micros from deficit_settlements order by id")).toEqual([
      { allocation_id: deficitAllocation, source: "FLEX_PACK", flex_pack_id: pack.id, amount_micros: Number(tokens("5")) },
    ]);
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it("owing 101 after grace and buying 100 still owes 1 and stays RESTRICTED until the next purchase", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "202" }));
    h.advance(GRACE_PERIOD_MS);
    expect(await h.statusOf(account.id)).toBe("RESTRICTED");

    const first = await aFlexPack(h, account.id, { tokens: "100" });
    expect(formatMicros(first.remainingMicros)).toBe("0");
    expect(await deficitOf(h.sql, account.id)).toBe("1");
    expect(formatMicros((await h.balanceOf(account.id)).availableMicros)).toBe("-1");
    expect(await h.statusOf(account.id)).toBe("RESTRICTED");
    await expectRefusedUnchanged(h.sql, () => h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: h.now() })), "ACCOUNT_RESTRICTED", undefined);

    const second = await aFlexPack(h, account.id, { tokens: "100" });
    expect(formatMicros(second.remainingMicros)).toBe("99");
    expect(await deficitOf(h.sql, account.id)).toBe("0");
    expect(await h.statusOf(account.id)).toBe("ACTIVE");
    const { charge } = await h.services.rating.recordUsage(aUsageEvent(account.id, { occurredAt: h.now() }));
    expect(await receiptOf(h.sql, charge.id)).toEqual([`FLEX_PACK#${second.id}:0.5`]);
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it("pays the oldest deficit first across several charges", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    const older = (await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "4" }))).charge;
    const newer = (await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "6" }))).charge;
    const pack = await aFlexPack(h, account.id, { tokens: "100" });
    const paid = await h.sql.rows("select a.charge_id as charge, s.amount_micros as amount from deficit_settlements s join allocations a on a.id = s.allocation_id order by s.id");
    expect(paid).toEqual([
      { charge: older.id, amount: Number(tokens("2")) },
      { charge: newer.id, amount: Number(tokens("3")) },
    ]);
    expect(formatMicros((await h.services.accounts.flexPacks([account.id])).get(account.id)![0]!.remainingMicros)).toBe("95");
    expect(pack.id).toBeGreaterThan(0);
  });

  it("settles more outstanding charges than one page of deficit parts holds, oldest first, after years of debts paid off", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    const owe = async (count: number) => {
      const charges = [];
      for (let i = 0; i < count; i++) charges.push((await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "2" }))).charge);
      return charges;
    };
    // Debts run up and paid off: parts paid in full, which a settlement no longer reads.
    for (let round = 0; round < 3; round++) {
      await owe(100);
      await aFlexPack(h, account.id, { tokens: "100" });
    }
    const owing = await owe(150);
    expect(await deficitOf(h.sql, account.id)).toBe("150");
    const pack = await aFlexPack(h, account.id, { tokens: "100" });
    expect(formatMicros(pack.remainingMicros)).toBe("0");
    expect(await deficitOf(h.sql, account.id)).toBe("50");
    const paid = await h.sql.rows("select a.charge_id as charge, s.amount_micros as amount from deficit_settlements s join allocations a on a.id = s.allocation_id where s.flex_pack_id = ? order by a.charge_id", pack.id);
    expect(paid).toEqual(owing.slice(0, 100).map((charge) => ({ charge: charge.id, amount: Number(tokens("1")) })));
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it("settles from an imported lot as well", async () => {
    h = await createHarness({ now: "2022-10-15T00:00:00Z" });
    const account = await anAccount(h);
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "10", occurredAt: at("2022-10-14T00:00:00Z") }));
    const lot = await aCreditLot(h, account.id, { amount: "100", purchasedAt: at("2022-10-01T00:00:00Z") });
    expect(formatMicros(lot.remainingMicros)).toBe("95");
    expect(await deficitOf(h.sql, account.id)).toBe("0");
    expect(await h.services.ledger.verify()).toEqual([]);
  });

  it("settles nothing from funds already expired when booked", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "10" }));
    const lot = await aCreditLot(h, account.id, { amount: "100", purchasedAt: at("2022-01-01T00:00:00Z") });
    expect(formatMicros(lot.remainingMicros)).toBe("100");
    expect(await deficitOf(h.sql, account.id)).toBe("5");
    expect(await scalar(h.sql, "select count(*) from deficit_settlements")).toBe(0);
  });

  it("does not settle twice when a purchase is replayed", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "10" }));
    const input: FlexPurchase = { accountId: account.id, tokensMicros: tokens("100"), purchasedAt: h.now(), channel: "ESTORE", orderRef: "order-replayed" };
    await h.services.funding.recordFlexPurchase(input, OPERATOR);
    await h.services.rating.recordUsage(aUsageEvent(account.id, { quantity: "400", occurredAt: h.now() }));
    expect(await deficitOf(h.sql, account.id)).toBe("105");
    const before = await dbSnapshot(h.sql);
    expect(formatMicros((await h.services.funding.recordFlexPurchase(input, OPERATOR)).remainingMicros)).toBe("0");
    expect(await dbSnapshot(h.sql)).toEqual(before);
  });
});

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { anAccount, aReseller, createHarness, type Harness } from "../fixtures/harness.js";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(() => h.close());

const names = (page: { items: readonly { name: string }[] }) => page.items.map((account) => account.name);

describe("account search", () => {
  it.each([
    ["50%", ["Kyoto 50% off"]],
    ["_x", ["Osaka_x"]],
    ["\\", ["Back\\slash"]],
    ["kyoto", ["Kyoto 50% off", "Kyoto 500"]],
  ])("nameContains %j matches its characters literally", async (search, expected) => {
    for (const name of ["Kyoto 50% off", "Kyoto 500", "Osaka_x", "Osakax", "Back\\slash"]) await anAccount(h, { name });
    const page = await h.services.accounts.list({ nameContains: search }, 10, undefined);
    expect(names(page)).toEqual(expected);
    expect(await page.totalCount).toBe(expected.length);
  });

  it("pages through a reseller's accounts by id, with the count of all of them", async () => {
    const reseller = await aReseller(h);
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await anAccount(h, { name: `Mine ${i}`, resellerId: reseller.id }));
    await anAccount(h, { name: "Not mine" });
    const first = await h.services.accounts.list({ resellerId: reseller.id }, 2, undefined);
    expect(first.items.map((a) => a.id)).toEqual([mine[0]!.id, mine[1]!.id]);
    expect(first.hasNextPage).toBe(true);
    expect(await first.totalCount).toBe(5);
    const last = await h.services.accounts.list({ resellerId: reseller.id, nameContains: "Mine" }, 10, mine[2]!.id);
    expect(last.items.map((a) => a.id)).toEqual([mine[3]!.id, mine[4]!.id]);
    expect(last.hasNextPage).toBe(false);
    expect(await last.totalCount).toBe(5);
  });
});

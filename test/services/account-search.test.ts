import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { anAccount, aReseller, createHarness, type Harness } from "../fixtures/harness.js";

let h: Harness;
beforeEach(() => {
  h = createHarness();
});
afterEach(() => h.close());

const names = (page: { items: readonly { name: string }[] }) => page.items.map((account) => account.name);

describe("account search", () => {
  it.each([
    ["50%", ["Kyoto 50% off"]],
    ["_x", ["Osaka_x"]],
    ["\\", ["Back\\slash"]],
    ["kyoto", ["Kyoto 50% off", "Kyoto 500"]],
  ])("nameContains %j matches its characters literally", (search, expected) => {
    for (const name of ["Kyoto 50% off", "Kyoto 500", "Osaka_x", "Osakax", "Back\\slash"]) anAccount(h, { name });
    const page = h.services.accounts.list({ nameContains: search }, 10, undefined);
    expect(names(page)).toEqual(expected);
    expect(page.totalCount).toBe(expected.length);
  });

  it("pages through a reseller's accounts by id, with the count of all of them", () => {
    const reseller = aReseller(h);
    const mine = Array.from({ length: 5 }, (_, i) => anAccount(h, { name: `Mine ${i}`, resellerId: reseller.id }));
    anAccount(h, { name: "Not mine" });
    const first = h.services.accounts.list({ resellerId: reseller.id }, 2, undefined);
    expect(first.items.map((a) => a.id)).toEqual([mine[0]!.id, mine[1]!.id]);
    expect(first).toMatchObject({ hasNextPage: true, totalCount: 5 });
    const last = h.services.accounts.list({ resellerId: reseller.id, nameContains: "Mine" }, 10, mine[2]!.id);
    expect(last.items.map((a) => a.id)).toEqual([mine[3]!.id, mine[4]!.id]);
    expect(last).toMatchObject({ hasNextPage: false, totalCount: 5 });
  });
});

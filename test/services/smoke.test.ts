import { afterEach, describe, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import { aFlexPack, anAccount, aUsageEvent, createHarness, type Harness } from "../fixtures/harness.js";

describe("rating on a real store", () => {
  let h: Harness;
  afterEach(() => h.close());

  it("charges 217 s of Design Automation for Revit 0.120556 tokens from a Flex pack", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    await aFlexPack(h, account.id);
    const { charge } = await h.services.rating.recordUsage(
      aUsageEvent(account.id, { apiCode: "design-automation/revit", quantity: "217" }),
    );
    expect(formatMicros(charge.tokensMicros)).toBe("0.120556");
    expect(await h.services.ledger.verify()).toEqual([]);
  });
});

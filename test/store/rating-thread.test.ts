/**
 * The rating thread rates on its own connection to the file exactly what the main loop would:
 * the same answers, refusals as FlexgateErrors with their code, message and field, the same rows.
 */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FlexgateError } from "../../server/core/errors.js";
import { formatMicros } from "../../server/core/money.js";
import type { BatchItemResult, UsageEvent } from "../../server/services/rating.service.js";
import { aFlexPack, anAccount, at, aUsageEvent, type Harness, OPERATOR, sqliteHarnesses, tokens } from "../fixtures/harness.js";
import { dbSnapshot } from "../fixtures/ledger-assertions.js";
import { faultMessageIn } from "../fixtures/test-sql.js";
import { anEnrolledAccount, anEventAt, COMPLEX, publishTestTerms, REVIT } from "../fixtures/tiered.js";

const opened = sqliteHarnesses();
const harness = (ratingThread: boolean) => opened({ ratingThread });

/** An answer as a comparable value: the charge, or the refusal with its class. */
const answerOf = (result: BatchItemResult) =>
  result.error
    ? { eventId: result.eventId, error: { flexgate: result.error instanceof FlexgateError, code: result.error.code, message: result.error.message, field: result.error.field } }
    : { eventId: result.eventId, charge: result.charge, replayed: result.replayed };

/** The same world and the same groups, LEGACY and tiered, with every kind of refusal rating can give. */
async function mixedWorkload(h: Harness) {
  await publishTestTerms(h);
  const free = await anEnrolledAccount(h, { tier: "FREE", from: "2026-01-01T00:00:00Z" }, { name: "free" });
  const hardStop = await anAccount(h, { name: "hard stop", balancePolicy: "HARD_STOP" });
  await aFlexPack(h, hardStop.id, { tokens: "100", orderRef: "pack-hard-stop" });
  const soft = await anAccount(h, { name: "soft" });
  await aFlexPack(h, soft.id, { tokens: "100", orderRef: "pack-soft" });
  h.setNow("2026-01-20T00:00:00Z");
  const legacy = (eventId: string, accountId: number, quantity: string, overrides: Partial<UsageEvent> = {}) =>
    aUsageEvent(accountId, { eventId, quantity, occurredAt: at("2026-01-19T00:00:00Z"), ...overrides });
  const groups: UsageEvent[][] = [
    [
      legacy("e1", soft.id, "4"),
      legacy("e2", hardStop.id, "300"), // 150 tokens: more than the pack holds
      legacy("e3", hardStop.id, "8"),
      legacy("e1", soft.id, "4"), // a replay within the group
      legacy("e4", 999_999, "1"), // no such account
      legacy("e5", soft.id, "1", { apiCode: "no/such-api" }),
      anEventAt(free.id, REVIT, "1500", "2026-01-19T00:00:00Z", { eventId: "t1" }),
      anEventAt(free.id, REVIT, "5000", "2026-01-19T01:00:00Z", { eventId: "t2" }), // over the free cap
    ],
    [
      legacy("e1", soft.id, "4"), // a replay of a stored charge
      legacy("e1", soft.id, "5"), // the same id with another payload
      legacy("e6", soft.id, "600"), // past the funds: a deficit
      anEventAt(free.id, COMPLEX, "1", "2026-01-19T02:00:00Z", { eventId: "t3" }),
    ],
  ];
  const answers = [];
  for (const group of groups) answers.push((await h.services.rating.recordUsageBatch(group)).map(answerOf));
  return answers;
}

describe("the rating thread", () => {
  it("answers and writes exactly what rating on the main loop does, refusals included", async () => {
    const [onThread, onLoop] = [await harness(true), await harness(false)];
    const answers = await mixedWorkload(onThread);
    expect(answers).toEqual(await mixedWorkload(onLoop));
    expect(answers.flat().filter((answer) => "error" in answer).map((answer) => answer.error!.code)).toEqual(
      expect.arrayContaining(["INSUFFICIENT_BALANCE", "NOT_FOUND", "PRICE_NOT_FOUND", "IDEMPOTENCY_CONFLICT"]),
    );
    expect(answers.flat().every((answer) => !("error" in answer) || answer.error!.flexgate)).toBe(true);
    expect(await dbSnapshot(onThread.sql)).toEqual(await dbSnapshot(onLoop.sql));
    expect(await onThread.services.ledger.verify()).toEqual([]);
  });

  it("fails only the event that meets a storage fault, and a lone event with the fault itself", async () => {
    const h = await harness(true);
    const [a, b] = [await anAccount(h), await anAccount(h)];
    const pack = await aFlexPack(h, a.id, { tokens: "100" });
    await aFlexPack(h, b.id, { tokens: "100" });
    await h.sql.injectFault({ table: "flex_packs", before: "update of remaining_micros", when: `new.id = ${pack.id}` });
    const [faulty, fine] = await h.services.rating.recordUsageBatch([aUsageEvent(a.id), aUsageEvent(b.id)]);
    expect(faulty!.error).toMatchObject({ code: "INTERNAL_SERVER_ERROR" });
    expect(fine!.error).toBeUndefined();
    const alone = await h.services.rating.recordUsage(aUsageEvent(a.id)).catch((error: unknown) => error);
    expect(faultMessageIn(alone)).toMatch(/injected storage fault/);
  });

  it("rates the next group at a price published on the main connection a moment before", async () => {
    const h = await harness(true);
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "1000" });
    const publish = (tokensPerCall: string) =>
      h.services.prices.publish({ apiCode: "test/call", meter: "CALL", unitQuantity: 1, tokensPerUnitMicros: tokens(tokensPerCall), note: "test" }, OPERATOR);
    await publish("1");
    const first = await h.services.rating.recordUsage(aUsageEvent(account.id, { apiCode: "test/call", occurredAt: h.now() }));
    h.advance(60 * 60_000);
    await publish("3");
    const second = await h.services.rating.recordUsage(aUsageEvent(account.id, { apiCode: "test/call", occurredAt: h.now() }));
    expect([formatMicros(first.charge.tokensMicros), formatMicros(second.charge.tokensMicros)]).toEqual(["1", "3"]);
  });

  it("closes its connection with the store, leaving no WAL file behind", async () => {
    const h = await harness(true);
    const account = await anAccount(h);
    await aFlexPack(h, account.id, { tokens: "100" });
    await h.services.rating.recordUsage(aUsageEvent(account.id));
    await h.store.close();
    expect(existsSync(`${h.file!.path}-wal`)).toBe(false);
  });
});

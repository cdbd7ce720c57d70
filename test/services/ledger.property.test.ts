/**
 * Random sequences of lot imports, Flex purchases, usage, reversals, replays and the passing of
 * time, run against the real store (SQLite or PostgreSQL). After every step the ledger must hold together.
 */
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareDrainOrder, type FundingSource } from "../../server/core/drain.js";
import { FlexgateError, type ErrorCode } from "../../server/core/errors.js";
import type { Account, Outcome } from "../../server/core/model.js";
import { isValidAt } from "../../server/core/time.js";
import { DEFAULT_RULES } from "../../server/services/context.js";
import type { CreditLotImport, FlexPurchase } from "../../server/services/funding.service.js";
import type { UsageEvent } from "../../server/services/rating.service.js";
import { openDatabase } from "../../server/store/sqlite/database.js";
import { lotAsSource, packAsSource } from "../../server/store/sources.js";
import { SqliteStore } from "../../server/store/sqlite/store.js";
import { ENGINE } from "../fixtures/engine.js";
import { anAccount, at, createHarness, type Harness, harnessOn, OPERATOR } from "../fixtures/harness.js";
import { openTestStore, sqliteTestStore, type TestStore } from "../fixtures/test-store.js";

const START = "2024-06-01T00:00:00Z";
const LOTS_FROM = at("2022-12-01T00:00:00Z");
const PACKS_FROM = at("2023-07-07T00:00:00Z");
const USAGE_FROM = at("2023-01-01T00:00:00Z");
const DAY = 86_400_000;

/** The priced APIs used, with a scale that makes one quantity step cost about the same. */
const APIS = [
  { apiCode: "model-derivative/complex-job", scale: 1n },
  { apiCode: "design-automation/revit", scale: 2_000n },
  { apiCode: "reality-capture/photoscene", scale: 50n },
] as const;

type Step =
  | { kind: "lot"; account: number; micros: number; when: number }
  | { kind: "pack"; account: number; tokens: number; when: number }
  | { kind: "usage"; account: number; api: number; units: number; outcome: Outcome; when: number }
  | { kind: "reverse"; pick: number }
  | { kind: "replay"; pick: number; conflict: boolean }
  | { kind: "advance"; days: number };

const account = fc.integer({ min: 0, max: 1 });
const when = fc.integer({ min: 0, max: 1000 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("lot" as const), account, micros: fc.integer({ min: 1, max: 150_000_000 }), when }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("pack" as const), account, tokens: fc.integer({ min: 100, max: 250 }), when }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("usage" as const),
      account,
      api: fc.integer({ min: 0, max: APIS.length - 1 }),
      units: fc.integer({ min: 0, max: 120_000_000 }),
      outcome: fc.constantFrom<Outcome>("SUCCEEDED", "SUCCEEDED", "FAILED", "CANCELLED"),
      when,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("reverse" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("replay" as const), pick: fc.nat(), conflict: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("advance" as const), days: fc.integer({ min: 1, max: 20 }) }) },
);

type Replayable =
  | { kind: "usage"; input: UsageEvent; chargeId: number; tokensMicros: bigint }
  | { kind: "lot"; input: CreditLotImport; id: number }
  | { kind: "pack"; input: FlexPurchase; id: number };

// Lots may be imported at any time here, so lots and packs overlap as much as the steps like.
const RULES = { ...DEFAULT_RULES, creditSalesEndAt: at("2100-01-01T00:00:00Z") };

/** On SQLite, the migrated file each run copies; PostgreSQL copies the project's template database. */
let template: TestStore | null = null;
let h: Harness;
let run = 0;
beforeAll(async () => {
  if (ENGINE !== "sqlite") return;
  template = await openTestStore();
  template.file!.db.$client.pragma("wal_checkpoint(TRUNCATE)");
});
afterAll(() => template?.close());

/**
 * Every run gets its own database, copied from one migrated template (cheaper than migrating
 * again), so a run starts empty and a failing case shrinks on its own data.
 */
async function freshStore(): Promise<Harness> {
  if (!template?.file) return createHarness({ now: START, rules: RULES });
  const path = join(template.file.dir, `run-${++run}.sqlite`);
  copyFileSync(template.file.path, path);
  const db = openDatabase({ path, synchronous: "NORMAL" });
  // These runs test the ledger's logic, not durability; without fsyncs a run costs milliseconds.
  db.$client.pragma("synchronous = OFF");
  const file = { db, path, dir: template.file.dir };
  return harnessOn(
    sqliteTestStore(file, new SqliteStore(db), () => {
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
    }),
    { now: START, rules: RULES },
  );
}

const between = (from: number, fraction: number) => from + Math.floor(((h.now() - from) * fraction) / 1000);
const rows = <T>(query: string, ...params: unknown[]) => h.sql.rows<T>(query, ...params);

/**
 * What a write could change, cheaply enough to take around every step: the row count of every
 * table (the ledger is append-only) and every mutable figure (remaining amounts, deficits).
 */
async function digest(): Promise<string> {
  const counts: string[] = [];
  for (const table of await h.sql.tables()) counts.push(`${table}:${await h.sql.scalar(`select count(*) from "${table}"`)}`);
  const figures = [
    await h.sql.rows("select id, remaining_micros from credit_lots order by id"),
    await h.sql.rows("select id, remaining_micros from flex_packs order by id"),
    await h.sql.rows("select id, deficit_micros, grace_started_at from accounts order by id"),
  ];
  return `${counts.join(",")}|${JSON.stringify(figures)}`;
}

/** The call must refuse with one of the allowed codes and write nothing. */
async function expectRefusedUnchanged(work: () => Promise<unknown>, allowed: readonly ErrorCode[]): Promise<void> {
  const before = await digest();
  let refused: unknown = null;
  try {
    await work();
  } catch (error) {
    refused = error;
  }
  expect(refused).toBeInstanceOf(FlexgateError);
  expect(allowed).toContain((refused as FlexgateError).code);
  expect(await digest()).toEqual(before);
}

async function sourcesOf(accountId: number): Promise<FundingSource[]> {
  return [
    ...((await h.services.accounts.creditLots([accountId])).get(accountId) ?? []).map(lotAsSource),
    ...((await h.services.accounts.flexPacks([accountId])).get(accountId) ?? []).map(packAsSource),
  ];
}

/** Invariants of the whole store, after every step. */
async function checkLedger(hardStop: Account): Promise<void> {
  expect(await h.services.ledger.verify()).toEqual([]);
  expect(
    await rows(`select c.id from usage_charges c
          where c.tokens_micros != coalesce((select sum(a.amount_micros) from allocations a where a.charge_id = c.id), 0)`),
  ).toEqual([]);
  expect(await rows("select id from allocations where amount_micros <= 0")).toEqual([]);
  expect(await rows("select id from credit_lots where remaining_micros < 0 or remaining_micros > amount_micros")).toEqual([]);
  expect(await rows("select id from flex_packs where remaining_micros < 0 or remaining_micros > tokens_micros")).toEqual([]);
  expect(await rows("select id from accounts where deficit_micros < 0")).toEqual([]);
  expect(await rows("select id from allocations where account_id = ? and source = 'DEFICIT'", hardStop.id)).toEqual([]);
}

/**
 * Right after a charge: it took from the sources valid at its time in drain order, emptied each
 * before moving to the next, and owed a deficit only once every one of them was empty. So no
 * credit lot valid then kept tokens while a pack paid.
 */
async function checkDrain(accountId: number, chargeId: number, occurredAt: number): Promise<void> {
  const parts = (await h.services.ledger.allocations([chargeId])).get(chargeId) ?? [];
  const after = (await sourcesOf(accountId)).filter((source) => isValidAt(source, occurredAt));
  const taken = (source: FundingSource) =>
    parts.filter((part) => part.source === source.kind && (part.creditLotId ?? part.flexPackId) === source.id).reduce((sum, part) => sum + part.amountMicros, 0n);
  const candidates = after.filter((source) => source.remainingMicros + taken(source) > 0n).sort(compareDrainOrder);
  const paying = parts.filter((part) => part.source !== "DEFICIT");
  expect(paying.map((part) => `${part.source}#${part.creditLotId ?? part.flexPackId}`)).toEqual(
    candidates.slice(0, paying.length).map((source) => `${source.kind}#${source.id}`),
  );
  for (const source of candidates.slice(0, Math.max(0, paying.length - 1))) expect(source.remainingMicros).toBe(0n);
  const owed = parts.some((part) => part.source === "DEFICIT");
  if (owed) for (const source of candidates) expect(source.remainingMicros).toBe(0n);
  if (paying.some((part) => part.source === "FLEX_PACK")) {
    for (const lot of after.filter((source) => source.kind === "CREDIT_LOT")) expect(lot.remainingMicros).toBe(0n);
  }
}

/** A reversal gives each lot and pack exactly what the charge (or its settled deficit) took from it. */
async function reverseAndCheck(accountId: number, chargeId: number): Promise<void> {
  const remaining = async () => new Map((await sourcesOf(accountId)).map((source) => [`${source.kind}#${source.id}`, source.remainingMicros]));
  const before = await remaining();
  const deficitBefore = (await h.services.accounts.find(accountId))!.deficitMicros;
  const expected = new Map<string, bigint>();
  const add = (key: string, amount: number) => expected.set(key, (expected.get(key) ?? 0n) + BigInt(amount));
  let unpaidDeficit = 0n;
  for (const part of await rows<{ id: number; source: string; lot: number | null; pack: number | null; amount: number }>(
    "select id, source, credit_lot_id as lot, flex_pack_id as pack, amount_micros as amount from allocations where charge_id = ?",
    chargeId,
  )) {
    if (part.source !== "DEFICIT") {
      add(`${part.source}#${part.lot ?? part.pack}`, part.amount);
      continue;
    }
    let settled = 0;
    for (const paid of await rows<{ source: string; lot: number | null; pack: number | null; amount: number }>(
      "select source, credit_lot_id as lot, flex_pack_id as pack, amount_micros as amount from deficit_settlements where allocation_id = ?",
      part.id,
    )) {
      add(`${paid.source}#${paid.lot ?? paid.pack}`, paid.amount);
      settled += paid.amount;
    }
    unpaidDeficit += BigInt(part.amount - settled);
  }

  await h.services.rating.reverseCharge(chargeId, "property test", OPERATOR);
  for (const [key, amount] of (await remaining())) expect(amount - before.get(key)!).toBe(expected.get(key) ?? 0n);
  expect(deficitBefore - (await h.services.accounts.find(accountId))!.deficitMicros).toBe(unpaidDeficit);
}

async function replay(item: Replayable, conflict: boolean): Promise<void> {
  if (item.kind === "usage") {
    if (conflict) {
      const changed = { ...item.input, quantityMicros: item.input.quantityMicros + 1n };
      await expectRefusedUnchanged(() => h.services.rating.recordUsage(changed), ["IDEMPOTENCY_CONFLICT"]);
      return;
    }
    const result = await h.services.rating.recordUsage(item.input);
    expect(result.replayed).toBe(true);
    expect(result.charge.id).toBe(item.chargeId);
    expect(result.charge.tokensMicros).toBe(item.tokensMicros);
  } else if (item.kind === "lot") {
    if (conflict) {
      const changed = { ...item.input, amountMicros: item.input.amountMicros + 1n };
      await expectRefusedUnchanged(() => h.services.funding.importCreditLot(changed, OPERATOR), ["IDEMPOTENCY_CONFLICT"]);
      return;
    }
    expect((await h.services.funding.importCreditLot(item.input, OPERATOR)).id).toBe(item.id);
  } else {
    if (conflict) {
      const changed = { ...item.input, tokensMicros: item.input.tokensMicros + 1_000_000n };
      await expectRefusedUnchanged(() => h.services.funding.recordFlexPurchase(changed, OPERATOR), ["IDEMPOTENCY_CONFLICT"]);
      return;
    }
    expect((await h.services.funding.recordFlexPurchase(item.input, OPERATOR)).id).toBe(item.id);
  }
}

async function execute(steps: readonly Step[]): Promise<void> {
  h = await freshStore();
  try {
    await executeOn(steps);
  } finally {
    await h.close();
  }
}

async function executeOn(steps: readonly Step[]): Promise<void> {
  const accounts = [await anAccount(h, { balancePolicy: "NEGATIVE_WITH_GRACE" }), await anAccount(h, { balancePolicy: "HARD_STOP" })];
  const replayables: Replayable[] = [];
  const charges: { accountId: number; chargeId: number }[] = [];
  let counter = 0;
  const ref = (prefix: string) => `${prefix}-${++counter}`;

  for (const current of steps) {
    if (current.kind === "lot") {
      const input: CreditLotImport = { accountId: accounts[current.account]!.id, amountMicros: BigInt(current.micros), purchasedAt: between(LOTS_FROM, current.when), externalRef: ref("lot") };
      replayables.push({ kind: "lot", input, id: (await h.services.funding.importCreditLot(input, OPERATOR)).id });
    } else if (current.kind === "pack") {
      const input: FlexPurchase = {
        accountId: accounts[current.account]!.id,
        tokensMicros: BigInt(current.tokens) * 1_000_000n,
        purchasedAt: between(PACKS_FROM, current.when),
        channel: "ESTORE",
        orderRef: ref("order"),
      };
      replayables.push({ kind: "pack", input, id: (await h.services.funding.recordFlexPurchase(input, OPERATOR)).id });
    } else if (current.kind === "usage") {
      const api = APIS[current.api]!;
      const input: UsageEvent = {
        eventId: ref("event"),
        accountId: accounts[current.account]!.id,
        apiCode: api.apiCode,
        quantityMicros: BigInt(current.units) * api.scale,
        outcome: current.outcome,
        occurredAt: between(USAGE_FROM, current.when),
      };
      let recorded;
      try {
        recorded = await h.services.rating.recordUsage(input);
      } catch (error) {
        expect(error).toBeInstanceOf(FlexgateError);
        // Only the balance rules may refuse these well-formed events, and then nothing is written.
        expect(["ACCOUNT_RESTRICTED", "INSUFFICIENT_BALANCE"]).toContain((error as FlexgateError).code);
        await expectRefusedUnchanged(() => h.services.rating.recordUsage(input), ["ACCOUNT_RESTRICTED", "INSUFFICIENT_BALANCE"]);
      }
      if (recorded) {
        expect(recorded.replayed).toBe(false);
        await checkDrain(input.accountId, recorded.charge.id, input.occurredAt);
        replayables.push({ kind: "usage", input, chargeId: recorded.charge.id, tokensMicros: recorded.charge.tokensMicros });
        charges.push({ accountId: input.accountId, chargeId: recorded.charge.id });
      }
    } else if (current.kind === "reverse" && charges.length > 0) {
      const target = charges[current.pick % charges.length]!;
      if ((await h.services.ledger.findCharge(target.chargeId))!.reversedAt === null) await reverseAndCheck(target.accountId, target.chargeId);
      else await expectRefusedUnchanged(() => h.services.rating.reverseCharge(target.chargeId, "again", OPERATOR), ["BAD_USER_INPUT"]);
    } else if (current.kind === "replay" && replayables.length > 0) {
      const before = await digest();
      await replay(replayables[current.pick % replayables.length]!, current.conflict);
      expect(await digest()).toEqual(before);
    } else if (current.kind === "advance") {
      h.advance(current.days * DAY);
    }
    await checkLedger(accounts[1]!);
  }

  // Replaying everything at the end changes nothing either.
  const before = await digest();
  for (const item of replayables) await replay(item, false);
  expect(await digest()).toEqual(before);
}

describe("the ledger under random sequences of funding, usage, reversals and replays", () => {
  it("keeps allocations equal to charges, sources within bounds, the drain order, and stored = recomputed", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), (steps) => execute(steps)),
      { numRuns: 60 },
    );
  });

  it("holds on a long run of one account paying, owing, settling and reversing", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step.map((s) => ("account" in s ? { ...s, account: 0 } : s)), { minLength: 40, maxLength: 80 }), (steps) => execute(steps)),
      { numRuns: 10 },
    );
  });
});

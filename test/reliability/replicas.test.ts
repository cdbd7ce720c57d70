/**
 * Three `flexgate serve` processes on one PostgreSQL database, as behind a load balancer, with
 * clients spread across them writing to the same few accounts: every write contends for the same
 * account rows, lots and packs. Nothing but PostgreSQL's locks stands between the replicas.
 * - All kinds of writes at once: nothing spent twice, each acknowledged write stored once, the
 *   books balance, no INTERNAL_SERVER_ERROR, a resend answers as a replay.
 * - One replica SIGKILLed in the middle of batches, again and again: the others go on answering,
 *   clients resend what got no answer to another replica, every event is charged exactly once.
 * - A price or a key revocation made on one replica holds on the others from the next request.
 * - The database ending every connection (a restart, a failover) stops no replica.
 * - Replicas starting together on a new database load the demo data and the bootstrap key once.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAXIMA } from "../../server/core/maxima.js";
import type { Actor } from "../../server/core/model.js";
import { freshDatabase, NO_SERVER, TEST_DATABASE_URL, type TestDatabase } from "../fixtures/postgres.js";
import { seededRandom } from "../fixtures/random.js";
import { expectSoundPgLedger, openPgLedger, type PgLedger } from "./support/pg-ledger.js";
import { ReplicaSet } from "./support/replica-set.js";
import {
  IMPORT_LOT,
  MICROS,
  PUBLISH,
  PURCHASE,
  RECORD,
  RECORD_BATCH,
  REVERSE,
  Workload,
  type Write,
} from "./support/replica-workload.js";
import { errorsIn, expectNoInternalError } from "./support/safe-errors.js";
import { bundleServer, type Launcher, type Outcome, post, sleep } from "./support/server-process.js";

const REPLICAS = 3;
/** Connections per replica: three replicas and the test stay far below max_connections (100). */
const POOL_SIZE = 6;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Complex Model Derivative jobs cost 0.5 token each since 2022-03-29. */
const JOB_API = "model-derivative/complex-job";
/** Lots are cloud credits, sold until 2022-11-07 and valid a year: they pay usage of their year. */
const LOT_BOUGHT = "2022-06-01T00:00:00.000Z";
const OLD_USAGE = "2022-09-01T00:00:00.000Z";
const ACTOR: Actor = { name: "replica test", role: "OPERATOR", keyId: null, resellerId: null };
/** idle_in_transaction_session_timeout of the test database. */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 2000;

/** One statement on a connection of its own. */
async function ledgerlessQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const seed = Number(process.env.FLEXGATE_RELIABILITY_SEED ?? Date.now() % 2 ** 31);
const random = seededRandom(seed);
const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));

describe.skipIf(!TEST_DATABASE_URL)(`Replicas on one PostgreSQL database${TEST_DATABASE_URL ? "" : ` (skipped: ${NO_SERVER})`}`, () => {
  const cleanups: (() => unknown)[] = [];
  let database: TestDatabase;
  let ledger: PgLedger;
  let replicas: ReplicaSet;
  let keys: { operator: string; metering: string };
  let launcher: Launcher;

  beforeAll(async () => {
    const bundle = await bundleServer();
    cleanups.push(bundle.dispose);
    launcher = bundle.launcher;
    database = await freshDatabase("replicas");
    cleanups.push(() => database.drop());
    // As README advises: a replica frozen inside a transaction cannot hold its accounts' rows for
    // longer than this (set before any connection opens, so every session has it).
    await ledgerlessQuery(database.url, `alter database "${new URL(database.url).pathname.slice(1)}" set idle_in_transaction_session_timeout = '${IDLE_IN_TRANSACTION_TIMEOUT_MS}ms'`);
    // The test's own connections migrate the new database, as `flexgate migrate` would first.
    ledger = await openPgLedger(database.url);
    cleanups.push(() => ledger.close());
    keys = {
      operator: (await ledger.services.keys.create({ name: "replica operator", role: "OPERATOR" }, ACTOR)).secret,
      metering: (await ledger.services.keys.create({ name: "replica metering", role: "METERING" }, ACTOR)).secret,
    };
    replicas = await ReplicaSet.start(REPLICAS, { launcher: bundle.launcher, databaseUrl: database.url, poolSize: POOL_SIZE });
    cleanups.push(() => replicas.killAll());
  }, 60_000);

  afterAll(async () => {
    try {
      if (replicas) {
        // A replica stops cleanly on SIGTERM whatever its siblings went through.
        expect(await replicas.stopAll()).toEqual(Array.from({ length: REPLICAS }, () => ({ code: 0, signal: null })));
      }
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup();
    }
  });

  /** Accounts of one test, each with a 100-token Flex pack bought yesterday. */
  const seedAccounts = async (names: readonly [string, "NEGATIVE_WITH_GRACE" | "HARD_STOP"][], prefix: string) => {
    const ids: number[] = [];
    for (const [name, balancePolicy] of names) {
      const { id } = await ledger.services.accounts.create({ name, country: "JP", balancePolicy }, ACTOR);
      await ledger.services.funding.recordFlexPurchase(
        { accountId: id, tokensMicros: 100n * MICROS, purchasedAt: Date.now() - DAY, channel: "ESTORE", orderRef: `${prefix}-seed-${id}` },
        ACTOR,
      );
      ids.push(id);
    }
    return ids;
  };

  /** A job event on one of the accounts: a quarter occurred in 2022 (lots pay), a tenth failed (free). */
  const jobEvent = (work: Workload, accountIds: readonly number[], recent: string): Write => {
    const accountId = pick(accountIds);
    const jobs = between(1, 4);
    const failed = random() < 0.1;
    const occurredAt = random() < 0.25 ? OLD_USAGE : recent;
    return work.usage(accountId, { apiCode: JOB_API, quantity: String(jobs), outcome: failed ? "FAILED" : "SUCCEEDED", occurredAt }, failed ? 0n : (BigInt(jobs) * MICROS) / 2n);
  };

  /** No replica logged an error (an INTERNAL_SERVER_ERROR is logged before it is masked). */
  const expectNoErrorLogs = () => expect(replicas.logLines().filter((line) => line.level === "error")).toEqual([]);
  const reruns = () => replicas.logLines().filter((line) => line.message === "unit ran again after a concurrent commit").length;

  it("take every kind of write on the same accounts at once without spending twice, storing each acknowledged write once, or an internal error", async () => {
    const CLIENTS = 24;
    const ROUNDS = 12;
    const PUBLISHES = 12;
    const prefix = `contend-${seed}-${randomBytes(3).toString("hex")}`;
    const accountIds = await seedAccounts(
      [
        ["Shared A", "NEGATIVE_WITH_GRACE"],
        ["Shared B", "NEGATIVE_WITH_GRACE"],
        ["Shared C", "HARD_STOP"],
        ["Shared D", "NEGATIVE_WITH_GRACE"],
        ["Rival X", "NEGATIVE_WITH_GRACE"],
        ["Rival Y", "NEGATIVE_WITH_GRACE"],
      ],
      prefix,
    );
    const hardStop = accountIds[2]!;
    // Shared D is on the tiered regime, PAID with PAYG, for the recent usage (the 2022 events stay
    // LEGACY): its groups read and write plans, remainders and PAYG parts beside the others'.
    await ledger.services.tiered.enrollPlan({ accountId: accountIds[3]!, tier: "PAID", payg: true, effectiveFrom: Date.now() - 2 * HOUR }, ACTOR);
    const shared = accountIds.slice(0, 4);
    const rivalAccounts = accountIds.slice(4);
    const work = new Workload(prefix, (accountId) => (accountId === hardStop ? ["INSUFFICIENT_BALANCE"] : []));
    const recent = new Date(Date.now() - HOUR).toISOString();
    const packBought = new Date(Date.now() - DAY).toISOString();
    const rerunsBefore = reruns();
    const requests = Array.from({ length: REPLICAS }, () => 0);
    const send = (replica: number, key: string, query: string, variables: Record<string, unknown>) => {
      requests[replica]!++;
      return post(replicas.url(replica), key, query, variables);
    };
    const twoReplicas = (replica: number) => [replica, (replica + 1) % REPLICAS];
    const counts = { single: 0, batch: 0, sameEventTwice: 0, resent: 0, packs: 0, lots: 0, reversals: 0, rivals: 0, publishes: 0 };

    const single = async (replica: number) => {
      counts.single++;
      const write = jobEvent(work, shared, recent);
      work.answerRecord(write, await send(replica, keys.metering, RECORD, { input: write.input }), false);
    };
    const batch = async (replica: number) => {
      counts.batch++;
      const writes = Array.from({ length: between(5, 15) }, () => jobEvent(work, shared, recent));
      work.answerBatch(writes, await send(replica, keys.metering, RECORD_BATCH, { inputs: writes.map((write) => write.input) }), writes.map(() => false));
    };
    /** The same event, or the same batch, to two replicas at the same moment: charged once. */
    const sameEventTwice = async (replica: number) => {
      counts.sameEventTwice++;
      if (random() < 0.5) {
        const write = jobEvent(work, shared, recent);
        const outcomes = await Promise.all(twoReplicas(replica).map((to) => send(to, keys.metering, RECORD, { input: write.input })));
        for (const outcome of outcomes) work.answerRecord(write, outcome, false);
      } else {
        const writes = Array.from({ length: 5 }, () => jobEvent(work, shared, recent));
        const outcomes = await Promise.all(twoReplicas(replica).map((to) => send(to, keys.metering, RECORD_BATCH, { inputs: writes.map((write) => write.input) })));
        for (const outcome of outcomes) work.answerBatch(writes, outcome, writes.map(() => false));
      }
    };
    /** An event already answered, sent again to another replica: a replay of the same charge. */
    const resend = async (replica: number) => {
      const charged = work.writes.filter((write) => write.kind === "usage" && write.ack !== undefined);
      if (charged.length === 0) return single(replica);
      counts.resent++;
      const write = pick(charged);
      work.answerRecord(write, await send((replica + 1) % REPLICAS, keys.metering, RECORD, { input: write.input }), true);
    };
    /** A Flex purchase or a lot import, now and then sent to two replicas at once: one row. */
    const funding = async (replica: number, kind: "pack" | "lot") => {
      counts[kind === "pack" ? "packs" : "lots"]++;
      // The HARD_STOP account buys no more packs: its recent events run it dry and are refused.
      const accountId = pick(kind === "pack" ? shared.filter((id) => id !== hardStop) : shared);
      const write = kind === "pack" ? work.pack(accountId, 100n, packBought) : work.lot(accountId, BigInt(between(10, 40)), LOT_BOUGHT);
      const to = random() < 0.3 ? twoReplicas(replica) : [replica];
      const outcomes = await Promise.all(to.map((at) => send(at, keys.operator, kind === "pack" ? PURCHASE : IMPORT_LOT, { input: write.input })));
      for (const outcome of outcomes) work.answerFunding(write, outcome);
    };
    /** A charge reversed, now and then on two replicas at once: reversed once, the other refused. */
    const reversal = async (replica: number) => {
      const chargeId = work.pickReversal(pick);
      if (chargeId === null) return single(replica);
      counts.reversals++;
      const to = random() < 0.3 ? twoReplicas(replica) : [replica];
      const outcomes = await Promise.all(to.map((at) => send(at, keys.operator, REVERSE, { id: chargeId, reason: "replica contention" })));
      for (const outcome of outcomes) work.answerReversal(chargeId, outcome, to.length > 1);
    };
    /**
     * One event id, order reference or external reference for two accounts, sent to two replicas
     * at the same moment. Each unit locks only its own account (an event goes alone, as a batch
     * of one, not in a group with other accounts' events), so the two meet only at the unique
     * index: one is stored; the other runs again, finds it, and is refused IDEMPOTENCY_CONFLICT.
     */
    const rivals = async (replica: number) => {
      counts.rivals++;
      const [first, second] = random() < 0.5 ? rivalAccounts : [...rivalAccounts].reverse();
      const kind = pick(["usage", "pack", "lot"] as const);
      const write = kind === "usage" ? jobEvent(work, [first!], recent) : kind === "pack" ? work.pack(first!, 100n, packBought) : work.lot(first!, 20n, LOT_BOUGHT);
      const pair = [write, work.rival(write, second!)];
      const outcomes = await Promise.all(
        twoReplicas(replica).map((to, n) =>
          kind === "usage"
            ? send(to, keys.metering, RECORD_BATCH, { inputs: [pair[n]!.input] })
            : send(to, keys.operator, kind === "pack" ? PURCHASE : IMPORT_LOT, { input: pair[n]!.input }),
        ),
      );
      pair.forEach((sent, n) => (kind === "usage" ? work.answerBatch([sent], outcomes[n]!, [false]) : work.answerFunding(sent, outcomes[n]!)));
    };
    const client = async (index: number) => {
      for (let round = 0; round < ROUNDS; round++) {
        const replica = (index + round) % REPLICAS;
        const roll = random();
        if (roll < 0.4) await single(replica);
        else if (roll < 0.62) await batch(replica);
        else if (roll < 0.7) await sameEventTwice(replica);
        else if (roll < 0.76) await resend(replica);
        else if (roll < 0.84) await funding(replica, "pack");
        else if (roll < 0.88) await funding(replica, "lot");
        else if (roll < 0.92) await rivals(replica);
        else await reversal(replica);
      }
    };
    /**
     * One operator publishes the job price again and again on every replica in turn, while the
     * events are rated. Each version is 0.5 from now, so the events (an hour old or from 2022) keep
     * their charge whichever version a replica read; every publish still changes the price book
     * each replica must see. One publisher: two versions in the same millisecond would clash.
     */
    let clientsDone = false;
    const publisher = async () => {
      for (let n = 0; n < PUBLISHES && !clientsDone; n++) {
        counts.publishes++;
        const outcome = await send(n % REPLICAS, keys.operator, PUBLISH, { input: { apiCode: JOB_API, meter: "JOB", unitQuantity: 1, tokensPerUnit: "0.5", note: `republished ${n}` } });
        const data = work.body(outcome, `publish ${n}`);
        if (!data?.publishPrice) work.problems.push(`publish ${n} refused: ${JSON.stringify(outcome.kind === "answer" ? outcome.body : outcome).slice(0, 300)}`);
        await sleep(100);
      }
    };

    const started = Date.now();
    await Promise.all([
      Promise.all(Array.from({ length: CLIENTS }, (_, index) => client(index))).finally(() => (clientsDone = true)),
      publisher(),
    ]);
    const elapsed = Date.now() - started;
    expect(work.problems, `seed ${seed}`).toEqual([]);

    // Every replica reads the same balances now: none keeps a stale copy of what another wrote.
    const BALANCE = `query Balance($id: ID!) { account(id: $id) { balance { cloudCredits flexTokens deficit available } charges { totalCount } } }`;
    for (const accountId of accountIds) {
      const views = await Promise.all(
        Array.from({ length: REPLICAS }, async (_, replica) => work.body(await send(replica, keys.operator, BALANCE, { id: String(accountId) }), "balance")),
      );
      expect(views[1], `account ${accountId} on replica 2`).toEqual(views[0]);
      expect(views[2], `account ${accountId} on replica 3`).toEqual(views[0]);
    }
    await work.expectStoredExactlyOnce(ledger, accountIds, accountIds.length);
    await expectSoundPgLedger(ledger, accountIds);
    expectNoErrorLogs();

    const usage = work.writes.filter((write) => write.kind === "usage");
    const charged = usage.filter((write) => write.ack !== undefined).length;
    // The contention was real: the HARD_STOP account ran dry and was refused, the others went on.
    expect(usage.filter((write) => write.accountId === hardStop && write.refusals.length > 0).length).toBeGreaterThan(0);
    expect(counts.reversals).toBeGreaterThan(0);
    // The tiered account was rated in charged units.
    const [tiered] = await ledger.rows<{ n: number }>("select count(*) as n from usage_charges where account_id = $1 and units is not null", [accountIds[3]]);
    expect(tiered!.n).toBeGreaterThan(0);
    console.info(
      `replicas under contention (seed ${seed}): ${CLIENTS} clients on ${REPLICAS} replicas, ${requests.join(" + ")} requests in ${elapsed} ms; ` +
        `${usage.length} events (${charged} charged, ${usage.length - charged} refused), ${JSON.stringify(counts)}; ` +
        `${work.reversed.size} reversals, ${reruns() - rerunsBefore} units ran again after a concurrent commit`,
    );
  }, 90_000);

  it("go on answering while one of them is SIGKILLed mid-batch again and again, and charge every resent event exactly once", async () => {
    const KILLS = 10;
    const CLIENTS = 9;
    const BATCH = 10;
    /** Clients that give up on a request after a few milliseconds, as an impatient caller does. */
    const ABORT_RATE = 0.04;
    const prefix = `kill-${seed}-${randomBytes(3).toString("hex")}`;
    const accountIds = await seedAccounts(
      [
        ["Killed D", "NEGATIVE_WITH_GRACE"],
        ["Killed E", "NEGATIVE_WITH_GRACE"],
      ],
      prefix,
    );
    const work = new Workload(prefix, () => []);
    const recent = new Date(Date.now() - HOUR).toISOString();
    const packBought = new Date(Date.now() - DAY).toISOString();
    const batchesInFlight = Array.from({ length: REPLICAS }, () => 0);
    const answersAt = new Map<string, number>();
    const tally = { requests: 0, lostToKills: 0, aborted: 0, resentElsewhere: 0, killsMidBatch: 0, committedBeforeCut: 0 };

    /**
     * Sends until a replica answers. What got no answer may or may not have committed: it goes to
     * the next replica with the same payload, as a client behind a load balancer retries.
     */
    const deliver = async (home: number, key: string, query: string, variables: Record<string, unknown>, isBatch: boolean) => {
      for (let attempt = 0; ; attempt++) {
        const replica = (home + attempt) % REPLICAS;
        const url = replicas.url(replica);
        const impatient = random() < ABORT_RATE;
        tally.requests++;
        if (attempt > 0) tally.resentElsewhere++;
        if (isBatch) batchesInFlight[replica]!++;
        const outcome = await post(url, key, query, variables, impatient ? between(1, 30) : 15_000);
        if (isBatch) batchesInFlight[replica]!--;
        if (outcome.kind === "answer") {
          answersAt.set(url, (answersAt.get(url) ?? 0) + 1);
          return { outcome, attempts: attempt + 1 };
        }
        if (impatient) tally.aborted++;
        else if (replicas.wasKilled(url)) tally.lostToKills++;
        else work.problems.push(`a live replica did not answer: ${outcome.reason}`);
        // Every replica tried once: give the restarting one a moment.
        if (attempt % REPLICAS === REPLICAS - 1) await sleep(20);
      }
    };
    const noteLate = (writes: readonly Write[], attempts: number) => {
      if (attempts > 1) tally.committedBeforeCut += writes.filter((write) => write.ack !== undefined && write.fresh === 0).length;
    };

    let stopping = false;
    const client = async (index: number) => {
      const home = index % REPLICAS;
      while (!stopping) {
        const roll = random();
        if (roll < 0.4) {
          const write = jobEvent(work, accountIds, recent);
          const { outcome, attempts } = await deliver(home, keys.metering, RECORD, { input: write.input }, false);
          work.answerRecord(write, outcome, false);
          noteLate([write], attempts);
        } else if (roll < 0.85) {
          const writes = Array.from({ length: BATCH }, () => jobEvent(work, accountIds, recent));
          const { outcome, attempts } = await deliver(home, keys.metering, RECORD_BATCH, { inputs: writes.map((write) => write.input) }, true);
          work.answerBatch(writes, outcome, writes.map(() => false));
          noteLate(writes, attempts);
        } else {
          const accountId = pick(accountIds);
          const kind = roll < 0.93 ? "pack" : "lot";
          // An account holds at most 100 packs and 100 lots valid at once, and every one bought here
          // is, as is the pack seedAccounts bought: past that a purchase is rightly refused, so a
          // run fast enough to get there stops buying.
          const seeded = kind === "pack" ? 1 : 0;
          const held = seeded + work.writes.filter((write) => write.kind === kind && write.accountId === accountId).length;
          if (held >= (kind === "pack" ? MAXIMA.flexPacksAtOnce : MAXIMA.creditLotsAtOnce)) continue;
          const write = kind === "pack" ? work.pack(accountId, 100n, packBought) : work.lot(accountId, BigInt(between(10, 40)), LOT_BOUGHT);
          const { outcome } = await deliver(home, keys.operator, write.kind === "pack" ? PURCHASE : IMPORT_LOT, { input: write.input }, false);
          work.answerFunding(write, outcome);
        }
      }
    };
    const killer = async () => {
      try {
        for (let kill = 0; kill < KILLS; kill++) {
          const target = kill % REPLICAS;
          const waitUntil = Date.now() + 3000;
          while (batchesInFlight[target] === 0 && Date.now() < waitUntil) await sleep(1);
          if (batchesInFlight[target]! > 0) tally.killsMidBatch++;
          await sleep(random() * 8);
          const others = Array.from({ length: REPLICAS }, (_, index) => index).filter((index) => index !== target);
          const before = others.map((index) => answersAt.get(replicas.url(index)) ?? 0);
          await replicas.kill(target);
          await replicas.restart(target);
          others.forEach((index, n) => {
            if ((answersAt.get(replicas.url(index)) ?? 0) === before[n]) work.problems.push(`replica ${index + 1} answered nothing while replica ${target + 1} was down`);
          });
          await sleep(between(30, 100));
        }
      } finally {
        stopping = true;
      }
    };

    const started = Date.now();
    await Promise.all([killer(), ...Array.from({ length: CLIENTS }, (_, index) => client(index))]);
    const elapsed = Date.now() - started;
    expect(work.problems, `seed ${seed}`).toEqual([]);
    expect(tally.killsMidBatch, "kills that fell while a batch was in flight to the replica").toBe(KILLS);

    // Every event was answered in the end; sent again to any replica, it is a replay of its charge.
    const usage = work.writes.filter((write) => write.kind === "usage");
    expect(usage.filter((write) => write.ack === undefined).map((write) => write.ref)).toEqual([]);
    const sample = usage.filter((_, index) => index % Math.max(1, Math.floor(usage.length / 30)) === 0);
    for (const [n, write] of sample.entries()) {
      work.answerRecord(write, await post(replicas.url(n % REPLICAS), keys.metering, RECORD, { input: write.input }), true);
    }
    expect(work.problems, `seed ${seed}`).toEqual([]);
    await work.expectStoredExactlyOnce(ledger, accountIds, accountIds.length);
    await expectSoundPgLedger(ledger, accountIds);
    expectNoErrorLogs();
    console.info(
      `replicas through SIGKILLs (seed ${seed}): ${KILLS} kills in ${elapsed} ms, ${usage.length} events and ${work.writes.length - usage.length} purchases and lot imports ` +
        `from ${CLIENTS} clients; ${JSON.stringify(tally)}`,
    );
  }, 120_000);

  it("rate the very next event with a price published on another replica, and refuse a key revoked on another at once", async () => {
    const suffix = randomBytes(3).toString("hex");
    const apiCode = `replicas/propagation-${suffix}`;
    const { id: accountId } = await ledger.services.accounts.create({ name: "Price watcher", country: "JP" }, ACTOR);
    let sequence = 0;
    const ok = async (replica: number, key: string, query: string, variables: Record<string, unknown>) => {
      const outcome = await post(replicas.url(replica), key, query, variables);
      if (outcome.kind !== "answer") throw new Error(outcome.reason);
      expectNoInternalError(outcome.body);
      expect(outcome.body.errors, JSON.stringify(outcome.body.errors)).toBeUndefined();
      return outcome.body.data;
    };
    const event = (occurredAt: string) => ({
      eventId: `propagation-${suffix}-${++sequence}`,
      accountId: String(accountId),
      apiCode,
      quantity: "1",
      outcome: "SUCCEEDED",
      occurredAt,
    });

    // Every replica has read the price book before the first publication: no price yet.
    for (let replica = 0; replica < REPLICAS; replica++) {
      const outcome = await post(replicas.url(replica), keys.metering, RECORD, { input: event(new Date().toISOString()) });
      if (outcome.kind !== "answer") throw new Error(outcome.reason);
      expect(errorsIn(outcome.body).map((error) => error.extensions?.code)).toEqual(["PRICE_NOT_FOUND"]);
    }
    const published: { tokens: string; effectiveFrom: string }[] = [];
    for (let round = 0; round < 6; round++) {
      const publisher = round % REPLICAS;
      const tokens = String(round + 2);
      const { publishPrice } = await ok(publisher, keys.operator, PUBLISH, { input: { apiCode, meter: "JOB", unitQuantity: 1, tokensPerUnit: tokens, note: `round ${round}` } });
      published.push({ tokens, effectiveFrom: publishPrice.effectiveFrom });
      for (const other of [publisher + 1, publisher + 2].map((index) => index % REPLICAS)) {
        const { recordUsage } = await ok(other, keys.metering, RECORD, { input: event(publishPrice.effectiveFrom) });
        expect(recordUsage.charge.tokens, `round ${round}: published on replica ${publisher + 1}, rated on replica ${other + 1}`).toBe(tokens);
      }
    }
    // Each version still rates what occurred while it was in force, on every replica.
    for (const [n, version] of published.entries()) {
      const { recordUsage } = await ok(n % REPLICAS, keys.metering, RECORD, { input: event(version.effectiveFrom) });
      expect(recordUsage.charge.tokens).toBe(version.tokens);
    }

    const CREATE_KEY = `mutation Key($input: CreateApiKeyInput!) { createApiKey(input: $input) { key { id } secret } }`;
    const REVOKE = `mutation Revoke($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
    const survivor = (await ok(0, keys.operator, CREATE_KEY, { input: { name: `survivor ${suffix}`, role: "METERING" } })).createApiKey.secret as string;
    for (let revoker = 0; revoker < REPLICAS; revoker++) {
      const { key, secret } = (await ok((revoker + 1) % REPLICAS, keys.operator, CREATE_KEY, { input: { name: `doomed ${suffix} ${revoker}`, role: "METERING" } })).createApiKey;
      // Every replica has served the key before it is revoked.
      for (let replica = 0; replica < REPLICAS; replica++) await ok(replica, secret, RECORD, { input: event(published.at(-1)!.effectiveFrom) });
      expect((await ok(revoker, keys.operator, REVOKE, { id: key.id })).revokeApiKey.revokedAt).not.toBeNull();
      for (const other of [revoker + 1, revoker + 2].map((index) => index % REPLICAS)) {
        const refused = event(published.at(-1)!.effectiveFrom);
        const outcome = await post(replicas.url(other), secret, RECORD, { input: refused });
        if (outcome.kind !== "answer") throw new Error(outcome.reason);
        expect({ status: outcome.status, codes: errorsIn(outcome.body).map((error) => error.extensions?.code) }, `revoked on replica ${revoker + 1}, used on replica ${other + 1}`).toEqual({
          status: 401,
          codes: ["UNAUTHENTICATED"],
        });
        expect(await ledger.rows("select id from usage_charges where event_id = $1", [refused.eventId])).toEqual([]);
        // The same request with a key nobody revoked goes through on that replica.
        expect((await ok(other, survivor, RECORD, { input: event(published.at(-1)!.effectiveFrom) })).recordUsage.replayed).toBe(false);
      }
    }
    await expectSoundPgLedger(ledger, [accountId]);
    expectNoErrorLogs();
  }, 60_000);

  it("keep serving when the database ends every connection they hold, idle or in a transaction, as a PostgreSQL restart or failover does", async () => {
    const CLIENTS = 6;
    const TERMINATIONS = 3;
    const prefix = `reconnect-${seed}-${randomBytes(3).toString("hex")}`;
    const accountIds = await seedAccounts([["Reconnecting", "NEGATIVE_WITH_GRACE"]], prefix);
    const work = new Workload(prefix, () => []);
    const recent = new Date(Date.now() - HOUR).toISOString();
    const tally = { requests: 0, failedWithTheirConnection: 0, ended: 0 };
    const internal = (outcome: Outcome) => outcome.kind === "answer" && errorsIn(outcome.body).some((error) => error.extensions?.code === "INTERNAL_SERVER_ERROR");
    /**
     * A request whose transaction lost its connection fails (INTERNAL_SERVER_ERROR, or no answer
     * at all): the client sends it again, to the next replica, as it would after any failure.
     */
    const deliver = async (home: number, inputs: Record<string, unknown>[]) => {
      for (let attempt = 0; ; attempt++) {
        tally.requests++;
        const outcome = await post(replicas.url((home + attempt) % REPLICAS), keys.metering, RECORD_BATCH, { inputs });
        if (outcome.kind === "answer" && !internal(outcome)) return outcome;
        tally.failedWithTheirConnection++;
        if (attempt > 20) throw new Error(`no replica could take a batch: ${JSON.stringify(outcome).slice(0, 300)}`);
      }
    };
    let stopping = false;
    const client = async (index: number) => {
      while (!stopping) {
        const writes = Array.from({ length: 10 }, () => jobEvent(work, accountIds, recent));
        work.answerBatch(writes, await deliver(index % REPLICAS, writes.map((write) => write.input)), writes.map(() => false));
      }
    };
    const database = async () => {
      try {
        for (let n = 0; n < TERMINATIONS; n++) {
          await sleep(400);
          // Every connection of the replicas, whatever it is doing: idle, or between two statements of a unit.
          const ended = await ledger.rows("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()");
          tally.ended += ended.length;
        }
        await sleep(400);
      } finally {
        stopping = true;
      }
    };
    await Promise.all([database(), ...Array.from({ length: CLIENTS }, (_, index) => client(index))]);
    for (let replica = 0; replica < REPLICAS; replica++) {
      expect(replicas.isRunning(replica), `replica ${replica + 1} is still running`).toBe(true);
      expect((await fetch(`${replicas.url(replica)}/healthz`)).status, `replica ${replica + 1} healthy`).toBe(200);
    }
    expect(work.problems, `seed ${seed}`).toEqual([]);
    expect(tally.ended).toBeGreaterThanOrEqual(TERMINATIONS * REPLICAS);
    await work.expectStoredExactlyOnce(ledger, accountIds, accountIds.length);
    await expectSoundPgLedger(ledger, accountIds);
    console.info(`replicas through ${TERMINATIONS} terminations of every database connection: ${JSON.stringify(tally)}, ${work.writes.length} events`);
  }, 60_000);

  it("go on answering when one of them freezes inside a transaction, once the database ends that transaction", async () => {
    const CLIENTS = 6;
    const prefix = `freeze-${seed}-${randomBytes(3).toString("hex")}`;
    const accountIds = await seedAccounts([["Frozen out", "NEGATIVE_WITH_GRACE"]], prefix);
    const work = new Workload(prefix, () => []);
    const recent = new Date(Date.now() - HOUR).toISOString();
    const answered = Array.from({ length: REPLICAS }, () => 0);
    const tally = { requests: 0, failedAndResent: 0 };
    const internal = (outcome: Outcome) => outcome.kind === "answer" && errorsIn(outcome.body).some((error) => error.extensions?.code === "INTERNAL_SERVER_ERROR");
    /** The frozen replica's own units fail when it wakes (the database ended them): resent elsewhere. */
    const deliver = async (home: number, inputs: Record<string, unknown>[]) => {
      for (let attempt = 0; ; attempt++) {
        const replica = (home + attempt) % REPLICAS;
        tally.requests++;
        const outcome = await post(replicas.url(replica), keys.metering, RECORD_BATCH, { inputs }, 20_000);
        if (outcome.kind === "answer" && !internal(outcome)) {
          answered[replica]!++;
          return outcome;
        }
        tally.failedAndResent++;
        if (attempt > 20) throw new Error(`no replica could take a batch: ${JSON.stringify(outcome).slice(0, 300)}`);
      }
    };
    let stopping = false;
    const client = async (index: number) => {
      while (!stopping) {
        const writes = Array.from({ length: 20 }, () => jobEvent(work, accountIds, recent));
        work.answerBatch(writes, await deliver(index % REPLICAS, writes.map((write) => write.input)), writes.map(() => false));
      }
    };
    const openTransactions = async (replica: number) =>
      (await ledger.rows<{ n: number }>("select count(*) as n from pg_stat_activity where datname = current_database() and application_name = $1 and state = 'idle in transaction'", [ReplicaSet.applicationName(replica)]))[0]!.n;
    const freezer = async () => {
      try {
        await sleep(500);
        // Freeze replica 1 until it is caught between two statements of a unit: holding the account's row.
        for (let attempt = 0; ; attempt++) {
          replicas.freeze(0);
          await sleep(50);
          if ((await openTransactions(0)) > 0) break;
          replicas.thaw(0);
          if (attempt > 50) throw new Error("replica 1 was never frozen inside a transaction");
          await sleep(between(5, 40));
        }
        const frozenAt = Date.now();
        const before = [...answered];
        // The others wait for the row until the database ends the frozen transactions, then go on.
        while ((await openTransactions(0)) > 0) await sleep(100);
        const heldFor = Date.now() - frozenAt;
        // Replica 1 still frozen, the others answer (a loaded machine may take a while to).
        const answeredSince = () => [1, 2].map((replica) => answered[replica]! - before[replica]!);
        for (const until = Date.now() + 10_000; answeredSince().some((count) => count === 0) && Date.now() < until; ) await sleep(50);
        const others = answeredSince();
        replicas.thaw(0);
        await sleep(800);
        return { heldFor, others };
      } finally {
        stopping = true;
      }
    };
    const [frozen] = await Promise.all([freezer(), ...Array.from({ length: CLIENTS }, (_, index) => client(index))]);
    // Each unit the frozen replica had sent holds the row in turn, for the timeout at most: as many as its connections.
    expect(frozen!.heldFor, "the frozen transactions were ended by the timeout").toBeLessThan(POOL_SIZE * IDLE_IN_TRANSACTION_TIMEOUT_MS + 2000);
    expect(frozen!.others.every((count) => count > 0), `answers of replicas 2 and 3 while replica 1 was frozen: ${frozen!.others}`).toBe(true);
    // The frozen replica woke up and serves again.
    expect(replicas.isRunning(0)).toBe(true);
    expect((await fetch(`${replicas.url(0)}/healthz`)).status).toBe(200);
    expect(work.problems, `seed ${seed}`).toEqual([]);
    await work.expectStoredExactlyOnce(ledger, accountIds, accountIds.length);
    await expectSoundPgLedger(ledger, accountIds);
    console.info(`replicas with one frozen inside a transaction: held ${frozen!.heldFor} ms, the others answered ${frozen!.others.join(" + ")} batches meanwhile; ${JSON.stringify(tally)}, ${work.writes.length} events`);
  }, 60_000);

  it("load the demo data once, and register the bootstrap key once, when three start together on a new database", async () => {
    const fresh = await freshDatabase("replicas_demo");
    let together: ReplicaSet | undefined;
    try {
      const env = { FLEXGATE_DEMO: "on", FLEXGATE_BOOTSTRAP_OPERATOR_KEY: "three-at-once-bootstrap-key-of-32-characters" };
      together = await ReplicaSet.start(REPLICAS, { launcher, databaseUrl: fresh.url, poolSize: 2, env });
      expect(await together.stopAll()).toEqual(Array.from({ length: REPLICAS }, () => ({ code: 0, signal: null })));
      const messages = together.logLines().map((line) => line.message);
      expect(messages.filter((message) => message === "loaded demo data into the empty database").length).toBe(1);
      expect(messages.filter((message) => message?.startsWith("registered the bootstrap operator key")).length).toBe(1);
      const check = await openPgLedger(fresh.url);
      try {
        const [counts] = await check.rows<{ demo: number; duplicates: number; resellers: number; keys: number }>(
          `select (select count(*) from accounts where demo) as demo,
             (select count(*) - count(distinct name) from accounts) as duplicates,
             (select count(*) - count(distinct name) from resellers) as resellers,
             (select count(*) from api_keys) as keys`,
        );
        expect(counts!.demo).toBeGreaterThan(0);
        expect({ duplicates: counts!.duplicates, resellers: counts!.resellers, keys: counts!.keys }).toEqual({ duplicates: 0, resellers: 0, keys: 1 });
        expect(await check.services.ledger.verify()).toEqual([]);
      } finally {
        await check.close();
      }
    } finally {
      together?.killAll();
      await fresh.drop();
    }
  }, 60_000);
});

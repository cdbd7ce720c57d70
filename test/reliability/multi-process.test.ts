/**
 * Two server processes on one SQLite file rate usage for the same accounts at the same time,
 * one event at a time and in batches, while purchases and balance reads go to both. SQLite's
 * write lock is the only thing between them.
 */
import Database from "better-sqlite3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { expectSoundLedger, newLedgerFile, TEST_ACTOR } from "./support/ledger-file.js";
import { errorsIn, expectNoInternalError } from "./support/safe-errors.js";
import { bundleServer, type Launcher, post, type ServerProcess, sleep, startServer } from "./support/server-process.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MICROS = 1_000_000n;
/** Per HARD_STOP account: 100 tokens of funds, 160 events of 1 token each asked for. */
const FUNDS = 100;
const DEMAND = 160;
const CLIENTS = 8;

const RECORD = `mutation Record($input: UsageInput!) { recordUsage(input: $input) { replayed charge { id tokens } } }`;
const RECORD_BATCH = `mutation RecordBatch($inputs: [UsageInput!]!) {
  recordUsageBatch(inputs: $inputs) { eventId charge { id tokens } error { code message field } } }`;
const PURCHASE = `mutation Buy($input: RecordFlexPurchaseInput!) { recordFlexPurchase(input: $input) { id } }`;
const BALANCE = `query Balance($id: ID!) { account(id: $id) { status balance { available deficit } charges(first: 5) { totalCount } } }`;

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((cleanup) => cleanup()));

let launcher: Launcher;
beforeAll(async () => {
  const bundle = await bundleServer();
  cleanups.push(bundle.dispose);
  launcher = bundle.launcher;
});

it("two server processes on one file never spend a token twice, count exactly, and never answer INTERNAL_SERVER_ERROR", async () => {
  const file = newLedgerFile();
  cleanups.push(() => file.remove());

  const now = Date.now();
  const occurredAt = new Date(now - HOUR).toISOString();
  const seeded = await file.with(async (services) => {
    const account = async (name: string, balancePolicy: "HARD_STOP" | "NEGATIVE_WITH_GRACE") => {
      const { id } = await services.accounts.create({ name, country: "JP", balancePolicy }, TEST_ACTOR);
      await services.funding.recordFlexPurchase(
        { accountId: id, tokensMicros: BigInt(FUNDS) * MICROS, purchasedAt: now - DAY, channel: "ESTORE", orderRef: `seed-${id}` },
        TEST_ACTOR,
      );
      return id;
    };
    return {
      hardStop: [await account("Prepaid A", "HARD_STOP"), await account("Prepaid B", "HARD_STOP"), await account("Prepaid C", "HARD_STOP")],
      grace: await account("Owing D", "NEGATIVE_WITH_GRACE"),
      metering: (await services.keys.create({ name: "multi metering", role: "METERING" }, TEST_ACTOR)).secret,
      operator: (await services.keys.create({ name: "multi operator", role: "OPERATOR" }, TEST_ACTOR)).secret,
    };
  });

  const servers: ServerProcess[] = [];
  try {
    servers.push(await startServer({ dbPath: file.path, launcher }));

    // 1 token each: complex Model Derivative jobs cost 0.5 token since 2022-03-29.
    const event = (accountId: number, n: number) => ({
      eventId: `multi-${accountId}-${n}`,
      accountId: String(accountId),
      apiCode: "model-derivative/complex-job",
      quantity: "2",
      outcome: "SUCCEEDED",
      occurredAt,
    });
    const queue = [...seeded.hardStop, seeded.grace].flatMap((accountId) => Array.from({ length: DEMAND }, (_, n) => event(accountId, n)));
    // Interleave the accounts so every moment has every account in contention.
    queue.sort((a, b) => Number(a.eventId.split("-").at(-1)) - Number(b.eventId.split("-").at(-1)) || a.accountId.localeCompare(b.accountId));

    const accepted = new Map<string, string>();
    const refusals: string[] = [];
    const answers: unknown[] = [];
    let requests = 0;
    const perServer = new Map<string, number>();
    const answerOf = async (server: ServerProcess, key: string, query: string, variables: Record<string, unknown>) => {
      requests++;
      perServer.set(server.url, (perServer.get(server.url) ?? 0) + 1);
      const outcome = await post(server.url, key, query, variables);
      expect(outcome.kind, JSON.stringify(outcome)).toBe("answer");
      if (outcome.kind !== "answer") throw new Error("unreachable");
      answers.push(outcome.body);
      expectNoInternalError(outcome.body);
      return outcome.body;
    };
    const take = (input: ReturnType<typeof event>, charge: { id: string; tokens: string } | null, error: { extensions?: { code?: string } } | undefined) => {
      if (charge) {
        expect(charge.tokens).toBe("1");
        expect(accepted.has(input.eventId)).toBe(false);
        accepted.set(input.eventId, charge.id);
      } else {
        refusals.push(`${input.accountId}:${error?.extensions?.code}`);
      }
    };

    // The second process starts while the first is under write load, as in a rolling restart:
    // opening and migrating the shared file must wait for the lock, not fail. Until it listens,
    // the clients keep the first one busy with events of the NEGATIVE_WITH_GRACE account.
    let warmUps = 0;
    let startFailure: unknown;
    const secondStart = (async () => {
      while (accepted.size < 20) await sleep(5);
      servers.push(await startServer({ dbPath: file.path, launcher }));
    })().catch((error: unknown) => {
      startFailure = error;
    });
    const client = async (index: number) => {
      while (servers.length < 2 && startFailure === undefined) {
        const input = event(seeded.grace, -++warmUps);
        const body = await answerOf(servers[0]!, seeded.metering, RECORD, { input });
        take(input, body.data?.recordUsage.charge ?? null, errorsIn(body)[0]);
      }
      for (let round = 0; queue.length > 0 && startFailure === undefined; round++) {
        const server = servers[(index + round) % 2]!;
        if (round % 3 === 2) {
          const batch = queue.splice(0, 10);
          const body = await answerOf(server, seeded.metering, RECORD_BATCH, { inputs: batch });
          body.data.recordUsageBatch.forEach((result: any, item: number) =>
            take(batch[item]!, result.charge, result.error ? { extensions: { code: result.error.code } } : undefined),
          );
        } else {
          const input = queue.shift();
          if (!input) break;
          const body = await answerOf(server, seeded.metering, RECORD, { input });
          take(input, body.data?.recordUsage.charge ?? null, errorsIn(body)[0]);
        }
      }
    };
    const sideTraffic = async () => {
      await secondStart;
      if (startFailure !== undefined) return;
      for (let n = 0; n < 4; n++) {
        await answerOf(servers[n % 2]!, seeded.operator, PURCHASE, {
          input: { accountId: String(seeded.grace), tokens: "100", purchasedAt: new Date(now - DAY).toISOString(), channel: "ESTORE", orderRef: `multi-top-up-${n}` },
        });
        for (const id of [...seeded.hardStop, seeded.grace]) await answerOf(servers[(n + 1) % 2]!, seeded.operator, BALANCE, { id: String(id) });
      }
    };
    await Promise.all([...Array.from({ length: CLIENTS }, (_, index) => client(index)), sideTraffic()]);
    if (startFailure !== undefined) throw startFailure;
    expect(perServer.get(servers[0]!.url)).toBeGreaterThan(20);
    expect(perServer.get(servers[1]!.url)).toBeGreaterThan(20);

    // Every refusal is a HARD_STOP account running dry; nothing else went wrong.
    expect(new Set(refusals.map((refusal) => refusal.split(":")[1]))).toEqual(new Set(refusals.length > 0 ? ["INSUFFICIENT_BALANCE"] : []));
    for (const accountId of seeded.hardStop) {
      const taken = [...accepted.keys()].filter((eventId) => eventId.startsWith(`multi-${accountId}-`)).length;
      expect(taken, `account ${accountId}`).toBe(FUNDS);
      expect(refusals.filter((refusal) => refusal.startsWith(`${accountId}:`)).length).toBe(DEMAND - FUNDS);
    }
    expect([...accepted.keys()].filter((eventId) => eventId.startsWith(`multi-${seeded.grace}-`)).length).toBe(DEMAND + warmUps);

    await Promise.all(servers.map(async (server) => {
      server.child.kill("SIGTERM");
      expect(await server.exited).toEqual({ code: 0, signal: null });
    }));
    servers.length = 0;

    await file.with(async (services, db) => {
      await expectSoundLedger(services, db);
      const sql = (query: string, ...params: unknown[]) => db.$client.prepare(query).pluck().get(...params) as number;
      expect(sql("select count(*) from usage_charges")).toBe(accepted.size);
      for (const [eventId, chargeId] of accepted) {
        expect(sql("select id from usage_charges where event_id = ?", eventId)).toBe(Number(chargeId));
      }
      for (const accountId of seeded.hardStop) {
        // Nothing spent twice: what the charges took is exactly the funds, and no pack is below zero.
        expect(sql("select coalesce(sum(amount_micros), 0) from allocations where account_id = ?", accountId)).toBe(FUNDS * 1_000_000);
        expect(sql("select remaining_micros from flex_packs where account_id = ?", accountId)).toBe(0);
        expect(sql("select deficit_micros from accounts where id = ?", accountId)).toBe(0);
      }
      const grace = await services.accounts.findMany([seeded.grace]);
      expect((await services.accounts.balances(grace))[0]!.availableMicros).toBe(BigInt(FUNDS + 4 * 100 - DEMAND - warmUps) * MICROS);
      expect(sql("select count(*) from flex_packs where remaining_micros < 0")).toBe(0);
    });
    console.info(
      `several processes: 2 servers (the second started under load), ${requests} requests (${[...perServer.values()].join(" + ")}), ${accepted.size} events charged, ${refusals.length} refused INSUFFICIENT_BALANCE, ${answers.length} answers checked`,
    );
  } finally {
    for (const server of servers) server.child.kill("SIGKILL");
  }
}, 90_000);

it("waits for a write lock held outside the server (a backup, the sqlite3 shell) instead of failing the requests", async () => {
  const file = newLedgerFile();
  cleanups.push(() => file.remove());
  const now = Date.now();
  const seeded = await file.with(async (services) => {
    const { id } = await services.accounts.create({ name: "Locked out", country: "JP" }, TEST_ACTOR);
    return { accountId: id, metering: (await services.keys.create({ name: "lock metering", role: "METERING" }, TEST_ACTOR)).secret };
  });
  const server = await startServer({ dbPath: file.path, launcher });
  const outside = new Database(file.path);
  try {
    outside.pragma("busy_timeout = 10000");
    outside.exec("begin immediate");
    const started = Date.now();
    const pending = Array.from({ length: 12 }, (_, n) =>
      post(server.url, seeded.metering, RECORD, {
        input: { eventId: `locked-${n}`, accountId: String(seeded.accountId), apiCode: "model-derivative/complex-job", quantity: "1", outcome: "SUCCEEDED", occurredAt: new Date(now - HOUR).toISOString() },
      }),
    );
    await sleep(1500);
    outside.exec("commit");
    for (const outcome of await Promise.all(pending)) {
      expect(outcome.kind).toBe("answer");
      if (outcome.kind !== "answer") continue;
      expectNoInternalError(outcome.body);
      expect(outcome.body.data?.recordUsage.charge.tokens).toBe("0.5");
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
  } finally {
    outside.close();
    server.child.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
  }
  await file.with(async (services, db) => {
    await expectSoundLedger(services, db);
    expect(db.$client.prepare("select count(*) from usage_charges").pluck().get()).toBe(12);
  });
}, 60_000);

it("loads the demo data once when two servers start together on a new file", async () => {
  const file = newLedgerFile();
  cleanups.push(() => file.remove());
  // Fresh file, nothing migrated: both processes migrate, bootstrap and seed at the same moment.
  const env = { FLEXGATE_DEMO: "on", FLEXGATE_BOOTSTRAP_OPERATOR_KEY: "two-at-once-bootstrap-key-of-32-characters" };
  const servers = await Promise.all([0, 1].map(() => startServer({ dbPath: file.path, launcher, env })));
  try {
    await Promise.all(
      servers.map(async (server) => {
        server.child.kill("SIGTERM");
        expect(await server.exited, server.output()).toEqual({ code: 0, signal: null });
      }),
    );
  } finally {
    for (const server of servers) server.child.kill("SIGKILL");
  }
  expect(servers.filter((server) => server.output().includes("loaded demo data")).length).toBe(1);
  await file.with(async (services, db) => {
    await expectSoundLedger(services, db);
    const sql = (query: string) => db.$client.prepare(query).pluck().get() as number;
    expect(sql("select count(*) from accounts where demo = 1")).toBeGreaterThan(0);
    expect(sql("select count(*) - count(distinct name) from accounts")).toBe(0);
    expect(sql("select count(*) - count(distinct name) from resellers")).toBe(0);
    expect(sql("select count(*) from api_keys")).toBe(1);
  });
}, 60_000);

it("rates with a price published on the other process from the very next event", async () => {
  const file = newLedgerFile();
  cleanups.push(() => file.remove());
  const seeded = await file.with(async (services) => ({
    accountId: String((await services.accounts.create({ name: "Price watcher", country: "JP" }, TEST_ACTOR)).id),
    operator: (await services.keys.create({ name: "price operator", role: "OPERATOR" }, TEST_ACTOR)).secret,
  }));
  const servers = await Promise.all([0, 1].map(() => startServer({ dbPath: file.path, launcher })));
  const [a, b] = servers as [ServerProcess, ServerProcess];
  try {
    const ok = async (server: ServerProcess, query: string, variables: Record<string, unknown>) => {
      const outcome = await post(server.url, seeded.operator, query, variables);
      if (outcome.kind !== "answer") throw new Error(outcome.reason);
      expectNoInternalError(outcome.body);
      expect(outcome.body.errors, JSON.stringify(outcome.body.errors)).toBeUndefined();
      return outcome.body.data;
    };
    const PUBLISH = `mutation($input: PublishPriceInput!) { publishPrice(input: $input) { id effectiveFrom } }`;
    const publish = async (tokensPerUnit: string) =>
      (await ok(a, PUBLISH, { input: { apiCode: "reliability/cross-process", meter: "JOB", unitQuantity: 1, tokensPerUnit, note: "test" } })).publishPrice;
    const charge = async (n: number, occurredAt: string) =>
      (await ok(b, RECORD, {
        input: { eventId: `price-${n}`, accountId: seeded.accountId, apiCode: "reliability/cross-process", quantity: "1", outcome: "SUCCEEDED", occurredAt },
      })).recordUsage.charge.tokens;

    // B has read (and cached) the price table before A publishes: the API has no price yet.
    const before = await post(b.url, seeded.operator, RECORD, {
      input: { eventId: "price-0", accountId: seeded.accountId, apiCode: "reliability/cross-process", quantity: "1", outcome: "SUCCEEDED", occurredAt: new Date().toISOString() },
    });
    if (before.kind !== "answer") throw new Error(before.reason);
    expectNoInternalError(before.body);
    expect(errorsIn(before.body).map((error) => error.extensions?.code)).toEqual(["PRICE_NOT_FOUND"]);
    const first = await publish("3");
    expect(await charge(1, first.effectiveFrom)).toBe("3");
    await sleep(5);
    const second = await publish("5");
    expect(await charge(2, second.effectiveFrom)).toBe("5");
    expect(await charge(3, first.effectiveFrom)).toBe("3");
    for (const server of servers) {
      server.child.kill("SIGTERM");
      expect(await server.exited).toEqual({ code: 0, signal: null });
    }
  } finally {
    for (const server of servers) server.child.kill("SIGKILL");
  }
  await file.with((services, db) => expectSoundLedger(services, db));
}, 60_000);

/**
 * The real server process is killed with SIGKILL at random moments while clients record usage
 * (one by one and in batches) and Flex purchases, and restarted on the same file each time,
 * in synchronous=FULL and NORMAL by turns.
 * A client that got no answer retries with the same id, as an at-least-once sender does.
 */
import { afterAll, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import { expectSoundLedger, newLedgerFile, TEST_ACTOR } from "./support/ledger-file.js";
import { expectNoInternalError } from "./support/safe-errors.js";
import { seededRandom } from "../fixtures/random.js";
import { bundleServer, post, type ServerProcess, sleep, startServer } from "./support/server-process.js";

const KILLS = 22;
const USAGE_WORKERS = 6;
const BATCH_SIZE = 5;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MICROS = 1_000_000n;

const RECORD = `mutation Record($input: UsageInput!) { recordUsage(input: $input) { replayed charge { id eventId tokens } } }`;
const RECORD_BATCH = `mutation RecordBatch($inputs: [UsageInput!]!) {
  recordUsageBatch(inputs: $inputs) { eventId replayed charge { id tokens } error { code message field } } }`;
const PURCHASE = `mutation Buy($input: RecordFlexPurchaseInput!) { recordFlexPurchase(input: $input) { id tokens orderRef } }`;

/** Design Automation for Revit since 2022-03-29: 2 tokens per 3,600 s, rounded half-up once. */
const revitCostMicros = (seconds: bigint) => (seconds * 2n * MICROS * 2n + 3600n) / 7200n;

interface Item {
  readonly kind: "usage" | "purchase";
  readonly id: string;
  readonly accountId: number;
  /**
   * Tokens the item moves: the charge for usage, the pack size for a purchase. Null for usage of
   * the tiered account, whose charge depends on the remainder the events before it left.
   */
  readonly micros: bigint | null;
  readonly input: Record<string, unknown>;
  /** The charge or pack id of the first answer; every later answer must name the same one. */
  ack?: string;
  /** The tokens of the first answer; every later answer and the stored row must say the same. */
  answered?: string;
  attempts: number;
  inFlight: boolean;
}

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((cleanup) => cleanup()));

it(`keeps every acknowledged write exactly once through ${KILLS} SIGKILLs, and retries charge each unacknowledged event exactly once`, async () => {
  const seed = Number(process.env.FLEXGATE_RELIABILITY_SEED ?? Date.now() % 2 ** 31);
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const file = newLedgerFile();
  cleanups.push(() => file.remove());
  const bundle = await bundleServer();
  cleanups.push(bundle.dispose);

  const now = Date.now();
  const occurredAt = new Date(now - HOUR).toISOString();
  const purchasedAt = new Date(now - DAY).toISOString();
  const seeded = await file.with(async (services) => {
    const accountIds: number[] = [];
    for (const n of [1, 2, 3, 4, 5]) accountIds.push((await services.accounts.create({ name: `Crash ${n}`, country: "JP" }, TEST_ACTOR)).id);
    for (const accountId of accountIds) {
      await services.funding.recordFlexPurchase(
        { accountId, tokensMicros: 100n * MICROS, purchasedAt: now - DAY, channel: "ESTORE", orderRef: `seed-${accountId}` },
        TEST_ACTOR,
      );
    }
    // The fifth account is on the tiered regime, PAID with PAYG: never refused, charged in whole
    // units with a remainder that carries from event to event, retries and kills included.
    const tieredId = accountIds[4]!;
    await services.tiered.enrollPlan({ accountId: tieredId, tier: "PAID", payg: true, effectiveFrom: now - 2 * HOUR }, TEST_ACTOR);
    return {
      accountIds,
      tieredId,
      metering: (await services.keys.create({ name: "crash metering", role: "METERING" }, TEST_ACTOR)).secret,
      operator: (await services.keys.create({ name: "crash operator", role: "OPERATOR" }, TEST_ACTOR)).secret,
    };
  });

  const items: Item[] = [];
  const problems: string[] = [];
  let sequence = 0;
  let requests = 0;
  let lost = 0;
  let retries = 0;
  let committedButLost = 0;

  const newUsage = (): Item => {
    const seconds = BigInt(1 + Math.floor(random() * 7200));
    const failed = random() < 0.1;
    const accountId = pick(seeded.accountIds);
    const id = `crash-${seed}-e${++sequence}`;
    const item: Item = {
      kind: "usage",
      id,
      accountId,
      micros: accountId === seeded.tieredId ? null : failed ? 0n : revitCostMicros(seconds),
      input: { eventId: id, accountId: String(accountId), apiCode: "design-automation/revit", quantity: String(seconds), outcome: failed ? "FAILED" : "SUCCEEDED", occurredAt, clientId: "crash-client" },
      attempts: 0,
      inFlight: false,
    };
    items.push(item);
    return item;
  };
  const newPurchase = (): Item => {
    const tokens = BigInt(100 + Math.floor(random() * 50));
    // An account holds at most 100 packs valid at once (core/maxima.ts), the seed's included: a
    // long run spreads its purchases over the accounts that still have room.
    const packsOf = (id: number) => items.filter((item) => item.kind === "purchase" && item.accountId === id).length;
    const withRoom = seeded.accountIds.filter((id) => packsOf(id) < 90);
    // Every account full: the order is sent again instead, a replay of a pack already booked.
    if (withRoom.length === 0) return pick(items.filter((item) => item.kind === "purchase"));
    const accountId = pick(withRoom);
    const id = `crash-${seed}-o${++sequence}`;
    const item: Item = {
      kind: "purchase",
      id,
      accountId,
      micros: tokens * MICROS,
      input: { accountId: String(accountId), tokens: String(tokens), purchasedAt, channel: "ESTORE", orderRef: id },
      attempts: 0,
      inFlight: false,
    };
    items.push(item);
    return item;
  };
  /** A client with unanswered requests retries one of them now and then, with the same id and payload. */
  const nextOf = (kind: Item["kind"]): Item => {
    const waiting = items.filter((item) => item.kind === kind && item.attempts > 0 && !item.ack && !item.inFlight);
    if (waiting.length > 0 && random() < 0.3) {
      retries++;
      return pick(waiting);
    }
    return kind === "usage" ? newUsage() : newPurchase();
  };
  const acknowledge = (item: Item, id: string, amount: string, replayed: boolean | null) => {
    if (item.micros !== null && amount !== formatMicros(item.micros)) problems.push(`${item.id} answered ${amount}, expected ${formatMicros(item.micros)}`);
    if (item.answered !== undefined && amount !== item.answered) problems.push(`${item.id} answered ${amount} after ${item.answered}`);
    item.answered = amount;
    if (item.ack !== undefined && item.ack !== id) problems.push(`${item.id} answered ${id} after ${item.ack}`);
    if (item.kind === "usage" && item.ack !== undefined && replayed !== true) problems.push(`${item.id} was charged again`);
    if (item.ack === undefined && item.attempts > 1 && replayed === true) committedButLost++;
    item.ack = id;
  };
  const send = async (url: string, key: string, query: string, variables: Record<string, unknown>, batch: readonly Item[]) => {
    for (const item of batch) {
      item.inFlight = true;
      item.attempts++;
    }
    requests++;
    const outcome = await post(url, key, query, variables);
    for (const item of batch) item.inFlight = false;
    if (outcome.kind === "lost") {
      lost++;
      return null;
    }
    try {
      expectNoInternalError(outcome.body);
    } catch (error) {
      problems.push(String(error));
    }
    if (outcome.body.errors) problems.push(`refused: ${JSON.stringify(outcome.body.errors).slice(0, 300)}`);
    return outcome.body.data ?? null;
  };

  /** One client: sends until its connection is lost (the kill), then stops like a client backing off. */
  const usageClient = async (url: string) => {
    for (;;) {
      const item = nextOf("usage");
      const data = await send(url, seeded.metering, RECORD, { input: item.input }, [item]);
      if (!data) return;
      acknowledge(item, data.recordUsage.charge.id, data.recordUsage.charge.tokens, data.recordUsage.replayed);
    }
  };
  const batchClient = async (url: string) => {
    for (;;) {
      const batch = Array.from({ length: BATCH_SIZE }, () => nextOf("usage")).filter((item, index, all) => all.indexOf(item) === index);
      const data = await send(url, seeded.metering, RECORD_BATCH, { inputs: batch.map((item) => item.input) }, batch);
      if (!data) return;
      data.recordUsageBatch.forEach((result: any, index: number) => {
        if (result.error) problems.push(`batch item refused: ${JSON.stringify(result.error)}`);
        else acknowledge(batch[index]!, result.charge.id, result.charge.tokens, result.replayed);
      });
    }
  };
  const purchaseClient = async (url: string) => {
    for (;;) {
      const item = nextOf("purchase");
      const data = await send(url, seeded.operator, PURCHASE, { input: item.input }, [item]);
      if (!data) return;
      acknowledge(item, data.recordFlexPurchase.id, data.recordFlexPurchase.tokens, null);
    }
  };

  /** Everything acknowledged so far is in the file, once, with the amount that was answered. */
  const expectAcknowledgedPresent = () =>
    file.with(async (services, db) => {
      await expectSoundLedger(services, db);
      const charges = new Map(
        (db.$client.prepare("select event_id as ref, id, tokens_micros as micros from usage_charges").all() as { ref: string; id: number; micros: number }[]).map((row) => [row.ref, row]),
      );
      const packs = new Map(
        (db.$client.prepare("select order_ref as ref, id, tokens_micros as micros from flex_packs").all() as { ref: string; id: number; micros: number }[]).map((row) => [row.ref, row]),
      );
      for (const item of items.filter((candidate) => candidate.ack !== undefined)) {
        const row = (item.kind === "usage" ? charges : packs).get(item.id);
        expect(row && { id: String(row.id), tokens: formatMicros(BigInt(row.micros)) }, item.id).toEqual({ id: item.ack, tokens: item.answered });
      }
    });

  let server: ServerProcess | undefined;
  try {
    for (let kill = 1; kill <= KILLS; kill++) {
      // A killed process loses nothing it committed in either durability mode (NORMAL only risks
      // the last commits on power loss or an OS crash), so the restarts alternate between them.
      const synchronous = kill % 2 === 0 ? "NORMAL" : "FULL";
      // Every other pair of restarts rates on the rating thread, killed with the process mid-group.
      const ratingThread = kill % 4 < 2 ? "on" : "off";
      server = await startServer({ dbPath: file.path, launcher: bundle.launcher, env: { FLEXGATE_SYNCHRONOUS: synchronous, FLEXGATE_RATING_THREAD: ratingThread } });
      expect(server.output()).toContain(`"synchronous":"${synchronous}"`);
      const url = server.url;
      const clients = [
        ...Array.from({ length: USAGE_WORKERS }, () => usageClient(url)),
        batchClient(url),
        purchaseClient(url),
      ];
      await sleep(30 + random() * 570);
      server.child.kill("SIGKILL");
      expect((await server.exited).signal).toBe("SIGKILL");
      await Promise.all(clients);
      expect(problems, `seed ${seed}`).toEqual([]);
      if (kill % 4 === 0) await expectAcknowledgedPresent();
    }

    // The last start: every client retries what it never heard back about, then the server stops.
    server = await startServer({ dbPath: file.path, launcher: bundle.launcher });
    const unanswered = items.filter((item) => !item.ack);
    const unansweredCount = unanswered.length;
    for (let start = 0; start < unanswered.length; start += 8) {
      await Promise.all(
        unanswered.slice(start, start + 8).map(async (item) => {
          const data =
            item.kind === "usage"
              ? await send(server!.url, seeded.metering, RECORD, { input: item.input }, [item])
              : await send(server!.url, seeded.operator, PURCHASE, { input: item.input }, [item]);
          expect(data, `${item.id} got no answer from a healthy server`).not.toBeNull();
          const payload = item.kind === "usage" ? data.recordUsage.charge : data.recordFlexPurchase;
          acknowledge(item, payload.id, payload.tokens, item.kind === "usage" ? data.recordUsage.replayed : null);
        }),
      );
    }
    // Acknowledged events sent once more are replays of the same charge.
    for (const item of items.filter((candidate) => candidate.kind === "usage" && candidate.ack).slice(0, 40)) {
      const data = await send(server.url, seeded.metering, RECORD, { input: item.input }, [item]);
      expect(data.recordUsage).toMatchObject({ replayed: true, charge: { id: item.ack } });
    }
    expect(problems, `seed ${seed}`).toEqual([]);
    server.child.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
    server = undefined;

    await expectAcknowledgedPresent();
    await file.with(async (services, db) => {
      const usage = items.filter((item) => item.kind === "usage");
      const purchases = items.filter((item) => item.kind === "purchase");
      // Exactly once: one charge per event id sent, one pack per order reference (plus the seed packs).
      expect(db.$client.prepare("select count(*) from usage_charges").pluck().get()).toBe(usage.length);
      expect(db.$client.prepare("select count(*) from flex_packs").pluck().get()).toBe(purchases.length + seeded.accountIds.length);
      for (const account of (await services.accounts.findMany(seeded.accountIds.filter((id) => id !== seeded.tieredId)))) {
        const bought = 100n * MICROS + purchases.filter((item) => item.accountId === account.id).reduce((sum, item) => sum + item.micros!, 0n);
        const charged = usage.filter((item) => item.accountId === account.id).reduce((sum, item) => sum + item.micros!, 0n);
        expect((await services.accounts.balances([account]))[0]!.availableMicros, `account ${account.id}`).toBe(bought - charged);
      }
      // The tiered account: whole units of the seconds it used in all, whatever order the events
      // were rated in (revit: 2 tokens per 3600 s), so no retry counted a remainder twice.
      const tieredSeconds = usage
        .filter((item) => item.accountId === seeded.tieredId && item.input.outcome === "SUCCEEDED")
        .reduce((sum, item) => sum + BigInt(item.input.quantity as string), 0n);
      const tieredTokens = db.$client.prepare("select coalesce(sum(tokens_micros), 0) from usage_charges where account_id = ?").pluck().get(seeded.tieredId);
      expect(BigInt(tieredTokens as number), "tiered account").toBe((tieredSeconds / 3600n) * 2n * MICROS);
      expect(await services.ledger.verify()).toEqual([]);
      console.info(
        `crash safety (seed ${seed}): ${KILLS} SIGKILLs (synchronous FULL and NORMAL alternating, the rating thread on and off), ${requests} requests, ${usage.length} usage events and ${purchases.length} purchases, ` +
          `${lost} requests lost to kills, ${retries} retries during the run, ${unansweredCount} unanswered retried at the end, ` +
          `${committedButLost} committed before the kill cut the answer`,
      );
    });
  } finally {
    server?.child.kill("SIGKILL");
  }
}, 150_000);

/**
 * A separate OS process that drains one account through its own connection (to a SQLite file,
 * or to a PostgreSQL database when given its URL), so the concurrency test exercises real
 * cross-process locking rather than one event loop taking turns.
 *
 * argv: <db path or postgres:// URL> <account id> <worker name> <events> <now ms> <mode: single|batch> <shared events>
 * Prints "ready", waits for a line on stdin, records its events, prints one JSON line of results.
 * It pauses a millisecond between transactions, as a server between requests does: SQLite's busy
 * handler is not fair, and a writer that never lets go would simply starve the other process.
 */
import { SqliteStore } from "../../../server/store/sqlite/store.js";
import { createInterface } from "node:readline";
import { FlexgateError } from "../../../server/core/errors.js";
import { DEFAULT_RULES } from "../../../server/services/context.js";
import { createServices } from "../../../server/services/index.js";
import type { BatchItemResult, UsageEvent } from "../../../server/services/rating.service.js";
import { openPool } from "../../../server/store/pg/database.js";
import { PgStore } from "../../../server/store/pg/store.js";
import { openDatabase } from "../../../server/store/sqlite/database.js";

const [path, accountArg, name, countArg, nowArg, mode, sharedArg] = process.argv.slice(2);
const accountId = Number(accountArg);
const now = Number(nowArg);
const store = path!.startsWith("postgres://")
  ? new PgStore(openPool(path!, 2))
  : new SqliteStore(openDatabase({ path: path!, synchronous: "FULL", busyTimeoutMs: 30_000 }));
const services = createServices({ store, clock: () => now, rules: DEFAULT_RULES });

const event = (eventId: string): UsageEvent => ({
  eventId,
  accountId,
  apiCode: "model-derivative/complex-job",
  quantityMicros: 1_000_000n,
  outcome: "SUCCEEDED",
  occurredAt: now - 60_000,
});

// Every fourth event is one that all workers send, so they race for the same event ids too.
const own = Array.from({ length: Number(countArg) }, (_, i) => event(`${name}-${i}`));
const shared = Array.from({ length: Number(sharedArg) }, (_, i) => event(`shared-${i}`));
const events = own.flatMap((item, i) => (i % 3 === 0 && shared.length > 0 ? [shared.shift()!, item] : [item]));
events.push(...shared);

interface Outcome {
  eventId: string;
  chargeId?: number;
  replayed?: boolean;
  code?: string;
}

function toOutcome(result: BatchItemResult): Outcome {
  return result.error ? { eventId: result.eventId, code: result.error.code } : { eventId: result.eventId, chargeId: result.charge.id, replayed: result.replayed };
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 1));

async function recordOne(item: UsageEvent): Promise<Outcome> {
  try {
    const { charge, replayed } = await services.rating.recordUsage(item);
    return { eventId: item.eventId, chargeId: charge.id, replayed };
  } catch (error) {
    if (error instanceof FlexgateError) return { eventId: item.eventId, code: error.code };
    throw error;
  }
}

async function run(): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const step = mode === "batch" ? 5 : 1;
  for (let i = 0; i < events.length; i += step) {
    if (mode === "batch") outcomes.push(...(await services.rating.recordUsageBatch(events.slice(i, i + step))).map(toOutcome));
    else outcomes.push(await recordOne(events[i]!));
    await pause();
  }
  return outcomes;
}

process.stdout.write("ready\n");
const lines = createInterface({ input: process.stdin });
lines.once("line", async () => {
  const outcomes = await run();
  await store.close();
  process.stdout.write(`${JSON.stringify(outcomes)}\n`);
  lines.close();
  process.stdin.destroy();
});
